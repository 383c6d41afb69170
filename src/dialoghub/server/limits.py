"""Limits that keep one client from hurting the others: body size, text length, variable
count, a rate per API key, failed API key attempts per client address, and a timeout per
request (:class:`Deadlines`).

The rate limit is a token bucket per key, in process memory: ``rate`` tokens per second up
to ``burst``; a request takes one; an empty bucket is a 429 whose ``Retry-After`` says when
the next token arrives. With a Redis URL (setting ``rate_limit_store``, else the
``broadcast`` Redis) the count is shared by every server process through the ``limits``
library: a sliding window of ``burst`` requests per ``burst / rate`` seconds (whole
seconds) per key, one Redis round trip per request; if Redis fails, each process falls back
to its own bucket until it answers again.

Failed API key attempts (a missing, malformed, unknown or revoked key) are counted per
client address: after ``auth_failures`` of them within ``auth_failure_window`` seconds the
address gets 429 (``Retry-After``) before its key is even looked at, so guessing keys costs
no key-store read. Counted in the same place as the rate (process memory or Redis).

A body that arrives more slowly than the request timeout allows is a 408 (:class:`BodyTimeout`):
the client's slowness, not the server's (504 stays for a handler that ran out of time).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from starlette.requests import ClientDisconnect, Request

from dialoghub.engine.records import ASR, Input, Jump, SetVariables, Text
from dialoghub.errors import AuthRateLimited, BodyTimeout, StoreConfigError
from dialoghub.server.dispatch import header
from dialoghub.server.errors import (
    BadRequest,
    PayloadTooLarge,
    RateLimited,
    Unauthorized,
)

if TYPE_CHECKING:
    from dialoghub.server.auth import Authenticator, Principal
    from dialoghub.server.settings import Settings

__all__ = [
    "AuthRateLimited",
    "BodyTimeout",
    "Deadlines",
    "RateLimiter",
    "SharedCounter",
    "check_input",
    "check_mapping",
    "read_body",
]

log = logging.getLogger("dialoghub.server")


class _Buckets:
    """Token buckets in process memory: ``rate`` tokens per second up to ``burst``."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float]) -> None:
        self.rate = rate
        self.burst = max(1, burst)
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, last time)

    def take(self, key: str) -> int:
        """Take one token; 0 if there was one, else the seconds until the next one."""
        now = self._clock()
        tokens, last = self._buckets.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.rate)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            return max(1, math.ceil((1.0 - tokens) / self.rate))
        self._buckets[key] = (tokens - 1.0, now)
        if len(self._buckets) > 100_000:  # forget idle keys rather than grow without bound
            idle = self.burst / self.rate if self.rate > 0 else 60.0
            self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < idle}
        return 0


    def peek(self, key: str) -> int:
        """Like :meth:`take` without taking."""
        now = self._clock()
        tokens, last = self._buckets.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.rate)
        return 0 if tokens >= 1.0 else max(1, math.ceil((1.0 - tokens) / self.rate))


