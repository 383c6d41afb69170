"""Unit tests of the statechart interpreter's guards, values and actions
(src/dialoghub/engine/chart_actions.py): paths into data, the condition cache, names in a
``condition``, expressions, ``assign``, ``raise``, ``log``, timers and invokes stopped.

Charts are built with tests/engine/test_chart.py's ``build`` (node ids are dotted paths from
the root ``m``) and run through the interpreter's API (``engine.chart.start``/``send``); the
helpers that have no effect of their own to observe (``_dig``, ``_condition``, ``_lookup``)
are called directly.
"""

from __future__ import annotations

from typing import Any

import pytest

from dialoghub.engine import chart as E
from dialoghub.engine import chart_actions as A
from dialoghub.engine.chart import ChartState, Effect, Registry
from dialoghub.errors import InvalidInput, ModelError
from dialoghub.model.chart import ERROR_PREFIX, Ref
from dialoghub.model.conditions import Condition
from tests.engine.test_chart import build, run


def _event(path: str) -> Ref:
    return Ref("xstate.event", {"path": path})


def _assign(assignments: Any) -> Ref:
    return Ref("xstate.assign", {"assignments": assignments})


# --- _dig: a dotted path into data -------------------------------------------------------------


def test_dig_walks_mappings_and_sequences_by_index() -> None:
    data = {"a": {"b": [10, {"c": "deep"}]}, "t": (7, 8)}
    assert A._dig(data, ["a", "b", "1", "c"]) == "deep"
    assert A._dig(data, ["a", "b", "0"]) == 10
    assert A._dig(data, ["t", "1"]) == 8
    assert A._dig(data, []) is data


def test_dig_gives_none_past_the_end_or_for_a_key_a_sequence_has_not() -> None:
    data = {"l": [1, 2]}
    assert A._dig(data, ["l", "2"]) is None  # index == len: past the end, not an IndexError
    assert A._dig(data, ["l", "x"]) is None  # a name on a list: nothing, not int("x")
    assert A._dig(data, ["missing", "0"]) is None
    # a string is not a sequence to index: "abc"["0"] is not "a"
    assert A._dig({"s": "abc"}, ["s", "0"]) is None
    assert A._dig(5, ["0"]) is None


# --- _condition: parsed once, cached up to 4096 -------------------------------------------------


def test_condition_is_parsed_once_and_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    cache: dict[str, Condition] = {}
    monkeypatch.setattr(A, "_CONDITIONS", cache)
    first = A._condition("count > 1")
    assert cache == {"count > 1": first}
    assert A._condition("count > 1") is first
    assert first.evaluate({"count": 2}.get) is True
    assert first.evaluate({"count": 1}.get) is False


def test_condition_cache_stops_growing_at_4096(monkeypatch: pytest.MonkeyPatch) -> None:
    parsed = Condition.parse("x is set")
    cache = {f"k{i}": parsed for i in range(4095)}
    monkeypatch.setattr(A, "_CONDITIONS", cache)
    kept = A._condition("y is set")
    assert cache["y is set"] is kept and len(cache) == 4096  # the 4096th is still kept
    dropped = A._condition("z is set")
    assert "z is set" not in cache and len(cache) == 4096
    assert dropped.evaluate({"z": 1}.get) is True  # parsed all the same
    assert A._condition("z is set") is not dropped  # not cached: parsed again


# --- _lookup: names in a condition guard --------------------------------------------------------


def test_lookup_reads_event_context_and_bare_names() -> None:
    context = {"a": {"b": 2}, "n": 5, "context": {"a": {"b": "shadow"}}}
    event = {"type": "E", "x": {"y": "from event"}}
    lookup = A._lookup(context, event)
    assert lookup("event.x.y") == "from event"
    assert lookup("event.type") == "E"
    assert lookup("context.a.b") == 2  # the context itself, not a variable named context
    assert lookup("context.n") == 5
    assert lookup("a.b") == 2
    assert lookup("n") == 5
    assert lookup("a") == {"b": 2}
    assert lookup("missing.b") is None


# --- guards -----------------------------------------------------------------------------------


def test_a_condition_guard_reads_the_event_and_the_context() -> None:
    guard = Ref("xstate.condition", {"expr": "event.n > context.limit"})
    chart = build({
        "initial": "a", "context": {"limit": 2},
        "states": {"a": {"on": {"GO": {"target": "m.b", "guard": guard}}}, "b": {}},
    })  # fmt: skip
    s = E.start(chart).state
    assert E.send(chart, s, {"type": "GO", "n": 2}).handled is False
    assert E.send(chart, s, {"type": "GO", "n": 3}).state.configuration == ("m", "m.b")


