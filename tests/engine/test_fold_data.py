"""The fold, event type by event type: each field an event changes, read back.

The replay-equals-snapshot property cannot see a fold bug (both sides go through the same
fold), so these tests build events by hand, apply them, and read every field the event is
documented to change, and the ones it must leave alone.
"""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from dialoghub.engine.fold import EVENT_TYPES, apply, copy_session, replay
from dialoghub.engine.records import Event, Session, Status

T0 = 1_700_000_000.0


class Log:
    """Events of one session, numbered as the engine numbers them."""

    def __init__(self) -> None:
        self.seq = 0
        self.events: list[Event] = []

    def add(self, type: str, version: int = 1, time: float | None = None, **data: Any) -> Event:
        self.seq += 1
        event = Event(
            seq=self.seq,
            version=version,
            time=T0 + self.seq if time is None else time,
            type=type,
            data=data,
        )
        self.events.append(event)
        return event


def started(log: Log, **extra: Any) -> Session:
    data: dict[str, Any] = {
        "id": "s1",
        "model_id": "m",
        "model_version": "3",
        "unit": "main",
        "state": "start",
        **extra,
    }
    return apply(None, log.add("session_started", **data))


# --- session_started, session_forked --------------------------------------------------------


def test_session_started_builds_the_session() -> None:
    log = Log()
    params, metadata = {"p": 1}, {"user": "ada"}
    s = started(log, tenant="acme", params=params, metadata=metadata)
    assert (s.id, s.tenant, s.model_id, s.model_version) == ("s1", "acme", "m", "3")
    assert (s.unit, s.state, s.status, s.active) == ("main", "start", Status.ACTIVE, True)
    assert s.params == {"p": 1} and s.params is not params  # copies, never shares
    assert s.metadata == {"user": "ada"} and s.metadata is not metadata
    assert s.variables == {}
    assert (s.seq, s.version, s.created_at, s.updated_at) == (1, 1, T0 + 1, T0 + 1)
    assert (s.lifetime, s.expires_at) == (None, None)


def test_session_started_defaults() -> None:
    s = started(Log(), params=None, metadata=None)
    assert (s.tenant, s.params, s.metadata) == ("default", {}, {})
    assert started(Log()).params == {}  # absent altogether


def test_session_started_with_a_lifetime_expires() -> None:
    lifetime = {"idle": 60.0}
    s = started(Log(), lifetime=lifetime)
    assert s.lifetime == {"idle": 60.0} and s.lifetime is not lifetime
    assert s.expires_at == T0 + 1 + 60


def test_an_empty_lifetime_is_none() -> None:
    s = started(Log(), lifetime={})
    assert (s.lifetime, s.expires_at) == (None, None)


def test_session_forked_copies_the_source_under_its_own_id() -> None:
    log = Log()
    source = started(log, tenant="acme", params={"p": 2})
    apply(source, log.add("variable_set", name="x", value=1))
    snapshot = msgspec.to_builtins(source)
    fork = apply(None, Event(seq=1, version=1, time=T0 + 50, type="session_forked",
                             data={"id": "f1", "snapshot": snapshot}))  # fmt: skip
    assert fork.id == "f1"
    assert fork.created_at == T0 + 50
    assert (fork.seq, fork.version, fork.updated_at) == (1, 1, T0 + 50)
    assert (fork.tenant, fork.params, fork.variables) == ("acme", {"p": 2}, {"main": {"x": 1}})
    assert source.id == "s1"  # the source is untouched


# --- input_received -------------------------------------------------------------------------


def test_input_received_sets_last_request_with_its_time() -> None:
    log = Log()
    s = started(log)
    s.counters = {"prompt": 2}
    apply(s, log.add("input_received", version=2, input={"type": "text", "text": "hi"}))
    assert s.last_request == {"type": "text", "text": "hi", "time": T0 + 2}
    assert s.counters == {}  # a real request resets the re-prompt counters


def test_a_timeout_input_keeps_the_counters() -> None:
    log = Log()
    s = started(log)
    s.counters = {"prompt": 2}
    apply(s, log.add("input_received", version=2, input={"type": "timeout", "name": "prompt"}))
    assert s.last_request == {"type": "timeout", "name": "prompt", "time": T0 + 2}
    assert s.counters == {"prompt": 2}


# --- variables --------------------------------------------------------------------------------


def test_variable_set_and_slot_filled_write_the_current_unit() -> None:
    log = Log()
    s = started(log)
    apply(s, log.add("variable_set", name="a", value=1))
    apply(s, log.add("slot_filled", name="city", value="Paris"))
    apply(s, log.add("variable_set", name="a", value=2))
    assert s.variables == {"main": {"a": 2, "city": "Paris"}}


