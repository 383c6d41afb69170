"""The in-process store: dicts in memory, for tests, demos and single-process tools.

It implements the :class:`~dialoghub.stores.base.Store` protocol with exactly the semantics
of the durable stores (compare-and-set, idempotency records, paged event log, keyset
listing), so code written against it behaves the same on SQLite or PostgreSQL. Nothing
survives :meth:`MemoryStore.close` or the process.

Snapshots and event batches are kept *encoded* (msgpack, :mod:`dialoghub.stores.codec`): a
caller can never mutate stored state through an object it passed in or got back, and the
store exercises the same codec as the durable backends. Its event rows are written in the
codec's plain format, not deflated (:func:`~dialoghub.stores.codec.plain_batch`): deflate
took ~15% of a turn's instructions here, for memory that does not outlive the process; they
take about twice the bytes of a deflated row. Timers, kept snapshots and closed
sessions are indexed by :class:`~dialoghub.stores._indexes.LocalIndexes`.
"""

from __future__ import annotations

import bisect
import heapq
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from dialoghub.engine.records import Event, Session
from dialoghub.errors import (
    IdempotencyKeyReused,
    SessionExists,
    SessionNotFound,
    StoreConfigError,
    StoreError,
    VersionConflict,
)
from dialoghub.stores import codec
from dialoghub.stores._across import list_across
from dialoghub.stores._common import (
    IdempotencyAges,
    check_batch,
    decode_cursor,
    encode_cursor,
    import_rows,
    page_events,
)
from dialoghub.stores._indexes import LocalIndexes
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
)

__all__ = ["MemoryStore"]


@dataclass(slots=True)
class _Batch:
    """The events of one update, as the durable stores keep them: one entry per update."""

    first_seq: int
    version: int
    time: float
    data: bytes  # codec.plain_batch (an import's: codec.encode_batch)
    count: int


@dataclass(slots=True)
class _Entry:
    """One stored session: its encoded snapshot, indexed columns, log and idempotency."""

    order: int  # creation order; the listing's keyset
    body: bytes
    model_id: str
    state: str
    status: str
    version: int
    seq: int
    #: the state keys beyond ``state`` (a statechart's ancestors and node ids: _states.py)
    extra: frozenset[str] = frozenset()
    batches: list[_Batch] = field(default_factory=list)
    idempotency: dict[str, Idempotency] = field(default_factory=dict)


def _first_seq(batch: _Batch) -> int:
    return batch.first_seq


