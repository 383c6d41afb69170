"""Unit tests of engine/session_ops.py: session memory, locks and alarms as pure steps.

Every update is driven through :func:`dialoghub.engine.session_ops.step` (and once through
:func:`dialoghub.engine.step.step`, which hands these inputs over for any model), and the
events are read back field by field; each refusal asserts its message and its details.
"""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from dialoghub.engine import session_ops
from dialoghub.engine.fold import replay
from dialoghub.engine.records import (
    CommandAction,
    End,
    EndAction,
    Event,
    MemoryOp,
    Session,
    SetAlarm,
    SetLock,
    Text,
    Timeout,
    WaitForUser,
)
from dialoghub.engine.step import start, step
from dialoghub.errors import InvalidInput, SessionClosed
from dialoghub.model.loader import load_model_text

T0 = 1_000.0
TEN_YEARS = 10 * 365 * 86400

ASKS = """
id: asks
intents:
  next: [next]
states:
  start:
    ask: First?
    on: {next: done}
  done: {say: Bye., final: true}
"""
WAKE = """
id: wake
wake_word: true
intents:
  next: [next]
states:
  start:
    ask: First?
    on: {next: start}
"""
SHOP = """
id: shop
commands:
  price:
    inputs: [item]
    outputs: [total]
states:
  start:
    do:
      - command: price
        with: {item: lamp}
      - say: "Total: {total}."
    final: true
"""


class Routed:
    """A session of a model, updated only by routing inputs; replay checked each time."""

    def __init__(self, text: str = ASKS) -> None:
        self.model = load_model_text(text)
        r = start(self.model, "s1", now=T0)
        self.session: Session = r.session
        self.log: list[Event] = list(r.events)
        self.now = T0

    def send(self, inp: Any) -> tuple[tuple[Any, ...], tuple[Event, ...]]:
        self.now += 1
        s, actions, events = session_ops.step(self.session, inp, self.now)
        self.session = s
        self.log.extend(events)
        assert replay(self.log) == s
        return actions, events

    def types(self, events: tuple[Event, ...]) -> list[str]:
        return [e.type for e in events]


def refusal(r: Routed, inp: Any) -> InvalidInput:
    before = r.session
    with pytest.raises(InvalidInput) as info:
        session_ops.step(r.session, inp, r.now + 1)
    assert r.session == before
    return info.value


# --- which inputs are routing inputs --------------------------------------------------


def test_routing_inputs_are_memory_locks_alarms_and_alarm_timeouts() -> None:
    assert session_ops.is_routing_input(MemoryOp(op="set", key="k"))
    assert session_ops.is_routing_input(SetLock(client="c", read=True))
    assert session_ops.is_routing_input(SetAlarm(name="a"))
    assert session_ops.is_routing_input(Timeout(name="alarm:wake"))
    assert not session_ops.is_routing_input(Timeout(name="prompt"))
    assert not session_ops.is_routing_input(Timeout(name="xalarm:wake"))
    assert not session_ops.is_routing_input(Text(text="alarm:wake"))


# --- memory -----------------------------------------------------------------------------


def test_set_records_one_event_and_repeats_the_wait_without_moving_the_flow() -> None:
    r = Routed()
    seq, version = r.session.seq, r.session.version
    actions, events = r.send(MemoryOp(op="set", key="k", value={"a": 1}))
    assert events == (
        Event(seq=seq + 1, version=version + 1, time=T0 + 1, type="memory_set",
              data={"key": "k", "value": {"a": 1}}),
        Event(seq=seq + 2, version=version + 1, time=T0 + 1, type="action_emitted",
              data={"action": {"type": "wait_for_user", "immediate": True,
                               "requires_wake_word": False},
                    "awaiting": {"kind": "user", "immediate": True, "prompt": ["First?"]}}),
    )
    assert actions == (WaitForUser(immediate=True, requires_wake_word=False),)
    assert r.session.memory == {"k": {"a": 1}}
    assert r.session.state == "start"
    assert r.session.last_request is None
    assert r.session.version == version + 1 and r.session.seq == seq + 2


