"""Applying events to a session: the only code that changes a session.

The engine emits events and applies each one to its working copy with :func:`apply`, and
:func:`replay` folds a stored log the same way, so a replayed log always reproduces the stored
snapshot. Each event type changes the fields listed next to it in ``_APPLY``; every event sets
``seq``, ``version`` and ``updated_at``, and moves ``expires_at`` (idle lifetime) on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import msgspec

from dialoghub.engine.decision import APPLY as decision_fold
from dialoghub.engine.records import Event, Session, Status

__all__ = ["EVENT_TYPES", "apply", "copy_session", "replay"]


def _started(s: Session | None, e: Event) -> Session:
    d = e.data
    return Session(
        id=d["id"],
        tenant=d.get("tenant", "default"),
        model_id=d["model_id"],
        model_version=d["model_version"],
        unit=d["unit"],
        state=d["state"],
        params=dict(d.get("params") or {}),
        metadata=dict(d.get("metadata") or {}),
        variables={},
        created_at=e.time,
        lifetime=dict(d["lifetime"]) if d.get("lifetime") else None,
    )


def _forked(s: Session | None, e: Event) -> Session:
    """A fork starts from a copy of its source's snapshot, under its own id and history."""
    d = e.data
    fork = msgspec.convert(d["snapshot"], Session)
    fork.id = d["id"]
    fork.created_at = e.time
    return fork


def _input(s: Session, e: Event) -> None:
    s.last_request = {**e.data["input"], "time": e.time}
    if e.data["input"].get("type") != "timeout":
        s.counters = {}  # any real request resets the prompt-timeout counters (NaifJs)


def _var(s: Session, e: Event) -> None:
    d = e.data
    unit = d.get("unit") or s.unit
    s.variables = {**s.variables, unit: {**s.variables.get(unit, {}), d["name"]: d["value"]}}


def _cleared(s: Session, e: Event) -> None:
    unit = e.data.get("unit") or s.unit
    scope = dict(s.variables.get(unit, {}))
    scope.pop(e.data["name"], None)
    s.variables = {**s.variables, unit: scope}


def _replaced(s: Session, e: Event) -> None:
    unit = e.data.get("unit") or s.unit
    s.variables = {**s.variables, unit: dict(e.data["variables"])}


def _params(s: Session, e: Event) -> None:
    s.params = dict(e.data["params"])


def _entered(s: Session, e: Event) -> None:
    s.unit = e.data.get("unit", s.unit)
    s.state = e.data["state"]
    s.counters = {}


def _action(s: Session, e: Event) -> None:
    if "awaiting" in e.data:  # a wait or a command: what the session now waits for
        s.awaiting = e.data["awaiting"]
        s.due_at = s.awaiting.get("due_at") if s.awaiting is not None else None
    action = e.data["action"]
    if action.get("type") != "reply":
        return
    prev = s.last_response
    if prev is not None and prev.get("version") == e.version:
        text = f"{prev['text']} {action['text']}"
    else:
        text = action["text"]
    s.last_response = {"text": text, "time": e.time, "state": s.state, "version": e.version}


def _timeout(s: Session, e: Event) -> None:
    s.counters = {**s.counters, e.data["name"]: e.data["count"]}


def _ended(s: Session, e: Event) -> None:
    s.status = Status(e.data.get("status", "ended"))
    s.active = False
    s.awaiting = None
    s.due_at = None
    _release_on_end(s)


def _expired(s: Session, e: Event) -> None:
    s.status = Status.EXPIRED
    s.active = False
    s.awaiting = None
    s.due_at = None
    _release_on_end(s)


def _restarted(s: Session, e: Event) -> None:
    """An ended dialog starts again (``restart_on_request``): variables and history stay."""
    s.status = Status.ACTIVE
    s.active = True
    s.unit = e.data["unit"]
    s.state = e.data["state"]
    s.stack = []
    s.counters = {}
    s.awaiting = None
    s.due_at = None


def _pushed(s: Session, e: Event) -> None:
    # copy on write: a new list, so snapshots sharing the old one never see the change
    s.stack = [*s.stack, dict(e.data["frame"])]


def _popped(s: Session, e: Event) -> None:
    frame = s.stack[-1]
    s.stack = s.stack[:-1]
    s.unit = frame["unit"]
    s.state = frame["state"]


def _chart(s: Session, e: Event) -> None:
    """A statechart macrostep: the new configuration, its state value, its bookkeeping."""
    d = e.data
    s.configuration = list(d["configuration"])
    s.state = d["state"]
    if "chart" in d:
        s.chart = d["chart"]


# --- routing (issue 12): session memory, locks, alarms ----------------------------------


def _memory_set(s: Session, e: Event) -> None:
    s.memory = {**s.memory, e.data["key"]: e.data["value"]}


def _memory_deleted(s: Session, e: Event) -> None:
    memory = dict(s.memory)
    memory.pop(e.data["key"], None)
    s.memory = memory


def _lock_set(s: Session, e: Event) -> None:
    d = e.data
    flags = {k: d[k] for k in ("read", "write", "assign", "permanent") if d.get(k)}
    s.locks = {**s.locks, d["client"]: {**flags, "fence": d.get("fence", 0)}}


def _lock_released(s: Session, e: Event) -> None:
    locks = dict(s.locks)
    locks.pop(e.data["client"], None)
    s.locks = locks


def _alarm_set(s: Session, e: Event) -> None:
    s.alarms = {**s.alarms, e.data["name"]: e.data["due_at"]}


