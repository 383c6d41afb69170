"""Time travel on top of the Hub: read a session as of any event, fork one from any event.

Both are built from the event log alone, so they hold for every store: a session's state is
the fold of its events (:func:`dialoghub.engine.fold.replay`). Reading as of event ``seq``
folds events 1..seq. Forking copies events 1..seq under a new session id (the
``session_started`` event is the only one naming the id) and writes them as one create, so
the fork's own log replays to its snapshot like any other session's and its history is
auditable back to the source's start. These read the log in pages, so their cost grows with
``seq``; they are for inspection and branching, not for the per-turn path.

The Hub has no time-travel methods yet; when it gets them the server should call those.
"""

from __future__ import annotations

import uuid

import msgspec

from dialoghub.engine.fold import replay
from dialoghub.engine.records import Event, Session
from dialoghub.errors import InvalidInput
from dialoghub.hub import Hub, _check_id
from dialoghub.stores import Write

__all__ = ["fork_session", "history_until", "session_at"]

_PAGE = 1000


async def history_until(hub: Hub, session_id: str, seq: int, *, tenant: str) -> list[Event]:
    """Events 1..``seq`` of a session; InvalidInput if ``seq`` is out of range."""
    current = await hub.get_session(session_id, tenant=tenant)
    if not isinstance(seq, int) or isinstance(seq, bool) or not 1 <= seq <= current.seq:
        raise InvalidInput(
            f"event {seq!r} is not in session {session_id!r}'s log (1 to {current.seq})",
            session_id=session_id,
            at=seq,
            last_seq=current.seq,
        )
    events: list[Event] = []
    after = 0
    while after < seq:
        page = await hub.events(
            session_id, after=after, limit=min(_PAGE, seq - after), tenant=tenant
        )
        if not page:
            break
        events.extend(page)
        after = page[-1].seq
    return [e for e in events if e.seq <= seq]


async def session_at(hub: Hub, session_id: str, seq: int, *, tenant: str = "default") -> Session:
    """The session as it was right after event ``seq``."""
    return replay(await history_until(hub, session_id, seq, tenant=tenant))


async def fork_session(
    hub: Hub,
    session_id: str,
    *,
    at: int | None = None,
    new_id: str | None = None,
    tenant: str = "default",
) -> tuple[Session, list[Event]]:
    """Create a new session whose history is ``session_id``'s up to event ``at`` (the latest
    if None); return its snapshot and log. SessionExists if ``new_id`` is taken.

    A fork point inside an update is moved to that update's last event: a session is only
    ever at rest between updates, waiting for its next input.
    """
    if at is None:
        at = (await hub.get_session(session_id, tenant=tenant)).seq
    events = await history_until(hub, session_id, at, tenant=tenant)
    rest = await hub.events(session_id, after=at, limit=_PAGE, tenant=tenant)
    events.extend(e for e in rest if e.version == events[-1].version)
    fork_id = new_id if new_id is not None else uuid.uuid4().hex
    if fork_id == session_id:
        raise InvalidInput("a fork needs a session id other than its source's")
    _check_id(fork_id)  # the Hub's own rule for ids
    copied = [
        msgspec.structs.replace(e, data={**e.data, "id": fork_id})
        if e.type == "session_started"
        else e
        for e in events
    ]
    # Stores keep one update per write (its events share version and time), so the copy is
    # written update by update; each write is a compare-and-set on the previous version.
    session = None
    start = 0
    for i, event in enumerate(copied):
        if i + 1 < len(copied) and copied[i + 1].version == event.version:
            continue
        group = copied[start : i + 1]
        before = session.version if session is not None else 0
        session = replay(group, session)
        await hub.store.write(Write(session, group, before))
        start = i + 1
    assert session is not None
    return session, copied
