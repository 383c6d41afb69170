"""The one async protocol every store implements, and the records it takes.

A store keeps, per (tenant, session id), a *snapshot* (the encoded :class:`Session`) and the
session's append-only *event log*. :meth:`Store.write` applies one update atomically: the new
snapshot, its events and (optionally) an idempotency record, guarded by a compare-and-set on
the version. Nothing in a store decides anything about dialogs; that is the engine's job.

The same write also keeps two derived indexes up to date, so nobody has to decode snapshots
to find them: the session's next *timer* (:attr:`Session.timer`: a prompt timeout or its
expiry, one per session, replaced or removed by every write) and, every
:data:`SNAPSHOT_EVERY` versions, a kept *snapshot* for time travel (:meth:`Store.rewind`).
Ended and expired sessions are indexed by their last update for retention
(:meth:`Store.purge`), and idempotency records by the time of their update
(:meth:`Store.purge_idempotency`). :meth:`Store.import_session` writes a whole session with
its history at once, for moving sessions between stores.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from dialoghub.engine.records import Event, Session

__all__ = [
    "SNAPSHOT_EVERY",
    "DueTimer",
    "Idempotency",
    "Order",
    "Page",
    "Rewind",
    "SessionFilter",
    "Store",
    "Write",
    "check_events",
    "keeps_snapshot",
]

#: A write whose new version is a multiple of this also keeps its snapshot for time travel:
#: reading a session as of any event then folds at most this many updates.
SNAPSHOT_EVERY = 100


def keeps_snapshot(session: Session) -> bool:
    """Whether the write of ``session`` keeps its snapshot (see :data:`SNAPSHOT_EVERY`)."""
    return session.version % SNAPSHOT_EVERY == 0


@dataclass(frozen=True, slots=True)
class Idempotency:
    """What a keyed update answered, kept so a retry gets the same answer.

    ``fingerprint`` identifies the request body: a retry with the same key and another
    fingerprint is refused.
    """

    key: str
    fingerprint: str
    response: bytes


@dataclass(frozen=True, slots=True)
class Write:
    """One atomic update of one session.

    ``expected_version`` is the version the stored snapshot must have for the write to apply;
    0 means the session must not exist yet (a create). ``events`` continue the log without a
    gap: the first has ``seq`` = stored seq + 1.

    ``body``, when given, is ``session`` already encoded by
    :func:`dialoghub.stores.codec.encode_session` (the hub encodes it once for its cache's
    copy); a store that keeps that encoding uses it instead of encoding the snapshot again.
    """

    session: Session
    events: Sequence[Event]
    expected_version: int
    idempotency: Idempotency | None = None
    body: bytes | None = None


class Order(enum.StrEnum):
    """Order of a listing."""

    CREATED = "created"  # oldest first; stable under concurrent updates


@dataclass(frozen=True, slots=True)
class SessionFilter:
    """Which sessions a listing returns; None means any.

    ``tenant=None`` lists every tenant's sessions (an operator's view; never offered over
    HTTP, where a key is one tenant's): ordered by tenant, then creation, keyset-paged like
    one tenant's listing (see :func:`dialoghub.stores._common.list_across`).

    ``text``: only sessions whose id or metadata holds it, case-insensitively; a search
    examines a bounded number of sessions per page, so its pages may be short, even empty,
    while ``next_cursor`` is set (see :mod:`dialoghub.stores._search`).
    """

    tenant: str | None = "default"
    model_id: str | None = None
    state: str | None = None
    status: str | None = None
    text: str | None = None


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a listing; pass ``next_cursor`` back to get the next (None: no more)."""

    sessions: list[Session]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class DueTimer:
    """A claimed timer: deliver input ``name`` to the session if it is still at ``version``."""

    tenant: str
    session_id: str
    version: int
    name: str
    due_at: float


@dataclass(frozen=True, slots=True)
class Rewind:
    """What time travel to one event needs: a kept snapshot and the events after it.

    ``snapshot`` is the nearest kept snapshot at or before the event (None: there is none,
    fold from the start); ``events`` follow it without a gap, up to the end of the update
    that holds the event.
    """

    snapshot: Session | None
    events: list[Event]


