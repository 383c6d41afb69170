"""Session memory, session locks and alarms: the routing inputs as pure steps (issue 12).

:func:`dialoghub.engine.step.step` hands a :class:`~dialoghub.engine.records.MemoryOp`,
:class:`~dialoghub.engine.records.SetLock`, :class:`~dialoghub.engine.records.SetAlarm` or
an alarm's ``Timeout("alarm:NAME")`` to :func:`step` here. Each is one update like any other
(the Hub writes it with one compare-and-set, so an increment from fifty clients at once
loses nothing): its events change only ``memory``, ``locks`` or ``alarms``, and the flow
does not move, so the update ends by repeating what the session was waiting for. The input
is not recorded as a request (``last_request`` and the prompt counters stay): these are the
system's bookkeeping, not something the user said.
"""

from __future__ import annotations

from typing import Any

import msgspec

from dialoghub.engine.fold import apply, copy_session
from dialoghub.engine.records import (
    ALARM_PREFIX,
    Action,
    CommandAction,
    EndAction,
    Event,
    MemoryOp,
    Session,
    SetAlarm,
    SetLock,
    Timeout,
    WaitForUser,
)
from dialoghub.errors import InvalidInput, SessionClosed

__all__ = ["MAX_KEY_CHARS", "MEMORY_OPS", "ROUTING_INPUTS", "is_routing_input", "step"]

#: The memory operations an input may carry (``get`` is a read, not an update).
MEMORY_OPS = frozenset({"set", "delete", "increment"})
#: Longest memory key, lock client name or alarm name.
MAX_KEY_CHARS = 200
#: The input types this module steps (an alarm's timeout too, see :func:`is_routing_input`).
ROUTING_INPUTS = (MemoryOp, SetLock, SetAlarm)


def is_routing_input(inp: object) -> bool:
    """True for the inputs :func:`step` takes: memory, lock, alarm, and an alarm firing."""
    if isinstance(inp, ROUTING_INPUTS):
        return True
    return isinstance(inp, Timeout) and inp.name.startswith(ALARM_PREFIX)


class _Update:
    def __init__(self, session: Session, now: float) -> None:
        self.s = copy_session(session)
        self.now = now
        self.version = session.version + 1
        self.events: list[Event] = []

    def emit(self, type: str, **data: Any) -> None:
        event = Event(seq=self.s.seq + 1, version=self.version, time=self.now, type=type, data=data)
        self.s = apply(self.s, event)
        self.events.append(event)


def _name(value: Any, what: str) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_KEY_CHARS:
        raise InvalidInput(f"{what} must be a string of 1 to {MAX_KEY_CHARS} characters")
    return value


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _memory(up: _Update, inp: MemoryOp) -> None:
    key = _name(inp.key, "a memory key")
    if inp.op not in MEMORY_OPS:
        raise InvalidInput(
            f"memory op must be one of {', '.join(sorted(MEMORY_OPS))}, not {inp.op!r}", op=inp.op
        )
    current = up.s.memory.get(key)
    if inp.op == "delete":
        if key in up.s.memory:
            up.emit("memory_deleted", key=key)
        return
    if inp.op == "increment":
        by = 1 if inp.value is None else inp.value
        if not _number(by):
            raise InvalidInput(f"increment takes a number, not {by!r}", key=key)
        if current is not None and not _number(current):
            raise InvalidInput(
                f"memory key {key!r} holds {type(current).__name__}, not a "
                "number: it cannot be incremented",
                key=key,
            )
        up.emit("memory_set", key=key, value=(current or 0) + by)
        return
    if inp.check and current != inp.expected:
        raise InvalidInput(
            f"memory key {key!r} is {current!r}, not the expected {inp.expected!r}",
            key=key,
            current=current,
        )
    up.emit("memory_set", key=key, value=inp.value)


def _lock(up: _Update, inp: SetLock) -> None:
    client = _name(inp.client, "a lock's client name")
    if inp.release:
        if client in up.s.locks:
            up.emit("lock_released", client=client)
        return
    if not (inp.read or inp.write or inp.assign):
        raise InvalidInput("a lock sets read, write or assign (or release=true to drop one)")
    if inp.write:
        # A session writes to one client only: a second writer is refused, atomically
        # (the check and the event are one compare-and-set).
        for other, flags in up.s.locks.items():
            if other != client and flags.get("write"):
                raise InvalidInput(
                    f"session {up.s.id!r} already writes only to {other!r}; release that "
                    "lock first",
                    holder=other,
                )
    flags = {"read": inp.read, "write": inp.write, "assign": inp.assign, "permanent": inp.permanent}
    up.emit("lock_set", client=client, fence=inp.fence, **{k: v for k, v in flags.items() if v})


def _alarm(up: _Update, inp: SetAlarm) -> None:
    name = _name(inp.name, "an alarm name")
    if inp.seconds is None:
        if name in up.s.alarms:
            up.emit("alarm_cancelled", name=name)
        return
    if not _number(inp.seconds) or not 0 <= inp.seconds <= 10 * 365 * 86400:
        raise InvalidInput(
            f"alarm seconds must be a number from 0 to ten years, not {inp.seconds!r}"
        )
    up.emit("alarm_set", name=name, due_at=up.now + inp.seconds)


def _fired(up: _Update, inp: Timeout) -> None:
    name = inp.name[len(ALARM_PREFIX) :]
    if name not in up.s.alarms:
        raise InvalidInput(f"session {up.s.id!r} has no alarm {name!r}", name=name)
    up.emit("alarm_fired", name=name)


def _repeat(up: _Update) -> Action:
    """What the session was waiting for, emitted again (the flow did not move)."""
    if up.s.ended:
        action: Action = EndAction(reason=f"session is {up.s.status.value}")
        up.emit("action_emitted", action=msgspec.to_builtins(action))
        return action
    aw = up.s.awaiting or {}
    if aw.get("kind") == "command":
        action = CommandAction(id=aw["command"], params=aw["params"])
    else:
        action = WaitForUser(
            immediate=bool(aw.get("immediate")), requires_wake_word=bool(aw.get("wake"))
        )
    up.emit("action_emitted", action=msgspec.to_builtins(action), awaiting=aw or None)
    return action


def step(
    session: Session, inp: Any, now: float
) -> tuple[Session, tuple[Action, ...], tuple[Event, ...]]:
    """One routing update: (new snapshot, actions, events). An ended session takes only a
    lock release (its permanent locks outlive it until released); anything else there is
    SessionClosed."""
    if session.ended and not (isinstance(inp, SetLock) and inp.release):
        raise SessionClosed(session.id, session.status.value)
    up = _Update(session, now)
    if isinstance(inp, MemoryOp):
        _memory(up, inp)
    elif isinstance(inp, SetLock):
        _lock(up, inp)
    elif isinstance(inp, SetAlarm):
        _alarm(up, inp)
    else:
        _fired(up, inp)
    action = _repeat(up)
    return up.s, (action,), tuple(up.events)