def test_delete_drops_a_key_and_is_silent_for_a_missing_one() -> None:
    r = Routed()
    r.send(MemoryOp(op="set", key="k", value=1))
    r.send(MemoryOp(op="set", key="other", value=2))
    _, events = r.send(MemoryOp(op="delete", key="k"))
    assert r.types(events) == ["memory_deleted", "action_emitted"]
    assert events[0].data == {"key": "k"}
    assert r.session.memory == {"other": 2}
    _, events = r.send(MemoryOp(op="delete", key="k"))
    assert r.types(events) == ["action_emitted"]


def test_increment_counts_from_zero_by_one_or_by_the_value() -> None:
    r = Routed()
    _, events = r.send(MemoryOp(op="increment", key="n"))
    assert events[0].data == {"key": "n", "value": 1}
    r.send(MemoryOp(op="increment", key="n", value=5))
    assert r.session.memory == {"n": 6}
    r.send(MemoryOp(op="increment", key="n", value=-2.5))
    assert r.session.memory == {"n": 3.5}
    r.send(MemoryOp(op="set", key="z", value=0))
    r.send(MemoryOp(op="increment", key="z", value=4))
    assert r.session.memory["z"] == 4


def test_increment_refuses_what_is_not_a_number() -> None:
    r = Routed()
    err = refusal(r, MemoryOp(op="increment", key="n", value="2"))
    assert err.message == "increment takes a number, not '2'"
    assert err.details == {"key": "n"}
    err = refusal(r, MemoryOp(op="increment", key="n", value=True))
    assert err.message == "increment takes a number, not True"
    r.send(MemoryOp(op="set", key="s", value="text"))
    err = refusal(r, MemoryOp(op="increment", key="s"))
    assert err.message == "memory key 's' holds str, not a number: it cannot be incremented"
    assert err.details == {"key": "s"}
    r.send(MemoryOp(op="set", key="b", value=False))
    err = refusal(r, MemoryOp(op="increment", key="b"))
    assert err.message == "memory key 'b' holds bool, not a number: it cannot be incremented"


def test_a_checked_set_compares_the_current_value_first() -> None:
    r = Routed()
    r.send(MemoryOp(op="set", key="k", value=1, expected=None, check=True))  # absent: None
    assert r.session.memory == {"k": 1}
    err = refusal(r, MemoryOp(op="set", key="k", value=2, expected=7, check=True))
    assert err.message == "memory key 'k' is 1, not the expected 7"
    assert err.details == {"key": "k", "current": 1}
    r.send(MemoryOp(op="set", key="k", value=2, expected=1, check=True))
    assert r.session.memory == {"k": 2}
    # without check, expected is not looked at
    r.send(MemoryOp(op="set", key="k", value=3, expected=99))
    assert r.session.memory == {"k": 3}


def test_an_unknown_memory_op_is_refused() -> None:
    err = refusal(Routed(), MemoryOp(op="get", key="k"))
    assert err.message == "memory op must be one of delete, increment, set, not 'get'"
    assert err.details == {"op": "get"}


def test_keys_are_strings_of_1_to_200_characters() -> None:
    r = Routed()
    r.send(MemoryOp(op="set", key="k", value=1))
    r.send(MemoryOp(op="set", key="x" * 200, value=1))
    assert set(r.session.memory) == {"k", "x" * 200}
    for bad in ("", "x" * 201, 5):
        err = refusal(r, MemoryOp(op="set", key=bad, value=1))  # type: ignore[arg-type]
        assert err.message == "a memory key must be a string of 1 to 200 characters"
        assert err.details == {}


# --- locks ------------------------------------------------------------------------------


