"""The Redis store, ``redis://host:port/db?prefix=dialoghub:``.

Every change is a Lua script (:mod:`dialoghub.stores._redis_scripts`), which Redis runs
atomically: for each write the script checks the version (compare-and-set), the idempotency
key and the sequence, then sets the snapshot, appends one stream entry for the update's
events, stores the idempotency record and moves the session between the listing indexes. A
refused write changes nothing.

Throughput comes from group commit: writes go through a
:class:`~dialoghub.stores._common.GroupCommit` whose ``writers`` tasks (URL option, default 4)
each send every queued write as ONE ``EVALSHA`` of the ``WRITES`` script, which applies the
writes of the batch one after the other and answers one outcome per write; each write still
succeeds or fails on its own. The client's work per write is the snapshot and event
encoding plus one tuple: the batch's scalars are packed with one msgpack call and its reply
is one string of outcome codes, so redis-py packs and parses once per batch, not per write
(both in C when ``hiredis`` is installed). A batch of ``max_batch`` writes keeps Redis busy
for a few milliseconds, as a pipeline of them did.

Durability is Redis's: an acknowledged write is in Redis's memory and survives a crash only
as far as its persistence settings say (``appendonly yes`` with ``appendfsync always`` for
"nothing acknowledged is lost"; the default ``everysec`` may lose the last second).

URL options: ``prefix`` (default ``dialoghub:``), ``writers`` (4), ``max_batch`` (500),
``pool_size`` (20 connections); any other query option is passed to redis-py.
"""

from __future__ import annotations

import hashlib
import operator
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

import msgspec

from dialoghub.engine.records import Event, Session
from dialoghub.errors import (
    IdempotencyKeyReused,
    SessionExists,
    SessionNotFound,
    StoreConfigError,
    StoreError,
    VersionConflict,
)
from dialoghub.stores import _redis_scripts as scripts
from dialoghub.stores import codec
from dialoghub.stores._across import list_across
from dialoghub.stores._common import (
    GroupCommit,
    check_batch,
    decode_cursor,
    encode_cursor,
    import_rows,
    int_option,
    page_events,
)
from dialoghub.stores._search import check_text, search_page
from dialoghub.stores._states import extra_keys
from dialoghub.stores.base import (
    DueTimer,
    Idempotency,
    Page,
    Rewind,
    SessionFilter,
    Write,
    check_events,
    keeps_snapshot,
)

__all__ = ["SCHEMA_VERSION", "RedisStore"]

#: Layout version of the keys; a prefix written by a newer layout is refused. 2: statechart
#: sessions are in the state sets of their ancestors too (hash field ``sx``); a prefix at
#: layout 1 is brought to 2 on open (:meth:`RedisStore._key_states`). 3: the set of tenants
#: with sessions (``{prefix}tenants``), filled on open from the index sets at layout 2.
SCHEMA_VERSION = 3

_OPTIONS = {"prefix": "dialoghub:", "writers": "4", "max_batch": "500", "pool_size": "20"}
_CURSOR_TAG = "r1"
_enc = msgspec.msgpack.Encoder()
_entry_dec = msgspec.msgpack.Decoder(tuple[int, float, bytes])
_idem_dec = msgspec.msgpack.Decoder(tuple[str, bytes])


def _time(value: float) -> str:
    """A time as a sorted-set score, exactly (Lua would round a number to 14 digits)."""
    return repr(float(value))


#: The group commit's key: the session id alone, a str whose hash Python caches, where
#: ``(tenant, id)`` would build and hash a tuple several times per write. Sessions of two
#: tenants that share an id are merely kept out of the same batch.
_session_id = operator.attrgetter("session.id")


def _sha(source: str) -> str:
    return hashlib.sha1(source.encode()).hexdigest()


def _part(value: str | None) -> str:
    """One part of an index key name, as the scripts build it."""
    return "*" if value is None else f"#{len(value.encode())}:{value}"


