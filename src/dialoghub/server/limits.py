"""Limits that keep one client from hurting the others: body size, text length, variable
count, a rate per API key, and a timeout per request (:class:`Deadlines`).

The rate limit is a token bucket per key, in process memory: ``rate`` tokens per second up
to ``burst``; a request takes one; an empty bucket is a 429 whose ``Retry-After`` says when
the next token arrives. With several server processes each enforces its own bucket.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Mapping
from typing import Any

from starlette.requests import ClientDisconnect, Request

from dialoghub.engine.records import ASR, Input, Jump, SetVariables, Text
from dialoghub.server.dispatch import header
from dialoghub.server.errors import BadRequest, PayloadTooLarge, RateLimited

__all__ = ["Deadlines", "RateLimiter", "check_input", "check_mapping", "read_body"]


class RateLimiter:
    """A token bucket per key; ``rate`` <= 0 turns limiting off."""

    def __init__(
        self, rate: float, burst: int, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.burst = max(1, burst)
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, last time)

    def hit(self, key: str) -> None:
        """Take one token for ``key``; RateLimited (429) if there is none."""
        if self.rate <= 0:
            return
        now = self._clock()
        tokens, last = self._buckets.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.rate)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            raise RateLimited(max(1, math.ceil((1.0 - tokens) / self.rate)))
        self._buckets[key] = (tokens - 1.0, now)
        if len(self._buckets) > 100_000:  # forget idle keys rather than grow without bound
            self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < 60}


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


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it exceeds ``limit`` bytes."""
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
        message = await request.receive()
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
