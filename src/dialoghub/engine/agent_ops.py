"""Agent rounds on a session, as pure steps (issue 11).

:func:`dialoghub.engine.step.step` hands an :class:`~dialoghub.engine.records.AgentRecord` to
:func:`step` here. The agent (:mod:`dialoghub.agent`) records a round on its session with
few of them: the round starts, each completed post, the round ends; streamed chunks never
reach the session, so a round's stored size does not grow with how finely it streamed.
Each record is one update (one compare-and-set), so a second round started elsewhere while
one runs is refused here, atomically, whichever process tries.

The flow of the session's model does not move: the update repeats what the session was
waiting for, without an event (the wait is unchanged), and the record is not a request
(``last_request`` stays what the user last said to the model).
"""

from __future__ import annotations

from typing import Any

from dialoghub.engine.fold import apply, copy_session
from dialoghub.engine.records import (
    Action,
    AgentRecord,
    CommandAction,
    Event,
    Session,
    WaitForUser,
)
from dialoghub.errors import InvalidInput, SessionClosed, UnexpectedInput

__all__ = ["RECORD_KINDS", "step"]

#: What an :class:`AgentRecord` may record, and the event each becomes.
RECORD_KINDS = {
    "round_started": "agent_round_started",
    "post": "agent_post",
    "round_ended": "agent_round_ended",
    "variables": "agent_variables",
    "stopped": "agent_session_stopped",
}
#: The statuses a round may end with.
END_STATUSES = frozenset({"finished", "failed", "cancelled"})


def _repeat(s: Session) -> Action:
    # never an EndAction: step() refuses an ended session, and no agent event ends one
    aw = s.awaiting or {}
    if aw.get("kind") == "command":
        return CommandAction(id=aw["command"], params=aw["params"])
    return WaitForUser(immediate=bool(aw.get("immediate")), requires_wake_word=bool(aw.get("wake")))


def _check(s: Session, inp: AgentRecord) -> None:
    if inp.kind not in RECORD_KINDS:
        raise InvalidInput(
            f"agent record kind must be one of {', '.join(RECORD_KINDS)}, not {inp.kind!r}",
            kind=inp.kind,
        )
    for name in inp.variables:
        if not name or "." in name:
            raise InvalidInput(f"{name!r} is not a variable name (no dots, not empty)")
    current = s.agent or {}
    running = current.get("status") == "running"
    rid = inp.data.get("round")
    if inp.kind == "round_started":
        if not isinstance(rid, str) or not rid:
            raise InvalidInput("a round_started record needs the round's id")
        if running:
            raise UnexpectedInput(
                f"session {s.id!r} is running round {current.get('round')!r}; one round at a time",
                session_id=s.id,
                round_id=current.get("round"),
            )
    elif inp.kind in ("post", "round_ended"):
        if not running or rid != current.get("round"):
            raise UnexpectedInput(
                f"round {rid!r} is not the round running on session {s.id!r}",
                session_id=s.id,
                round_id=rid,
            )
        if inp.kind == "round_ended" and inp.data.get("status") not in END_STATUSES:
            raise InvalidInput(
                f"a round ends {', '.join(sorted(END_STATUSES))}, not {inp.data.get('status')!r}"
            )


def step(
    session: Session, inp: AgentRecord, now: float
) -> tuple[Session, tuple[Action, ...], tuple[Event, ...]]:
    """One agent record: (new snapshot, the repeated wait, events). InvalidInput or
    UnexpectedInput (a round already running, a post of another round) change nothing."""
    if session.ended:
        raise SessionClosed(session.id, session.status.value)
    _check(session, inp)
    s = copy_session(session)
    version = s.version + 1
    events: list[Event] = []

    def emit(type: str, data: dict[str, Any]) -> None:
        nonlocal s
        event = Event(seq=s.seq + 1, version=version, time=now, type=type, data=data)
        s = apply(s, event)
        events.append(event)

    for name, value in inp.variables.items():
        emit("variable_set", {"name": name, "value": value, "unit": s.unit})
    data = dict(inp.data)
    if inp.kind == "round_started":
        # The round's first live event number: the caller's, unless the store has given out
        # more (another process ran rounds since), given out atomically with the start.
        data["seq"] = max(int(data.get("seq", 0)), int((session.agent or {}).get("seq", 0)) + 1)
    if inp.kind != "variables" or not inp.variables or "seq" in data:
        emit(RECORD_KINDS[inp.kind], data)
    return s, (_repeat(s),), tuple(events)
