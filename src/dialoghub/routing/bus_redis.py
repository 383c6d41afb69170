"""The routing bus on Redis: ``redis://host:port/db[?prefix=...]``.

- delivery and notices: pub/sub, one channel per process (``proc:<id>``) and one for all
  (``notices``); pub/sub keeps nothing, so what must survive is also kept below;
- the registry: one key per client (``client:<tenant>:<name>``) with an expiry its process
  refreshes on every heartbeat: a dead process's clients vanish by themselves;
- lock records: a hash per record (holder, fence), changed by Lua scripts only: acquire
  checks the holder and takes the next value of one shared fencing counter (INCR), so a
  fencing token never repeats and grows with every acquisition;
- pending commands: one hash (``pending``), field = the session: HSETNX claims, a script
  removes a record only if it is still the same dispatch; a command round trip is one
  script (:meth:`RedisBus.advance`: the answered record out, the next one in, its frame
  numbered in the provider's mailbox);
- mailboxes: a stream per client whose entry ids are the mailbox numbers (``<seq>-1``, the
  number from INCR in the same script), trimmed to the last 1,000: ``XRANGE (after`` gives
  a reconnecting client what it missed.

The driver (redis-py, the ``redis`` extra) is imported only when this bus is opened.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import msgspec

from dialoghub.errors import BusError
from dialoghub.routing.bus import MAILBOX_SIZE, ClientRecord, Handler, Mail, Pending

__all__ = ["RedisBus"]

log = logging.getLogger("dialoghub.routing")

_ACQUIRE = """
local cur = redis.call('HGET', KEYS[1], 'holder')
if cur and cur ~= ARGV[1] then return false end
local fence = redis.call('INCR', KEYS[2])
redis.call('HSET', KEYS[1], 'holder', ARGV[1], 'fence', fence)
return fence
"""
_RELEASE = """
if redis.call('HGET', KEYS[1], 'holder') == ARGV[1] then
  redis.call('DEL', KEYS[1]) return 1 end
return 0
"""
_WITHDRAW = """
local cur = redis.call('GET', KEYS[1])
if cur and cjson.decode(cur)['connection'] == tonumber(ARGV[1]) then
  redis.call('DEL', KEYS[1]) end
return 0
"""
_TAKE = """
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur and cjson.decode(cur)['key'] == ARGV[2] then
  redis.call('HDEL', KEYS[1], ARGV[1]) return 1 end
return 0
"""
_PUT = """
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur and cjson.decode(cur)['key'] == ARGV[2] then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[3]) return 1 end
return 0
"""
_TAKE_ANY = """
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur then redis.call('HDEL', KEYS[1], ARGV[1]) end
return cur
"""
_APPEND = """
local seq = redis.call('INCR', KEYS[2])
redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], seq .. '-1', 'f', ARGV[1])
return seq
"""

# advance: take the session's pending record (ARGV[2] = '1'), claim the next (HSETNX), number
# its frame in the provider's mailbox if claimed (ARGV[4] not empty): one round trip.
_ADVANCE = """
local old = ''
if ARGV[2] == '1' then
  old = redis.call('HGET', KEYS[1], ARGV[1]) or ''
  if old ~= '' then redis.call('HDEL', KEYS[1], ARGV[1]) end