class SharedCounter:
    """Counts shared by every server process: the ``limits`` library's sliding window
    counter on Redis (``redis://host:port/db?prefix=...``, default prefix
    ``dialoghub:limits:``), through a redis-py connection pool this object owns."""

    def __init__(self, url: str) -> None:
        try:
            import redis.asyncio as aioredis
            from limits.aio.storage import RedisStorage
            from limits.aio.strategies import SlidingWindowCounterRateLimiter
        except ImportError:  # pragma: no cover - an extra is missing
            raise StoreConfigError(
                "a shared rate limit needs the limits and redis packages: "
                "pip install 'dialoghub[server,redis]'"
            ) from None
        parts = urlsplit(url)
        if parts.scheme not in ("redis", "rediss"):
            raise StoreConfigError(
                f"rate limit store {url!r}: use redis://host:port/db (or leave it empty to "
                "limit within each process)"
            )
        query = dict(parse_qsl(parts.query))
        self.prefix = query.pop("prefix", "dialoghub:limits:")
        clean = urlunsplit(parts._replace(query=urlencode(query)))
        self.url = clean
        self._pool = aioredis.ConnectionPool.from_url(clean)
        pool: dict[str, Any] = {"connection_pool": self._pool}  # ours: closed by close()
        storage = RedisStorage(
            "async+" + clean, implementation="redispy", key_prefix=self.prefix.rstrip(":"),
            **pool,
        )
        self._limiter = SlidingWindowCounterRateLimiter(storage)

    @staticmethod
    def item(amount: int, seconds: int) -> Any:
        """A limit of ``amount`` per ``seconds`` seconds."""
        from limits import RateLimitItemPerSecond

        return RateLimitItemPerSecond(max(1, amount), max(1, seconds))

    async def hit(self, item: Any, key: str) -> int:
        """Count one; 0 if within the limit, else the seconds until it allows one again."""
        if await self._limiter.hit(item, key):
            return 0
        return await self.retry_after(item, key)

    async def test(self, item: Any, key: str) -> int:
        """Like :meth:`hit` without counting."""
        if await self._limiter.test(item, key):
            return 0
        return await self.retry_after(item, key)

    async def retry_after(self, item: Any, key: str) -> int:
        stats = await self._limiter.get_window_stats(item, key)
        return max(1, math.ceil(stats.reset_time - time.time()))

    async def clear(self, item: Any, key: str) -> None:
        await self._limiter.clear(item, key)

    async def close(self) -> None:
        await self._pool.aclose()