def test_variable_set_of_another_unit() -> None:
    log = Log()
    s = started(log)
    apply(s, log.add("variable_set", name="a", value=1))
    apply(s, log.add("variable_set", name="street", value="Baker", unit="address"))
    apply(s, log.add("variable_set", name="b", value=2, unit=None))  # None: the current unit
    assert s.variables == {"main": {"a": 1, "b": 2}, "address": {"street": "Baker"}}


def test_variables_are_copied_on_write() -> None:
    log = Log()
    s = started(log)
    apply(s, log.add("variable_set", name="a", value=1))
    before = copy_session(s)
    inner = s.variables["main"]
    apply(s, log.add("variable_set", name="b", value=2))
    apply(s, log.add("variable_cleared", name="a"))
    assert before.variables == {"main": {"a": 1}}
    assert inner == {"a": 1}


def test_variable_cleared() -> None:
    log = Log()
    s = started(log)
    apply(s, log.add("variable_set", name="a", value=1))
    apply(s, log.add("variable_set", name="b", value=2))
    apply(s, log.add("variable_set", name="a", value=3, unit="other"))
    apply(s, log.add("variable_cleared", name="a"))
    assert s.variables == {"main": {"b": 2}, "other": {"a": 3}}
    apply(s, log.add("variable_cleared", name="missing"))  # clearing twice is no error
    apply(s, log.add("variable_cleared", name="a", unit="other"))
    assert s.variables == {"main": {"b": 2}, "other": {}}
    apply(s, log.add("variable_cleared", name="z", unit="new"))
    assert s.variables["new"] == {}


def test_variables_replaced() -> None:
    log = Log()
    s = started(log)
    apply(s, log.add("variable_set", name="a", value=1))
    apply(s, log.add("variable_set", name="k", value=1, unit="other"))
    given = {"x": 9}
    apply(s, log.add("variables_replaced", variables=given))
    assert s.variables == {"main": {"x": 9}, "other": {"k": 1}}
    assert s.variables["main"] is not given
    apply(s, log.add("variables_replaced", variables={}, unit="other"))
    assert s.variables == {"main": {"x": 9}, "other": {}}


def test_params_set_replaces_the_params() -> None:
    log = Log()
    s = started(log, params={"a": 1, "b": 2})
    given = {"c": 3}
    apply(s, log.add("params_set", params=given))
    assert s.params == {"c": 3} and s.params is not given


# --- states -----------------------------------------------------------------------------------


def test_state_entered_moves_and_resets_counters() -> None:
    log = Log()
    s = started(log)
    s.counters = {"prompt": 1}
    apply(s, log.add("state_entered", state="ask"))
    assert (s.unit, s.state, s.counters) == ("main", "ask", {})
    apply(s, log.add("state_entered", state="street", unit="address"))
    assert (s.unit, s.state) == ("address", "street")


def test_chart_stepped() -> None:
    log = Log()
    s = started(log)
    apply(s, log.add("chart_stepped", configuration=("m", "m.a"), state="a",
                     chart={"counter": 1}))  # fmt: skip
    assert (s.configuration, s.state, s.chart) == (["m", "m.a"], "a", {"counter": 1})
    apply(s, log.add("chart_stepped", configuration=["m", "m.b"], state="b"))
    assert (s.configuration, s.state, s.chart) == (["m", "m.b"], "b", {"counter": 1})


# --- actions ----------------------------------------------------------------------------------


def test_a_reply_sets_last_response() -> None:
    log = Log()
    s = started(log)
    apply(s, log.add("action_emitted", version=2, action={"type": "reply", "text": "Hi."}))
    assert s.last_response == {"text": "Hi.", "time": T0 + 2, "state": "start", "version": 2}
    assert s.awaiting is None


def test_replies_of_one_update_are_joined() -> None:
    log = Log()
    s = started(log)
    for text in ("One.", "Two.", "Three."):
        apply(s, log.add("action_emitted", version=2, action={"type": "reply", "text": text}))
    assert s.last_response == {
        "text": "One. Two. Three.",
        "time": T0 + 4,
        "state": "start",
        "version": 2,
    }
    apply(s, log.add("state_entered", version=3, state="next"))
    apply(s, log.add("action_emitted", version=3, action={"type": "reply", "text": "New."}))
    assert s.last_response == {"text": "New.", "time": T0 + 6, "state": "next", "version": 3}


def test_other_actions_leave_last_response() -> None:
    log = Log()
    s = started(log)
    apply(s, log.add("action_emitted", version=2, action={"type": "reply", "text": "Hi."}))
    reply = dict(s.last_response or {})
    apply(s, log.add("action_emitted", version=2, action={"type": "transcribe"}))
    apply(s, log.add("action_emitted", version=2, action={"type": "end", "reason": ""}))
    assert s.last_response == reply


