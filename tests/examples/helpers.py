"""Driving a whole conversation through a Hub, checking replay after every turn."""

from __future__ import annotations

from typing import Any

from dialoghub import Hub, SessionView
from dialoghub.engine.fold import replay

#: A fixed clock: the tests never depend on real time.
T0 = 1_700_000_000.0


def clock() -> Any:
    """A clock that advances one second per call."""
    ticks = iter(range(10**9))
    return lambda: T0 + next(ticks)


async def replayed(hub: Hub, session_id: str) -> None:
    """The fold of the stored log equals the stored snapshot."""
    events = await hub.events(session_id, limit=10_000)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert replay(events) == await hub.get_session(session_id)


def last(view: SessionView) -> str:
    """The type tag of the last action."""
    return type(view.actions[-1]).__name__
