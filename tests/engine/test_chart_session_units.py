"""Unit tests of statechart sessions (src/dialoghub/engine/chart_session.py) on the pure
engine (``engine.step.start``/``step``): what a stored session restores to, which XState
event each input stands for, the refusals with their messages and attributes, jumps, ends,
and the decision inputs of a decided machine, every event read back."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest

from dialoghub.engine import chart_session as CS
from dialoghub.engine.chart import Armed, ChartState, Registry
from dialoghub.engine.records import (
    CommandAction,
    CommandResult,
    End,
    EndAction,
    EventInput,
    Expire,
    Jump,
    Propose,
    Reply,
    Session,
    SetVariables,
    Status,
    Text,
    Timeout,
    WaitForUser,
)
from dialoghub.engine.step import Step, start, step
from dialoghub.errors import InvalidInput, SessionClosed, UnexpectedInput, UnknownCommand
from dialoghub.model.loader import load_model_text
from dialoghub.model.spec import Model
from tests.decision.conftest import machine as review_machine

T0 = 1_800_000_000.0

LAMP: dict[str, Any] = {
    "id": "lamp",
    "initial": "off",
    "context": {"count": 0, "keep": 5},
    "states": {
        "off": {
            "meta": {"prompt": "Off."},
            "on": {
                "ON": {"target": "on", "actions": ["inc"]},
                "SPY": "watching",
                "WAIT": "timed",
            },
        },
        "on": {"entry": ["beep"], "on": {"OFF": "off"}},
        "watching": {
            "invoke": {"src": "camera", "id": "cam", "onDone": "on", "onError": "off"},
            "on": {"LEAVE": "off"},
        },
        "timed": {"after": {"500": "on", "900": "off"}},
    },
}

AFTER_500 = "xstate.after.500.lamp.timed"
AFTER_900 = "xstate.after.900.lamp.timed"


def inc(ctx: Any, ev: Any, params: Any) -> dict[str, Any]:
    return {"count": ctx["count"] + 1}


FUNCTIONS = Registry(actions={"inc": inc})


def lamp(functions: Registry | None = FUNCTIONS) -> Model:
    return load_model_text(json.dumps(LAMP), "lamp.json", functions=functions)


def started(model: Model) -> Step:
    return start(model, "s", now=T0)


def data(result: Step, type: str) -> list[dict[str, Any]]:
    return [e.data for e in result.events if e.type == type]


def test_is_chart_only_for_a_model_with_a_chart() -> None:
    assert CS.is_chart(lamp()) is True
    flat = load_model_text(
        "id: flat\nstates:\n  hello:\n    say: Hi.\n    final: true\n", "flat.yaml"
    )
    assert CS.is_chart(flat) is False


# --- _restore: the interpreter's state of a stored session ------------------------------------


def test_restore_reads_every_field_of_the_bookkeeping() -> None:
    session = started(lamp()).session
    book = {
        "history": {"lamp.h": ["lamp.on"]},
        "armed": [
            {"event": AFTER_500, "n": 3, "delay_ms": 500, "node": "lamp.timed", "due_at": 1.0},
            {"event": AFTER_900, "n": 4, "delay_ms": 900, "node": "lamp.timed", "due_at": 2.0,
             "registered": False},
        ],
        "invoked": ["cam"],
        "counter": 4,
        "output": {"o": 1},
        "error": "boom",
        "order": ["lamp", "lamp.timed"],
    }  # fmt: skip
    stored = msgspec.structs.replace(
        session,
        chart=book,
        configuration=["lamp", "lamp.timed"],
        variables={session.unit: {"count": 2}},
    )
    assert CS._restore(stored) == ChartState(
        configuration=("lamp", "lamp.timed"),
        history={"lamp.h": ("lamp.on",)},
        context={"count": 2},
        done=False,
        output={"o": 1},
        armed=(
            Armed(event=AFTER_500, delay_ms=500, node="lamp.timed", counter=3),
            Armed(event=AFTER_900, delay_ms=900, node="lamp.timed", counter=4, registered=False),
        ),
        invoked=("cam",),
        counter=4,
        error="boom",
        order=("lamp", "lamp.timed"),
    )
    ended = msgspec.structs.replace(stored, status=Status.ENDED)
    assert CS._restore(ended).done is True


def test_restore_of_a_session_without_bookkeeping_has_the_defaults() -> None:
    session = msgspec.structs.replace(started(lamp()).session, chart=None, variables={})
    assert CS._restore(session) == ChartState(configuration=("lamp", "lamp.off"))
    assert CS._restore(msgspec.structs.replace(session, chart={})).counter == 0


# --- _event_of: the XState event an input stands for --------------------------------------------


def _waiting() -> tuple[Model, Session]:
    model = lamp()
    session = started(model).session
    return model, step(model, session, EventInput(name="WAIT"), T0 + 1).session


def test_a_timeout_is_the_armed_event_with_its_arming_number() -> None:
    _, session = _waiting()
    assert CS._event_of(session, Timeout(name=AFTER_900)) == {"type": AFTER_900, "counter": 2}
    assert CS._event_of(session, Timeout(name=AFTER_500)) == {"type": AFTER_500, "counter": 1}


def test_a_timeout_nothing_armed_is_refused_with_what_is_armed() -> None:
    _, session = _waiting()
    with pytest.raises(InvalidInput) as err:
        CS._event_of(session, Timeout(name="xstate.after.1.lamp.x"))
    assert err.value.message == (
        f"there is no timeout 'xstate.after.1.lamp.x' armed; armed: {AFTER_500}, {AFTER_900}"
    )
    assert err.value.details == {"name": "xstate.after.1.lamp.x"}
    bare = msgspec.structs.replace(session, chart=None)
    with pytest.raises(InvalidInput) as err:
        CS._event_of(bare, Timeout(name="t"))
    assert err.value.message == "there is no timeout 't' armed; armed: none"


def test_a_due_timer_moves_the_session_once() -> None:
    model, session = _waiting()
    moved = step(model, session, Timeout(name=AFTER_500), T0 + 2)
    assert moved.session.state == "on"
    assert moved.session.chart is not None and moved.session.chart["armed"] == []


def test_command_results_answer_the_running_invoke() -> None:
    model = lamp()
    session = step(model, started(model).session, EventInput(name="SPY"), T0 + 1).session
    done = CommandResult(id="cam", outputs={"a": 1})
    failed = CommandResult(id="cam", error="lens cap")
    assert CS._event_of(session, done) == {"type": "xstate.done.actor.cam", "output": {"a": 1}}
    assert CS._event_of(session, failed) == {"type": "xstate.error.actor.cam", "error": "lens cap"}
    assert step(model, session, done, T0 + 2).session.state == "on"
    assert step(model, session, failed, T0 + 2).session.state == "off"
    assert CS._event_of(session, CommandResult(id="beep")) is None  # an acknowledgement
    with pytest.raises(UnknownCommand) as err:
        CS._event_of(session, CommandResult(id="xstate.done.actor.x"))
    assert err.value.message == "session 's' runs no invocation 'xstate.done.actor.x'; running: cam"
    assert err.value.details == {"session_id": "s", "id": "xstate.done.actor.x"}
    assert session.chart is not None
    two = msgspec.structs.replace(session, chart={**session.chart, "invoked": ["cam", "mic"]})
    with pytest.raises(UnknownCommand) as err:
        CS._event_of(two, CommandResult(id="xstate.x"))
    assert err.value.message == "session 's' runs no invocation 'xstate.x'; running: cam, mic"


def test_command_results_of_a_session_running_nothing() -> None:
    session = msgspec.structs.replace(started(lamp()).session, chart=None)
    assert CS._event_of(session, CommandResult(id="beep")) is None
    with pytest.raises(UnknownCommand) as err:
        CS._event_of(session, CommandResult(id="xstate.x"))
    assert err.value.message == "session 's' runs no invocation 'xstate.x'; running: none"


# --- jumps ---------------------------------------------------------------------------------------


def test_a_jump_to_no_state_names_the_session_and_the_state() -> None:
    model = lamp()
    with pytest.raises(InvalidInput) as err:
        step(model, started(model).session, Jump(state="nowhere"), T0 + 1)
    assert err.value.message == (
        "session 's': the statechart 'lamp' has no state 'nowhere' to jump to (name a state by "
        "its path, 'a.b', or its id)"
    )
    assert err.value.details == {"session_id": "s", "state": "nowhere"}


def test_a_jump_runs_the_registered_actions_and_sets_only_what_changed() -> None:
    model = load_model_text(
        json.dumps({**LAMP, "states": {**LAMP["states"], "on": {"entry": ["inc"]}}}),
        "lamp.json",
        functions=FUNCTIONS,
    )
    first = started(model).session
    result = step(model, first, Jump(state="on"), T0 + 1)
    assert result.session.state == "on"
    assert {e.version for e in result.events} == {first.version + 1}
    assert result.session.variables[first.unit] == {"count": 1, "keep": 5}
    assert data(result, "variable_set") == [{"name": "count", "value": 1}]
    assert result.actions == (WaitForUser(),)


# --- ending and the rest -----------------------------------------------------------------------


def test_ending_stops_every_running_invoke_with_no_source() -> None:
    model = lamp()
    session = step(model, started(model).session, EventInput(name="SPY"), T0 + 1).session
    ended = step(model, session, End(reason="bye"), T0 + 2)
    assert data(ended, "chart_invoke_stopped") == [{"id": "cam", "src": None}]
    assert ended.actions == (EndAction(reason="bye"),)
    bare = msgspec.structs.replace(session, chart={})
    assert data(step(model, bare, End(), T0 + 2), "chart_invoke_stopped") == []


def test_an_unregistered_action_and_the_prompt_come_back_as_actions() -> None:
    model = lamp()
    first = started(model)
    assert first.actions == (Reply(text="Off."), WaitForUser())
    result = step(model, first.session, EventInput(name="ON"), T0 + 1)
    assert result.actions == (CommandAction(id="beep", params={"action": True}), WaitForUser())
    assert data(result, "variable_set") == [{"name": "count", "value": 1}]


def test_text_needs_intents() -> None:
    model = lamp()
    with pytest.raises(UnexpectedInput) as err:
        step(model, started(model).session, Text(text="on"), T0 + 1)
    assert err.value.message == (
        "session 's' runs the statechart 'lamp': it takes events (an 'event' input), not text "
        "(its model declares no intents to recognise)"
    )
    assert err.value.details == {"session_id": "s"}


# --- decision inputs ----------------------------------------------------------------------------


def test_a_decision_input_for_a_machine_without_decisions_is_refused() -> None:
    model = lamp()
    with pytest.raises(InvalidInput) as err:
        step(model, started(model).session, Propose(round="r1", specialist="a"), T0 + 1)
    assert err.value.message == "model 'lamp' has no decision states"


def _review(guard_ok: bool = True) -> Model:
    doc = review_machine()
    doc["context"] = {"count": 0, "keep": 5}
    doc["states"]["pending"]["on"]["APPROVE"] = {
        "target": "approved", "guard": "allowed", "actions": ["inc"],
    }  # fmt: skip
    functions = Registry(
        guards={"allowed": lambda ctx, ev, params: guard_ok}, actions={"inc": inc}
    )
    return load_model_text(json.dumps(doc), "review.json", functions=functions)


def _propose(model: Model, session: Session, who: str, at: float) -> Step:
    assert session.decision is not None
    rd = session.decision["round"]
    return step(model, session, Propose(round=rd["id"], specialist=who, transition="APPROVE"), at)


def test_a_decision_input_that_decides_nothing_yet_waits() -> None:
    model = _review()
    session = started(model).session
    result = _propose(model, session, "a", T0 + 1)
    assert result.actions == (WaitForUser(),)
    assert {e.version for e in result.events} == {session.version + 1}


def test_a_decided_transition_runs_its_registered_actions() -> None:
    model = _review()
    session = started(model).session
    for i, who in enumerate("abc"):
        result = _propose(model, session, who, T0 + 1 + i)
        session = result.session
    assert session.state == "approved"
    assert {e.version for e in result.events} == {session.version}
    assert session.variables[session.unit] == {"count": 1, "keep": 5}
    assert data(result, "variable_set") == [{"name": "count", "value": 1}]
    assert data(result, "chart_event_ignored") == []


def test_a_decided_transition_a_guard_refuses_is_ignored() -> None:
    model = _review(guard_ok=False)
    session = started(model).session
    for i, who in enumerate("abc"):
        result = _propose(model, session, who, T0 + 1 + i)
        session = result.session
    assert session.state == "pending"
    assert data(result, "chart_event_ignored") == [{"event": "APPROVE"}]
    assert data(result, "variable_set") == []


# --- the bookkeeping a session keeps ------------------------------------------------------------


def test_bookkeeping_keeps_due_times_and_marks_unregistered_timers() -> None:
    state = ChartState(
        configuration=("lamp", "lamp.timed"),
        history={"lamp.h": ("lamp.on", "lamp.off")},
        armed=(
            Armed(event=AFTER_500, delay_ms=500, node="lamp.timed", counter=3),
            Armed(event=AFTER_900, delay_ms=900, node="lamp.timed", counter=4, registered=False),
        ),
        invoked=("cam",),
        counter=4,
        output=7,
        error="bad",
        order=("lamp", "lamp.timed"),
    )
    previous = {"armed": [{"event": AFTER_500, "n": 3, "due_at": 12.5}]}
    assert CS._bookkeeping(state, 100.0, previous) == {
        "history": {"lamp.h": ["lamp.on", "lamp.off"]},
        "armed": [
            {"event": AFTER_500, "n": 3, "delay_ms": 500, "node": "lamp.timed", "due_at": 12.5},
            {"event": AFTER_900, "n": 4, "delay_ms": 900, "node": "lamp.timed", "due_at": 100.9,
             "registered": False},
        ],
        "invoked": ["cam"],
        "counter": 4,
        "output": 7,
        "order": ["lamp", "lamp.timed"],
        "error": "bad",
    }  # fmt: skip
    plain = CS._bookkeeping(ChartState(configuration=("lamp",)), 1.0, None)
    assert plain == {"history": {}, "armed": [], "invoked": [], "counter": 0, "output": None}


def test_an_armed_timer_keeps_its_due_time_across_updates() -> None:
    model, session = _waiting()  # WAIT at T0 + 1
    later = step(model, session, EventInput(name="NOPE"), T0 + 2).session
    assert later.chart is not None
    assert [(a["event"], a["due_at"]) for a in later.chart["armed"]] == [
        (AFTER_500, T0 + 1.5),
        (AFTER_900, T0 + 1.9),
    ]


# --- what an update records -----------------------------------------------------------------------


def test_a_jump_that_drops_variables_replaces_them_all() -> None:
    model = lamp()
    result = step(model, started(model).session, Jump(state="on", variables={"count": 9}), T0 + 1)
    assert data(result, "variables_replaced") == [{"variables": {"count": 9}}]
    assert data(result, "variable_set") == []
    assert result.session.variables[result.session.unit] == {"count": 9}


def test_leaving_an_invoking_state_reports_the_stopped_invoke() -> None:
    model = lamp()
    session = step(model, started(model).session, EventInput(name="SPY"), T0 + 1).session
    result = step(model, session, EventInput(name="LEAVE"), T0 + 2)
    assert data(result, "chart_invoke_stopped") == [{"id": "cam", "src": "camera"}]


def test_an_unregistered_action_keeps_its_params() -> None:
    doc = {"id": "p", "initial": "a", "states": {"a": {"on": {"GO": {"actions": [
        {"type": "notify", "params": {"to": "ops"}}]}}}}}  # fmt: skip
    model = load_model_text(json.dumps(doc), "p.json")
    result = step(model, started(model).session, EventInput(name="GO"), T0 + 1)
    assert result.actions[0] == CommandAction(id="notify", params={"to": "ops", "action": True})


def test_reaching_the_goal_state_ends_the_session_but_starting_in_it_does_not() -> None:
    model = load_model_text(json.dumps({**LAMP, "default": "on"}), "lamp.json", functions=FUNCTIONS)
    first = started(model)
    assert not first.session.ended
    result = step(model, first.session, EventInput(name="ON"), T0 + 1)
    assert result.session.ended
    assert data(result, "session_ended") == [{"reason": "done"}]
    assert result.actions[-1] == EndAction(reason="done")
    at_goal = load_model_text(
        json.dumps({**LAMP, "default": "off"}), "lamp.json", functions=FUNCTIONS
    )
    assert not started(at_goal).session.ended and isinstance(started(at_goal).actions[-1], WaitForUser)


def test_an_unhandled_invoke_error_ends_the_session_with_the_error() -> None:
    doc = {"id": "job", "initial": "run", "states": {
        "run": {"invoke": {"src": "work", "id": "w"}}}}  # fmt: skip
    model = load_model_text(json.dumps(doc), "job.json")
    result = step(model, started(model).session, CommandResult(id="w", error="bad"), T0 + 1)
    assert data(result, "command_result_received") == [{"id": "w", "outputs": {}, "error": "bad"}]
    assert data(result, "session_ended") == [{"reason": "error", "output": None, "error": "bad"}]
    assert result.actions[-1] == EndAction(reason="error")


def test_a_final_root_child_ends_the_session_done_with_the_output() -> None:
    doc = {"id": "fin", "initial": "a", "output": {"ok": True},
           "states": {"a": {"on": {"END": "z"}}, "z": {"type": "final"}}}  # fmt: skip
    model = load_model_text(json.dumps(doc), "fin.json")
    result = step(model, started(model).session, EventInput(name="END"), T0 + 1)
    assert data(result, "session_ended") == [{"reason": "done", "output": {"ok": True},
                                              "error": None}]  # fmt: skip
    assert result.actions[-1] == EndAction(reason="done")


def test_parallel_state_text_is_the_compact_json_value() -> None:
    doc = {"id": "par", "type": "parallel", "states": {
        "r1": {"initial": "x", "states": {"x": {}}},
        "r2": {"initial": "y", "states": {"y": {}}}}}  # fmt: skip
    model = load_model_text(json.dumps(doc), "par.json")
    assert started(model).session.state == '{"r1":"x","r2":"y"}'


# --- inputs that move no state ------------------------------------------------------------------


def test_set_variables_sets_each_and_waits_for_the_running_invokes() -> None:
    model = lamp()
    session = step(model, started(model).session, EventInput(name="SPY"), T0 + 1).session
    result = step(model, session, SetVariables(variables={"a": 1, "b": 2}), T0 + 2)
    assert data(result, "variable_set") == [{"name": "a", "value": 1}, {"name": "b", "value": 2}]
    assert result.actions == (WaitForUser(),)
    (emitted,) = data(result, "action_emitted")
    assert emitted["awaiting"] == {"chart": True, "invoked": ["cam"]}
    with pytest.raises(InvalidInput) as err:
        step(model, session, SetVariables(variables={}), T0 + 2)
    assert err.value.message == "set_variables needs at least one variable"


def test_an_acknowledgement_waits_for_the_running_invokes() -> None:
    model = lamp()
    session = step(model, started(model).session, EventInput(name="SPY"), T0 + 1).session
    result = step(model, session, CommandResult(id="beep", outputs={"x": 1}), T0 + 2)
    assert data(result, "command_result_received") == [
        {"id": "beep", "outputs": {"x": 1}, "error": None}
    ]
    assert result.actions == (WaitForUser(),)
    assert data(result, "action_emitted")[0]["awaiting"] == {"chart": True, "invoked": ["cam"]}
    assert result.session.state == "watching"


def test_a_closed_session_is_refused_with_its_status() -> None:
    model = lamp()
    ended = step(model, started(model).session, End(), T0 + 1)
    assert data(ended, "session_ended") == [{"reason": "ended by request"}]
    with pytest.raises(SessionClosed) as err:
        step(model, ended.session, EventInput(name="ON"), T0 + 2)
    assert err.value.details == {"session_id": "s", "status": "ended"}
    blank = step(model, started(model).session, End(reason=""), T0 + 1)
    assert data(blank, "session_ended") == [{"reason": "ended"}]
    assert blank.actions == (EndAction(reason=""),)


def test_expiry_ends_the_session() -> None:
    model = lamp()
    result = step(model, started(model).session, Expire(), T0 + 1)
    assert [e.type for e in result.events] == [
        "input_received", "session_expired", "action_emitted",
    ]  # fmt: skip
    assert result.actions == (EndAction(reason="expired"),)


# --- prompts said on entry ------------------------------------------------------------------------

NESTED = """
id: trip
entities:
  city: [Paris, Rome]
