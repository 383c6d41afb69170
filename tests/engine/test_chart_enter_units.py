"""Unit tests of XState v5's entry sets (src/dialoghub/engine/chart_enter.py): history
defaults in parallel and compound parents, and when a parallel state is final."""

from __future__ import annotations

import dataclasses

from dialoghub.engine import chart as E
from dialoghub.engine.chart_enter import _done_event
from dialoghub.model.chart import Chart, Ref
from tests.engine.test_chart import build, run


def test_a_history_of_a_parallel_state_with_nothing_recorded_enters_every_region() -> None:
    chart = build({
        "initial": "x",
        "states": {
            "x": {"on": {"GO": "m.p.h"}},
            "p": {"type": "parallel", "states": {
                "r1": {"initial": "a", "states": {"a": {}, "b": {}}},
                "r2": {"initial": "c", "states": {"c": {}}},
                "h": {"type": "history", "history": "shallow"},
            }},
        },
    })  # fmt: skip
    assert run(chart, "GO").state.configuration == (
        "m", "m.p", "m.p.r1", "m.p.r1.a", "m.p.r2", "m.p.r2.c",
    )  # fmt: skip


def test_a_history_of_a_compound_state_with_nothing_recorded_enters_its_initial() -> None:
    chart = build({
        "initial": "x",
        "states": {
            "x": {"on": {"GO": "m.c.h"}},
            "c": {"initial": "b", "states": {
                "a": {}, "b": {}, "h": {"type": "history", "history": "deep"},
            }},
        },
    })  # fmt: skip
    assert run(chart, "GO").state.configuration == ("m", "m.c", "m.c.b")


def _parallel(second: dict[str, object]) -> E.Step:
    chart = build({
        "initial": "p",
        "states": {
            "p": {
                "type": "parallel",
                "onDone": "m.done",
                "states": {
                    "r1": {"type": "final"},  # an atomic final region: final from the start
                    "r2": second,
                },
            },
            "done": {},
        },
    })  # fmt: skip
    return run(chart, "FIN")


def test_a_parallel_state_is_done_when_every_region_is_final_even_an_atomic_one() -> None:
    step = _parallel({"initial": "a", "states": {"a": {"on": {"FIN": "m.p.r2.z"}},
                                                 "z": {"type": "final"}}})  # fmt: skip
    assert step.state.configuration == ("m", "m.done")


def test_a_parallel_state_with_an_atomic_region_not_final_is_not_done() -> None:
    chart = build({
        "initial": "p",
        "states": {
            "p": {"type": "parallel", "onDone": "m.done", "states": {
                "r1": {"type": "final"},
                "r2": {"on": {"FIN": {"actions": ["noted"]}}},  # atomic, never final
            }},
            "done": {},
        },
    })  # fmt: skip
    step = run(chart, "FIN")
    assert step.state.configuration == ("m", "m.p", "m.p.r1", "m.p.r2")
    assert [e.name for e in step.effects] == ["noted"]


def test_a_done_event_carries_output_in_v5_and_data_in_v4() -> None:
    assert _done_event("m.c", 5, False) == {"type": "xstate.done.state.m.c", "output": 5}
    assert _done_event("m.c", 5, True) == {"type": "xstate.done.state.m.c", "data": 5}


def _initial_actions(chart: Chart, node_id: str, *names: str) -> Chart:
    chart.nodes[node_id] = dataclasses.replace(
        chart.nodes[node_id], initial_actions=tuple(Ref(n) for n in names)
    )
    return chart


def _names(step: E.Step) -> list[str]:
    return [e.name for e in step.effects if e.kind == "action"]


def test_initial_actions_of_default_entries_nested_and_in_regions() -> None:
    chart = build({
        "initial": "x",
        "states": {
            "x": {"on": {"C": "m.c", "P": "m.p"}},
            "c": {"initial": "c1", "states": {"c1": {"initial": "k", "states": {"k": {}}}}},
            "p": {"type": "parallel", "states": {
                "r1": {"initial": "a", "states": {"a": {}}}, "r2": {}}},
        },
    })  # fmt: skip
    _initial_actions(chart, "m.c", "cInit")
    _initial_actions(chart, "m.c.c1", "c1Init")
    _initial_actions(chart, "m.p.r1", "r1Init")
    assert _names(run(chart, "C")) == ["cInit", "c1Init"]
    assert _names(run(chart, "P")) == ["r1Init"]