class RateLimiter:
    """The per-key request rate and the per-address failed key attempts; ``rate`` <= 0
    turns the request rate off, ``failures`` <= 0 the failed-attempt limit. ``shared``
    (a :class:`SharedCounter`) makes both count across processes."""

    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        failures: int = 0,
        failure_window: float = 60.0,
        shared: SharedCounter | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate
        self.burst = max(1, burst)
        self.failures = failures
        self.failure_window = failure_window
        self.shared = shared
        self._clock = clock
        self._local = _Buckets(rate, burst, clock)
        self._failed = _Buckets(failures / max(failure_window, 1e-9), failures, clock)
        self._blocked: dict[str, float] = {}  # address -> monotonic time it may try again
        window = max(1, round(self.burst / rate)) if rate > 0 else 1
        self._item = SharedCounter.item(math.ceil(rate * window), window) if shared else None
        self._failure_item = (
            SharedCounter.item(failures, math.ceil(failure_window)) if shared else None
        )
        self._shared_down_until = 0.0

    @classmethod
    def from_settings(cls, settings: Settings) -> RateLimiter:
        """The limiter a server's settings ask for."""
        url = settings.rate_limit_store
        if not url and settings.broadcast.startswith(("redis://", "rediss://")):
            url = settings.broadcast
        shared = None
        wanted = settings.rate_limit > 0 or settings.auth_failures > 0
        if url and not url.startswith("memory:") and wanted:
            shared = SharedCounter(url)
        return cls(settings.rate_limit, settings.rate_burst, failures=settings.auth_failures,
                   failure_window=settings.auth_failure_window, shared=shared)

    async def close(self) -> None:
        """Release the shared counter's connections."""
        if self.shared is not None:
            await self.shared.close()

    def hit(self, key: str) -> None:
        """Take one token for ``key`` from this process's bucket; RateLimited (429) if none."""
        if self.rate <= 0:
            return
        wait = self._local.take(key)
        if wait:
            raise RateLimited(wait)

    async def admit(
        self, auth: Authenticator, header: str | None, client: Any, scope: str
    ) -> Principal:
        """Everything a request passes before its route runs, in one call: the caller's key
        (:meth:`authenticate`), the ``scope`` it needs, and one request of its rate."""
        if self.failures > 0 and auth.enabled:  # what authenticate() does, without its frame
            address = client[0] if client else "-"
            if self._blocked:  # empty unless someone failed lately: one check per request
                self._check_blocked(address)
            try:
                principal = await auth.authenticate(header)
            except Unauthorized:
                await self._note_failure(address)
                raise
        else:
            principal = await auth.authenticate(header)
        principal.require(scope)
        if self.rate > 0:
            if self.shared is None:
                wait = self._local.take(principal.key_id)
                if wait:
                    raise RateLimited(wait)
            else:
                await self.take(principal.key_id)
        return principal

    async def take(self, key: str) -> None:
        """Count one request of ``key`` (shared across processes when configured)."""
        if self.rate <= 0:
            return
        if self.shared is None or not self._shared_up():
            wait = self._local.take(key)
            if wait:
                raise RateLimited(wait)
            return
        try:
            wait = await self.shared.hit(self._item, "rate/" + key)
        except Exception as exc:
            self._shared_failed(exc)
            self.hit(key)
            return
        if wait:
            raise RateLimited(wait)

    async def authenticate(
        self, auth: Authenticator, header: str | None, client: Any = None
    ) -> Principal:
        """``auth.authenticate(header)``, refused with 429 for a client address that failed
        too often lately (before any key is looked up), each failure counted."""
        if self.failures <= 0 or not auth.enabled:
            return await auth.authenticate(header)
        address = client[0] if client else "-"
        if self._blocked:
            self._check_blocked(address)
        try:
            return await auth.authenticate(header)
        except Unauthorized:
            await self._note_failure(address)
            raise

    def _check_blocked(self, address: str) -> None:
        until = self._blocked.get(address)
        if until is not None:
            now = self._clock()
            if until > now:
                raise AuthRateLimited(max(1, math.ceil(until - now)))
            del self._blocked[address]

    async def _note_failure(self, address: str) -> None:
        """Count a failed attempt; block the address once it used up its allowance, and
        raise 429 at once if it was over it already (other processes used it up)."""
        over, wait = await self._count_failure(address)
        if wait:
            if len(self._blocked) > 100_000:
                now = self._clock()
                self._blocked = {a: t for a, t in self._blocked.items() if t > now}
            self._blocked[address] = self._clock() + wait
        if over:
            raise AuthRateLimited(wait) from None

    async def _count_failure(self, address: str) -> tuple[bool, int]:
        """Count a failed attempt: whether it was already over the limit (other processes
        used it up), and the seconds the address must now wait (0: none yet)."""
        if self.shared is not None and self._shared_up():
            key = "auth/" + address
            try:
                wait = await self.shared.hit(self._failure_item, key)
                if wait:
                    return True, wait
                # The attempt that uses up the allowance blocks the next one at once.
                return False, await self.shared.test(self._failure_item, key)
            except Exception as exc:
                self._shared_failed(exc)
        wait = self._failed.take(address)
        if wait:
            return True, wait
        return False, self._failed.peek(address)

    def _shared_up(self) -> bool:
        return self._shared_down_until <= self._clock()

    def _shared_failed(self, exc: BaseException) -> None:
        log.warning("rate limit: Redis failed (%s); limiting within this process for 5 s", exc)
        self._shared_down_until = self._clock() + 5.0


