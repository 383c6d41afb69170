"""Unit tests of XState v5's macrostep (src/dialoghub/engine/chart_macro.py): the machine's
output, computed from the done event of the state that completed it."""

from __future__ import annotations

import dataclasses
from typing import Any

from dialoghub.engine import chart as E
from dialoghub.engine.chart import Effect
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


def _with_initial_actions(chart: Any, node_id: str, *actions: Ref) -> Any:
    chart.nodes[node_id] = dataclasses.replace(chart.nodes[node_id], initial_actions=actions)
    return chart


def test_initial_actions_run_only_when_the_initial_child_is_entered_by_default() -> None:
    chart = _with_initial_actions(build({
        "initial": "x",
        "states": {
            "x": {"on": {"IN": "m.c", "DEEP": "m.c.b"}},
            "c": {"initial": "a", "states": {"a": {}, "b": {}}},
        },
    }), "m.c", Ref("xstate.assign", {"assignments": {"v": Ref("xstate.event", {"path": "v"})}}),
        Ref("hello"))  # fmt: skip
    step = run(chart, {"type": "IN", "v": 3})
    assert step.state.context == {"v": 3}
    assert [e.name for e in step.effects] == ["hello"]
    deep = run(chart, {"type": "DEEP", "v": 3})
    assert deep.state.configuration == ("m", "m.c", "m.c.b")
    assert deep.state.context == {} and deep.effects == []


def test_the_roots_initial_actions_run_at_start_and_not_when_it_is_reentered() -> None:
    chart = _with_initial_actions(build({
        "initial": "a",
        "on": {"E": {"target": "m.b", "reenter": True}},
        "states": {"a": {}, "b": {}},
    }), "m", Ref("hello"))  # fmt: skip
    first = E.start(chart)
    assert [e.name for e in first.effects] == ["hello"]
    again = E.send(chart, first.state, {"type": "E"})
    assert again.state.configuration == ("m", "m.b")
    assert again.microsteps == [(("m.a", "m"), ("m", "m.b"))]
    assert again.effects == []


def test_deep_history_records_only_the_leaves_below_its_parent() -> None:
    chart = build({
        "initial": "p",
        "states": {
            "p": {"type": "parallel", "on": {"LEAVE": "m.x"}, "states": {
                "r1": {"initial": "a", "states": {"a": {}, "h": {"type": "history",
                                                                  "history": "deep"}}},
                "r2": {"initial": "c", "states": {"c": {}}},
            }},
            "x": {},
        },
    })  # fmt: skip
    first = E.start(chart)
    left = E.send(chart, first.state, {"type": "LEAVE"})
    assert left.state.history == {"m.p.r1.h": ("m.p.r1.a",)}
    assert first.state.history == {}  # the state sent in is not changed


def test_a_state_given_to_send_keeps_its_history() -> None:
    chart = build({
        "initial": "c",
        "states": {
            "c": {"initial": "a", "on": {"OUT": "m.x"},
                  "states": {"a": {"on": {"NEXT": "m.c.b"}}, "b": {},
                             "h": {"type": "history"}}},
            "x": {"on": {"BACK": "m.c.h"}},
        },
    })  # fmt: skip
    s = run(chart, "NEXT", "OUT").state
    assert s.history == {"m.c.h": ("m.c.b",)}
    back = E.send(chart, s, {"type": "BACK"}).state
    again = E.send(chart, back, {"type": "OUT"})
    assert again.state.history == {"m.c.h": ("m.c.b",)}
    moved = E.send(chart, E.send(chart, back, {"type": "NEXT"}).state, {"type": "OUT"})
    assert s.history == {"m.c.h": ("m.c.b",)} and back.history == {"m.c.h": ("m.c.b",)}
    assert moved.state.configuration == ("m", "m.x")


def test_a_targetless_eventless_action_runs_once_and_comes_to_rest() -> None:
    chart = build({"initial": "a", "states": {"a": {"always": {"actions": ["beep"]}}}})
    step = E.start(chart)
    assert [e.name for e in step.effects] == ["beep"]
    assert step.state.configuration == ("m", "m.a")