end
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[3]) == 0 then return {old, 0, 0} end
local seq = 0
if ARGV[4] ~= '' then
  seq = redis.call('INCR', KEYS[3])
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[5], seq .. '-1', 'f', ARGV[4])
end
return {old, 1, seq}
"""

_record = msgspec.json.Decoder(ClientRecord)
_pending = msgspec.json.Decoder(Pending)
_encode = msgspec.json.Encoder().encode


class RedisBus:
    """The bus through one Redis server (see the module docstring)."""

    def __init__(self, url: str, process: str) -> None:
        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query))
        self.prefix = query.pop("prefix", "dialoghub:routing:")
        self.url = urlunsplit(parts._replace(query=urlencode(query)))
        self.process = process
        self._redis: Any = None
        self._pubsub: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._scripts: dict[str, Any] = {}

    def _k(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    async def start(self, handler: Handler, notices: Handler) -> None:
        try:
            import redis.asyncio as aioredis
        except ImportError as exc:  # pragma: no cover - the extra is installed in tests
            raise BusError("the redis bus needs redis-py: pip install 'dialoghub[redis]'") from exc
        self._redis = aioredis.from_url(self.url)
        for name, body in (
            ("acquire", _ACQUIRE),
            ("release", _RELEASE),
            ("withdraw", _WITHDRAW),
            ("take", _TAKE),
            ("append", _APPEND),
            ("put", _PUT),
            ("take_any", _TAKE_ANY),
            ("advance", _ADVANCE),
        ):
            self._scripts[name] = self._redis.register_script(body)
        mine, everyone = self._k("proc", self.process), self._k("notices")
        self._pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        try:
            await self._pubsub.subscribe(mine, everyone)
        except Exception as exc:
            raise BusError(f"cannot reach the routing bus at {self.url}: {exc}") from exc
        channels = {mine.encode(): handler, everyone.encode(): notices}

        async def read() -> None:
            while True:
                try:
                    message = await self._pubsub.get_message(timeout=1.0)
                    if message is None:
                        continue
                    await channels[message["channel"]](message["data"])
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("routing bus: a frame from Redis failed")

        self._reader = asyncio.create_task(read())

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        if self._pubsub is not None:
            with contextlib.suppress(Exception):
                await self._pubsub.aclose()
        if self._redis is not None:
            await self._redis.aclose()

    async def send(self, process: str, frame: bytes) -> None:
        await self._redis.publish(self._k("proc", process), frame)

    async def notify(self, notice: bytes) -> None:
        await self._redis.publish(self._k("notices"), notice)

    async def announce(self, record: ClientRecord, ttl: float) -> None:
        await self._redis.set(
            self._k("client", record.tenant, record.name),
            _encode(record),
            px=max(1, int(ttl * 1000)),
        )

    async def withdraw(self, tenant: str, name: str, connection: int) -> None:
        await self._scripts["withdraw"](keys=[self._k("client", tenant, name)], args=[connection])

    async def clients(self) -> list[ClientRecord]:
        keys = [k async for k in self._redis.scan_iter(match=self._k("client", "*"), count=1000)]
        if not keys:
            return []
        return [_record.decode(v) for v in await self._redis.mget(keys) if v is not None]

    async def acquire(self, key: str, holder: str) -> int | None:
        fence = await self._scripts["acquire"](
            keys=[self._k("lock", key), self._k("fence")], args=[holder]
        )
        return None if fence is None else int(fence)

    async def release(self, key: str, holder: str) -> bool:
        return bool(await self._scripts["release"](keys=[self._k("lock", key)], args=[holder]))

    async def holder(self, key: str) -> tuple[str, int] | None:
        holder, fence = await self._redis.hmget(self._k("lock", key), "holder", "fence")
        return None if holder is None else (holder.decode(), int(fence))

    async def claim_pending(self, pending: Pending) -> bool:
        return bool(await self._redis.hsetnx(self._k("pending"), pending.slot, _encode(pending)))

    async def put_pending(self, pending: Pending) -> bool:
        return bool(
            await self._scripts["put"](
                keys=[self._k("pending")], args=[pending.slot, pending.key, _encode(pending)]
            )
        )

    async def take_session_pending(self, tenant: str, session_id: str) -> Pending | None:
        raw = await self._scripts["take_any"](
            keys=[self._k("pending")], args=[f"{tenant}/{session_id}"]
        )
        return None if raw is None else _pending.decode(raw)

    async def get_pending(self, tenant: str, session_id: str) -> Pending | None:
        raw = await self._redis.hget(self._k("pending"), f"{tenant}/{session_id}")
        return None if raw is None else _pending.decode(raw)

    async def take_pending(self, pending: Pending) -> bool:
        return bool(
            await self._scripts["take"](keys=[self._k("pending")], args=[pending.slot, pending.key])
        )

    async def pending(self) -> list[Pending]:
        return [_pending.decode(v) for v in await self._redis.hvals(self._k("pending"))]

    async def advance(
        self, pending: Pending, *, take: bool, mail: Mail | None = None
    ) -> tuple[Pending | None, bool, int]:
        tenant, client, frame = mail if mail is not None else ("", "", b"")
        old, claimed, seq = await self._scripts["advance"](
            keys=[
                self._k("pending"),
                self._k("mail", tenant, client),
                self._k("mailseq", tenant, client),
            ],
            args=[pending.slot, "1" if take else "0", _encode(pending), frame, MAILBOX_SIZE],
        )
        return (_pending.decode(old) if old else None), bool(claimed), int(seq)

    async def append(self, tenant: str, client: str, frame: bytes) -> int:
        return int(
            await self._scripts["append"](
                keys=[self._k("mail", tenant, client), self._k("mailseq", tenant, client)],
                args=[frame, MAILBOX_SIZE],
            )
        )

    async def since(self, tenant: str, client: str, after: int) -> list[tuple[int, bytes]]:
        entries = await self._redis.xrange(
            self._k("mail", tenant, client), min=f"({after}-1", max="+"
        )
        return [(int(eid.split(b"-")[0]), fields[b"f"]) for eid, fields in entries]