def test_an_unregistered_guard_names_itself_and_its_line() -> None:
    chart = build({
        "initial": "a",
        "states": {"a": {"on": {"GO": {"target": "m.b", "guard": Ref("ok", {}, 7)}}}, "b": {}},
    })  # fmt: skip
    with pytest.raises(InvalidInput) as err:
        run(chart, "GO")
    assert err.value.message == "chart 'm': guard 'ok' (line 7) is not registered"
    assert err.value.details == {"guard": "ok", "line": 7}


# --- expressions --------------------------------------------------------------------------------


def test_expressions_registered_context_event_and_condition() -> None:
    reg = Registry(expressions={"plus": lambda ctx, ev, params: ctx["n"] + params["by"]})
    values = {
        "sum": Ref("plus", {"by": 2}),
        "whole": Ref("xstate.context"),  # no path: the whole context
        "nested": Ref("xstate.context", {"path": "deep.k"}),
        "payload": _event("p.q"),
        "ev": Ref("xstate.event"),
        "cond": Ref("xstate.condition", {"expr": "event.p.q == 'yes' and n == 1"}),
        "dict": {"inner": _event("p.q"), "plain": 3},
        "list": [_event("p.q"), Ref("xstate.context", {"path": "n"}), "lit"],
    }
    chart = build({
        "initial": "a", "context": {"n": 1, "deep": {"k": "v"}},
        "states": {"a": {"on": {"SET": {"actions": [_assign(values)]}}}},
    })  # fmt: skip
    step = run(chart, {"type": "SET", "p": {"q": "yes"}}, registry=reg)
    ctx = step.state.context
    assert ctx["sum"] == 3
    assert ctx["whole"] == {"n": 1, "deep": {"k": "v"}}
    assert ctx["nested"] == "v"
    assert ctx["payload"] == "yes"
    assert ctx["ev"] == {"type": "SET", "p": {"q": "yes"}}
    assert ctx["cond"] is True
    assert ctx["dict"] == {"inner": "yes", "plain": 3}
    assert ctx["list"] == ["yes", 1, "lit"]
    no = run(chart, {"type": "SET", "p": {"q": "no"}}, registry=reg).state.context
    assert no["cond"] is False


def test_a_condition_expression_without_expr_is_the_empty_condition() -> None:
    chart = build({
        "initial": "a",
        "states": {"a": {"on": {"SET": {"actions": [_assign({"c": Ref("xstate.condition")})]}}}},
    })  # fmt: skip
    with pytest.raises(Exception) as err:
        run(chart, "SET")
    with pytest.raises(type(err.value)) as direct:
        Condition.parse("")
    assert str(err.value) == str(direct.value)


def test_an_unregistered_expression_names_itself_and_its_line() -> None:
    chart = build({
        "initial": "a",
        "states": {"a": {"on": {"SET": {"actions": [_assign({"x": Ref("calc", {}, 12)})]}}}},
    })  # fmt: skip
    with pytest.raises(InvalidInput) as err:
        run(chart, "SET")
    assert err.value.message == "chart 'm': expression 'calc' (line 12) is not registered"
    assert err.value.details == {"expression": "calc", "line": 12}


# --- assign and registered actions -----------------------------------------------------------


def test_a_whole_context_assigner_is_a_partial_update() -> None:
    chart = build({
        "initial": "a", "context": {"keep": 1, "x": 0},
        "states": {"a": {"on": {"SET": {"actions": [_assign(_event("patch"))]}}}},
    })  # fmt: skip
    step = run(chart, {"type": "SET", "patch": {"x": 5, "y": 6}})
    assert step.state.context == {"keep": 1, "x": 5, "y": 6}
    none = run(chart, {"type": "SET"})  # the assigner's value is None: nothing changes
    assert none.state.context == {"keep": 1, "x": 0}


def test_an_assign_without_assignments_changes_nothing() -> None:
    chart = build({
        "initial": "a", "context": {"x": 1},
        "states": {"a": {"on": {"SET": {"target": "m.b", "actions": [Ref("xstate.assign")]}}},
                   "b": {}},
    })  # fmt: skip
    step = run(chart, "SET")
    assert step.state.context == {"x": 1} and step.state.configuration == ("m", "m.b")


