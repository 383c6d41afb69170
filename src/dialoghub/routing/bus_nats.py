"""The routing bus on NATS: ``nats://host:port[?prefix=...]`` (JetStream enabled).

- delivery and notices: core NATS subjects, ``<prefix>.proc.<process>`` and
  ``<prefix>.notices`` (like Redis pub/sub, they keep nothing);
- the registry: a key-value bucket whose entries expire (its ``ttl``): a process refreshes
  its clients' entries on every heartbeat, a dead process's vanish by themselves;
- lock records: a key-value bucket; acquire creates the key (or updates it, as its holder)
  with the expected revision, so two processes never both win; the entry's *revision*, a
  sequence number of the bucket's stream that only grows, is the fencing token;
- pending commands: a key-value bucket, one key per session, empty when free: every
  change is a compare-and-set on the revision this process last saw of the key (a claim
  writes a free slot, a take writes it empty, a command round trip replaces the answered
  record by the next in one request; another process's write in between makes it read and
  decide again); a watch mirrors the bucket, so the deadline sweep reads nothing;
- mailboxes: a JetStream stream with one subject per frame, ``<prefix>.mail.<client>.<seq>``,
  the number taken from a per-client counter in a key-value bucket (compare-and-set on the
  revision this process last wrote; the frames queued meanwhile numbered by one update); a
  reconnecting client's missed frames are the subjects above its number.

Keys and subject tokens are the hex of the tenant and names (NATS keys allow few
characters). The driver (``nats-py``, the ``nats`` extra) is imported only when this bus
is opened.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import msgspec

from dialoghub.errors import BusError
from dialoghub.routing.bus import ClientRecord, Handler, Mail, Pending

__all__ = ["NatsBus", "drop_prefix"]

_record = msgspec.json.Decoder(ClientRecord)
_pending = msgspec.json.Decoder(Pending)
_encode = msgspec.json.Encoder().encode
#: Seconds a registry entry lives without a heartbeat (the bucket's ttl).
REGISTRY_TTL = 6.0


def _hex(*parts: str) -> str:
    return ".".join(p.encode().hex() or "00" for p in parts)


def _free(value: bytes) -> bool:
    return not value


def _anything(value: bytes) -> bool:
    return True


def _same(key: str) -> Callable[[bytes], bool]:
    """True of a slot holding the dispatch ``key``."""
    return lambda value: bool(value) and _pending.decode(value).key == key


def _split(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    prefix = query.get("prefix", "dialoghub")
    return urlunsplit(parts._replace(query="")), prefix


class NatsBus:
    """The bus through a NATS server with JetStream (see the module docstring)."""

    def __init__(self, url: str, process: str) -> None:
        self.url, self.prefix = _split(url)
        self.process = process
        self._nc: Any = None
        self._js: Any = None
        self._kv: dict[str, Any] = {}
        self._stream = f"{self.prefix}_mail"
        # what this process last wrote or read of each pending slot: (value, revision)
        self._slots: dict[str, tuple[bytes, int]] = {}
        # every pending record, by key, as the bucket's watch reports them
        self._mirror: dict[str, Pending] = {}
        self._mirrored = asyncio.Event()
        self._watcher: Any = None
        self._tasks: list[asyncio.Task[None]] = []
        # the last number and counter revision this process gave each mailbox
        self._mailseq: dict[str, tuple[int, int]] = {}
        # frames waiting for their numbers, per mailbox, and the mailboxes being numbered
        self._boxes: dict[str, list[tuple[bytes, asyncio.Future[int]]]] = {}
        self._numbering: set[str] = set()

    async def start(self, handler: Handler, notices: Handler) -> None:
        try:
            import nats
        except ImportError as exc:  # pragma: no cover - the extra is installed in tests
            raise BusError("the nats bus needs nats-py: pip install 'dialoghub[nats]'") from exc
        try:
            self._nc = await nats.connect(self.url, connect_timeout=2, max_reconnect_attempts=5)
        except Exception as exc:
            raise BusError(f"cannot reach the routing bus at {self.url}: {exc}") from exc
        self._js = self._nc.jetstream()
        for name, ttl in (
            ("clients", REGISTRY_TTL),
            ("locks", 0.0),
            ("pending", 0.0),
            ("mailseq", 0.0),
        ):
            self._kv[name] = await self._js.create_key_value(
                bucket=f"{self.prefix}_{name}", history=1, ttl=ttl or None
            )
        await self._js.add_stream(
            name=self._stream,
            subjects=[f"{self.prefix}.mail.>"],
            max_msgs_per_subject=1,
            max_age=3600.0,
        )

        async def on_frame(msg: Any) -> None:
            await handler(msg.data)

        async def on_notice(msg: Any) -> None:
            await notices(msg.data)

        await self._nc.subscribe(f"{self.prefix}.proc.{self.process}", cb=on_frame)
        await self._nc.subscribe(f"{self.prefix}.notices", cb=on_notice)
        self._watcher = await self._kv["pending"].watchall()
        self._tasks.append(asyncio.create_task(self._watch_pending(self._watcher)))
        await asyncio.wait_for(self._mirrored.wait(), 10.0)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._watcher is not None:
            with contextlib.suppress(Exception):
                await self._watcher.stop()
        if self._nc is not None:
            with contextlib.suppress(Exception):
                await self._nc.drain()

    async def send(self, process: str, frame: bytes) -> None:
        await self._nc.publish(f"{self.prefix}.proc.{process}", frame)

    async def notify(self, notice: bytes) -> None:
        await self._nc.publish(f"{self.prefix}.notices", notice)

    async def announce(self, record: ClientRecord, ttl: float) -> None:
        await self._kv["clients"].put(_hex(record.tenant, record.name), _encode(record))

    async def withdraw(self, tenant: str, name: str, connection: int) -> None:
        entry = await self._get("clients", _hex(tenant, name))
        if entry is not None and _record.decode(entry.value).connection == connection:
            with contextlib.suppress(Exception):
                await self._kv["clients"].delete(_hex(tenant, name), last=entry.revision)

    async def clients(self) -> list[ClientRecord]:
        kv = self._kv["clients"]
        out = []
        for key in await self._keys("clients"):
            entry = await self._get("clients", key)
            if entry is not None and entry.value:
                out.append(_record.decode(entry.value))
        del kv
        return out

    async def _get(self, bucket: str, key: str) -> Any:
        from nats.js.errors import KeyNotFoundError

        try:
            entry = await self._kv[bucket].get(key)
        except KeyNotFoundError:  # KeyDeletedError too
            return None
        return entry if entry.value else None

    async def _keys(self, bucket: str) -> list[str]:
        from nats.js.errors import NoKeysError

        try:
            return list(await self._kv[bucket].keys())
        except NoKeysError:
            return []

    async def acquire(self, key: str, holder: str) -> int | None:
        from nats.js.errors import KeyWrongLastSequenceError

        kv, k = self._kv["locks"], key.encode().hex()
        entry = await self._get("locks", k)
        try:
            if entry is None:
                return int(await kv.create(k, holder.encode()))
            if entry.value.decode() != holder:
                return None
            return int(await kv.update(k, holder.encode(), last=entry.revision))
        except KeyWrongLastSequenceError:
            return None  # another process won the record meanwhile

    async def release(self, key: str, holder: str) -> bool:
        k = key.encode().hex()
        entry = await self._get("locks", k)
        if entry is None or entry.value.decode() != holder:
            return False
        try:
            await self._kv["locks"].delete(k, last=entry.revision)
        except Exception:
            return False
        return True

    async def holder(self, key: str) -> tuple[str, int] | None:
        entry = await self._get("locks", key.encode().hex())
        return None if entry is None else (entry.value.decode(), int(entry.revision))

    # --- pending commands: one key per session, an empty value when free -------------------
    # A slot is freed by writing it empty (not by a delete, whose revision the client does
    # not return), so every write of a slot returns the revision the next one expects: a
    # process that wrote a slot last writes it again in one request, without reading it
    # first (a compare-and-set on the revision it remembers; another process's write in
    # between makes it read and try again).

    async def _slot(self, k: str) -> tuple[bytes, int]:
        """A slot's value (empty: free) and revision (0: never written), read now."""
        from nats.js.errors import KeyNotFoundError

        try:
            entry = await self._kv["pending"].get(k)
        except KeyNotFoundError as exc:  # never written, or deleted (the entry says when)
            found = getattr(exc, "entry", None)
            value, revision = b"", int(found.revision) if found is not None else 0
        else:
            value, revision = bytes(entry.value or b""), int(entry.revision)
        self._slots[k] = (value, revision)
        return value, revision

    async def _swap(self, k: str, expect: Callable[[bytes], bool], value: bytes) -> bytes | None:
        """Write ``value`` to slot ``k`` if its value satisfies ``expect``: the value it
        replaced, or None if it did not satisfy ``expect``."""
        from nats.js.errors import KeyWrongLastSequenceError

        known = self._slots.get(k)
        for _ in range(16):
            old, revision = known if known is not None else await self._slot(k)
            if not expect(old):
                if known is not None:  # what this process saw may be old: look again
                    known = None
                    continue
                return None
            try:
                written = await self._kv["pending"].update(k, value, last=revision)
            except KeyWrongLastSequenceError:  # written meanwhile: read it, decide again
                known = None
                continue
            self._slots[k] = (value, int(written))
            return old
        raise BusError(f"pending slot {k} kept changing under 16 compare-and-sets")

    async def claim_pending(self, pending: Pending) -> bool:
        return await self._swap(_hex(pending.slot), _free, _encode(pending)) is not None

    async def put_pending(self, pending: Pending) -> bool:
        same = _same(pending.key)
        return await self._swap(_hex(pending.slot), same, _encode(pending)) is not None

    async def take_session_pending(self, tenant: str, session_id: str) -> Pending | None:
        old = await self._swap(_hex(f"{tenant}/{session_id}"), bool, b"")
        return _pending.decode(old) if old else None

    async def get_pending(self, tenant: str, session_id: str) -> Pending | None:
        value, _ = await self._slot(_hex(f"{tenant}/{session_id}"))
        return _pending.decode(value) if value else None

    async def take_pending(self, pending: Pending) -> bool:
        return await self._swap(_hex(pending.slot), _same(pending.key), b"") is not None

    async def pending(self) -> list[Pending]:
        # the bucket's mirror, kept by a watch: the deadline sweep reads nothing per record
        return list(self._mirror.values())

    async def advance(
        self, pending: Pending, *, take: bool, mail: Mail | None = None
    ) -> tuple[Pending | None, bool, int]:
        k = _hex(pending.slot)
        if take:  # the answered record replaced by the next: one compare-and-set
            old = await self._swap(k, _anything, _encode(pending))
            taken = _pending.decode(old) if old else None
        else:
            taken = None
            if await self._swap(k, _free, _encode(pending)) is None:
                return None, False, 0
        return taken, True, 0 if mail is None else await self.append(*mail)

    async def _watch_pending(self, watcher: Any) -> None:
        """Keep :attr:`_mirror` equal to the pending bucket (every process's writes)."""
        async for entry in watcher:
            if entry is None:  # the end of the initial values
                self._mirrored.set()
                continue
            if entry.value and entry.operation is None:
                with contextlib.suppress(msgspec.DecodeError):
                    self._mirror[entry.key] = _pending.decode(entry.value)
                    continue
            self._mirror.pop(entry.key, None)

    async def append(self, tenant: str, client: str, frame: bytes) -> int:
        # Frames for one mailbox are numbered in batches: while one batch's counter update
        # is in flight, the next frames queue, and the whole queue then takes one
        # compare-and-set (n numbers at once) and its frames are published together. One
        # at a time, 64 concurrent appends would all race on the same revision.
        k = _hex(tenant, client)
        box = self._boxes.setdefault(k, [])
        done: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        box.append((frame, done))
        if len(box) == 1 and k not in self._numbering:
            self._numbering.add(k)
            self._tasks.append(asyncio.create_task(self._number(k)))
        return await done

    async def _number(self, k: str) -> None:
        """Number and publish the frames queued for mailbox ``k`` until none is left."""
        try:
            while self._boxes.get(k):
                batch = self._boxes.pop(k)
                try:
                    first = await self._reserve(k, len(batch))
                    await asyncio.gather(
                        *(
                            self._js.publish(f"{self.prefix}.mail.{k}.{first + i}", frame)
                            for i, (frame, _) in enumerate(batch)
                        )
                    )
                except Exception as exc:
                    for _, done in batch:
                        if not done.done():
                            done.set_exception(exc)
                    continue
                for i, (_, done) in enumerate(batch):
                    if not done.done():
                        done.set_result(first + i)
        finally:
            self._numbering.discard(k)
            self._tasks = [t for t in self._tasks if not t.done()]

    async def _reserve(self, k: str, n: int) -> int:
        """Take ``n`` numbers of mailbox ``k`` (a compare-and-set on its counter, from the
        revision this process last wrote); the first of them."""
        from nats.js.errors import KeyWrongLastSequenceError

        kv = self._kv["mailseq"]
        known = self._mailseq.get(k)
        while True:
            if known is None:
                entry = await self._get("mailseq", k)
                known = (0, 0) if entry is None else (int(entry.value), int(entry.revision))
            try:
                revision = await kv.update(k, str(known[0] + n).encode(), last=known[1])
                break
            except KeyWrongLastSequenceError:  # another process numbered some meanwhile
                known = None
        self._mailseq[k] = (known[0] + n, int(revision))
        return known[0] + 1

    async def since(self, tenant: str, client: str, after: int) -> list[tuple[int, bytes]]:
        base = f"{self.prefix}.mail.{_hex(tenant, client)}."
        info = await self._js.stream_info(self._stream, subjects_filter=base + ">")
        subjects = sorted((int(s[len(base) :]), s) for s in (info.state.subjects or {}))
        out = []
        for seq, subject in subjects:
            if seq > after:
                msg = await self._js.get_last_msg(self._stream, subject)
                out.append((seq, bytes(msg.data)))
        return out


async def drop_prefix(url: str, prefix: str) -> None:
    """Delete the buckets and the stream of ``prefix`` (tests clean up with it)."""
    import nats

    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        for name in ("clients", "locks", "pending", "mailseq"):
            with contextlib.suppress(Exception):
                await js.delete_key_value(f"{prefix}_{name}")
        with contextlib.suppress(Exception):
            await js.delete_stream(f"{prefix}_mail")
    finally:
        await nc.close()