def test_a_lock_records_only_its_true_flags_and_the_fence() -> None:
    r = Routed()
    _, events = r.send(SetLock(client="c", read=True, fence=4))
    assert events[0].type == "lock_set"
    assert events[0].data == {"client": "c", "fence": 4, "read": True}
    assert r.session.locks == {"c": {"read": True, "fence": 4}}
    _, events = r.send(SetLock(client="c", write=True, assign=True, permanent=True))
    assert events[0].data == {
        "client": "c", "fence": 0, "write": True, "assign": True, "permanent": True,
    }
    assert r.session.locks == {"c": {"write": True, "assign": True, "permanent": True,
                                     "fence": 0}}


def test_a_lock_must_set_something() -> None:
    r = Routed()
    err = refusal(r, SetLock(client="c", permanent=True))
    assert err.message == "a lock sets read, write or assign (or release=true to drop one)"
    assert err.details == {}
    for flags in ({"read": True}, {"write": True}, {"assign": True}):
        r.send(SetLock(client="c", **flags))
        assert r.session.locks["c"] == {**flags, "fence": 0}


def test_a_session_writes_to_one_client_only() -> None:
    r = Routed()
    r.send(SetLock(client="a", write=True))
    r.send(SetLock(client="b", read=True, assign=True))  # other flags do not conflict
    r.send(SetLock(client="a", write=True, fence=2))  # the holder may set it again
    err = refusal(r, SetLock(client="b", write=True))
    assert err.message == "session 's1' already writes only to 'a'; release that lock first"
    assert err.details == {"holder": "a"}
    r.send(SetLock(client="a", release=True))
    r.send(SetLock(client="b", write=True))
    assert r.session.locks == {"b": {"write": True, "fence": 0}}


def test_release_drops_a_clients_locks_and_is_silent_without_them() -> None:
    r = Routed()
    r.send(SetLock(client="c", read=True))
    _, events = r.send(SetLock(client="c", release=True))
    assert r.types(events) == ["lock_released", "action_emitted"]
    assert events[0].data == {"client": "c"}
    assert r.session.locks == {}
    _, events = r.send(SetLock(client="c", release=True))
    assert r.types(events) == ["action_emitted"]


def test_lock_client_names_are_checked() -> None:
    r = Routed()
    err = refusal(r, SetLock(client="", read=True))
    assert err.message == "a lock's client name must be a string of 1 to 200 characters"
    err = refusal(r, SetLock(client="", release=True))
    assert err.message == "a lock's client name must be a string of 1 to 200 characters"


# --- alarms -----------------------------------------------------------------------------


def test_an_alarm_is_due_seconds_from_now_and_may_be_cancelled() -> None:
    r = Routed()
    _, events = r.send(SetAlarm(name="a", seconds=30))
    assert events[0].type == "alarm_set"
    assert events[0].data == {"name": "a", "due_at": T0 + 1 + 30}
    r.send(SetAlarm(name="b", seconds=0))
    r.send(SetAlarm(name="c", seconds=TEN_YEARS))
    assert r.session.alarms == {"a": T0 + 31, "b": T0 + 2, "c": T0 + 3 + TEN_YEARS}
    _, events = r.send(SetAlarm(name="a"))
    assert r.types(events) == ["alarm_cancelled", "action_emitted"]
    assert events[0].data == {"name": "a"}
    _, events = r.send(SetAlarm(name="a"))
    assert r.types(events) == ["action_emitted"]
    assert set(r.session.alarms) == {"b", "c"}


def test_alarm_seconds_are_a_number_from_zero_to_ten_years() -> None:
    r = Routed()
    for bad in (-0.5, TEN_YEARS + 1, True, "5"):
        err = refusal(r, SetAlarm(name="a", seconds=bad))  # type: ignore[arg-type]
        assert err.message == f"alarm seconds must be a number from 0 to ten years, not {bad!r}"
        assert err.details == {}
    err = refusal(r, SetAlarm(name="x" * 201, seconds=1))
    assert err.message == "an alarm name must be a string of 1 to 200 characters"


