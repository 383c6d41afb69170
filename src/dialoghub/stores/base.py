"""The one async protocol every store implements, and the records it takes.

A store keeps, per (tenant, session id), a *snapshot* (the encoded :class:`Session`) and the
session's append-only *event log*. :meth:`Store.write` applies one update atomically: the new
snapshot, its events and (optionally) an idempotency record, guarded by a compare-and-set on
the version. Nothing in a store decides anything about dialogs; that is the engine's job.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from dialoghub.engine.records import Event, Session

__all__ = ["Idempotency", "Order", "Page", "SessionFilter", "Store", "Write", "check_events"]


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
    """

    session: Session
    events: Sequence[Event]
    expected_version: int
    idempotency: Idempotency | None = None


class Order(enum.StrEnum):
    """Order of a listing."""

    CREATED = "created"  # oldest first; stable under concurrent updates


@dataclass(frozen=True, slots=True)
class SessionFilter:
    """Which sessions a listing returns; None means any."""

    tenant: str = "default"
    model_id: str | None = None
    state: str | None = None
    status: str | None = None


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a listing; pass ``next_cursor`` back to get the next (None: no more)."""

    sessions: list[Session]
    next_cursor: str | None


@runtime_checkable
class Store(Protocol):
    """Where sessions live. Every method may raise :class:`dialoghub.errors.StoreError`."""

    url: str

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
        """Sessions matching ``filter``, oldest first, one page at a time."""

    async def delete(self, session_id: str, *, tenant: str = "default") -> bool:
        """Remove a session, its events and its idempotency records; False if absent."""


def check_events(write: Write, stored_seq: int) -> None:
    """Assert the invariant every store relies on: events continue the log without a gap."""
    expected = stored_seq + 1
    for event in write.events:
        if event.seq != expected:
            raise ValueError(f"event seq {event.seq} does not follow {expected - 1}")
        expected += 1