class RedisStore:
    """Sessions in Redis through redis-py's asyncio client; see the module docstring."""

    def __init__(
        self,
        url: str,
        *,
        client_url: str | None = None,
        prefix: str = "dialoghub:",
        writers: int = 4,
        max_batch: int = 500,
        pool_size: int = 20,
    ) -> None:
        self.url = url
        self._pool_size = max(pool_size, writers + 1)
        self._client_url = client_url if client_url is not None else url
        self._prefix = prefix
        self._group: GroupCommit[Write] = GroupCommit(
            self._run_batch, key=_session_id, writers=writers, max_batch=max_batch
        )
        self._client: Any = None
        self._redis: Any = None
        parts = urlsplit(self._client_url)
        self._where = f"{parts.hostname or 'localhost'}:{parts.port or 6379}"
        self._user = parts.username or "default"
        self._shas = {name: _sha(getattr(scripts, name)) for name in scripts.__all__}
        self._timers = prefix + "timers"
        self._closed = prefix + "closed"
        self._idem = prefix + "idem"
        self._tenants = prefix + "tenants"
        self._order = prefix + "order"
        self._bases: dict[str, str] = {}
        self.events_read = 0

    @classmethod
    def from_url(cls, url: str) -> RedisStore:
        """Build a store from its URL; our options are taken out of the one redis-py gets."""
        parts = urlsplit(url)
        options = dict(_OPTIONS)
        passthrough: list[tuple[str, str]] = []
        for name, value in parse_qsl(parts.query, keep_blank_values=True):
            if name in options:
                options[name] = value
            else:
                passthrough.append((name, value))
        return cls(
            url,
            client_url=urlunsplit(parts._replace(query=urlencode(passthrough))),
            prefix=options["prefix"],
            writers=int_option(url, options, "writers"),
            max_batch=int_option(url, options, "max_batch"),
            pool_size=int_option(url, options, "pool_size"),
        )

    # --- lifecycle --------------------------------------------------------------------------

    async def open(self) -> None:
        """Connect, load the scripts and check the key layout version."""
        try:
            import redis.asyncio
            import redis.exceptions
        except ImportError as exc:
            raise StoreConfigError(
                "the Redis store needs the redis driver: pip install 'dialoghub[redis]'"
            ) from exc
        self._redis = redis.exceptions
        try:
            # A blocking pool: a burst of reads waits for a connection instead of failing.
            pool = redis.asyncio.BlockingConnectionPool.from_url(
                self._client_url, max_connections=self._pool_size, timeout=None
            )
            self._client = redis.asyncio.Redis.from_pool(pool)  # closes the pool with it
            schema_key = self._prefix + "dialoghub_schema"
            await self._client.set(schema_key, SCHEMA_VERSION, nx=True)
            version = int(await self._client.get(schema_key))
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"the Redis keys under prefix {self._prefix!r} at {self._where} have "
                    f"layout version {version}, newer than this dialoghub understands "
                    f"({SCHEMA_VERSION}); upgrade dialoghub, or use another prefix"
                )
            await self._load_scripts()
            if version < 2:
                await self._key_states()
            if version < 3:
                await self._add_tenants()
            if version < SCHEMA_VERSION:
                await self._client.set(schema_key, SCHEMA_VERSION)
        except BaseException as exc:
            if self._client is not None:
                await self._client.aclose()
                self._client = None
            if isinstance(exc, StoreError) or not isinstance(exc, Exception):
                raise
            raise self._wrap(exc, "connecting") from exc
        self._group.start()

    async def _key_states(self) -> None:
        """Layout 1 -> 2: the state keys of the statechart sessions already stored (only
        sessions whose state can be a chart's are read; each is keyed by a script that
        leaves it alone if a write has moved it since it was read)."""
        async for skey in self._client.scan_iter(match=self._prefix + "*:s:*", count=500):
            try:
                version, state, body = await self._client.hmget(skey, "v", "st", "s")
            except self._redis.ResponseError:  # an id with ':s:' in another key's name
                continue
            if body is None or state is None or not (b"." in state or state.startswith(b"{")):
                continue
            session = codec.decode_session(body)
            extra = extra_keys(session)
            if extra:
                await self._client.evalsha(
                    self._shas["STATES"], 1, skey, self._base(session.tenant), session.id,
                    version, _enc.encode(extra),
                )  # fmt: skip

    async def _load_scripts(self) -> None:
        for name in scripts.__all__:
            await self._client.script_load(getattr(scripts, name))

    async def close(self) -> None:
        """Finish queued writes, then disconnect."""
        await self._group.close()
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()

    # --- helpers ----------------------------------------------------------------------------

    def _wrap(self, exc: BaseException, doing: str) -> StoreError:
        """The StoreError that says what went wrong with the driver and what to do."""
        errors = self._redis
        if errors is not None and isinstance(exc, errors.AuthenticationError):
            return StoreConfigError(
                f"Redis at {self._where}: authentication failed for user {self._user!r}; "
                "check the user and password in the store URL"
            )
        if errors is not None and isinstance(exc, errors.ConnectionError | errors.TimeoutError):
            return StoreError(
                f"cannot reach Redis at {self._where} while {doing}: {exc}; "
                "is the server running and the host and port in the URL right?"
            )
        return StoreError(f"Redis at {self._where} failed while {doing}: {exc}")

    def _base(self, tenant: str) -> str:
        base = self._bases.get(tenant)
        if base is None:
            base = f"{self._prefix}{quote(tenant, safe='')}:"
            if len(self._bases) < 10_000:  # a cache, bounded however many tenants there are
                self._bases[tenant] = base
        return base

    def _keys(self, tenant: str, session_id: str) -> list[str]:
        base = self._base(tenant)
        return [f"{base}s:{session_id}", f"{base}e:{session_id}", f"{base}k:{session_id}"]

    async def _call(self, doing: str, name: str, keys: list[str], *args: Any) -> Any:
        if self._client is None:
            raise StoreError(f"store {self.url!r} is not open; call 'await store.open()' first")
        try:
            try:
                return await self._client.evalsha(self._shas[name], len(keys), *keys, *args)
            except self._redis.NoScriptError:  # Redis restarted or flushed its script cache
                await self._load_scripts()
                return await self._client.evalsha(self._shas[name], len(keys), *keys, *args)
        except Exception as exc:
            raise self._wrap(exc, doing) from exc

    # --- writes -----------------------------------------------------------------------------

    async def write(self, write: Write) -> None:
        """Apply one update atomically; answered once its batch's script has run."""
        check_batch(write)
        if write.expected_version == 0:
            check_events(write, 0)
        if self._client is None:
            raise StoreError(f"store {self.url!r} is not open; call 'await store.open()' first")
        await self._group.submit(write)

    async def _run_batch(self, writes: list[Write]) -> list[BaseException | None]:
        args = self._batch_args(writes)
        try:
            try:
                reply = await self._client.execute_command("EVALSHA", *args)
            except self._redis.NoScriptError:  # nothing ran: reload the scripts, send again
                await self._load_scripts()
                reply = await self._client.execute_command("EVALSHA", *args)
        except Exception as exc:
            raise self._wrap(exc, "writing") from exc
        outcomes, details = reply
        if outcomes.count(b".") == len(writes):  # the usual case: every write applied
            return [None] * len(writes)
        if len(outcomes) != len(writes):
            raise StoreError(f"unexpected reply {reply!r} from the write script")
        detail = {int(details[i]): details[i + 1] for i in range(0, len(details), 2)}
        return [
            None if code == 46 else self._outcome(w, chr(code), detail.get(i))
            for i, (w, code) in enumerate(zip(writes, outcomes, strict=True), start=1)
        ]

    def _batch_args(self, writes: list[Write]) -> list[Any]:
        """The EVALSHA arguments of one batch: its scalars packed once, its binaries joined.

        This runs once per write on the event loop's thread, so it is kept to the values the
        script needs, without per-write key names or number formatting (the script builds
        the keys and formats the numbers itself), and the command has 6 arguments however
        many writes it carries (redis-py's asyncio client packs commands in Python).
        """
        rows: list[tuple[Any, ...]] = []
        blobs: list[bytes] = []
        bases = self._bases
        encode, encode_session, encode_batch = _enc.encode, codec.encode_session, codec.encode_batch
        for w in writes:
            s = w.session
            base = bases.get(s.tenant) or self._base(s.tenant)
            snapshot = encode_session(s)
            events = w.events
            if events:
                first = events[0]
                first_seq = first.seq
                entry = encode((first.version, first.time, encode_batch(events)))
            else:
                first_seq = 0
                entry = b""
            idem = w.idempotency
            record = encode((idem.fingerprint, idem.response)) if idem else b""
            timer = s.timer
            rows.append(
                (
                    base, s.id, w.expected_version, s.version, s.seq, s.model_id, s.state,
                    s.status, first_seq, idem.key if idem else "",
                    timer.due_at if timer else None, timer.name if timer else "",
                    keeps_snapshot(s), s.updated_at, len(snapshot), len(entry), len(record),
                    extra_keys(s),
                )
            )  # fmt: skip
            blobs += (snapshot, entry, record)
        return [
            self._shas["WRITES"], 5, self._order, self._timers, self._closed, self._idem,
            self._tenants,
            encode(rows),
            b"".join(blobs),
        ]  # fmt: skip

    def _outcome(self, write: Write, code: str, detail: bytes | None) -> BaseException:
        sid = write.session.id
        if code == "x":
            return SessionExists(sid)
        if code == "m":
            return SessionNotFound(sid)
        if code == "c" and detail is not None:
            return VersionConflict(sid, write.expected_version, int(detail))
        if code == "r" and write.idempotency is not None:
            return IdempotencyKeyReused(sid, write.idempotency.key)
        if code == "g" and detail is not None:
            first = write.events[0].seq if write.events else None
            return ValueError(f"event seq {first} does not follow {int(detail)}")
        if code == "E" and detail is not None:
            return StoreError(
                f"Redis at {self._where} failed while writing session {sid!r}: "
                f"{detail.decode(errors='replace')}"
            )
        return StoreError(f"unexpected outcome {code!r} ({detail!r}) from the write script")

    async def import_session(
        self, session: Session, events: Sequence[Event], *, snapshots: Sequence[Session] = ()
    ) -> None:
        """Store a whole session with its log in one script, atomically (see
        :meth:`Store.import_session`)."""
        rows, kept = import_rows(session, events, snapshots)
        s = session
        base = self._base(s.tenant)
        keys = self._keys(s.tenant, s.id)
        timer = s.timer
        scalars = _enc.encode(
            (
                base, s.id, s.version, s.seq, s.model_id, s.state, str(s.status),
                _time(timer.due_at) if timer else "", timer.name if timer else "",
                _time(s.updated_at), len(rows), len(kept), extra_keys(s),
            )
        )  # fmt: skip
        snapshot = codec.encode_session(s)
        args: list[Any] = [scalars, snapshot]
        for r in rows:
            entry = _enc.encode((r.version, r.time, codec.encode_batch(r.events)))
            args += [f"{r.first_seq}-0", entry]
        for k in kept:
            args += [k.seq, snapshot if k.seq == s.seq else codec.encode_session(k)]
        reply = await self._call(
            "importing a session",
            "IMPORT",
            [keys[0], keys[1], self._prefix + "order", f"{base}p:{s.id}", self._timers,
             self._closed, self._tenants],
            *args,
        )  # fmt: skip
        if reply[0] == b"exists":
            raise SessionExists(s.id)

    # --- reads ------------------------------------------------------------------------------

    async def _client_call(self, doing: str, method: str, *args: Any) -> Any:
        if self._client is None:
            raise StoreError(f"store {self.url!r} is not open; call 'await store.open()' first")
        try:
            return await getattr(self._client, method)(*args)
        except Exception as exc:
            raise self._wrap(exc, doing) from exc

    async def load(self, session_id: str, *, tenant: str = "default") -> Session | None:
        """The latest snapshot, or None."""
        key = self._keys(tenant, session_id)[0]
        body = await self._client_call("loading a session", "hget", key, "s")
        return codec.decode_session(body) if body is not None else None

    async def idempotent(
        self, session_id: str, key: str, *, tenant: str = "default"
    ) -> Idempotency | None:
        """The stored answer to a keyed update of this session, or None."""
        hkey = self._keys(tenant, session_id)[2]
        raw = await self._client_call("reading an idempotency record", "hget", hkey, key)
        if raw is None:
            return None
        fingerprint, response = _idem_dec.decode(raw)
        return Idempotency(key=key, fingerprint=fingerprint, response=response)

    async def events(
        self, session_id: str, *, tenant: str = "default", after: int = 0, limit: int = 100
    ) -> list[Event]:
        """Events with ``seq > after``, in order, at most ``limit``."""
        if limit <= 0:
            return []
        stream = self._keys(tenant, session_id)[1]
        entries = await self._call("reading events", "EVENTS", [stream], f"{after + 1}-0", limit)
        rows = (
            (int(entry_id.split(b"-")[0]), *_entry_dec.decode(fields[1]))
            for entry_id, fields in entries
        )
        return page_events(self, rows, after, limit)

    async def list_sessions(
        self, filter: SessionFilter, *, limit: int = 50, cursor: str | None = None
    ) -> Page:
        """Sessions matching ``filter`` in creation order, from the matching index set."""
        if filter.tenant is None:
            return await list_across(self, filter, limit=limit, cursor=cursor)
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        after = decode_cursor(_CURSOR_TAG, cursor) if cursor is not None else 0
        base = self._base(filter.tenant)
        index = f"{base}ix:{_part(filter.model_id)}|{_part(filter.state)}|{_part(filter.status)}"
        if filter.text is not None:
            needle = check_text(filter.text)

            async def fetch(last: int, n: int) -> list[tuple[int, Session]]:
                flat = await self._call("searching sessions", "LIST", [index], base, last, n)
                pairs = range(0, len(flat), 2)
                return [(int(flat[i]), codec.decode_session(flat[i + 1])) for i in pairs]

            return await search_page(fetch, needle, after=after, limit=limit, tag=_CURSOR_TAG)
        flat = await self._call("listing sessions", "LIST", [index], base, after, limit + 1)
        pairs = [(int(flat[i]), flat[i + 1]) for i in range(0, len(flat), 2)]
        more = len(pairs) > limit
        pairs = pairs[:limit]
        sessions = [codec.decode_session(body) for _, body in pairs]
        return Page(sessions, encode_cursor(_CURSOR_TAG, pairs[-1][0]) if more else None)

    async def list_tenants(self, *, after: str | None = None, limit: int = 100) -> list[str]:
        """Tenants with sessions after ``after`` (str order), at most ``limit``.

        Read from the ``{prefix}tenants`` set the write and delete scripts keep: O(tenants),
        as in the SQL stores. Its members are the tenants' escaped key bases, whose order
        is not the names' own, so all are read and sorted here.
        """
        if limit < 1:
            return []
        client = self._client
        if client is None:
            raise StoreError("store is not open; call 'await store.open()' first")
        try:
            members = await client.zrange(self._tenants, 0, -1)
        except Exception as exc:
            raise self._wrap(exc, "listing tenants") from exc
        names = (unquote(m.decode()[len(self._prefix) : -1]) for m in members)
        return sorted(t for t in names if after is None or t > after)[:limit]

    async def _add_tenants(self) -> None:
        """Layout 2 -> 3: the tenants set, from the every-session index set of each tenant
        (a SCAN of the keys under the prefix, once)."""
        tail = ":ix:*|*|*"
        pattern = self._prefix.replace("*", "\\*") + "*" + tail.replace("*", "\\*")
        async for key in self._client.scan_iter(match=pattern, count=1000):
            raw = key.decode() if isinstance(key, bytes) else str(key)
            await self._client.zadd(self._tenants, {raw[: -len(tail) + 1]: 0})

    async def delete(self, session_id: str, *, tenant: str = "default") -> bool:
        """Remove a session, its events, idempotency records and index entries atomically."""
        keys = [self._keys(tenant, session_id)[0], self._timers, self._closed, self._tenants]
        deleted = await self._call(
            "deleting a session", "DELETE", keys, self._base(tenant), session_id
        )
        return bool(deleted)

    # --- time travel, timers, retention -----------------------------------------------------

    async def rewind(self, session_id: str, *, at: int, tenant: str = "default") -> Rewind:
        """The nearest kept snapshot at or before event ``at`` and the events after it."""
        base = self._base(tenant)
        keys = [f"{base}p:{session_id}", f"{base}e:{session_id}"]
        body, _, entries = await self._call("reading a session's past", "REWIND", keys, at)
        events: list[Event] = []
        for entry_id, fields in entries:
            version, time, batch = _entry_dec.decode(fields[1])
            first_seq = int(entry_id.split(b"-")[0])
            events.extend(codec.decode_batch(first_seq, version, time, batch))
        self.events_read += len(events)
        return Rewind(codec.decode_session(body) if body else None, events)

    async def claim_timers(
        self, now: float, *, limit: int = 100, lease: float = 60.0
    ) -> list[DueTimer]:
        """Take up to ``limit`` due timers atomically; each is due again at ``now + lease``."""
        flat = await self._call(
            "claiming timers", "CLAIM", [self._timers], _time(now), limit, _time(now + lease)
        )
        out: list[DueTimer] = []
        for i in range(0, len(flat), 4):
            tenant, session_id = self._session_of(flat[i].decode())
            out.append(
                DueTimer(tenant, session_id, int(flat[i + 1]), flat[i + 2].decode(),
                         float(flat[i + 3]))
            )  # fmt: skip
        return out

    def _session_of(self, skey: str) -> tuple[str, str]:
        """(tenant, id) of a snapshot hash key ``{prefix}{tenant}:s:{id}``."""
        tenant, _, session_id = skey[len(self._prefix) :].partition(":s:")
        return unquote(tenant), session_id

    async def drop_timer(self, timer: DueTimer) -> None:
        """Remove a claimed timer if its session is still at ``timer.version``."""
        skey = self._keys(timer.tenant, timer.session_id)[0]
        await self._call("dropping a timer", "DROP_TIMER", [self._timers, skey], timer.version)

    async def purge(self, before: float, *, limit: int = 1000) -> int:
        """Delete up to ``limit`` closed sessions last updated before ``before``, atomically."""
        deleted = await self._call(
            "purging sessions", "PURGE", [self._closed, self._timers, self._tenants],
            self._prefix,
            _time(before), limit,
        )  # fmt: skip
        return int(deleted)

    async def purge_idempotency(self, before: float, *, limit: int = 1000) -> int:
        """Delete up to ``limit`` idempotency records written before ``before``, atomically."""
        deleted = await self._call(
            "purging idempotency records", "PURGE_IDEMPOTENCY", [self._idem], _time(before),
            limit,
        )  # fmt: skip
        return int(deleted)
