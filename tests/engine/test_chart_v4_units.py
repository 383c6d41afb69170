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
from dialoghub.errors import ModelError
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


# --- guards see v4's names -------------------------------------------------------------------


def v4_named(context: Any, event: Any, params: Any) -> bool:
    """True only for an event spelled as XState v4 names it."""
    return str(event["type"]).startswith(("xstate.after(", "done.", "error."))


GUARDED = Registry(guards={"v4Named": v4_named})


@pytest.mark.parametrize(
    ("config", "source"),
    [
        # an atomic state's own transition
        ({"id": "m", "initial": "a", "states": {"a": {"after": {"100": {"target": "b", "cond": "v4Named"}}}, "b": {}}}, "m.a"),
        # a compound state's, its active child taking nothing
        ({"id": "m", "initial": "a", "states": {"a": {"initial": "a1", "states": {"a1": {}}, "after": {"100": {"target": "b", "cond": "v4Named"}}}, "b": {}}}, "m.a"),
        # a parallel state's, none of its regions taking anything
        ({"id": "m", "initial": "a", "states": {"a": {"type": "parallel", "states": {"x": {}, "y": {}}, "after": {"100": {"target": "b", "cond": "v4Named"}}}, "b": {}}}, "m.a"),
    ],
)  # fmt: skip
def test_a_guard_sees_the_event_in_v4s_spelling(config: dict[str, Any], source: str) -> None:
    c = chart(config, guards=["v4Named"])
    s = E.start(c).state
    assert [a.event for a in s.armed] == [f"xstate.after.100.{source}"]
    step = E.send(c, s, {"type": f"xstate.after.100.{source}", "counter": 1}, registry=GUARDED)
    assert step.handled is True
    assert step.state.configuration == ("m", "m.b")


def test_a_done_guard_sees_the_event_in_v4s_spelling() -> None:
    c = chart(
        {
            "id": "m",
            "initial": "a",
            "states": {
                "a": {
                    "initial": "a1",
                    "states": {"a1": {"on": {"END": "a2"}}, "a2": {"type": "final"}},
                    "onDone": {"target": "b", "cond": "v4Named"},
                },
                "b": {},
            },
        },
        guards=["v4Named"],
    )
    step = E.send(c, E.start(c).state, {"type": "END"}, registry=GUARDED)
    assert step.state.configuration == ("m", "m.b")


# --- v4's history values ---------------------------------------------------------------------


def test_the_first_transition_records_every_history_value() -> None:
    """v4 creates the history value on the first transition, from the previous state value
    (here one the parent's initial does not name: the initial state of ``a`` is its history
    state, whose default is ``a2``), or for a parent never active from its initial value:
    its initial leaves (deep), its initial child (shallow), every region (parallel)."""
    base = chart(
        {
            "id": "m",
            "initial": "a",
            "states": {
                "a": {
                    "initial": "a1",
                    "on": {"OUT": "#m.b"},
                    "states": {"a1": {}, "a2": {}, "h": {"type": "history", "target": "a2"}},
                },
                "b": {"on": {"BACK": "a.h"}},
                "q": {
                    "initial": "q1",
                    "states": {
                        "q1": {"initial": "q1a", "states": {"q1a": {}}},
                        "q2": {},
                        "hd": {"type": "history", "history": "deep"},
                        "hs": {"type": "history"},
                    },
                },
                "pp": {"type": "parallel", "states": {"r": {}, "s": {}, "hp": {"type": "history"}}},
            },
        }
    )
    c = with_node(base, "m.a", initial=("m.a.h",))
    s = E.start(c).state
    assert s.configuration == ("m", "m.a", "m.a.a2")
    assert s.history == {}
    out = E.send(c, s, {"type": "OUT"}).state
    assert out.configuration == ("m", "m.b")
    assert out.history == {
        "m.a.h": ("m.a.a2",),
        "m.q.hd": ("m.q.q1.q1a",),
        "m.q.hs": ("m.q.q1",),
        "m.pp.hp": ("m.pp.r", "m.pp.s"),
    }
    back = E.send(c, out, {"type": "BACK"}).state
    assert back.configuration == ("m", "m.a", "m.a.a2")


