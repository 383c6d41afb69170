"""Forking: a new session that starts where another one was, with a history of its own.

A fork's log begins with one ``session_forked`` event carrying the source's snapshot (and
where it came from), so folding the fork's own log reproduces the fork exactly, like any
other session's, without reading the source's history. :func:`fork` is pure: the caller
reads the source as it was (see :meth:`dialoghub.hub.Hub.fork_session`) and stores the result.
"""

from __future__ import annotations

import msgspec

from dialoghub.engine.fold import apply
from dialoghub.engine.records import Event, Session

__all__ = ["fork"]


def fork(source: Session, new_id: str, *, now: float) -> tuple[Session, Event]:
    """The fork of ``source`` (a snapshot at rest) under ``new_id``: its snapshot and event 1.

    The fork has version 1 and seq 1, its own ``created_at`` (so an absolute lifetime counts
    from the fork), and everything else the source had: state, memory, what it awaits.
    """
    snapshot = msgspec.to_builtins(source)
    event = Event(
        seq=1,
        version=1,
        time=now,
        type="session_forked",
        data={
            "id": new_id,
            "source": {"id": source.id, "seq": source.seq, "version": source.version},
            "snapshot": snapshot,
        },
    )
    return apply(None, event), event
