"""Unit tests of XState v5's entry sets (src/dialoghub/engine/chart_enter.py): history
defaults in parallel and compound parents, and when a parallel state is final."""

from __future__ import annotations

from dialoghub.engine import chart as E
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
    from dialoghub.engine.chart_enter import _done_event

    assert _done_event("m.c", 5, False) == {"type": "xstate.done.state.m.c", "output": 5}
    assert _done_event("m.c", 5, True) == {"type": "xstate.done.state.m.c", "data": 5}