# --- v4's next configuration: the targets' leaves merged into the previous one ----------------

REGIONS = {
    "id": "m",
    "initial": "p",
    "states": {
        "b": {"on": {"GO": "#m.p.x.x2"}},
        "p": {
            "type": "parallel",
            "on": {"LEAVE": "#m.b"},
            "states": {
                "x": {"initial": "x1", "states": {"x1": {"on": {"X": "#m.p.x.x2"}}, "x2": {}}},
                "y": {"initial": "y1", "states": {"y1": {"on": {"Y": "y2"}}, "y2": {}}},
            },
        },
    },
}


def test_a_region_not_targeted_keeps_its_state() -> None:
    c = chart(REGIONS)
    s = E.send(c, E.start(c).state, {"type": "Y"}).state
    assert E.value(c, s) == {"p": {"x": "x1", "y": "y2"}}
    s = E.send(c, s, {"type": "X"}).state
    assert E.value(c, s) == {"p": {"x": "x2", "y": "y2"}}
    assert s.configuration == ("m", "m.p", "m.p.x", "m.p.x.x2", "m.p.y", "m.p.y.y2")


def test_a_region_entered_from_outside_gets_its_initial_state() -> None:
    c = chart(REGIONS)
    s = E.send(c, E.start(c).state, {"type": "LEAVE"}).state
    assert s.configuration == ("m", "m.b")
    s = E.send(c, s, {"type": "GO"}).state
    assert E.value(c, s) == {"p": {"x": "x2", "y": "y1"}}
    assert s.configuration == ("m", "m.p", "m.p.x", "m.p.x.x2", "m.p.y", "m.p.y.y1")


# --- actions: v4's order, with and without predictableActionArguments -----------------------


def assigned_from_event(c: Chart, source: str, predictable: bool) -> Chart:
    """``c`` with the GO transition of ``source`` assigning ``v`` from the event, then
    running ``note`` (an assign whose value is an expression: a hand-built chart)."""
    from dialoghub.model.chart import ASSIGN

    node = c.nodes[source]
    assign = Ref(ASSIGN, {"assignments": {"v": Ref(EVENT, {"path": "v"})}})
    t = dataclasses.replace(node.transitions[0], actions=(assign, Ref("note")))
    out = with_node(c, source, transitions=(t,))
    return dataclasses.replace(out, predictable=predictable)


@pytest.mark.parametrize("predictable", [True, False])
def test_an_assign_sees_the_event_and_the_actions_after_it_run(predictable: bool) -> None:
    base = chart(
        {"id": "m", "initial": "a", "context": {}, "states": {"a": {"on": {"GO": "b"}}, "b": {}}}
    )
    c = assigned_from_event(base, "m.a", predictable)
    step = E.send(c, E.start(c).state, {"type": "GO", "v": 7})
    assert step.state.context == {"v": 7}
    assert step.effects == [Effect("action", "note", {})]


def invoke_from_event(predictable: bool) -> Chart:
    from dialoghub.model.chart import Invoke

    base = chart(
        {
            "id": "m",
            "initial": "a",
            "states": {
                "a": {"on": {"GO": "b"}},
                "b": {
                    "entry": "hello",
                    "invoke": {"id": "svc", "src": "fetch"},
                    "on": {"OUT": "a"},
                },
            },
        }
    )
    inv = Invoke(id="svc", src="fetch", input={"v": Ref(EVENT, {"path": "v"})})
    return dataclasses.replace(with_node(base, "m.b", invoke=(inv,)), predictable=predictable)


@pytest.mark.parametrize("predictable", [True, False])
def test_an_invoke_starts_once_with_its_input_from_the_entering_event(predictable: bool) -> None:
    c = invoke_from_event(predictable)
    step = E.send(c, E.start(c).state, {"type": "GO", "v": 3})
    invoke = Effect("invoke", "fetch", {"id": "svc", "input": {"v": 3}})
    hello = Effect("action", "hello", {})
    # with predictableActionArguments after the entry actions, without it before them
    assert step.effects == ([hello, invoke] if predictable else [invoke, hello])
    assert step.state.invoked == ("svc",)
    out = E.send(c, step.state, {"type": "OUT"})
    assert out.effects == [Effect("stop", "svc", {"id": "svc", "src": "fetch"})]
    assert out.state.invoked == ()