class Deadlines:
    """The request timeout, enforced by one watchdog instead of a timer per request.

    ``asyncio.timeout`` schedules and cancels a timer handle for every request; at thousands
    of requests per second that was a visible share of a cheap one. Here a request only
    registers its task and deadline in a dict (:meth:`enter`, :meth:`leave`); :meth:`check`,
    called every ``tick`` seconds by :meth:`run`, cancels the tasks past their deadline, and
    :meth:`expired` tells the request that the cancellation was the timeout. A request is
    thus cancelled between ``timeout`` and ``timeout + tick`` seconds after it started.
    """

    def __init__(self, timeout: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.timeout = timeout
        self.tick = min(0.5, max(0.01, timeout / 4))
        self._clock = clock
        self._due: dict[asyncio.Task[Any], float] = {}
        self._expired: set[asyncio.Task[Any]] = set()

    def enter(self, task: asyncio.Task[Any]) -> None:
        """Start the clock of the request running in ``task``."""
        self._due[task] = self._clock() + self.timeout

    def leave(self, task: asyncio.Task[Any]) -> bool:
        """Stop it; True if the request was cancelled because it ran out of time."""
        self._due.pop(task, None)
        if task in self._expired:
            self._expired.discard(task)
            return True
        return False

    def fired(self, task: asyncio.Task[Any]) -> bool:
        """True if ``task`` was cancelled because it ran out of time (not consumed)."""
        return task in self._expired

    def check(self, now: float | None = None) -> int:
        """Cancel every request past its deadline; how many."""
        now = self._clock() if now is None else now
        late = [task for task, due in self._due.items() if due <= now]
        for task in late:
            del self._due[task]
            self._expired.add(task)
            task.cancel()
        return len(late)

    async def run(self) -> None:
        """Check every ``tick`` seconds until cancelled."""
        while True:
            await asyncio.sleep(self.tick)
            self.check()


def _deadlines_of(request: Request) -> Deadlines | None:
    state = getattr(request.scope.get("app"), "state", None)
    deadlines = getattr(getattr(state, "service", None), "deadlines", None)
    return deadlines if isinstance(deadlines, Deadlines) else None


async def read_body(
    request: Request, limit: int, *, deadlines: Deadlines | None = None
) -> bytes:
    """The request body, refused with 413 as soon as it exceeds ``limit`` bytes, and with
    408 if the request timeout (``deadlines``, by default the app's) strikes while the body
    is still arriving."""
    declared = header(request.scope, b"content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise BadRequest("Content-Length is not a number") from None
        if size > limit:
            raise PayloadTooLarge(
                f"request body of {size} bytes exceeds the limit of {limit} bytes",
                size=size, limit=limit,
            )
    # Straight from the ASGI receive channel: a small body is one message, returned as is.
    chunks: list[bytes] = []
    total = 0
    while True:
        try:
            message = await request.receive()
        except asyncio.CancelledError:
            deadlines = deadlines or _deadlines_of(request)
            task = asyncio.current_task()
            if (deadlines is not None and task is not None and deadlines.fired(task)
                    and task.uncancel() == 0):
                raise BodyTimeout(
                    f"the request body did not arrive within {deadlines.timeout} s",
                    timeout=deadlines.timeout, received=total,
                ) from None
            raise
        if message["type"] != "http.request":
            raise ClientDisconnect()
        chunk: bytes = message.get("body", b"")
        total += len(chunk)
        if total > limit:
            raise PayloadTooLarge(
                f"request body exceeds the limit of {limit} bytes", limit=limit
            )
        if not message.get("more_body", False):
            if not chunks:
                return chunk
            chunks.append(chunk)
            return b"".join(chunks)
        chunks.append(chunk)


def check_mapping(name: str, value: Mapping[str, Any] | None, limit: int) -> None:
    """Refuse a mapping with more than ``limit`` keys (413)."""
    if value is not None and len(value) > limit:
        raise PayloadTooLarge(
            f"{name} has {len(value)} entries; at most {limit} are allowed per request",
            field=name, count=len(value), limit=limit,
        )


def check_input(inp: Input, *, max_text: int, max_variables: int) -> None:
    """Refuse a text longer than ``max_text`` characters or too many variables."""
    if isinstance(inp, Text | ASR) and len(inp.text) > max_text:
        raise PayloadTooLarge(
            f"text of {len(inp.text)} characters exceeds the limit of {max_text}",
            field="text", length=len(inp.text), limit=max_text,
        )
    if isinstance(inp, SetVariables):
        check_mapping("variables", inp.variables, max_variables)
    elif isinstance(inp, Jump):
        check_mapping("variables", inp.variables, max_variables)
        check_mapping("params", inp.params, max_variables)
