"""Sessions, events and writes built directly from the records, for the store tests.

The stores know nothing about dialogs, so these tests need no model or engine: a session is
a plain snapshot whose ``version`` and ``seq`` move forward the way the engine moves them.
"""

from __future__ import annotations

from typing import Any

import msgspec

from dialoghub.engine.records import Event, Session, Status
from dialoghub.stores import Idempotency, Store, Write

T0 = 1_700_000_000.0


def session(
    sid: str,
    *,
    tenant: str = "default",
    model_id: str = "pizza",
    state: str = "start",
    status: Status = Status.ACTIVE,
    version: int = 1,
    seq: int = 0,
    **fields: Any,
) -> Session:
    """A snapshot with sensible defaults; ``fields`` sets any other Session field."""
    return Session(
        id=sid,
        tenant=tenant,
        model_id=model_id,
        model_version="1",
        unit="main",
        state=state,
        status=status,
        version=version,
        seq=seq,
        created_at=T0,
        updated_at=T0 + version,
        variables={"main": {"turn": version}},
        **fields,
    )


def events(first_seq: int, count: int, *, version: int, time: float | None = None) -> list[Event]:
    """``count`` events of one update starting at ``first_seq`` (they share version, time)."""
    at = T0 + version if time is None else time
    return [
        Event(
            seq=first_seq + i,
            version=version,
            time=at,
            type=f"e{first_seq + i}",
            data={"n": first_seq + i, "nested": {"list": [1, "two", None]}},
        )
        for i in range(count)
    ]


def key(name: str, fingerprint: str = "fp") -> Idempotency:
    """An idempotency record whose response is recognizable bytes."""
    return Idempotency(name, fingerprint, b"\x00response:" + name.encode())


async def create(
    store: Store, sid: str, *, n: int = 1, idem: Idempotency | None = None, **fields: Any
) -> Session:
    """Create a session at version 1 with ``n`` events; returns the stored snapshot."""
    snap = session(sid, version=1, seq=n, **fields)
    await store.write(Write(snap, events(1, n, version=1), 0, idem))
    return snap


def advance(current: Session, *, n: int = 1, **changes: Any) -> Write:
    """The write that moves ``current`` one version on with ``n`` events."""
    version = current.version + 1
    new = msgspec.structs.replace(
        current, version=version, seq=current.seq + n, updated_at=T0 + version, **changes
    )
    return Write(new, events(current.seq + 1, n, version=version), current.version)


async def update(
    store: Store, current: Session, *, n: int = 1, idem: Idempotency | None = None, **changes: Any
) -> Session:
    """Apply :func:`advance` (with an optional idempotency record); returns the new snapshot."""
    w = advance(current, n=n, **changes)
    await store.write(Write(w.session, w.events, w.expected_version, idem))
    return w.session