def test_an_invoke_input_reads_the_event_that_entered_its_state() -> None:
    chart = build({
        "initial": "a",
        "states": {
            "a": {"on": {"GO": "m.b"}},
            "b": {"invoke": [{"id": "job", "src": "work",
                              "input": Ref("xstate.event", {"path": "who"})}]},
        },
    })  # fmt: skip
    step = run(chart, {"type": "GO", "who": "ann"})
    assert [e for e in step.effects if e.kind == "invoke"] == [
        Effect("invoke", "work", {"id": "job", "input": "ann"})
    ]


def test_a_final_root_is_done_as_soon_as_it_starts() -> None:
    step = E.start(build({"type": "final"}))
    assert step.state.done and step.state.configuration == ("m",)


def _whole_event() -> Ref:
    return Ref("xstate.assign", {"assignments": {"ev": Ref("xstate.event")}})


def test_a_parallel_state_of_final_regions_is_done_once_on_entry() -> None:
    chart = build({
        "initial": "x",
        "states": {
            "x": {"on": {"GO": "m.p"}},
            "p": {"type": "parallel", "onDone": {"actions": ["beep", _whole_event()]},
                  "states": {"r1": {"type": "final"}, "r2": {"type": "final"}}},
        },
    })  # fmt: skip
    step = run(chart, "GO")
    assert [e.name for e in step.effects] == ["beep"]  # one done event, not one per region
    assert step.state.context == {"ev": {"type": "xstate.done.state.m.p", "output": None}}
    assert step.state.configuration == ("m", "m.p", "m.p.r1", "m.p.r2")


def test_a_compound_states_done_event_carries_its_final_childs_output() -> None:
    chart = build({
        "initial": "c",
        "states": {
            "c": {"initial": "a", "onDone": {"target": "m.d", "actions": [_whole_event()]},
                  "states": {"a": {"on": {"FIN": "m.c.z"}},
                             "z": {"type": "final", "output": Ref("xstate.event",
                                                                  {"path": "v"})}}},
            "d": {},
        },
    })  # fmt: skip
    step = run(chart, {"type": "FIN", "v": 4})
    assert step.state.configuration == ("m", "m.d")
    assert step.state.context == {"ev": {"type": "xstate.done.state.m.c", "output": 4}}


def test_a_jump_is_handled_and_its_actions_see_the_jump_event() -> None:
    chart = build({
        "initial": "a",
        "states": {"a": {}, "b": {"entry": [_whole_event()]}},
    })  # fmt: skip
    step = E.jump(chart, E.start(chart).state, "m.b")
    assert step.handled is True
    assert step.state.context == {"ev": {"type": "xstate.jump", "state": "m.b"}}


def test_completion_runs_exit_actions_with_the_event_and_cancels_timers() -> None:
    chart = build({
        "initial": "a",
        "exit": [Ref("xstate.assign", {"assignments": {"last": Ref("xstate.event",
                                                                   {"path": "type"})}})],
        "after": {"1000": "m.a"},
        "states": {"a": {"on": {"END": "m.z"}}, "z": {"type": "final"}},
    })  # fmt: skip
    first = E.start(chart)
    (armed,) = first.state.armed
    step = E.send(chart, first.state, {"type": "END"})
    assert step.state.done and step.state.context == {"last": "END"}
    assert Effect("cancel", armed.event, {"node": "m", "counter": armed.counter}) in step.effects
    assert step.state.armed == ()


def test_an_eventless_guard_sees_the_raised_event_even_after_a_step_that_changed_nothing() -> None:
    guard = Ref("xstate.condition", {"expr": "event.type == 'PING'"})
    chart = build({
        "initial": "a",
        "states": {
            "a": {"on": {"GO": {"actions": [Ref("xstate.raise", {"event": "PING"})]},
                         "PING": {"actions": []}},
                  "always": {"target": "m.b", "guard": guard}},
            "b": {},
        },
    })  # fmt: skip
    assert run(chart, "GO").state.configuration == ("m", "m.b")