def test_a_wait_sets_awaiting_and_due_at() -> None:
    log = Log()
    s = started(log)
    awaiting = {"kind": "user", "immediate": True, "due_at": T0 + 30}
    apply(s, log.add("action_emitted", action={"type": "wait_for_user"}, awaiting=awaiting))
    assert (s.awaiting, s.due_at) == (awaiting, T0 + 30)
    apply(s, log.add("action_emitted", action={"type": "command", "id": "c"},
                     awaiting={"kind": "command"}))  # fmt: skip
    assert (s.awaiting, s.due_at) == ({"kind": "command"}, None)
    apply(s, log.add("action_emitted", action={"type": "reply", "text": "x"}))
    assert s.awaiting == {"kind": "command"}  # an action without "awaiting" keeps it
    apply(s, log.add("action_emitted", action={"type": "end"}, awaiting=None))
    assert (s.awaiting, s.due_at) == (None, None)


def test_timeout_fired_counts() -> None:
    log = Log()
    s = started(log)
    apply(s, log.add("timeout_fired", name="prompt", count=1))
    apply(s, log.add("timeout_fired", name="other", count=4))
    apply(s, log.add("timeout_fired", name="prompt", count=2))
    assert s.counters == {"prompt": 2, "other": 4}


@pytest.mark.parametrize(
    "type", ["intent_recognized", "command_result_received", "confirmation_answered",
             "chart_event_ignored"],
)  # fmt: skip
def test_record_only_events_change_only_the_bookkeeping(type: str) -> None:
    log = Log()
    s = started(log)
    before = msgspec.to_builtins(s)
    apply(s, log.add(type, version=2, intent="x", answer="yes"))
    after = msgspec.to_builtins(s)
    changed = {k for k in after if after[k] != before[k]}
    assert changed == {"seq", "version", "updated_at"}
    assert (s.seq, s.version, s.updated_at) == (2, 2, T0 + 2)


# --- the end ----------------------------------------------------------------------------------


def _waiting(log: Log, **extra: Any) -> Session:
    s = started(log, **extra)
    apply(s, log.add("action_emitted", action={"type": "wait_for_user"},
                     awaiting={"kind": "user", "due_at": T0 + 99}))  # fmt: skip
    return s


def test_session_ended() -> None:
    log = Log()
    s = _waiting(log, lifetime={"idle": 60.0})
    assert s.expires_at == T0 + 2 + 60
    apply(s, log.add("session_ended", reason="done"))
    assert (s.status, s.active, s.awaiting, s.due_at) == (Status.ENDED, False, None, None)
    assert s.expires_at is None  # an ended session never expires
    assert s.ended and s.timer is None


def test_session_ended_with_a_status() -> None:
    log = Log()
    s = _waiting(log)
    apply(s, log.add("session_ended", reason="x", status="expired"))
    assert s.status is Status.EXPIRED


def test_session_expired() -> None:
    log = Log()
    s = _waiting(log, lifetime={"absolute": 10.0})
    apply(s, log.add("session_expired", reason="lifetime ran out"))
    assert (s.status, s.active, s.awaiting, s.due_at) == (Status.EXPIRED, False, None, None)
    assert s.expires_at is None


def test_session_restarted_keeps_variables() -> None:
    log = Log()
    s = _waiting(log)
    apply(s, log.add("variable_set", name="a", value=1))
    apply(s, log.add("frame_pushed", frame={"unit": "main", "state": "x"}))
    apply(s, log.add("state_entered", state="inner", unit="sub"))
    s.counters = {"prompt": 1}
    apply(s, log.add("session_ended", reason="done"))
    apply(s, log.add("session_restarted", unit="main", state="start"))
    assert (s.status, s.active, s.unit, s.state) == (Status.ACTIVE, True, "main", "start")
    assert (s.stack, s.counters, s.awaiting, s.due_at) == ([], {}, None, None)
    assert s.variables == {"main": {"a": 1}}


# --- the stack --------------------------------------------------------------------------------


def test_frames_push_and_pop_in_order() -> None:
    log = Log()
    s = started(log)
    outer = {"unit": "main", "state": "order", "block": ["do"], "pc": 3}
    inner = {"unit": "address", "state": "ask", "block": ["do"], "pc": 1}
    apply(s, log.add("frame_pushed", frame=outer))
    apply(s, log.add("state_entered", state="ask", unit="address"))
    apply(s, log.add("frame_pushed", frame=inner))
    apply(s, log.add("state_entered", state="show", unit="menu"))
    assert s.stack == [outer, inner]
    assert s.stack[0] is not outer  # the frame is copied
    apply(s, log.add("frame_popped", unit="address", state="ask"))
    assert (s.unit, s.state, s.stack) == ("address", "ask", [outer])
    apply(s, log.add("frame_popped", unit="main", state="order"))
    assert (s.unit, s.state, s.stack) == ("main", "order", [])