def test_a_raised_event_is_taken_after_the_transition() -> None:
    c = chart(
        {
            "id": "m",
            "initial": "a",
            "states": {
                "a": {
                    "on": {"GO": {"target": "b", "actions": {"type": "xstate.raise", "event": "X"}}}
                },
                "b": {"on": {"X": "c"}},
                "c": {},
            },
        }
    )
    step = E.send(c, E.start(c).state, {"type": "GO"})
    assert step.state.configuration == ("m", "m.c")
    assert step.microsteps == [(("m.a",), ("m.b",)), (("m.b",), ("m.c",))]


def test_raised_events_are_taken_depth_first() -> None:
    def raise_(name: str) -> dict[str, Any]:
        return {"type": "xstate.raise", "event": name}

    c = chart(
        {
            "id": "m",
            "initial": "a",
            "context": {},
            "states": {
                "a": {
                    "on": {
                        "GO": {"actions": [raise_("X"), raise_("Y")]},
                        "X": {"actions": ["seen", raise_("Z")]},
                        "Y": {"actions": "seen"},
                        "Z": {"actions": "seen"},
                    }
                }
            },
        }
    )
    step = E.send(c, E.start(c).state, {"type": "GO"}, registry=REG)
    assert [e["type"] for e in step.state.context["seen"]] == ["X", "Z", "Y"]


def test_completion_cancels_the_timers_still_armed() -> None:
    c = chart(
        {
            "id": "m",
            "initial": "a",
            "after": {"1000": ".a"},
            "states": {"a": {"on": {"END": "f"}}, "f": {"type": "final"}},
        }
    )
    s = E.start(c).state
    assert [(a.event, a.counter) for a in s.armed] == [("xstate.after.1000.m", 1)]
    step = E.send(c, s, {"type": "END"})
    assert step.state.done is True
    assert step.effects == [Effect("cancel", "xstate.after.1000.m", {"node": "m", "counter": 1})]
    assert step.state.armed == ()


def test_completion_after_a_raised_event_takes_nothing_more() -> None:
    def raise_(name: str) -> dict[str, Any]:
        return {"type": "xstate.raise", "event": name}

    c = chart(
        {
            "id": "m",
            "initial": "a",
            "states": {
                "a": {"on": {"GO": {"target": "b", "actions": raise_("X")}}},
                "b": {"on": {"X": {"target": "f", "actions": raise_("Y")}}},
                "f": {"type": "final", "exit": "bye"},
            },
            "on": {"Y": {"actions": "never"}},
        }
    )
    step = E.send(c, E.start(c).state, {"type": "GO"})
    assert step.state.done is True
    assert step.effects == [Effect("action", "bye", {})]


def counting() -> Chart:
    """A chain of 600 raised events, each its own microstep (no eventless state)."""
    return chart(
        {
            "id": "m",
            "initial": "a",
            "context": {"n": 0},
            "states": {
                "a": {
                    "on": {
                        "X": {
                            "cond": "below",
                            "actions": ["inc", {"type": "xstate.raise", "event": "X"}],
                        }
                    }
                }
            },
        },
        guards=["below"],
    )


COUNTING = Registry(
    guards={"below": lambda ctx, ev, p: ctx["n"] < 600},
    actions={"inc": lambda ctx, ev, p: {"n": ctx["n"] + 1}},
)


def test_a_chain_of_raised_events_counts_one_microstep_each() -> None:
    c = counting()
    step = E.send(c, E.start(c).state, {"type": "X"}, registry=COUNTING)
    assert step.state.context == {"n": 600}


# --- done events -----------------------------------------------------------------------------