def test_an_eventless_assign_without_a_target_goes_round_for_ever() -> None:
    """Every assign clones XState's snapshot, so an unguarded targetless ``always`` that
    assigns (even the same value) is selected again and again: a cycle, refused."""
    chart = build({
        "initial": "a", "context": {"x": 1},
        "states": {"a": {"always": {"actions": [_assign({"x": 1})]}}},
    })  # fmt: skip
    with pytest.raises(ModelError, match="more than 1000 microsteps"):
        E.start(chart)


def test_a_registered_action_returning_something_else_is_refused() -> None:
    reg = Registry(actions={"bad": lambda ctx, ev, params: ["x"]})  # type: ignore[arg-type,return-value]
    chart = build({"initial": "a", "states": {"a": {"on": {"GO": {"actions": ["bad"]}}}}})
    with pytest.raises(InvalidInput) as err:
        run(chart, "GO", registry=reg)
    assert err.value.message == (
        "chart 'm': a registered action returned list, not a dict of context updates or None"
    )


# --- raise ----------------------------------------------------------------------------------


def test_a_raised_event_may_be_a_name_or_come_from_the_event() -> None:
    chart = build({
        "initial": "a",
        "states": {
            "a": {"on": {
                "NAME": {"actions": [Ref("xstate.raise", {"event": "GO"})]},
                "FROM": {"actions": [Ref("xstate.raise", {"event": _event("next")})]},
                "GO": "m.b",
                "OTHER": "m.c",
            }},
            "b": {}, "c": {},
        },
    })  # fmt: skip
    assert run(chart, "NAME").state.configuration == ("m", "m.b")
    step = run(chart, {"type": "FROM", "next": {"type": "OTHER"}})
    assert step.state.configuration == ("m", "m.c")
    assert run(chart, {"type": "FROM", "next": "GO"}).state.configuration == ("m", "m.b")


@pytest.mark.parametrize("event", [None, 5, {"kind": "GO"}, {"type": 3}])
def test_a_raise_needs_an_event_with_a_type(event: Any) -> None:
    chart = build({
        "initial": "a",
        "states": {"a": {"on": {"GO": {"actions": [Ref("xstate.raise", {"event": event}, 4)]}}}},
    })  # fmt: skip
    with pytest.raises(InvalidInput) as err:
        run(chart, "GO")
    assert err.value.message == "chart 'm': raise (line 4) needs an event"


def test_a_delayed_raise_is_refused() -> None:
    raised = Ref("xstate.raise", {"event": "GO", "delay": 100}, 9)
    chart = build({"initial": "a", "states": {"a": {"on": {"GO": {"actions": [raised]}}}}})
    with pytest.raises(InvalidInput) as err:
        run(chart, "GO")
    assert err.value.message == (
        "chart 'm': a delayed raise (line 9) is not supported; use `after`"
    )


# --- log ----------------------------------------------------------------------------------------


def test_log_effects_carry_label_and_resolved_value() -> None:
    logs = [
        Ref("xstate.log", {"label": "n", "value": Ref("xstate.context", {"path": "n"})}),
        Ref("xstate.log", {}),
    ]
    chart = build({
        "initial": "a", "context": {"n": 4},
        "states": {"a": {"on": {"GO": {"actions": logs}}}},
    })  # fmt: skip
    assert run(chart, "GO").effects == [
        Effect("log", "n", {"value": 4}),
        Effect("log", "", {"value": None}),
    ]


# --- invokes stopped when the machine completes or fails ---------------------------------------

INVOKING = {
    "initial": "a",
    "invoke": [{"id": "watch", "src": "watcher"}],
    "states": {
        "a": {
            "invoke": [{"id": "job", "src": "worker"}],
            "on": {"END": "m.fin"},
        },
        "fin": {"type": "final"},
    },
}


def test_completing_stops_every_invoke_still_running() -> None:
    chart = build(INVOKING)
    start = E.start(chart)
    assert start.state.invoked == ("watch", "job")
    step = E.send(chart, start.state, {"type": "END"})
    assert step.state.done and step.state.invoked == ()
    assert [e for e in step.effects if e.kind == "stop"] == [
        Effect("stop", "job", {"id": "job", "src": "worker"}),  # its state is left
        Effect("stop", "watch", {"id": "watch", "src": "watcher"}),  # the machine stops
    ]