def test_the_stack_is_copied_on_write() -> None:
    log = Log()
    s = started(log)
    apply(s, log.add("frame_pushed", frame={"unit": "main", "state": "a"}))
    before = copy_session(s)
    apply(s, log.add("frame_pushed", frame={"unit": "u", "state": "b"}))
    assert len(before.stack) == 1
    apply(s, log.add("frame_popped"))
    apply(s, log.add("frame_popped"))
    assert before.stack == [{"unit": "main", "state": "a"}]


# --- every event: seq, version, updated_at, expires_at --------------------------------------


def test_every_event_moves_the_bookkeeping_on() -> None:
    log = Log()
    s = started(log)
    apply(s, log.add("state_entered", version=7, time=T0 + 100, state="x"))
    assert (s.seq, s.version, s.updated_at, s.created_at) == (2, 7, T0 + 100, T0 + 1)


@pytest.mark.parametrize(
    ("lifetime", "expires"),
    [
        ({"idle": 60.0}, T0 + 100 + 60),  # after the last event
        ({"absolute": 500.0}, T0 + 1 + 500),  # after creation
        ({"idle": 60.0, "absolute": 500.0}, T0 + 100 + 60),  # idle comes first
        ({"idle": 60.0, "absolute": 120.0}, T0 + 1 + 120),  # absolute comes first
        ({"idle": 0.0, "absolute": 120.0}, T0 + 1 + 120),  # 0: no idle limit
        ({"idle": 60.0, "absolute": 0.0}, T0 + 100 + 60),  # 0: no absolute limit
    ],
)
def test_expires_at_is_the_earlier_lifetime(lifetime: dict[str, float], expires: float) -> None:
    log = Log()
    s = started(log, lifetime=lifetime)
    apply(s, log.add("state_entered", time=T0 + 100, state="x"))
    assert s.expires_at == expires


def test_without_a_lifetime_expires_at_stays_none() -> None:
    log = Log()
    s = started(log)
    apply(s, log.add("state_entered", state="x"))
    assert s.expires_at is None


# --- refusals -------------------------------------------------------------------------------


def test_an_event_before_session_started_is_refused() -> None:
    with pytest.raises(ValueError) as info:
        apply(None, Event(seq=4, version=1, time=T0, type="state_entered", data={"state": "x"}))
    assert str(info.value) == "event 4 (state_entered) before session_started"
    with pytest.raises(ValueError, match=r"^event 1 \(made_up\) before session_started$"):
        replay([Event(seq=1, version=1, time=T0, type="made_up")])


def test_an_unknown_event_type_is_refused() -> None:
    log = Log()
    s = started(log)
    with pytest.raises(ValueError) as info:
        apply(s, Event(seq=2, version=1, time=T0, type="made_up"))
    assert str(info.value) == "unknown event type 'made_up' at seq 2"


def test_replay_of_nothing_is_refused() -> None:
    with pytest.raises(ValueError) as info:
        replay([])
    assert str(info.value) == "no events to replay"


# --- replay and copies ------------------------------------------------------------------------


def test_replay_folds_onto_a_copy() -> None:
    log = Log()
    s = started(log)
    head = copy_session(s)
    more = [
        log.add("variable_set", version=2, name="a", value=1),
        log.add("state_entered", version=2, state="x"),
    ]
    folded = replay(more, head)
    assert (folded.state, folded.variables, folded.seq, folded.version) == (
        "x",
        {"main": {"a": 1}},
        3,
        2,
    )
    assert (head.state, head.variables, head.seq) == ("start", {}, 1)  # untouched
    assert replay(log.events) == folded


def test_session_started_replaces_a_given_session() -> None:
    # A log always starts with session_started; applied to an existing snapshot it builds a
    # new session rather than mixing the two.
    log = Log()
    old = started(log)
    old.variables = {"main": {"a": 1}}
    new = apply(old, Event(seq=1, version=1, time=T0, type="session_started",
                           data={"id": "s2", "model_id": "m", "model_version": "1",
                                 "unit": "main", "state": "start"}))  # fmt: skip
    assert (new.id, new.variables) == ("s2", {})


def test_event_types() -> None:
    assert {
        "session_started",
        "session_forked",
        "input_received",
        "intent_recognized",
        "slot_filled",
        "variable_set",
        "variable_cleared",
        "variables_replaced",
        "params_set",
        "state_entered",
        "chart_stepped",
        "chart_event_ignored",
        "action_emitted",
        "command_result_received",
        "timeout_fired",
        "frame_pushed",
        "frame_popped",
        "confirmation_answered",
        "session_ended",
        "session_expired",
        "session_restarted",
    } <= EVENT_TYPES
