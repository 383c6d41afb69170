"""Time travel: read a session as of any event, fork a new session from any event.

A session's state is the fold of its events (:func:`dialoghub.engine.fold.replay`), and every
store keeps a snapshot every :data:`~dialoghub.stores.base.SNAPSHOT_EVERY` versions. Reading
as of event ``seq`` asks the store for the nearest kept snapshot at or before it plus the
events after it (:meth:`~dialoghub.stores.base.Store.rewind`) and folds those: the cost is
O(events since that snapshot), whatever the length of the history.

A fork is a new session whose log begins with one ``session_forked`` event carrying the
source's snapshot (:func:`dialoghub.engine.fork.fork`), so its own log replays to its
snapshot like any other session's and it never reads its source's history again.

The public API is :meth:`Hub.get_session(id, at=seq) <dialoghub.hub.Hub.get_session>` and
:meth:`Hub.fork_session <dialoghub.hub.Hub.fork_session>`; the functions below are what they
run, plus the older helpers :func:`session_at` and :func:`fork_session`, kept for callers.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from dialoghub.engine.fold import replay
from dialoghub.engine.fork import fork as fork_snapshot
from dialoghub.engine.records import Event, Session
from dialoghub.errors import InvalidInput, SessionNotFound
from dialoghub.stores import Write

if TYPE_CHECKING:
    from dialoghub.hub import Hub

__all__ = ["fork", "fork_session", "history_until", "rewind", "session_at"]

_PAGE = 1000


def _check_at(session: Session, at: object) -> int:
    if not isinstance(at, int) or isinstance(at, bool) or not 1 <= at <= session.seq:
        raise InvalidInput(
            f"event {at!r} is not in session {session.id!r}'s log (1 to {session.seq})",
            session_id=session.id,
            at=at,
            last_seq=session.seq,
        )
    return at


async def _as_of(hub: Hub, session: Session, at: int) -> tuple[Session | None, list[Event]]:
    """The kept snapshot (or None) and the events after it, through the update holding
    ``at``; raises if there is nothing to fold."""
    found = await hub.store.rewind(session.id, at=at, tenant=session.tenant)
    if found.snapshot is None and not found.events:
        raise SessionNotFound(session.id)  # deleted meanwhile
    return found.snapshot, found.events


async def rewind(hub: Hub, session: Session, at: int) -> Session:
    """``session`` (its current snapshot) as it was right after event ``at``."""
    _check_at(session, at)
    base, events = await _as_of(hub, session, at)
    return replay([e for e in events if e.seq <= at], base)


async def fork(
    hub: Hub,
    session_id: str,
    *,
    at: int | None = None,
    new_id: str | None = None,
    tenant: str = "default",
) -> Session:
    """Create a session from ``session_id`` as it was after the update holding event ``at``
    (the latest if None) and return it; see :meth:`dialoghub.hub.Hub.fork_session`."""
    from dialoghub.hub import _check_id

    current = await hub.get_session(session_id, tenant=tenant)
    fork_id = _check_id(new_id) if new_id is not None else uuid.uuid4().hex
    if fork_id == session_id:
        raise InvalidInput("a fork needs a session id other than its source's")
    if at is None or at == current.seq:
        source = current
    else:
        base, events = await _as_of(hub, current, _check_at(current, at))
        source = replay(events, base)  # whole updates: the source at rest
    session, event = fork_snapshot(source, fork_id, now=hub._clock())
    await hub._write((tenant, fork_id), Write(session, [event], 0))
    return session


async def history_until(hub: Hub, session_id: str, seq: int, *, tenant: str) -> list[Event]:
    """Events 1..``seq`` of a session, read in pages (O(seq): for audits and exports, not
    for time travel); InvalidInput if ``seq`` is out of range."""
    _check_at(await hub.get_session(session_id, tenant=tenant), seq)
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
    """The session as it was right after event ``seq`` (:meth:`Hub.get_session` with ``at``)."""
    return await hub.get_session(session_id, at=seq, tenant=tenant)


async def fork_session(
    hub: Hub,
    session_id: str,
    *,
    at: int | None = None,
    new_id: str | None = None,
    tenant: str = "default",
) -> tuple[Session, list[Event]]:
    """:meth:`Hub.fork_session`, returning the fork and its log (one ``session_forked``
    event, whose ``data["source"]["seq"]`` is where the source was forked)."""
    session = await fork(hub, session_id, at=at, new_id=new_id, tenant=tenant)
    return session, await hub.events(session.id, tenant=tenant, limit=1)
