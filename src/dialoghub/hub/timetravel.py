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
run, on the store alone (the Hub keeps the locks, the cache and the writes).
"""

from __future__ import annotations

from dialoghub.engine.fold import replay
from dialoghub.engine.records import Event, Session
from dialoghub.errors import InvalidInput, SessionNotFound
from dialoghub.stores.base import Store

__all__ = ["fork_source", "rewind"]


def _check_at(session: Session, at: object) -> int:
    if not isinstance(at, int) or isinstance(at, bool) or not 1 <= at <= session.seq:
        raise InvalidInput(
            f"event {at!r} is not in session {session.id!r}'s log (1 to {session.seq})",
            session_id=session.id,
            at=at,
            last_seq=session.seq,
        )
    return at


async def _as_of(store: Store, session: Session, at: int) -> tuple[Session | None, list[Event]]:
    """The kept snapshot (or None) and the events after it, through the update holding
    ``at``; raises if there is nothing to fold."""
    found = await store.rewind(session.id, at=at, tenant=session.tenant)
    if found.snapshot is None and not found.events:
        raise SessionNotFound(session.id)  # deleted meanwhile
    return found.snapshot, found.events


async def rewind(store: Store, session: Session, at: int) -> Session:
    """``session`` (its current snapshot) as it was right after event ``at``."""
    _check_at(session, at)
    base, events = await _as_of(store, session, at)
    return replay([e for e in events if e.seq <= at], base)


async def fork_source(store: Store, current: Session, at: int | None) -> Session:
    """What a fork of ``current`` at event ``at`` (the latest if None) starts from: the
    session at rest after the whole update holding ``at``."""
    if at is None or at == current.seq:
        return current
    base, events = await _as_of(store, current, _check_at(current, at))
    return replay(events, base)  # whole updates: the source at rest