@runtime_checkable
class Store(Protocol):
    """Where sessions live. Every method may raise :class:`dialoghub.errors.StoreError`."""

    url: str
    #: Events decoded by :meth:`events` and :meth:`rewind` since the store was built: how
    #: tests check that time travel reads O(events since a snapshot), not the history.
    events_read: int

    async def open(self) -> None:
        """Connect and create or check the schema. Called once before any other method."""

    async def close(self) -> None:
        """Flush pending writes and release connections."""

    async def write(self, write: Write) -> None:
        """Apply one update atomically, acknowledged only once durable.

        Raises :class:`~dialoghub.errors.VersionConflict` when the stored version is not
        ``write.expected_version`` (for a create: :class:`~dialoghub.errors.SessionExists`),
        and :class:`~dialoghub.errors.IdempotencyKeyReused` when the key is already stored.
        Nothing is written when it raises.
        """

    async def import_session(
        self, session: Session, events: Sequence[Event], *, snapshots: Sequence[Session] = ()
    ) -> None:
        """Store a whole session, moved from another store, in one transaction.

        ``events`` is its complete log (seqs 1 to ``session.seq``); it is stored in the
        store's own layout, one row per update (events grouped by version), and the timer,
        retention and kept-snapshot indexes are written as the writes that built the session
        would have written them. ``snapshots`` are states along the way (the caller folds
        the log); those at a multiple of :data:`SNAPSHOT_EVERY` versions are kept for time
        travel, so rewinding an imported session costs what it cost in its first store.
        Idempotency records are not moved.

        Raises :class:`~dialoghub.errors.SessionExists` if (tenant, id) is taken and
        :class:`~dialoghub.errors.InvalidInput` if the log is not one a store could hold;
        nothing is written when it raises. The store does not check that the log folds
        into ``session``: that is :meth:`dialoghub.hub.Hub.import_session`'s job.
        """

    async def load(self, session_id: str, *, tenant: str = "default") -> Session | None:
        """The latest snapshot, or None."""

    async def idempotent(
        self, session_id: str, key: str, *, tenant: str = "default"
    ) -> Idempotency | None:
        """The stored answer to a keyed update of this session, or None."""

    async def events(
        self, session_id: str, *, tenant: str = "default", after: int = 0, limit: int = 100
    ) -> list[Event]:
        """Events with ``seq > after``, in order, at most ``limit`` of them."""

    async def list_sessions(
        self, filter: SessionFilter, *, limit: int = 50, cursor: str | None = None
    ) -> Page:
        """Sessions matching ``filter``, oldest first, one page at a time.

        With ``filter.tenant`` None, every tenant's: by tenant, then oldest first; a page
        costs what one tenant's page costs plus one index probe per tenant it passes.
        """

    async def list_tenants(self, *, after: str | None = None, limit: int = 100) -> list[str]:
        """Tenants that have sessions, in the store's tenant order, after ``after``; at most
        ``limit``. One index probe per tenant (a loose index scan), not a scan of sessions."""

    async def delete(self, session_id: str, *, tenant: str = "default") -> bool:
        """Remove a session, its events, idempotency records, timer and kept snapshots;
        False if absent."""

    async def rewind(self, session_id: str, *, at: int, tenant: str = "default") -> Rewind:
        """The nearest kept snapshot at or before event ``at`` and the events after it.

        Reads O(events since that snapshot), whatever the length of the history. A session
        that does not exist gives ``Rewind(None, [])``.
        """

    async def claim_timers(
        self, now: float, *, limit: int = 100, lease: float = 60.0
    ) -> list[DueTimer]:
        """Take up to ``limit`` timers due at ``now`` (earliest first), atomically.

        A claimed timer is not due again before ``now + lease``: no other claimer (in this
        or another process) gets it meanwhile. Delivering it writes the session, which
        replaces the timer; if the claimer dies first, the timer comes back after the lease,
        and the session's version (checked on delivery) keeps it from being applied twice.
        """

    async def drop_timer(self, timer: DueTimer) -> None:
        """Remove a claimed timer that cannot be delivered, if the session is still at
        ``timer.version`` (a later write's timer is kept)."""

    async def purge(self, before: float, *, limit: int = 1000) -> int:
        """Delete up to ``limit`` ended or expired sessions last updated before ``before``
        (oldest first), with everything they own, in one atomic step; how many it deleted."""

    async def purge_idempotency(self, before: float, *, limit: int = 1000) -> int:
        """Delete up to ``limit`` idempotency records written before ``before`` (oldest
        first), in one atomic step; how many it deleted.

        A record's time is the ``updated_at`` of the snapshot written with it (the time of
        the update it answers). Its session is left as it is: a retry of that update after
        the purge is a new request. The retention pass (:meth:`dialoghub.hub.Hub.purge`)
        calls it with the hub's ``idempotency_retention``.
        """


def check_events(write: Write, stored_seq: int) -> None:
    """Assert the invariant every store relies on: events continue the log without a gap."""
    expected = stored_seq + 1
    for event in write.events:
        if event.seq != expected:
            raise ValueError(f"event seq {event.seq} does not follow {expected - 1}")
        expected += 1