def test_done_events_carry_the_final_states_data_as_v4_names_it() -> None:
    base = chart(
        {
            "id": "m",
            "initial": "a",
            "context": {"k": 4},
            "states": {
                "a": {
                    "initial": "a1",
                    "onDone": {"target": "b", "actions": "seen"},
                    "states": {
                        "a1": {"on": {"END": "f"}},
                        "f": {"type": "final", "data": {"k": 1}},
                    },
                },
                "b": {},
            },
            "on": {"done.state.m.a.f": {"actions": "seen"}},
        }
    )
    step = E.send(base, E.start(base).state, {"type": "END"}, registry=REG)
    assert step.state.configuration == ("m", "m.b")
    assert step.state.context["seen"] == [
        {"type": "done.state.m.a.f", "data": {"k": 1}},
        {"type": "done.state.m.a", "data": {"k": 1}},
    ]
    data = {"n": Ref(CONTEXT, {"path": "k"}), "v": Ref(EVENT, {"path": "v"})}
    c = with_node(base, "m.a.f", output=data)
    step = E.send(c, E.start(c).state, {"type": "END", "v": 8}, registry=REG)
    assert step.state.context["seen"][1] == {"type": "done.state.m.a", "data": {"n": 4, "v": 8}}


def test_a_parallel_state_is_done_when_every_region_is() -> None:
    config = {
        "id": "m",
        "initial": "p",
        "context": {},
        "states": {
            "p": {
                "type": "parallel",
                "onDone": {"target": "b", "actions": "seen"},
                "states": {
                    "x": {
                        "initial": "x1",
                        "states": {"x1": {"on": {"X": "x2"}}, "x2": {"type": "final"}},
                    },
                    "y": {
                        "initial": "y1",
                        "states": {"y1": {"on": {"Y": "y2"}}, "y2": {"type": "final"}},
                    },
                },
            },
            "b": {},
        },
    }
    c = chart(config)
    s = E.send(c, E.start(c).state, {"type": "X"}, registry=REG).state
    assert E.value(c, s) == {"p": {"x": "x2", "y": "y1"}}
    s = E.send(c, s, {"type": "Y"}, registry=REG).state
    assert s.configuration == ("m", "m.b")
    assert s.context["seen"] == [{"type": "done.state.m.p", "data": None}]


def test_an_atomic_region_is_never_in_a_final_state() -> None:
    c = chart(
        {
            "id": "m",
            "type": "parallel",
            "states": {
                "x": {
                    "initial": "x1",
                    "states": {"x1": {"on": {"X": "x2"}}, "x2": {"type": "final"}},
                },
                "w": {},
            },
        }
    )
    step = E.send(c, E.start(c).state, {"type": "X"})
    assert step.state.done is False
    assert E.value(c, step.state) == {"x": "x2", "w": {}}


# --- start ------------------------------------------------------------------------------------


def test_a_machine_starting_in_its_final_state_is_done_at_once() -> None:
    c = chart(
        {
            "id": "m",
            "initial": "f",
            "exit": "rootBye",
            "after": {"500": {"actions": "tick"}},
            "states": {"f": {"type": "final", "entry": "hi", "exit": "bye", "data": {"k": 1}}},
        }
    )
    step = E.start(c)
    assert step.state.done is True
    assert step.state.output == {"k": 1}
    # the root's timer armed on entry; the final state's exit actions, then the root's, as
    # the machine stops, and the root's timer cancelled
    assert step.effects == [
        Effect("arm", "xstate.after.500.m", {"delay_ms": 500, "node": "m", "counter": 1}),
        Effect("action", "hi", {}),
        Effect("action", "bye", {}),
        Effect("action", "rootBye", {}),
        Effect("cancel", "xstate.after.500.m", {"node": "m", "counter": 1}),
    ]
    assert step.state.armed == ()


def test_start_takes_the_done_events_of_the_final_states_it_enters() -> None:
    base = chart(
        {
            "id": "m",
            "initial": "p",
            "context": {"k": 2},
            "states": {
                "p": {
                    "type": "parallel",
                    "onDone": {"target": "b", "actions": "seen"},
                    "states": {
                        "x": {"initial": "xf", "states": {"xf": {"type": "final", "data": {}}}},
                        "y": {"initial": "yf", "states": {"yf": {"type": "final"}}},
                    },
                },
                "b": {},
            },
            "on": {"done.state.m.p.x": {"actions": "seen"}},
        }
    )
    c = with_node(base, "m.p.x.xf", output={"n": Ref(CONTEXT, {"path": "k"})})
    s = E.start(c, registry=REG).state
    assert s.configuration == ("m", "m.b")
    assert s.context["seen"] == [
        {"type": "done.state.m.p.x", "data": {"n": 2}},
        {"type": "done.state.m.p", "data": None},
    ]


