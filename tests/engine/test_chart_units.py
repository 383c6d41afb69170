"""engine/chart.py's API, unit by unit: start's context, send's refusals and the events it
drops (stale timers, answers of invokes no longer running), v4's spellings sent in, the
memo of pure steps, jump, and what a finished machine keeps. Charts are compiled from XState
configs (``compile_xstate``); every expected value follows from the machine written here."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

import msgspec
import pytest

from dialoghub.engine import chart as E
from dialoghub.engine.chart import Armed, ChartState, Effect, Registry
from dialoghub.engine.chart_index import _compiled
from dialoghub.errors import InvalidInput, SessionClosed, UnexpectedInput
from dialoghub.model.chart import Chart
from dialoghub.model.xstate_chart import compile_xstate


def chart(config: dict[str, Any], dialect: str = "v5", **kw: Any) -> Chart:
    return compile_xstate(config, dialect=dialect, **kw)  # type: ignore[arg-type]


def seen(context: Any, event: Any, params: Any) -> dict[str, Any]:
    """A registered action recording every event it is given."""
    return {"seen": [*context.get("seen", []), dict(event)]}


REG = Registry(actions={"seen": seen})

FLAT = {"id": "m", "initial": "a", "states": {"a": {"on": {"GO": "b"}}, "b": {"on": {"BACK": "a"}}}}


# --- start --------------------------------------------------------------------------------


def test_start_context_overrides_keys_and_copies_the_charts() -> None:
    c = chart({**FLAT, "context": {"x": 1, "y": 2}})
    s = E.start(c, context={"y": 3, "z": 4}).state
    assert s.context == {"x": 1, "y": 3, "z": 4}
    plain = E.start(c).state
    assert plain.context == {"x": 1, "y": 2}
    assert plain.context is not c.context  # a copy: the chart's own context is never shared
    assert E.start(c, context={}).state.context == {"x": 1, "y": 2}


def test_start_reports_one_handled_microstep() -> None:
    step = E.start(chart(FLAT))
    assert step.handled is True
    assert step.state.configuration == ("m", "m.a")
    assert step.microsteps == [((), ("m", "m.a"))]
    assert step.effects == []


def test_start_v4_enters_the_initial_configuration() -> None:
    step = E.start(chart(FLAT, "v4"))
    assert step.state.configuration == ("m", "m.a")
    assert step.handled is True


# --- send: refusals -----------------------------------------------------------------------


@pytest.mark.parametrize("event", [{}, {"type": ""}, {"type": 3}, {"type": None}])
def test_send_refuses_an_event_without_a_type(event: dict[str, Any]) -> None:
    c = chart(FLAT)
    with pytest.raises(InvalidInput) as e:
        E.send(c, E.start(c).state, event)
    assert str(e.value) == (
        f"an event needs a type (a non-empty string), got {event.get('type')!r}"
    )


def test_send_refuses_a_non_mapping_event() -> None:
    c = chart(FLAT)
    with pytest.raises(InvalidInput) as e:
        E.send(c, E.start(c).state, ["GO"])  # type: ignore[arg-type]
    assert str(e.value) == "an event needs a type (a non-empty string), got None"


def test_send_takes_any_mapping_as_an_event() -> None:
    c = chart(FLAT)
    step = E.send(c, E.start(c).state, MappingProxyType({"type": "GO"}))
    assert step.state.configuration == ("m", "m.b")
    assert step.handled is True


def test_send_after_done_or_error_is_session_closed() -> None:
    c = chart(FLAT)
    s = E.start(c).state
    for state, status in (
        (msgspec.structs.replace(s, done=True), "done"),
        (msgspec.structs.replace(s, error="boom"), "failed"),
    ):
        with pytest.raises(SessionClosed) as e:
            E.send(c, state, {"type": "GO"})
        assert e.value.status == status
        assert e.value.session_id == "m"
        assert str(e.value).startswith(f"session 'm' is {status};")


def test_send_strict_refuses_an_event_no_state_takes() -> None:
    c = chart(FLAT, strict=True)
    s = E.start(c).state
    for _ in range(2):  # the second time from the memo of the first
        with pytest.raises(UnexpectedInput) as e:
            E.send(c, s, {"type": "NOPE"})
        assert str(e.value) == "chart 'm': no active state takes event 'NOPE'"
        assert e.value.details == {"event": "NOPE", "configuration": ["m", "m.a"]}
    assert E.send(c, s, {"type": "GO"}).state.configuration == ("m", "m.b")


def test_send_not_strict_ignores_an_event_no_state_takes() -> None:
    c = chart(FLAT)
    s = E.start(c).state
    for _ in range(2):  # computed, then recalled
        step = E.send(c, s, {"type": "NOPE"})
        assert step == (s, [], False, [])


def test_v4_refuses_the_wildcard_event_type() -> None:
    c = chart({"id": "m", "initial": "a", "states": {"a": {"on": {"*": "b"}}, "b": {}}}, "v4")
    with pytest.raises(InvalidInput) as e:
        E.send(c, E.start(c).state, {"type": "*"})
    assert str(e.value) == "an event cannot have the wildcard type ('*') in XState v4"
    v5 = chart({"id": "m", "initial": "a", "states": {"a": {"on": {"*": "b"}}, "b": {}}})
    assert E.send(v5, E.start(v5).state, {"type": "*"}).state.configuration == ("m", "m.b")


def test_v4_strict_refuses_events_the_machine_never_names() -> None:
    c = chart({**FLAT, "strict": True}, "v4")
    s = E.start(c).state
    with pytest.raises(UnexpectedInput) as e:
        E.send(c, s, {"type": "NOPE"})
    assert str(e.value) == "Machine 'm' does not accept event 'NOPE' (XState v4 strict)"
    assert e.value.details == {"event": "NOPE", "configuration": ["m", "m.a"]}
    # named by the machine, though no active state takes it: ignored
    assert E.send(c, s, {"type": "BACK"}).handled is False
    # v4's built-in events are never refused
    for etype in ("xstate.anything", "done.state.m.a", "error.platform.x"):
        assert E.send(c, s, {"type": etype}).handled is False


# --- send: timers -------------------------------------------------------------------------

TIMED = {
    "id": "m",
    "initial": "a",
    "context": {},
    "states": {
        "a": {"after": {"100": "b"}, "on": {"AGAIN": {"target": "a", "reenter": False}}},
        "b": {"entry": "seen", "on": {"xstate.after.100.m.a": "c"}},
        "c": {},
    },
}


def test_a_timer_delivery_needs_its_arming_counter() -> None:
    c = chart(TIMED)
    s = E.start(c).state
    assert s.armed == (Armed(event="xstate.after.100.m.a", delay_ms=100, node="m.a", counter=1),)
    stale = E.send(c, s, {"type": "xstate.after.100.m.a", "counter": 2})
    assert stale == (s, [], False, [])
    due = E.send(c, s, {"type": "xstate.after.100.m.a", "counter": 1}, registry=REG)
    assert due.handled is True
    assert due.state.configuration == ("m", "m.b")
    assert due.state.armed == ()
    # the action sees the event without the counter
    assert due.state.context == {"seen": [{"type": "xstate.after.100.m.a"}]}


def test_a_delayed_event_sent_by_hand_is_an_event_like_any_other() -> None:
    c = chart(TIMED)
    s = E.send(c, E.start(c).state, {"type": "xstate.after.100.m.a", "counter": 1}).state
    # in b, the same name without a counter is b's own transition; no timer is consumed
    step = E.send(c, s, {"type": "xstate.after.100.m.a"})
    assert step.state.configuration == ("m", "m.c")


def test_v5_delivery_unregisters_the_other_armings_of_the_same_event() -> None:
    fired = Armed(event="xstate.after.100.m.a", delay_ms=100, node="m.a", counter=1)
    other = Armed(event="xstate.after.100.m.a", delay_ms=100, node="m.a", counter=2)
    unrelated = Armed(event="xstate.after.200.m.a", delay_ms=200, node="m.a", counter=3)
    config = {
        "id": "m",
        "initial": "a",
        "states": {"a": {"after": {"100": {"actions": "note"}}}},
    }
    for dialect, registered in (("v5", False), ("v4", True)):
        c = chart(config, dialect)
        s = ChartState(configuration=("m", "m.a"), armed=(fired, other, unrelated), counter=3)
        step = E.send(c, s, {"type": "xstate.after.100.m.a", "counter": 1})
        assert step.handled is True
        kept = {a.counter: a for a in step.state.armed}
        assert 1 not in kept
        assert kept[2].registered is registered
        assert kept[3].registered is True


# --- send: invokes ------------------------------------------------------------------------


def invoking(dialect: str) -> Chart:
    return chart(
        {
            "id": "m",
            "initial": "a",
            "context": {},
            "states": {
                "a": {
                    "invoke": {
                        "id": "svc",
                        "src": "fetch",
                        "onDone": {"target": "b", "actions": "seen"},
                        "onError": {"target": "c", "actions": "seen"},
                    }
                },
                "b": {},
                "c": {},
            },
        },
        dialect,
    )


def test_the_answer_of_an_invoke_not_running_is_ignored() -> None:
    c = invoking("v5")
    s = E.start(c).state
    assert s.invoked == ("svc",)
    for etype in ("xstate.done.actor.other", "xstate.error.actor.other"):
        assert E.send(c, s, {"type": etype}) == (s, [], False, [])
    step = E.send(c, s, {"type": "xstate.done.actor.svc", "output": 7}, registry=REG)
    assert step.state.configuration == ("m", "m.b")
    assert step.state.invoked == ()
    assert step.state.context["seen"] == [{"type": "xstate.done.actor.svc", "output": 7}]
    err = E.send(c, s, {"type": "xstate.error.actor.svc", "error": "x"}, registry=REG)
    assert err.state.configuration == ("m", "m.c")
    assert err.state.invoked == ()


def test_v4_sees_an_invoke_answer_as_done_invoke_with_data() -> None:
    c = invoking("v4")
    s = E.start(c).state
    step = E.send(c, s, {"type": "xstate.done.actor.svc", "output": 7}, registry=REG)
    assert step.state.configuration == ("m", "m.b")
    assert step.state.context["seen"] == [{"type": "done.invoke.svc", "output": 7, "data": 7}]
    # data given is kept as it is
    step = E.send(c, s, {"type": "xstate.done.actor.svc", "data": 1, "output": 7}, registry=REG)
    assert step.state.context["seen"] == [{"type": "done.invoke.svc", "data": 1, "output": 7}]
    # v4's own spelling, sent in, is the same event
    step = E.send(c, s, {"type": "done.invoke.svc", "data": 2}, registry=REG)
    assert step.state.configuration == ("m", "m.b")
    assert step.state.context["seen"] == [{"type": "done.invoke.svc", "data": 2}]
    err = E.send(c, s, {"type": "error.platform.svc", "data": 3}, registry=REG)
    assert err.state.configuration == ("m", "m.c")
    assert err.state.context["seen"] == [{"type": "error.platform.svc", "data": 3}]


def test_v4_an_error_no_state_takes_leaves_the_machine_as_it_was() -> None:
    c = chart(
        {
            "id": "m",
            "initial": "a",
            "states": {"a": {"invoke": {"id": "svc", "src": "fetch"}, "on": {"GO": "b"}}, "b": {}},
        },
        "v4",
    )
    s = E.start(c).state
    step = E.send(c, s, {"type": "xstate.error.actor.svc", "error": "x"})
    assert step.handled is False
    assert step.state.configuration == ("m", "m.a")
    assert step.state.invoked == ()  # the service is no longer running
    assert step.state.error is None
    assert step.effects == []


# --- the memo -----------------------------------------------------------------------------


def test_the_memo_recalls_a_pure_step_with_the_states_other_fields() -> None:
    c = chart(FLAT)
    s0 = E.start(c).state
    first = E.send(c, s0, {"type": "GO"})
    cc = _compiled(c)
    assert cc.memo == {
        (("m", "m.a"), "GO"): (("m", "m.b"), (("m.a",), ("m.b",))),
    }
    s = msgspec.structs.replace(
        s0, context={"k": 1}, history={"h": ("x",)}, counter=5, invoked=("i",)
    )
    again = E.send(c, s, {"type": "GO"})
    assert again.state == ChartState(
        configuration=("m", "m.b"), context={"k": 1}, history={"h": ("x",)}, counter=5,
        invoked=("i",),
    )  # fmt: skip
    assert again.handled is True
    assert again.effects == []
    assert again.microsteps == first.microsteps == [(("m.a",), ("m.b",))]
    E.send(c, s0, {"type": "NOPE"})
    assert cc.memo[(("m", "m.a"), "NOPE")] == (("m", "m.a"), None)


def test_the_memo_keeps_no_step_that_ran_an_action_or_reached_a_final_state() -> None:
    c = chart(
        {
            "id": "m",
            "initial": "a",
            "states": {
                "a": {"on": {"ACT": {"target": "b", "actions": "note"}, "END": "f"}},
                "b": {},
                "f": {"type": "final"},
            },
        }
    )
    s = E.start(c).state
    act = E.send(c, s, {"type": "ACT"})
    assert act.effects == [Effect("action", "note", {})]
    end = E.send(c, s, {"type": "END"})
    assert end.state.done is True
    assert _compiled(c).memo == {}
    # and the second time the action still runs
    assert E.send(c, s, {"type": "ACT"}).effects == [Effect("action", "note", {})]


def test_the_memo_is_bounded() -> None:
    c = chart(FLAT)
    s = E.start(c).state
    for i in range(E._MEMO_MAX + 10):
        E.send(c, s, {"type": f"E{i}"})
    memo = _compiled(c).memo
    assert memo is not None
    assert len(memo) == E._MEMO_MAX
    assert (("m", "m.a"), f"E{E._MEMO_MAX - 1}") in memo
    assert (("m", "m.a"), f"E{E._MEMO_MAX}") not in memo


def test_internal_events_are_not_memoised() -> None:
    c = chart({"id": "m", "initial": "a", "states": {"a": {"on": {"xstate.custom": "b"}}, "b": {}}})
    E.send(c, E.start(c).state, {"type": "xstate.custom"})
    assert _compiled(c).memo == {}


def test_no_memo_for_parallel_history_or_eventless_charts() -> None:
    par = {"id": "m", "type": "parallel", "states": {"x": {}, "y": {}}}
    hist = {"id": "m", "initial": "a", "states": {"a": {}, "h": {"type": "history"}}}
    always = {"id": "m", "initial": "a", "states": {"a": {"always": "b"}, "b": {}}}
    for config in (par, hist, always):
        assert _compiled(chart(config)).memo is None
    assert _compiled(chart(FLAT)).memo == {}


# --- what a finished machine keeps ----------------------------------------------------------


def test_done_stops_the_invokes_still_running() -> None:
    c = chart(
        {
            "id": "m",
            "initial": "a",
            "states": {
                "a": {
                    "type": "parallel",
                    "states": {
                        "x": {"invoke": {"id": "svc", "src": "fetch"}, "after": {"500": "#m.a.x"}},
                        "y": {"on": {"END": "#m.f"}},
                    },
                },
                "f": {"type": "final"},
            },
        }
    )
    s = E.start(c).state
    assert s.invoked == ("svc",)
    assert [a.event for a in s.armed] == ["xstate.after.500.m.a.x"]
    step = E.send(c, s, {"type": "END"})
    assert step.state.done is True
    assert step.state.invoked == ()
    assert step.state.armed == ()
    assert [(e.kind, e.name) for e in step.effects].count(("stop", "svc")) == 1


# --- jump ---------------------------------------------------------------------------------

JUMPY = {
    "id": "m",
    "initial": "a",
    "context": {},
    "states": {
        "a": {"exit": "seen", "on": {"GO": "b"}},
        "b": {"entry": "seen", "initial": "b1", "states": {"b1": {}, "b2": {}}},
    },
}


def test_jump_moves_as_a_root_transition() -> None:
    c = chart(JUMPY)
    s = E.start(c).state
    step = E.jump(c, s, "m.b.b2", registry=REG)
    assert step.handled is True
    assert step.state.configuration == ("m", "m.b", "m.b.b2")
    jump_event = {"type": E.JUMP_EVENT, "state": "m.b.b2"}
    assert E.JUMP_EVENT == "xstate.jump"
    assert step.state.context == {"seen": [jump_event, jump_event]}
    assert step.microsteps == [(("m.a",), ("m.b", "m.b.b2"))]
    # without a registry, the actions are the application's
    bare = E.jump(c, s, "m.b")
    assert bare.effects == [
        Effect("action", "seen", {}),
        Effect("action", "seen", {}),
    ]
    assert bare.state.configuration == ("m", "m.b", "m.b.b1")


def test_jump_refusals() -> None:
    c = chart(JUMPY)
    s = E.start(c).state
    for target in ("m", "m.nowhere", ""):
        with pytest.raises(InvalidInput) as e:
            E.jump(c, s, target)
        assert str(e.value) == f"chart 'm' has no state {target!r} to jump to"
        assert e.value.details == {"state": target}
    for state, status in (
        (msgspec.structs.replace(s, done=True), "done"),
        (msgspec.structs.replace(s, error={"x": 1}), "failed"),
    ):
        with pytest.raises(SessionClosed) as closed:
            E.jump(c, state, "m.b")
        assert closed.value.status == status
        assert closed.value.session_id == "m"
    v4 = chart(JUMPY, "v4")
    with pytest.raises(InvalidInput) as e:
        E.jump(v4, E.start(v4).state, "m.b")
    assert str(e.value) == (
        "chart 'm' is an XState v4 machine: it moves only by its events (a jump follows v5's rules)"
    )


def test_send_uses_the_cached_index_and_rebuilds_it_for_a_new_chart() -> None:
    c = chart(FLAT)
    s = E.start(c).state
    first = _compiled(c)
    E.send(c, s, {"type": "GO"})
    assert _compiled(c) is first
    other = chart(FLAT)
    E.send(other, s, {"type": "GO"})
    assert _compiled(other) is not first
    assert _compiled(other).owner() is other


def test_send_does_not_use_the_index_of_a_dead_chart_whose_id_a_new_one_got() -> None:
    from dialoghub.engine.chart_index import _CACHE

    a = chart(FLAT)
    b = chart({"id": "m", "initial": "a", "states": {"a": {"on": {"GO": "c"}}, "c": {}}})
    state = E.start(b).state
    _CACHE[id(b)] = _compiled(a)  # as if a had died and b had been given its id
    step = E.send(b, state, {"type": "GO"})
    assert step.state.configuration == ("m", "m.c")
    assert _compiled(b).owner() is b


def test_v4_strict_never_refuses_a_built_in_event_name() -> None:
    c = chart({**FLAT, "strict": True}, "v4")
    s = E.start(c).state
    for etype in ("done.other", "error.other", "xstate.other"):
        step = E.send(c, s, {"type": etype})
        assert step.handled is False
        assert step.state.configuration == ("m", "m.a")


def test_v4_completion_stops_the_invokes_still_running() -> None:
    c = chart(
        {
            "id": "m",
            "initial": "a",
            "invoke": {"id": "svc", "src": "fetch"},
            "states": {"a": {"on": {"END": "f"}}, "f": {"type": "final"}},
        },
        "v4",
    )
    s = E.start(c).state
    assert s.invoked == ("svc",)
    step = E.send(c, s, {"type": "END"})
    assert step.state.done is True
    assert step.state.invoked == ()
    assert step.effects == [Effect("stop", "svc", {"id": "svc", "src": "fetch"})]
