"""Unit tests of XState v5's macrostep (src/dialoghub/engine/chart_macro.py): the machine's
output, computed from the done event of the state that completed it."""

from __future__ import annotations

from dialoghub.model.chart import Ref
from tests.engine.test_chart import build, run


def _event(path: str) -> Ref:
    return Ref("xstate.event", {"path": path})


def test_the_machine_output_reads_the_final_states_output_from_its_done_event() -> None:
    chart = build({
        "initial": "a",
        "output": {"got": _event("output"), "kind": _event("type")},
        "states": {"a": {"on": {"END": "m.z"}}, "z": {"type": "final", "output": _event("x")}},
    })  # fmt: skip
    step = run(chart, {"type": "END", "x": 7})
    assert step.state.done
    assert step.state.output == {"got": 7, "kind": "xstate.done.state.m.z"}


def test_a_final_state_without_output_gives_the_root_none() -> None:
    chart = build({
        "initial": "a",
        "output": {"got": _event("output")},
        "states": {"a": {"on": {"END": "m.z"}}, "z": {"type": "final"}},
    })  # fmt: skip
    assert run(chart, {"type": "END", "output": 3}).state.output == {"got": None}


def test_a_machine_without_output_outputs_none() -> None:
    chart = build({
        "initial": "a",
        "states": {"a": {"on": {"END": "m.z"}}, "z": {"type": "final", "output": 5}},
    })  # fmt: skip
    step = run(chart, "END")
    assert step.state.done and step.state.output is None


def test_a_parallel_root_completes_with_its_own_done_event_and_no_inner_output() -> None:
    chart = build({
        "type": "parallel",
        "output": {"got": _event("output"), "kind": _event("type")},
        "states": {
            "r1": {"initial": "a", "states": {"a": {"on": {"FIN": "m.r1.z"}},
                                              "z": {"type": "final", "output": 1}}},
            "r2": {"initial": "b", "states": {"b": {"on": {"FIN": "m.r2.z"}},
                                              "z": {"type": "final", "output": 2}}},
        },
    })  # fmt: skip
    step = run(chart, {"type": "FIN", "output": 9})
    assert step.state.done
    assert step.state.output == {"got": None, "kind": "xstate.done.state.m"}