HISTORY = {
    "initial": "x",
    "states": {
        "x": {"on": {"H": "m.c.h", "T": "m.c.t"}},
        "c": {"initial": "a", "on": {"OUT": "m.x"}, "states": {
            "a": {"on": {"NEXT": "m.c.b"}}, "b": {},
            "h": {"type": "history"},
            "t": {"type": "history", "target": "m.c.b"},
        }},
    },
}


def test_a_history_without_target_takes_the_parents_initial_transition() -> None:
    chart = _initial_actions(build(HISTORY), "m.c", "cInit")
    step = run(chart, "H")
    assert step.state.configuration == ("m", "m.c", "m.c.a")
    assert _names(step) == ["cInit"]  # nothing recorded: the parent's initial transition
    with_target = run(chart, "T")
    assert with_target.state.configuration == ("m", "m.c", "m.c.b")
    assert _names(with_target) == []  # a history's own target is not the initial transition
    restored = run(chart, "H", "NEXT", "OUT", "H")
    assert restored.state.configuration == ("m", "m.c", "m.c.b")
    assert _names(restored) == []  # something recorded: restored, no initial transition


def test_a_history_target_inside_its_active_parent_does_not_reenter_it() -> None:
    chart = build({
        "initial": "c",
        "states": {"c": {"initial": "a", "entry": ["cIn"], "exit": ["cOut"], "states": {
            "a": {"on": {"E": "m.c.h"}}, "b": {},
            "h": {"type": "history", "target": "m.c.b"}}}},
    })  # fmt: skip
    step = run(chart, "E")
    assert step.state.configuration == ("m", "m.c", "m.c.b")
    assert _names(step) == []


def test_a_history_as_initial_state_restores_or_takes_its_target() -> None:
    chart = build({
        "initial": "c",
        "states": {
            "c": {"initial": "h", "on": {"OUT": "m.x"}, "states": {
                "h": {"type": "history", "target": "m.c.b"},
                "a": {}, "b": {"on": {"A": "m.c.a"}}}},
            "x": {"on": {"BACK": "m.c"}},
        },
    })  # fmt: skip
    assert E.start(chart).state.configuration == ("m", "m.c", "m.c.b")
    assert run(chart, "A", "OUT", "BACK").state.configuration == ("m", "m.c", "m.c.a")


def test_a_transition_to_the_root_exits_its_children_not_the_root() -> None:
    chart = build({
        "initial": "a", "entry": ["rootIn"], "exit": ["rootOut"],
        "states": {"a": {"on": {"NEXT": "m.b"}}, "b": {"on": {"TOP": "m"}}},
    })  # fmt: skip
    step = run(chart, "NEXT", "TOP")
    assert "rootOut" not in _names(step)
    assert step.state.configuration[0] == "m"


def test_a_transition_between_regions_does_not_reenter_the_parallel_state() -> None:
    chart = build({
        "initial": "p",
        "states": {"p": {"type": "parallel", "entry": ["pIn"], "states": {
            "r1": {"initial": "a", "states": {
                "a": {"on": {"E": "m.p.r2.d", "R": {"target": "m.p.r2.d", "reenter": True}}}}},
            "r2": {"initial": "c", "states": {"c": {}, "d": {}}},
        }}},
    })  # fmt: skip
    for event in ("E", "R"):
        step = run(chart, event)
        assert step.state.configuration == ("m", "m.p", "m.p.r1", "m.p.r1.a", "m.p.r2", "m.p.r2.d")
        assert _names(step) == [], event


def test_a_root_transition_into_a_parallel_root_does_not_reenter_the_root() -> None:
    chart = build({
        "type": "parallel", "entry": ["rootIn"], "on": {"E": "m.r2.d"},
        "states": {"r1": {}, "r2": {"initial": "c", "states": {"c": {}, "d": {}}}},
    })  # fmt: skip
    step = run(chart, "E")
    assert step.state.configuration == ("m", "m.r1", "m.r2", "m.r2.d")
    assert _names(step) == []


def test_a_transition_targeting_its_source_and_another_region_enters_both() -> None:
    chart = build({
        "initial": "p",
        "states": {"p": {"type": "parallel", "states": {
            "r1": {"initial": "i", "states": {
                "i": {"on": {"GO": "m.p.r1.a"}},
                "a": {"on": {"E": {"target": ["m.p.r1.a", "m.p.r2.d"]}}}}},
            "r2": {"initial": "c", "states": {"c": {}, "d": {}}},
        }}},
    })  # fmt: skip
    step = run(chart, "GO", "E")
    assert step.state.configuration == ("m", "m.p", "m.p.r1", "m.p.r1.a", "m.p.r2", "m.p.r2.d")