def test_start_through_an_initial_history_state_with_a_deep_default() -> None:
    base = chart(
        {
            "id": "m",
            "initial": "a",
            "states": {
                "a": {
                    "initial": "a1",
                    "states": {
                        "a1": {},
                        "x": {"initial": "x0", "states": {"x0": {}, "x1": {}}},
                        "h": {"type": "history"},
                    },
                }
            },
        }
    )
    c = with_node(
        with_node(base, "m.a", initial=("m.a.h",)), "m.a.h", history_default=("m.a.x.x1",)
    )
    step = E.start(c)
    assert step.state.configuration == ("m", "m.a", "m.a.x", "m.a.x.x1")
    assert step.microsteps == [((), ("m", "m.a", "m.a.x", "m.a.x.x1"))]


def chain_at_start(n: int) -> Chart:
    """Entering ``a`` raises X; X raises X again until it was taken ``n`` times."""
    return chart(
        {
            "id": "m",
            "initial": "a",
            "context": {"n": 0, "limit": n},
            "states": {
                "a": {
                    "entry": {"type": "xstate.raise", "event": "X"},
                    "on": {
                        "X": {
                            "cond": "belowLimit",
                            "actions": ["inc", {"type": "xstate.raise", "event": "X"}],
                        }
                    },
                }
            },
        },
        guards=["belowLimit"],
    )


LIMITED = Registry(
    guards={"belowLimit": lambda ctx, ev, p: ctx["n"] < ctx["limit"]},
    actions={"inc": lambda ctx, ev, p: {"n": ctx["n"] + 1}},
)


def test_a_start_of_exactly_the_most_microsteps_is_allowed() -> None:
    # n transitions, then the X whose guard fails: n + 1 microsteps
    ok = E.start(chain_at_start(E.MAX_MICROSTEPS - 1), registry=LIMITED)
    assert ok.state.context["n"] == E.MAX_MICROSTEPS - 1
    with pytest.raises(ModelError) as e:
        E.start(chain_at_start(E.MAX_MICROSTEPS), registry=LIMITED)
    assert str(e.value).startswith(f"chart 'm': more than {E.MAX_MICROSTEPS} microsteps")


def test_entering_a_compound_whose_initial_is_a_history_state_uses_its_default() -> None:
    base = chart(
        {
            "id": "m",
            "initial": "b",
            "states": {
                "a": {
                    "initial": "a1",
                    "on": {"OUT": "#m.b"},
                    "states": {
                        "a1": {},
                        "a2": {"on": {"NEXT": "a3"}},
                        "a3": {},
                        "h": {"type": "history", "target": "a2"},
                    },
                },
                "b": {"on": {"GO": "a"}},
            },
        }
    )
    c = with_node(base, "m.a", initial=("m.a.h",))
    s = E.send(c, E.start(c).state, {"type": "GO"}).state
    assert s.configuration == ("m", "m.a", "m.a.a2")
    s = E.send(c, s, {"type": "NEXT"}).state
    s = E.send(c, s, {"type": "OUT"}).state
    assert s.history["m.a.h"] == ("m.a.a3",)
    s = E.send(c, s, {"type": "GO"}).state
    # the initial state value resolves the history state without its history value
    assert s.configuration == ("m", "m.a", "m.a.a2")


def test_completion_drops_the_raise_actions_of_the_exits_it_runs() -> None:
    from dialoghub.model.chart import RAISE

    base = chart(
        {"id": "m", "initial": "a", "states": {"a": {"on": {"END": "f"}}, "f": {"type": "final"}}}
    )
    # a raise whose event is no event: run, it would be refused
    c = with_node(base, "m.f", exit=(Ref(RAISE, {"event": 3}), Ref("bye")))
    step = E.send(c, E.start(c).state, {"type": "END"})
    assert step.state.done is True
    assert step.effects == [Effect("action", "bye", {})]