class MemoryStore:
    """Sessions in process memory; ``memory://``.

    Safe to share between tasks of one event loop and between threads: every method runs
    its critical section under one lock without awaiting inside it, so a write is atomic.
    """

    def __init__(self, url: str = "memory://") -> None:
        self.url = url
        self._lock = threading.Lock()
        self._sessions: dict[tuple[str, str], _Entry] = {}
        # tenant -> (orders, keys), both ascending by order: listing bisects instead of
        # scanning every tenant's sessions.
        self._by_tenant: dict[str, tuple[list[int], list[str]]] = {}
        self._next_order = 1
        self._open = False
        self._indexes = LocalIndexes()
        self._idem_ages = IdempotencyAges()
        self.events_read = 0

    @classmethod
    def from_url(cls, url: str) -> MemoryStore:
        """Build a store from ``memory://`` (it takes no options)."""
        if urlsplit(url).query:
            raise StoreConfigError(f"memory:// takes no options, got {url!r}; use 'memory://'")
        return cls(url)

    async def open(self) -> None:
        """Nothing to connect to; marks the store usable."""
        self._open = True

    async def close(self) -> None:
        """Forget everything: a memory store is not durable."""
        with self._lock:
            self._open = False
            self._sessions.clear()
            self._by_tenant.clear()
            self._indexes = LocalIndexes()
            self._idem_ages.clear()

    def _check_open(self) -> None:
        if not self._open:
            raise StoreError(f"store {self.url!r} is not open; call 'await store.open()' first")

    async def write(self, write: Write) -> None:
        """Apply one update atomically (see :meth:`Store.write`)."""
        self._check_open()
        check_batch(write)
        session = write.session
        key = (session.tenant, session.id)
        # Encode before taking the lock: the stored copy is independent of the caller's.
        body = write.body or codec.encode_session(session)
        batch = (
            _Batch(
                first_seq=write.events[0].seq,
                version=write.events[0].version,
                time=write.events[0].time,
                data=codec.plain_batch(write.events),
                count=len(write.events),
            )
            if write.events
            else None
        )
        with self._lock:
            entry = self._sessions.get(key)
            if write.expected_version == 0:
                if entry is not None:
                    raise SessionExists(session.id)
                check_events(write, 0)
                entry = _Entry(
                    order=self._next_order,
                    body=body,
                    model_id=session.model_id,
                    state=session.state,
                    extra=frozenset(extra_keys(session)),
                    status=str(session.status),
                    version=session.version,
                    seq=session.seq,
                )
                self._next_order += 1
                self._sessions[key] = entry
                orders, keys = self._by_tenant.setdefault(session.tenant, ([], []))
                orders.append(entry.order)  # orders only grow: stays sorted
                keys.append(session.id)
            else:
                if entry is None:
                    raise SessionNotFound(session.id)
                # Key reuse is reported before a stale version: a retried update that already
                # landed is a key reuse first (the caller should look up the stored answer).
                if write.idempotency is not None and write.idempotency.key in entry.idempotency:
                    raise IdempotencyKeyReused(session.id, write.idempotency.key)
                if entry.version != write.expected_version:
                    raise VersionConflict(session.id, write.expected_version, entry.version)
                check_events(write, entry.seq)
                # Every check passed: from here on nothing can fail, so the update is atomic.
                entry.body = body
                entry.model_id = session.model_id
                entry.state = session.state
                entry.extra = frozenset(extra_keys(session))
                entry.status = str(session.status)
                entry.version = session.version
                entry.seq = session.seq
            if batch is not None:
                entry.batches.append(batch)
            if write.idempotency is not None:
                entry.idempotency[write.idempotency.key] = write.idempotency
                self._idem_ages.written(
                    session.tenant, session.id, write.idempotency.key, session.updated_at
                )
            self._indexes.written(session, body)

    async def import_session(
        self, session: Session, events: Sequence[Event], *, snapshots: Sequence[Session] = ()
    ) -> None:
        """Store a whole session with its log at once (see :meth:`Store.import_session`)."""
        self._check_open()
        rows, kept = import_rows(session, events, snapshots)
        key = (session.tenant, session.id)
        body = codec.encode_session(session)
        batches = [
            _Batch(r.first_seq, r.version, r.time, codec.encode_batch(r.events), len(r.events))
            for r in rows
        ]
        bodies = [(k.seq, body if k.seq == session.seq else codec.encode_session(k)) for k in kept]
        with self._lock:
            if key in self._sessions:
                raise SessionExists(session.id)
            entry = _Entry(
                order=self._next_order,
                body=body,
                model_id=session.model_id,
                state=session.state,
                extra=frozenset(extra_keys(session)),
                status=str(session.status),
                version=session.version,
                seq=session.seq,
                batches=batches,
            )
            self._next_order += 1
            self._sessions[key] = entry
            orders, keys = self._by_tenant.setdefault(session.tenant, ([], []))
            orders.append(entry.order)
            keys.append(session.id)
            self._indexes.written(session)  # timer and retention; snapshots below
            for seq, kept_body in bodies:
                self._indexes.keep(key, seq, kept_body)

    async def load(self, session_id: str, *, tenant: str = "default") -> Session | None:
        """The latest snapshot (a fresh copy), or None."""
        self._check_open()
        with self._lock:
            entry = self._sessions.get((tenant, session_id))
            body = entry.body if entry is not None else None
        return codec.decode_session(body) if body is not None else None

    async def idempotent(
        self, session_id: str, key: str, *, tenant: str = "default"
    ) -> Idempotency | None:
        """The stored answer to a keyed update of this session, or None."""
        self._check_open()
        with self._lock:
            entry = self._sessions.get((tenant, session_id))
            # Idempotency is a frozen dataclass of str and bytes: sharing it is safe.
            return entry.idempotency.get(key) if entry is not None else None

    async def events(
        self, session_id: str, *, tenant: str = "default", after: int = 0, limit: int = 100
    ) -> list[Event]:
        """Events with ``seq > after``, in order, at most ``limit``."""
        self._check_open()
        if limit <= 0:
            return []
        with self._lock:
            entry = self._sessions.get((tenant, session_id))
            if entry is None:
                return []
            # The batch holding seq after+1 is the last one starting at or before it.
            firsts = [b.first_seq for b in entry.batches]
            start = max(bisect.bisect_right(firsts, after + 1) - 1, 0)
            batches = entry.batches[start:]
        rows = ((b.first_seq, b.version, b.time, b.data) for b in batches)
        return page_events(self, rows, after, limit)

    async def list_sessions(
        self, filter: SessionFilter, *, limit: int = 50, cursor: str | None = None
    ) -> Page:
        """Sessions matching ``filter`` in creation order, one page at a time."""
        self._check_open()
        if filter.tenant is None:
            return await list_across(self, filter, limit=limit, cursor=cursor)
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        after = decode_cursor("m1", cursor) if cursor is not None else 0
        if filter.text is not None:
            needle = check_text(filter.text)

            async def fetch(last: int, n: int) -> list[tuple[int, Session]]:
                return [(o, codec.decode_session(b)) for o, b in self._walk(filter, last, n)]

            return await search_page(fetch, needle, after=after, limit=limit, tag="m1")
        rows = self._walk(filter, after, limit + 1)  # one more tells whether a page follows
        sessions = [codec.decode_session(body) for _, body in rows[:limit]]
        more = len(rows) > limit
        return Page(sessions, encode_cursor("m1", rows[limit - 1][0]) if more else None)

    def _walk(self, filter: SessionFilter, after: int, n: int) -> list[tuple[int, bytes]]:
        """Up to ``n`` (order, body) of ``filter``'s sessions after order ``after``."""
        found: list[tuple[int, bytes]] = []
        with self._lock:
            orders, keys = self._by_tenant.get(str(filter.tenant), ([], []))
            for i in range(bisect.bisect_right(orders, after), len(orders)):
                entry = self._sessions[(str(filter.tenant), keys[i])]
                if (
                    (filter.model_id is not None and entry.model_id != filter.model_id)
                    or (
                        filter.state is not None
                        and entry.state != filter.state
                        and filter.state not in entry.extra
                    )
                    or (filter.status is not None and entry.status != filter.status)
                ):
                    continue
                found.append((entry.order, entry.body))
                if len(found) == n:
                    break
        return found

    async def list_tenants(self, *, after: str | None = None, limit: int = 100) -> list[str]:
        """Tenants with sessions after ``after`` (str order), at most ``limit``."""
        self._check_open()
        with self._lock:
            names = [t for t, (orders, _) in self._by_tenant.items() if orders]
        return heapq.nsmallest(limit, (t for t in names if after is None or t > after))

    async def delete(self, session_id: str, *, tenant: str = "default") -> bool:
        """Remove a session with its events and idempotency records; False if absent."""
        self._check_open()
        with self._lock:
            entry = self._sessions.pop((tenant, session_id), None)
            if entry is None:
                return False
            self._forget((tenant, session_id), entry)
            return True

    def _forget(self, key: tuple[str, str], entry: _Entry) -> None:
        """Drop a popped entry from the listing and the indexes (under the lock)."""
        orders, keys = self._by_tenant[key[0]]
        i = bisect.bisect_left(orders, entry.order)
        del orders[i], keys[i]
        self._indexes.removed(key)

    # --- time travel, timers, retention -------------------------------------------------

    async def rewind(self, session_id: str, *, at: int, tenant: str = "default") -> Rewind:
        """The nearest kept snapshot at or before event ``at`` and the events after it."""
        self._check_open()
        key = (tenant, session_id)
        with self._lock:
            entry = self._sessions.get(key)
            if entry is None:
                return Rewind(None, [])
            kept = self._indexes.snapshot_at(key, at)
            since = kept[0] if kept is not None else 0
            # Batches starting after the snapshot, up to the one holding ``at``: O(log n).
            lo = bisect.bisect_right(entry.batches, since, key=_first_seq)
            hi = bisect.bisect_right(entry.batches, at, key=_first_seq)
            batches = entry.batches[lo:hi]
        events: list[Event] = []
        for b in batches:
            events.extend(codec.decode_batch(b.first_seq, b.version, b.time, b.data))
        self.events_read += len(events)
        return Rewind(codec.decode_session(kept[1]) if kept is not None else None, events)

    async def claim_timers(
        self, now: float, *, limit: int = 100, lease: float = 60.0
    ) -> list[DueTimer]:
        """Take up to ``limit`` due timers; each is due again at ``now + lease``."""
        self._check_open()
        with self._lock:
            return self._indexes.claim(now, limit, lease)

    async def drop_timer(self, timer: DueTimer) -> None:
        """Remove a claimed timer if its session is still at ``timer.version``."""
        self._check_open()
        with self._lock:
            self._indexes.drop(timer)

    async def purge(self, before: float, *, limit: int = 1000) -> int:
        """Delete up to ``limit`` closed sessions last updated before ``before``."""
        self._check_open()
        with self._lock:
            keys = self._indexes.closed_before(before, limit)
            for key in keys:
                entry = self._sessions.pop(key)
                self._forget(key, entry)
            return len(keys)

    async def purge_idempotency(self, before: float, *, limit: int = 1000) -> int:
        """Delete up to ``limit`` idempotency records written before ``before``."""
        self._check_open()
        with self._lock:
            sessions = self._sessions

            def exists(record: tuple[str, str, str]) -> bool:
                entry = sessions.get((record[0], record[1]))
                return entry is not None and record[2] in entry.idempotency

            gone = self._idem_ages.expired(before, limit, exists)
            for tenant, session_id, key in gone:
                del sessions[(tenant, session_id)].idempotency[key]
            return len(gone)
