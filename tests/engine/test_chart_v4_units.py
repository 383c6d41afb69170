"""engine/chart_v4.py: XState v4's semantics, unit by unit, where the recorded corpus
(tests/engine/test_chart_corpus_units.py) does not pin them: v4's spellings of internal
events sent in, a completing machine's ``data`` computed from context and event, nothing
taken after completion, an external transition to an active parallel state, and a history
state with no default target (a chart built by hand: the compiler always gives one)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from dialoghub.engine import chart as E
from dialoghub.engine.chart import Effect, Registry
from dialoghub.engine.chart_v4 import _v4_internal
from dialoghub.model.chart import CONTEXT, EVENT, Chart, Ref
from dialoghub.model.xstate_chart import compile_xstate


def chart(config: dict[str, Any], dialect: str = "v4", **kw: Any) -> Chart:
    return compile_xstate(config, dialect=dialect, **kw)  # type: ignore[arg-type]


def with_node(c: Chart, node_id: str, **changes: Any) -> Chart:
    """``c`` with one node's fields changed (what a hand-built chart may hold)."""
    nodes = dict(c.nodes)
    nodes[node_id] = dataclasses.replace(nodes[node_id], **changes)
    return dataclasses.replace(c, nodes=nodes)


def seen(context: Any, event: Any, params: Any) -> dict[str, Any]:
    return {"seen": [*context.get("seen", []), dict(event)]}


REG = Registry(actions={"seen": seen})


# --- v4's names of internal events --------------------------------------------------------


@pytest.mark.parametrize(
    ("v4_name", "chart_name"),
    [
        ("done.state.m.a", "xstate.done.state.m.a"),
        ("done.invoke.svc", "xstate.done.actor.svc"),
        ("error.platform.svc", "xstate.error.actor.svc"),
        ("xstate.after(100)#m.a", "xstate.after.100.m.a"),
        ("xstate.after(2500)#m.a.b", "xstate.after.2500.m.a.b"),
    ],
)
def test_v4_internal_names(v4_name: str, chart_name: str) -> None:
    c = E._compiled(chart({"id": "m"}))
    assert _v4_internal(c, v4_name) == chart_name


@pytest.mark.parametrize(
    "name", ["GO", "xstate.after.100.m.a", "xstate.after(100)", "xstate.after(100)#", "done.x"]
)
def test_v4_internal_leaves_other_names(name: str) -> None:
    c = E._compiled(chart({"id": "m"}))
    assert _v4_internal(c, name) is None


def test_a_timer_delivered_in_v4s_spelling() -> None:
    c = chart(
        {
            "id": "m",
            "initial": "a",
            "context": {},
            "states": {"a": {"after": {"100": {"target": "b", "actions": "seen"}}}, "b": {}},
        }
    )
    s = E.start(c).state
    step = E.send(c, s, {"type": "xstate.after(100)#m.a", "counter": 1}, registry=REG)
    assert step.handled is True
    assert step.state.configuration == ("m", "m.b")
    assert step.state.armed == ()
    assert step.state.context == {"seen": [{"type": "xstate.after(100)#m.a"}]}
    # a stale counter in v4's spelling is stale too
    assert E.send(c, s, {"type": "xstate.after(100)#m.a", "counter": 9}) == (s, [], False, [])


# --- completion -----------------------------------------------------------------------------


def test_the_machines_data_is_computed_from_context_and_event() -> None:
    base = chart(
        {
            "id": "m",
            "initial": "a",
            "context": {"count": 5},
            "states": {"a": {"on": {"GO": "f"}}, "f": {"type": "final", "data": {"k": 1}}},
        }
    )
    assert E.send(base, E.start(base).state, {"type": "GO"}).state.output == {"k": 1}
    c = with_node(
        base,
        "m.f",
        output={"n": Ref(CONTEXT, {"path": "count"}), "v": Ref(EVENT, {"path": "v"})},
    )
    step = E.send(c, E.start(c).state, {"type": "GO", "v": 9})
    assert step.state.done is True
    assert step.state.output == {"n": 5, "v": 9}


def test_the_machines_data_is_none_without_a_final_data() -> None:
    c = chart(
        {"id": "m", "initial": "a", "states": {"a": {"on": {"GO": "f"}}, "f": {"type": "final"}}}
    )
    step = E.send(c, E.start(c).state, {"type": "GO"})
    assert step.state.done is True
    assert step.state.output is None


def test_nothing_is_taken_after_completion_not_even_a_raised_event() -> None:
    c = chart(
        {
            "id": "m",
            "initial": "a",
            "states": {
                "a": {
                    "on": {"GO": {"target": "f", "actions": {"type": "xstate.raise", "event": "X"}}}
                },
                "f": {"type": "final", "entry": "hi", "exit": "bye"},
            },
            "on": {"X": {"actions": "never"}},
        }
    )
    step = E.send(c, E.start(c).state, {"type": "GO"})
    assert step.state.done is True
    # the final state's exit actions run once, as the machine stops; X is never taken
    assert step.effects == [Effect("action", "hi", {}), Effect("action", "bye", {})]


# --- targets ------------------------------------------------------------------------------

PARALLEL = {
    "id": "m",
    "initial": "p",
    "states": {
        "p": {
            "type": "parallel",
            "on": {"RESET": "p"},
            "states": {
                "x": {"initial": "x1", "states": {"x1": {"on": {"X": "x2"}}, "x2": {}}},
                "y": {"initial": "y1", "states": {"y1": {"on": {"Y": "y2"}}, "y2": {}}},
            },
        }
    },
}


@pytest.mark.parametrize("dialect", ["v4", "v5"])
def test_an_external_transition_to_a_parallel_state_resets_its_regions(dialect: str) -> None:
    c = chart(PARALLEL, dialect)
    s = E.send(c, E.start(c).state, {"type": "X"}).state
    assert E.value(c, s) == {"p": {"x": "x2", "y": "y1"}}
    step = E.send(c, s, {"type": "RESET"})
    assert E.value(c, step.state) == {"p": {"x": "x1", "y": "y1"}}
    exited, entered = step.microsteps[0]
    assert exited[:4] == ("m.p.y.y1", "m.p.y", "m.p.x.x2", "m.p.x")
    assert entered[-4:] == ("m.p.x", "m.p.x.x1", "m.p.y", "m.p.y.y1")
    # v4's RESET is external (p exited and entered), v5's is not (reenter false)
    assert ("m.p" in exited) is (dialect == "v4")


def test_a_history_state_without_a_default_restores_the_parents_initial_state() -> None:
    base = chart(
        {
            "id": "m",
            "initial": "b",
            "on": {"H": ".a.h"},
            "states": {
                "a": {"initial": "a2", "states": {"a1": {}, "a2": {}, "h": {"type": "history"}}},
                "b": {},
            },
        }
    )
    assert base.nodes["m.a.h"].history_default == ("m.a.a2",)
    c = with_node(base, "m.a.h", history_default=())
    step = E.send(c, E.start(c).state, {"type": "H"})
    assert step.state.configuration == ("m", "m.a", "m.a.a2")
    assert step.state.history == {"m.a.h": ("m.a.a2",)}