def test_missing_regions_are_added_in_v4s_configuration_order() -> None:
    c = chart(
        {
            "id": "m",
            "initial": "b",
            "states": {
                "b": {"on": {"GO": "#m.p.x.x2"}},
                "p": {
                    "type": "parallel",
                    "states": {
                        "x": {"initial": "x1", "states": {"x1": {}, "x2": {}}},
                        "y": {"initial": "y1", "states": {"y1": {}}},
                        "z": {"initial": "z1", "states": {"z1": {}}},
                    },
                },
            },
        }
    )
    s = E.send(c, E.start(c).state, {"type": "GO"}).state
    # getConfiguration's Set: the target, its ancestors, then each missing region followed
    # at once by its initial state
    assert s.order == ("m.p.x.x2", "m.p.x", "m.p", "m", "m.p.y", "m.p.y.y1", "m.p.z", "m.p.z.z1")


def test_start_through_the_roots_initial_history_state() -> None:
    base = chart(
        {
            "id": "m",
            "initial": "a",
            "states": {
                "a": {},
                "b": {"initial": "b1", "states": {"b1": {}}},
                "h": {"type": "history", "target": "b"},
            },
        }
    )
    c = with_node(base, "m", initial=("m.h",))
    step = E.start(c)
    assert step.state.configuration == ("m", "m.b", "m.b.b1")


def test_start_computes_final_data_from_the_init_event_and_cancels_the_roots_timers() -> None:
    base = chart(
        {
            "id": "m",
            "initial": "a",
            "after": {"500": ".a"},
            "context": {},
            "states": {
                "a": {
                    "initial": "af",
                    "states": {"af": {"type": "final"}},
                    "onDone": {"target": "f", "actions": "seen"},
                },
                "f": {"type": "final"},
            },
        }
    )
    seen_type = {"e": Ref(EVENT, {"path": "type"})}
    c = with_node(with_node(base, "m.a.af", output=seen_type), "m.f", output=seen_type)
    step = E.start(c, registry=REG)
    assert step.state.done is True
    # the root's timer is armed on entry and cancelled as the machine stops
    assert [(e.kind, e.name) for e in step.effects] == [
        ("arm", "xstate.after.500.m"),
        ("cancel", "xstate.after.500.m"),
    ]
    assert step.state.armed == ()
    # f is entered by a.onDone, whose event is a's done event (v4's name)
    assert step.state.output == {"e": "done.state.m.a"}
    # a's done event carries af's data, computed from the event that entered af: the init
    assert step.state.context == {
        "seen": [{"type": "done.state.m.a", "data": {"e": "xstate.init"}}]
    }


def test_start_in_a_final_state_sees_the_init_event() -> None:
    base = chart({"id": "m", "initial": "f", "states": {"f": {"type": "final"}}})
    c = with_node(base, "m.f", output={"e": Ref(EVENT, {"path": "type"})})
    assert E.start(c).state.output == {"e": "xstate.init"}


def test_a_region_restored_in_v4s_configuration_order() -> None:
    xyz = {
        "id": "m",
        "initial": "p",
        "states": {
            "p": {
                "type": "parallel",
                "states": {
                    "x": {"initial": "x1", "states": {"x1": {"on": {"X": "#m.p.x.x2"}}, "x2": {}}},
                    "y": {"initial": "y1", "states": {"y1": {"on": {"Y": "y2"}}, "y2": {}}},
                    "z": {"initial": "z1", "states": {"z1": {"on": {"Z": "z2"}}, "z2": {}}},
                },
            }
        },
    }
    c = chart(xyz)
    s = E.start(c).state
    for e in ("Y", "Z", "X"):
        s = E.send(c, s, {"type": e}).state
    assert E.value(c, s) == {"p": {"x": "x2", "y": "y2", "z": "z2"}}
    # the target, its ancestors, then each region it leaves followed at once by its state
    assert s.order == ("m.p.x.x2", "m.p.x", "m.p", "m", "m.p.y", "m.p.y.y2", "m.p.z", "m.p.z.z2")
