"""Unit tests of XState v5's transition selection (src/dialoghub/engine/chart_select.py):
eventless transitions read the macrostep's event, come from ancestors too, and one per
region is taken."""

from __future__ import annotations

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
