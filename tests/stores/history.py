"""Checks of a stored session's whole history, shared by the concurrency and crash tests."""

from __future__ import annotations

from collections import Counter

from dialoghub.engine.fold import replay
from dialoghub.engine.records import Event, Session
from dialoghub.stores import Store


async def all_events(store: Store, sid: str, *, page: int = 50) -> list[Event]:
    """Every event of ``sid``, read page by page."""
    out: list[Event] = []
    while batch := await store.events(sid, after=len(out), limit=page):
        out += batch
    return out


async def check_history(store: Store, sid: str) -> tuple[Session, list[Event]]:
    """The snapshot is whole: seqs 1..n without a gap, the last event carries the snapshot's
    version, versions never go back, and replaying the events gives the snapshot exactly."""
    snapshot = await store.load(sid)
    assert snapshot is not None, sid
    events = await all_events(store, sid)
    assert [e.seq for e in events] == list(range(1, len(events) + 1)), sid
    assert snapshot.seq == len(events), (sid, snapshot.seq, len(events))
    assert events[-1].version == snapshot.version, (sid, events[-1].version, snapshot.version)
    versions = [e.version for e in events]
    assert versions == sorted(versions), sid
    assert replay(events) == snapshot, sid
    return snapshot, events


def variables_set(events: list[Event]) -> Counter[str]:
    """How many times each variable name was set in ``events``."""
    return Counter(e.data["name"] for e in events if e.type == "variable_set")