intents:
  go:
    examples: ["go to {city}", "travel to {city}"]
    slots: {city: city}
  back: [go back, back home]
states:
  talk:
    initial: asking
    states:
      asking:
        ask: Where to?
        on: {go: told}
      told:
        say: "{city} for {params.who}, {metadata.team|nobody}, {params.x.y|-} {params.who.z|-}."
        on: {back: asking}
"""


def test_prompts_of_a_dialog_are_templates_of_variables_params_and_metadata() -> None:
    model = load_model_text(NESTED, "trip.yaml")
    first = start(model, "s", now=T0, params={"who": "Ann", "x": {"y": "deep"}},
                  metadata={"team": "blue"})  # fmt: skip
    result = step(model, first.session, Text(text="go to Rome"), T0 + 1)
    assert result.session.state == "talk.told"
    assert Reply(text="Rome for Ann, blue, deep -.") in result.actions
    # a dotted variable walks into the variable's own value, not into params or metadata
    said = CS._said(model, result.session, {"trip": {"leg": "first"}, "who": "x"},
                    "{trip.leg} {trip.none|-} {who}")  # fmt: skip
    assert said == "first - x"
    partly = step(model, first.session, Text(text="go to Rome now"), T0 + 1)
    rec = model.recognizer.recognize("go to Rome now")
    assert 0.5 < rec.confidence < 1.0
    (recognized,) = data(partly, "intent_recognized")
    assert recognized == {"intent": "go", "confidence": round(rec.confidence, 4)}


def test_text_no_intent_fits_is_ignored() -> None:
    model = load_model_text(NESTED, "trip.yaml")
    result = step(model, started(model).session, Text(text="zzz qqq"), T0 + 1)
    assert data(result, "chart_event_ignored") == [{"event": None}]
    assert data(result, "intent_recognized")[0]["intent"] is None
    assert result.actions == (WaitForUser(),)
    assert data(result, "action_emitted")[0]["awaiting"] == {"chart": True, "invoked": []}


def test_templates_are_parsed_once_and_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    model = load_model_text(NESTED, "trip.yaml")
    session = started(model).session
    cache: dict[str, Any] = {}
    monkeypatch.setattr(CS, "_TEMPLATES", cache)
    assert CS._said(model, session, {"city": "Oslo"}, "To {city}.") == "To Oslo."
    first = cache["To {city}."]
    assert CS._said(model, session, {"city": "Rome"}, "To {city}.") == "To Rome."
    assert list(cache) == ["To {city}."] and cache["To {city}."] is first
    cache.clear()
    cache.update({f"k{i}": first for i in range(4095)})
    CS._said(model, session, {}, "A.")
    assert cache["A."] is not first and len(cache) == 4096
    CS._said(model, session, {}, "B.")
    assert "B." not in cache


def test_a_machine_prompt_is_said_as_written() -> None:
    model = lamp()
    session = started(model).session
    assert CS._said(model, session, {"count": 1}, "Count {count}.") == "Count {count}."


# --- a decided machine moved by events --------------------------------------------------------


def test_a_decided_machine_takes_its_timers_and_events_by_hand() -> None:
    doc = review_machine()
    doc["states"]["approved"]["after"] = {"1000": "pending"}
    model = load_model_text(json.dumps(doc), "review.json")
    session = started(model).session
    moved = step(model, session, EventInput(name="APPROVE", params={"by": "me"}), T0 + 1)
    (executed,) = data(moved, "transition_executed")
    assert executed["transition"] == "APPROVE" and executed["source"] == "manual"
    assert executed["params"] == {"by": "me"}
    assert data(moved, "params_set") == [{"params": {"by": "me"}}]
    back = step(model, moved.session, Timeout(name="xstate.after.1000.review.approved"), T0 + 3)
    assert back.session.state == "pending"


def test_start_runs_registered_entry_actions_and_keeps_the_lifetime() -> None:
    doc = {**LAMP, "states": {**LAMP["states"], "off": {"entry": ["inc"]}}}
    model = load_model_text(json.dumps(doc), "lamp.json", functions=FUNCTIONS)
    first = start(model, "s", now=T0, lifetime={"idle": 60.0})
    assert first.session.variables[first.session.unit] == {"count": 1, "keep": 5}
    assert first.session.lifetime == {"idle": 60.0}
    assert data(first, "session_started")[0]["lifetime"] == {"idle": 60.0}
    assert "lifetime" not in data(started(model), "session_started")[0]


@pytest.mark.parametrize(("prompt", "said"), [("Review it.", "Review it."), (5, None)])
def test_a_decided_states_prompt_is_given_to_its_round_only_as_text(
    prompt: object, said: str | None
) -> None:
    doc = review_machine()
    doc["states"]["pending"]["meta"] = {"prompt": prompt}
    first = started(load_model_text(json.dumps(doc), "review.json"))
    solicited = data(first, "proposal_solicited")
    assert solicited and solicited[0]["context"]["prompt"] == said
