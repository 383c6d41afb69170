"""Unit tests of XState v5's transition selection (src/dialoghub/engine/chart_select.py):
eventless transitions read the macrostep's event, come from ancestors too, and one per
region is taken."""

from __future__ import annotations

from dialoghub.engine import chart as E
from dialoghub.model.chart import Ref
from tests.engine.test_chart import build, run


def test_an_eventless_guard_reads_the_event_of_the_macrostep() -> None:
    guard = Ref("xstate.condition", {"expr": "event.go == true"})
    chart = build({
        "initial": "a",
        "states": {
            "a": {"on": {"E": "m.w"}},
            "w": {"always": {"target": "m.b", "guard": guard}},
            "b": {},
        },
    })  # fmt: skip
    assert run(chart, {"type": "E", "go": True}).state.configuration == ("m", "m.b")
    assert run(chart, {"type": "E", "go": False}).state.configuration == ("m", "m.w")


def test_an_ancestors_eventless_transition_is_taken_when_the_leaf_has_none() -> None:
    chart = build({
        "initial": "x",
        "states": {
            "x": {"on": {"E": "m.p"}},
            "p": {"always": "m.b", "initial": "c", "states": {"c": {}}},
            "b": {},
        },
    })  # fmt: skip
    assert run(chart, "E").state.configuration == ("m", "m.b")


def test_every_regions_eventless_transition_is_taken() -> None:
    chart = build({
        "initial": "p",
        "states": {
            "p": {"type": "parallel", "states": {
                "r1": {"initial": "a", "states": {"a": {"always": "m.p.r1.b"}, "b": {}}},
                "r2": {"initial": "c", "states": {"c": {"always": "m.p.r2.d"}, "d": {}}},
            }},
        },
    })  # fmt: skip
    assert run(chart).state.configuration == ("m", "m.p", "m.p.r1", "m.p.r1.b", "m.p.r2", "m.p.r2.d")


def test_a_regions_transition_from_a_deeper_source_preempts_its_ancestors() -> None:
    """Of two eventless transitions exiting a common state, the one whose source descends
    from the other's wins: r2's own runs first, in its own microstep, then the parallel
    state's."""
    chart = build({
        "initial": "p",
        "states": {
            "p": {"type": "parallel",
                  "always": {"target": "m.x", "actions": ["fromP"]},
                  "states": {
                      "r1": {"initial": "a", "states": {"a": {}}},
                      "r2": {"initial": "c", "states": {
                          "c": {"always": {"target": "m.p.r2.d", "actions": ["fromC"]}},
                          "d": {}}},
                  }},
            "x": {},
        },
    })  # fmt: skip
    step = E.start(chart)
    assert [e.name for e in step.effects] == ["fromC", "fromP"]
    assert step.microsteps[1:] == [
        (("m.p.r2.c",), ("m.p.r2.d",)),
        (("m.p.r2.d", "m.p.r2", "m.p.r1.a", "m.p.r1", "m.p"), ("m.x",)),
    ]
    assert step.state.configuration == ("m", "m.x")


def test_in_a_parallel_state_the_exact_event_wins_over_a_wildcard_written_first() -> None:
    chart = build({
        "type": "parallel",
        "states": {
            "r1": {"initial": "a", "states": {
                "a": {"on": {"*": "m.r1.w", "E": "m.r1.e"}}, "w": {}, "e": {}}},
            "r2": {},
        },
    })  # fmt: skip
    assert run(chart, "E").state.configuration == ("m", "m.r1", "m.r1.e", "m.r2")
    assert run(chart, "F").state.configuration == ("m", "m.r1", "m.r1.w", "m.r2")