def test_an_unhandled_error_stops_the_others_in_the_order_they_started() -> None:
    chart = build(INVOKING)
    state = E.start(chart).state
    state = ChartState(configuration=state.configuration, invoked=("ghost", "watch", "job"))
    step = E.send(chart, state, {"type": ERROR_PREFIX + "job", "error": "boom"})
    assert step.handled is False and step.state.error == "boom"
    assert step.effects == [
        Effect("stop", "ghost", {"id": "ghost", "src": ""}),  # an id no node invokes
        Effect("stop", "watch", {"id": "watch", "src": "watcher"}),
    ]
    assert step.state.invoked == ()


# --- built-in guards: stateIn and the combinators ----------------------------------------------

PAR_GUARDED = {
    "type": "parallel",
    "states": {
        "r1": {"initial": "a", "states": {"a": {"on": {"GO": "m.r1.b"}}, "b": {}}},
        "r2": {"initial": "c", "states": {"c": {"on": {"GO": {"target": "m.r2.d"}}}, "d": {}}},
    },
}


@pytest.mark.parametrize("key", ["state", "stateValue"])
def test_state_in_takes_a_state_or_a_state_value(key: str) -> None:
    for query, taken in (("#m.r1.a", True), ("#m.r1.b", False)):
        spec = json_copy(PAR_GUARDED)
        spec["states"]["r2"]["states"]["c"]["on"]["GO"]["guard"] = Ref(
            "xstate.stateIn", {key: query}
        )
        step = run(build(spec), "GO")
        assert ("m.r2.d" in step.state.configuration) is taken, (key, query)


def json_copy(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: json_copy(v) for k, v in x.items()}
    if isinstance(x, list):
        return [json_copy(v) for v in x]
    return x


def _guarded(guard: Ref, reg: Registry | None = None) -> bool:
    chart = build({"initial": "a", "states": {
        "a": {"on": {"GO": {"target": "m.b", "guard": guard}}}, "b": {}}})  # fmt: skip
    return run(chart, "GO", registry=reg).state.configuration == ("m", "m.b")


YES_NO = Registry(guards={"yes": lambda c, e, p: True, "no": lambda c, e, p: False})


def test_combinators_take_a_list_of_names_or_refs_or_one_guard() -> None:
    assert _guarded(Ref("xstate.and", {"guards": ["yes", Ref("yes")]}), YES_NO) is True
    assert _guarded(Ref("xstate.and", {"guards": ["yes", "no"]}), YES_NO) is False
    assert _guarded(Ref("xstate.or", {"guards": ["no", "yes"]}), YES_NO) is True
    assert _guarded(Ref("xstate.or", {"guards": ["no"]}), YES_NO) is False
    assert _guarded(Ref("xstate.not", {"guard": Ref("no")}), YES_NO) is True
    assert _guarded(Ref("xstate.not", {"guard": "yes"}), YES_NO) is False
    assert _guarded(Ref("xstate.not", {"guards": ["yes"], "guard": "no"}), YES_NO) is False
    # no sub-guards at all: and() of nothing holds, or() of nothing does not
    assert _guarded(Ref("xstate.and", {}), YES_NO) is True
    assert _guarded(Ref("xstate.or", {}), YES_NO) is False


def test_a_condition_guard_without_expr_is_the_empty_condition() -> None:
    with pytest.raises(Exception) as err:
        _guarded(Ref("xstate.condition", {}))
    with pytest.raises(type(err.value)) as direct:
        Condition.parse("")
    assert str(err.value) == str(direct.value)


def test_a_log_value_reads_the_event() -> None:
    log = Ref("xstate.log", {"label": "got", "value": _event("n")})
    chart = build({"initial": "a", "states": {"a": {"on": {"GO": {"actions": [log]}}}}})
    assert run(chart, {"type": "GO", "n": 8}).effects == [Effect("log", "got", {"value": 8})]


def test_leaving_an_invoking_state_stops_it_every_time() -> None:
    """Stopping an invoke is not a pure step: it is never remembered and replayed."""
    chart = build({
        "initial": "a",
        "states": {"a": {"on": {"SPY": "m.b"}},
                   "b": {"invoke": [{"id": "cam", "src": "camera"}], "on": {"LEAVE": "m.a"}}},
    })  # fmt: skip
    state = E.start(chart).state
    for _ in range(2):
        state = E.send(chart, state, {"type": "SPY"}).state
        assert state.invoked == ("cam",)
        left = E.send(chart, state, {"type": "LEAVE"})
        assert left.effects == [Effect("stop", "cam", {"id": "cam", "src": "camera"})]
        state = left.state
        assert state.invoked == ()