def _alarm_gone(s: Session, e: Event) -> None:  # fired or cancelled
    alarms = dict(s.alarms)
    alarms.pop(e.data["name"], None)
    s.alarms = alarms


def _release_on_end(s: Session) -> None:
    """An ending session frees its locks (but permanent ones) and its alarms (Galaxy)."""
    if s.locks:
        s.locks = {c: f for c, f in s.locks.items() if f.get("permanent")}
    s.alarms = {}


# --- agent rounds (issue 11) ------------------------------------------------------------


def _round_started(s: Session, e: Event) -> None:
    d = e.data
    s.agent = {"round": d["round"], "status": "running",
               "rounds": (s.agent or {}).get("rounds", 0) + 1, "seq": d.get("seq", 0),
               "owner": d.get("owner"), "deadline": d.get("deadline")}


def _round_moved(s: Session, e: Event) -> None:  # a post, the end, a stop: the seq moves on
    agent = dict(s.agent or {})
    if "seq" in e.data:
        agent["seq"] = e.data["seq"]
    if e.type == "agent_round_ended":
        agent["status"] = e.data["status"]
    if agent or s.agent is not None:
        s.agent = agent


def _nothing(s: Session, e: Event) -> None:
    """Events that only record what happened (an intent was recognized, a result arrived)."""


_APPLY: dict[str, Callable[[Session, Event], None]] = {
    "input_received": _input,  # last_request
    "intent_recognized": _nothing,
    "slot_filled": _var,  # variables[unit][slot]
    "variable_set": _var,  # variables[unit][name]
    "variable_cleared": _cleared,
    "variables_replaced": _replaced,
    "params_set": _params,
    "state_entered": _entered,  # unit, state
    "chart_stepped": _chart,  # configuration, state, chart (exited/entered/microsteps: audit)
    "chart_event_ignored": _nothing,  # an event no active state takes (XState ignores it)
    "chart_invoke_stopped": _nothing,  # an invoked service's state was left: XState stops it
    "action_emitted": _action,  # last_response (replies); awaiting, due_at (waits, commands)
    "command_result_received": _nothing,
    "utterance_dropped": _nothing,  # an ASR result without the wake word the wait required
    "timeout_fired": _timeout,  # counters
    "frame_pushed": _pushed,  # stack (a unit is called, or an interrupt starts)
    "frame_popped": _popped,  # stack, unit, state (back where the unit was called)
    "confirmation_answered": _nothing,  # a yes/no answer to a confirmation question
    "slot_given_up": _nothing,  # a slot question asked its limit of times (engine/dialog.py)
    "session_ended": _ended,  # status, active, awaiting, due_at
    "session_expired": _expired,  # status, active, awaiting, due_at (a lifetime ran out)
    "session_restarted": _restarted,  # status, active, unit, state, stack (variables kept)
    # routing (issue 12)
    "memory_set": _memory_set,  # memory[key]
    "memory_deleted": _memory_deleted,  # memory[key]
    "lock_set": _lock_set,  # locks[client]
    "lock_released": _lock_released,  # locks[client]
    "alarm_set": _alarm_set,  # alarms[name]
    "alarm_cancelled": _alarm_gone,  # alarms[name]
    "alarm_fired": _alarm_gone,  # alarms[name] (delivered once by the timer service)
    # agent rounds (issue 11)
    "agent_round_started": _round_started,  # agent (round, status running, rounds, seq)
    "agent_post": _round_moved,  # agent.seq (one completed post, stored once)
    "agent_round_ended": _round_moved,  # agent.status, agent.seq
    "agent_variables": _round_moved,  # agent.seq (the variables: variable_set events)
    "agent_session_stopped": _round_moved,  # agent.seq (what a process held was released)
    # decision cycle (issue 10): Session.decision (the open round, history); see the module
    **decision_fold,
}

#: Every event type the engine emits.
EVENT_TYPES = frozenset({"session_started", "session_forked", *_APPLY})


def apply(session: Session | None, event: Event) -> Session:
    """Apply one event; ``session_started`` builds the session, any other changes it in place."""
    handler = _APPLY.get(event.type)
    if handler is not None and session is not None:  # every event but the first (hot)
        s = session
        handler(s, event)
    elif event.type == "session_started":
        s = _started(session, event)
    elif event.type == "session_forked":
        s = _forked(session, event)
    elif session is None:
        raise ValueError(f"event {event.seq} ({event.type}) before session_started")
    else:
        raise ValueError(f"unknown event type {event.type!r} at seq {event.seq}")
    s.seq = event.seq
    s.version = event.version
    s.updated_at = event.time
    if s.lifetime is not None:
        s.expires_at = _expiry(s) if not s.ended else None
    return s


def _expiry(s: Session) -> float | None:
    """When the session expires: ``idle`` after its last event or ``absolute`` after creation."""
    assert s.lifetime is not None
    idle, absolute = s.lifetime.get("idle"), s.lifetime.get("absolute")
    at = s.created_at + absolute if absolute else None
    if idle and (at is None or s.updated_at + idle < at):
        at = s.updated_at + idle
    return at


def replay(events: Iterable[Event], session: Session | None = None) -> Session:
    """Fold events (onto a copy of ``session`` if given) into a snapshot."""
    s = copy_session(session) if session is not None else None
    for event in events:
        s = apply(s, event)
    if s is None:
        raise ValueError("no events to replay")
    return s


def copy_session(session: Session) -> Session:
    """A working copy. Shallow is enough: ``apply`` never mutates a field's value in place, it
    assigns a new one (copy on write), so the original's dicts are never touched."""
    return msgspec.structs.replace(session)