def test_an_alarm_fires_once() -> None:
    r = Routed()
    r.send(SetAlarm(name="wake", seconds=5))
    r.send(SetAlarm(name="other", seconds=5))
    _, events = r.send(Timeout(name="alarm:wake"))
    assert r.types(events) == ["alarm_fired", "action_emitted"]
    assert events[0].data == {"name": "wake"}
    assert r.session.alarms == {"other": T0 + 2 + 5}
    err = refusal(r, Timeout(name="alarm:wake"))
    assert err.message == "session 's1' has no alarm 'wake'"
    assert err.details == {"name": "wake"}


# --- what the update repeats ------------------------------------------------------------


def test_the_repeated_action_is_what_the_session_waits_for() -> None:
    wake = Routed(WAKE)
    actions, events = wake.send(MemoryOp(op="set", key="k"))
    assert actions == (WaitForUser(immediate=True, requires_wake_word=True),)
    assert events[-1].data["awaiting"] == wake.session.awaiting
    shop = Routed(SHOP)
    actions, events = shop.send(MemoryOp(op="set", key="k"))
    assert actions == (CommandAction(id="price", params={"item": "lamp"}),)
    assert events[-1].data == {
        "action": {"type": "command", "id": "price", "params": {"item": "lamp"}},
        "awaiting": shop.session.awaiting,
    }
    assert shop.session.awaiting is not None and shop.session.awaiting["kind"] == "command"


def test_a_session_waiting_for_nothing_repeats_an_idle_wait() -> None:
    r = Routed()
    idle = msgspec.structs.replace(r.session, awaiting=None)
    s, actions, events = session_ops.step(idle, MemoryOp(op="set", key="k"), T0 + 1)
    assert actions == (WaitForUser(immediate=False, requires_wake_word=False),)
    assert events[-1].data == {
        "action": {"type": "wait_for_user", "immediate": False, "requires_wake_word": False},
        "awaiting": None,
    }
    assert s.awaiting is None


def _ended_with_locks() -> Routed:
    r = Routed()
    r.send(SetLock(client="keep", read=True, permanent=True))
    r.send(SetLock(client="drop", read=True))
    r.send(SetAlarm(name="a", seconds=9))
    r.now += 1
    out = step(r.model, r.session, End(), r.now)
    r.session = out.session
    r.log.extend(out.events)
    assert r.session.ended and r.session.alarms == {}
    assert r.session.locks == {"keep": {"read": True, "permanent": True, "fence": 0}}
    return r


def test_an_ended_session_takes_only_a_lock_release() -> None:
    r = _ended_with_locks()
    for inp in (
        MemoryOp(op="set", key="k"),
        SetLock(client="keep", read=True),
        SetAlarm(name="a"),
        Timeout(name="alarm:a"),
    ):
        with pytest.raises(SessionClosed) as info:
            session_ops.step(r.session, inp, r.now + 1)
        assert info.value.session_id == "s1" and info.value.status == "ended"
    actions, events = r.send(SetLock(client="keep", release=True))
    assert actions == (EndAction(reason="session is ended"),)
    assert r.types(events) == ["lock_released", "action_emitted"]
    assert events[1].data == {"action": {"type": "end", "reason": "session is ended"}}
    assert r.session.locks == {}


def test_the_step_function_hands_routing_inputs_over_for_any_model() -> None:
    r = Routed()
    out = step(r.model, r.session, MemoryOp(op="increment", key="n", value=2), T0 + 1)
    assert out.session.memory == {"n": 2}
    assert out.actions == (WaitForUser(immediate=True, requires_wake_word=False),)
    assert [(e.type, e.time) for e in out.events] == [
        ("memory_set", T0 + 1), ("action_emitted", T0 + 1),
    ]
