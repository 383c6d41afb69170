"""The statechart interpreter (dialoghub.engine.chart) on hand-built charts.

Each test builds a :class:`~dialoghub.model.chart.Chart` with :func:`build` (a few lines turning
an XState-like dict into ``Chart``/``Node``/``Transition`` objects: targets are full node ids,
``#`` optional) and checks the configuration, context and effects after each event against what
XState documents and does (xstate 5.33 ``stateUtils.ts``, xstate 4.38 ``StateNode.ts``). A
hypothesis property checks that every configuration reached is consistent.
"""

from __future__ import annotations

import timeit
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dialoghub.engine import chart as E
from dialoghub.engine.chart import ChartState, Effect, Registry
from dialoghub.errors import InvalidInput, ModelError, SessionClosed, UnexpectedInput
from dialoghub.model.chart import (
    AFTER_PREFIX,
    DONE_INVOKE_PREFIX,
    DONE_STATE_PREFIX,
    ERROR_PREFIX,
    Chart,
    Delayed,
    Invoke,
    Node,
    Ref,
    Transition,
)

# --- building charts ------------------------------------------------------------------------


def _list(x: Any) -> list[Any]:
    if x is None:
        return []
    return list(x) if isinstance(x, list) else [x]


def _ref(a: Any) -> Ref:
    if isinstance(a, Ref):
        return a
    return Ref(a)


def build(spec: dict[str, Any], dialect: str = "v5", **chart: Any) -> Chart:
    """A chart from an XState-like dict: ``states``, ``initial``, ``type``, ``on`` (event ->
    target id, ``{"target", "guard", "actions", "reenter"}`` or a list), ``always``, ``after``
    ({ms: transition}), ``onDone``, ``invoke`` ([{"id", "src", "input", "onDone",
    "onError"}]), ``entry``, ``exit``, ``history``/``target`` (history states), ``output``.
    Node ids are the dotted paths from the root ``id`` (default ``m``)."""
    nodes: dict[str, Node] = {}
    root = spec.get("id", "m")

    def transitions(src: str, event: str | None, conf: Any) -> list[Transition]:
        out = []
        for c in _list(conf) if conf is not None else [None]:
            if c is None or isinstance(c, str):
                c = {"target": c}
            targets = tuple(t.lstrip("#") for t in _list(c.get("target")))
            guard = c.get("guard")
            out.append(Transition(
                source=src, event=event, targets=targets,
                guard=_ref(guard) if guard is not None else None,
                actions=tuple(_ref(a) for a in _list(c.get("actions"))),
                reenter=bool(c.get("reenter", False)),
            ))  # fmt: skip
        return out

    def visit(cfg: dict[str, Any], node_id: str, parent: str | None, key: str) -> None:
        kind = cfg.get("type") or ("compound" if cfg.get("states") else "atomic")
        children = []
        for k, child in (cfg.get("states") or {}).items():
            children.append(f"{node_id}.{k}")
            visit(child, f"{node_id}.{k}", node_id, k)
        ts: list[Transition] = []
        for ev, conf in (cfg.get("on") or {}).items():
            ts += transitions(node_id, ev, conf)
        if "always" in cfg:
            ts += transitions(node_id, None, cfg["always"])
        if "onDone" in cfg:
            ts += transitions(node_id, DONE_STATE_PREFIX + node_id, cfg["onDone"])
        invokes = []
        for inv in _list(cfg.get("invoke")):
            invokes.append(Invoke(id=inv["id"], src=inv["src"], input=inv.get("input")))
            if "onDone" in inv:
                ts += transitions(node_id, DONE_INVOKE_PREFIX + inv["id"], inv["onDone"])
            if "onError" in inv:
                ts += transitions(node_id, ERROR_PREFIX + inv["id"], inv["onError"])
        after = []
        for ms, conf in (cfg.get("after") or {}).items():
            event = f"{AFTER_PREFIX}{ms}.{node_id}"
            after.append(Delayed(delay_ms=int(ms), event=event))
            ts += transitions(node_id, event, conf)
        nodes[node_id] = Node(
            id=node_id, key=key, kind=kind, parent=parent, children=tuple(children),
            initial=(f"{node_id}.{cfg['initial']}",) if "initial" in cfg else (),
            transitions=tuple(ts), entry=tuple(_ref(a) for a in _list(cfg.get("entry"))),
            exit=tuple(_ref(a) for a in _list(cfg.get("exit"))), after=tuple(after),
            invoke=tuple(invokes), history=cfg.get("history") if kind == "history" else None,
            history_default=tuple(t.lstrip("#") for t in _list(cfg.get("target"))),
            output=cfg.get("output"), tags=tuple(cfg.get("tags", ())),
        )  # fmt: skip

    visit(spec, root, None, "")
    return Chart(
        id=root,
        root=root,
        nodes=nodes,
        dialect=dialect,  # type: ignore[arg-type]
        context=dict(spec.get("context", {})),
        **chart,
    )


def run(chart: Chart, *events: str | dict[str, Any], registry: Registry | None = None) -> E.Step:
    """Start ``chart`` and send ``events``; the last step."""
    step = E.start(chart, registry=registry)
    for ev in events:
        step = E.send(
            chart, step.state, {"type": ev} if isinstance(ev, str) else ev, registry=registry
        )
    return step


def names(step: E.Step, kind: str = "action") -> list[str]:
    return [e.name for e in step.effects if e.kind == kind]


def assign(**values: Any) -> Ref:
    return Ref("xstate.assign", {"assignments": values})


def ctx(path: str) -> Ref:
    return Ref("xstate.context", {"path": path})


BOTH = pytest.mark.parametrize("dialect", ["v5", "v4"])

# --- flat machines ------------------------------------------------------------------------------

TOGGLE = {"initial": "off", "states": {"off": {"on": {"T": "m.on"}}, "on": {"on": {"T": "m.off"}}}}


@BOTH
def test_flat_toggle_and_unhandled_events(dialect: str) -> None:
    chart = build(TOGGLE, dialect)
    step = E.start(chart)
    assert step.state.configuration == ("m", "m.off") and step.handled
    assert step.microsteps == [((), ("m", "m.off"))]
    step = E.send(chart, step.state, {"type": "T"})
    assert step.state.configuration == ("m", "m.on") and step.handled
    assert step.microsteps == [(("m.off",), ("m.on",))]
    assert E.value(chart, step.state) == "on"
    same = E.send(chart, step.state, {"type": "NOPE"})
    assert not same.handled and same.state == step.state and same.effects == []


def test_strict_chart_refuses_what_no_state_takes() -> None:
    chart = build(TOGGLE, strict=True)
    state = E.start(chart).state
    with pytest.raises(UnexpectedInput):
        E.send(chart, state, {"type": "NOPE"})
    assert E.send(chart, state, {"type": "T"}).handled


def test_v4_strict_refuses_only_events_the_machine_never_names() -> None:
    """XState v4 ``strict``: an event no transition of the machine names is refused (v4
    StateNode.transition, "does not accept event"); one a state not active names is ignored;
    done./error. events are built in."""
    chart = build(
        {"initial": "a", "states": {"a": {"on": {"GO": "m.b"}}, "b": {"on": {"BACK": "m.a"}}}},
        "v4",
        v4_strict=True,
    )
    state = E.start(chart).state
    with pytest.raises(UnexpectedInput, match="Machine 'm' does not accept event 'NOPE'"):
        E.send(chart, state, {"type": "NOPE"})
    assert not E.send(chart, state, {"type": "BACK"}).handled  # b's: ignored, not refused
    assert not E.send(chart, state, {"type": "done.invoke.x"}).handled
    assert E.send(chart, state, {"type": "GO"}).handled


@BOTH
def test_final_root_child_is_done_and_refuses_more(dialect: str) -> None:
    chart = build(
        {
            "initial": "a",
            "states": {
                "a": {"on": {"GO": "m.end"}},
                "end": {"type": "final", "output": {"ok": True}},
            },
            "output": {"result": 1} if dialect == "v5" else None,
        },
        dialect,
    )
    step = run(chart, "GO")
    assert step.state.done
    # v5: the root's output; v4: the final state's data
    assert step.state.output == ({"result": 1} if dialect == "v5" else {"ok": True})
    with pytest.raises(SessionClosed):
        E.send(chart, step.state, {"type": "GO"})


def test_event_needs_a_type() -> None:
    chart = build(TOGGLE)
    state = E.start(chart).state
    for bad in ({}, {"type": ""}, {"type": 3}):
        with pytest.raises(InvalidInput):
            E.send(chart, state, bad)


# --- hierarchy ----------------------------------------------------------------------------------

NESTED = {
    "initial": "p",
    "on": {"E": "m.q", "R": "m.p"},
    "states": {
        "p": {
            "initial": "a",
            "on": {"E": "m.p.b"},
            "states": {
                "a": {"on": {"E": "m.p.c"}},
                "b": {},
                "c": {},
            },
        },
        "q": {},
    },
}


@BOTH
def test_nested_entry_and_the_deepest_transition_wins(dialect: str) -> None:
    chart = build(NESTED, dialect)
    step = E.start(chart)
    assert step.state.configuration == ("m", "m.p", "m.p.a")
    assert E.value(chart, step.state) == {"p": "a"}
    step = E.send(chart, step.state, {"type": "E"})  # a's own E preempts p's and the root's
    assert step.state.configuration == ("m", "m.p", "m.p.c")
    step = E.send(chart, step.state, {"type": "E"})  # c has none: p's E
    assert step.state.configuration == ("m", "m.p", "m.p.b")
    step = E.send(chart, step.state, {"type": "R"})  # the root's R: into p, its initial
    assert step.state.configuration == ("m", "m.p", "m.p.a")
    assert E.matches(chart, step.state, "p") and E.matches(chart, step.state, {"p": "a"})
    assert E.matches(chart, step.state, "p.a") and E.matches(chart, step.state, "#m.p.a")
    assert not E.matches(chart, step.state, {"p": "b"}) and not E.matches(chart, step.state, "q")


def test_action_order_exit_transition_entry() -> None:
    chart = build(
        {
            "initial": "p",
            "states": {
                "p": {
                    "initial": "a",
                    "exit": "x_p",
                    "entry": "n_p",
                    "states": {
                        "a": {
                            "exit": "x_a",
                            "entry": "n_a",
                            "on": {"GO": {"target": "m.q.b", "actions": ["t1", "t2"]}},
                        },
                    },
                },
                "q": {
                    "initial": "a",
                    "entry": "n_q",
                    "exit": "x_q",
                    "states": {"a": {"entry": "n_qa"}, "b": {"entry": "n_qb"}},
                },
            },
        }
    )
    start = E.start(chart)
    assert names(start) == ["n_p", "n_a"]
    step = E.send(chart, start.state, {"type": "GO"})
    # exit deepest first, the transition's actions in order, entry outermost first
    assert names(step) == ["x_a", "x_p", "t1", "t2", "n_q", "n_qb"]
    assert step.state.configuration == ("m", "m.q", "m.q.b")


@pytest.mark.parametrize(("dialect", "reenter", "expected"), [
    ("v5", False, ["t"]),  # v5: a self-transition without reenter exits nothing
    ("v5", True, ["x_a", "t", "n_a"]),
    ("v4", False, ["t"]),  # v4 `internal: true`
    ("v4", True, ["x_a", "t", "n_a"]),  # v4's default (external)
])  # fmt: skip
def test_self_transition_reenters_only_when_told(
    dialect: str, reenter: bool, expected: list[str]
) -> None:
    chart = build(
        {
            "initial": "a",
            "states": {
                "a": {
                    "entry": "n_a",
                    "exit": "x_a",
                    "on": {"SELF": {"target": "m.a", "actions": "t", "reenter": reenter}},
                }
            },
        },
        dialect,
    )
    assert names(run(chart, "SELF")) == expected


def test_child_target_without_reenter_keeps_the_source_v5() -> None:
    chart = build(
        {
            "initial": "p",
            "states": {
                "p": {
                    "initial": "a",
                    "entry": "n_p",
                    "exit": "x_p",
                    "on": {"B": "m.p.b", "BR": {"target": "m.p.b", "reenter": True}},
                    "states": {"a": {}, "b": {}},
                }
            },
        }
    )
    step = run(chart, "B")
    assert names(step) == [] and step.state.configuration == ("m", "m.p", "m.p.b")
    step = run(chart, "BR")
    assert names(step) == ["x_p", "n_p"]


def test_targetless_transition_runs_actions_only() -> None:
    chart = build(
        {
            "initial": "a",
            "context": {"n": 0},
            "states": {"a": {"entry": "n_a", "on": {"INC": {"actions": [assign(n=1), "note"]}}}},
        }
    )
    step = run(chart, "INC")
    assert step.state.context == {"n": 1} and names(step) == ["note"]
    assert step.microsteps == [((), ())] and step.handled


# --- parallel states ----------------------------------------------------------------------------

PARALLEL = {
    "type": "parallel",
    "states": {
        "x": {
            "initial": "x1",
            "states": {
                "x1": {"exit": "x_x1", "on": {"E": {"target": "m.x.x2", "actions": "tx"}}},
                "x2": {"entry": "n_x2"},
            },
        },
        "y": {
            "initial": "y1",
            "states": {
                "y1": {"exit": "x_y1", "on": {"E": {"target": "m.y.y2", "actions": "ty"}}},
                "y2": {"entry": "n_y2", "on": {"OUT": "m.y.y1"}},
            },
        },
    },
}


@BOTH
def test_parallel_regions_all_entered_and_all_take_an_event(dialect: str) -> None:
    chart = build(PARALLEL, dialect)
    step = E.start(chart)
    assert step.state.configuration == ("m", "m.x", "m.x.x1", "m.y", "m.y.y1")
    assert E.value(chart, step.state) == {"x": "x1", "y": "y1"}
    step = E.send(chart, step.state, {"type": "E"})
    assert E.value(chart, step.state) == {"x": "x2", "y": "y2"}
    # one microstep: both exits (reverse document order), both transitions, both entries
    assert names(step) == ["x_y1", "x_x1", "tx", "ty", "n_x2", "n_y2"]


def test_conflicting_region_transitions_first_in_document_order_wins() -> None:
    chart = build(
        {
            "initial": "p",
            "states": {
                "p": {
                    "type": "parallel",
                    "states": {
                        "x": {"on": {"E": {"target": "m.a", "actions": "from_x"}}},
                        "y": {"on": {"E": {"target": "m.b", "actions": "from_y"}}},
                    },
                },
                "a": {},
                "b": {},
            },
        }
    )
    step = run(chart, "E")
    assert step.state.configuration == ("m", "m.a") and names(step) == ["from_x"]


def test_parallel_own_transition_only_when_no_region_has_one() -> None:
    chart = build(
        {
            "type": "parallel",
            "states": {"x": {"on": {"E": {"actions": "from_x"}}}, "y": {}},
            "on": {"E": {"actions": "from_root"}, "F": {"actions": "root_f"}},
        }
    )
    assert names(run(chart, "E")) == ["from_x"]  # XState transitionParallelNode
    assert names(run(chart, "F")) == ["root_f"]


def test_v5_cross_region_transition_resets_the_other_region_v4_keeps_it() -> None:
    spec = {
        "type": "parallel",
        "states": {
            "A": {
                "initial": "a0",
                "states": {"a0": {"on": {"X": "m.A.a1"}}, "a1": {"on": {"GO": "m.B.b2"}}},
            },
            "B": {"initial": "b1", "states": {"b1": {}, "b2": {}}},
        },
    }
    v5 = build(spec, "v5")
    assert E.value(v5, run(v5, "X", "GO").state) == {
        "A": "a0",
        "B": "b2",
    }  # LCA domain: the parallel
    v4 = build(spec, "v4")
    v4_spec_external = run(v4, "X", "GO").state
    assert E.value(v4, v4_spec_external) == {"A": "a1", "B": "b2"}  # getConfiguration keeps a1
    assert v4_spec_external.order[0] == "m.B.b2"  # and lists B first, as v4's value does


# --- history ------------------------------------------------------------------------------------

HISTORY = {
    "initial": "p",
    "states": {
        "p": {
            "initial": "a",
            "on": {"OUT": "m.out"},
            "states": {
                "a": {"on": {"N": "m.p.b"}},
                "b": {"initial": "b1", "states": {"b1": {"on": {"N": "m.p.b.b2"}}, "b2": {}}},
                "hs": {"type": "history", "history": "shallow"},
                "hd": {"type": "history", "history": "deep"},
            },
        },
        "out": {"on": {"S": "m.p.hs", "D": "m.p.hd"}},
    },
}


@BOTH
def test_shallow_and_deep_history(dialect: str) -> None:
    chart = build(HISTORY, dialect)
    step = run(chart, "N", "N", "OUT")  # p.b.b2, then out
    assert step.state.configuration == ("m", "m.out")
    assert step.state.history["m.p.hs"] == ("m.p.b",)
    assert step.state.history["m.p.hd"] == ("m.p.b.b2",)
    shallow = E.send(chart, step.state, {"type": "S"}).state
    assert shallow.configuration == ("m", "m.p", "m.p.b", "m.p.b.b1")  # b, at its initial
    deep = E.send(chart, step.state, {"type": "D"}).state
    assert deep.configuration == ("m", "m.p", "m.p.b", "m.p.b.b2")


def test_history_default_target_then_parent_initial() -> None:
    spec = {
        "initial": "out",
        "states": {
            "out": {"on": {"H": "m.p.h", "G": "m.p.g"}},
            "p": {
                "initial": "a",
                "states": {
                    "a": {},
                    "b": {},
                    "h": {"type": "history", "target": "m.p.b"},
                    "g": {"type": "history"},
                },
            },
        },
    }
    chart = build(spec)
    assert run(chart, "H").state.configuration == ("m", "m.p", "m.p.b")
    assert run(chart, "G").state.configuration == ("m", "m.p", "m.p.a")


def test_v4_history_default_only_before_the_first_transition() -> None:
    # xstate 4.38 resolveHistory: once the state has a history value (after its first
    # transition), an unvisited parent restores its initial state, not the history's target
    spec = {
        "initial": "a",
        "states": {
            "a": {"on": {"E": "m.b", "BACK": "m.p.hist"}},
            "b": {"on": {"BACK": "m.p.hist"}},
            "p": {
                "initial": "p1",
                "states": {"p1": {}, "p2": {}, "hist": {"type": "history", "target": "m.p.p2"}},
            },
        },
    }
    for dialect, expected in (("v5", "p2"), ("v4", "p1")):
        chart = build(spec, dialect)
        assert E.value(chart, run(chart, "BACK").state) == {"p": "p2"}
        assert E.value(chart, run(chart, "E", "BACK").state) == {"p": expected}


# --- final states and done events -----------------------------------------------------------------


@BOTH
def test_compound_final_raises_done_before_the_next_external_event(dialect: str) -> None:
    chart = build(
        {
            "initial": "job",
            "states": {
                "job": {
                    "initial": "work",
                    "onDone": {"target": "m.after", "actions": "finished"},
                    "states": {
                        "work": {"on": {"FIN": "m.job.end"}},
                        "end": {"type": "final", "output": {"k": 1}},
                    },
                },
                "after": {"on": {"FIN": {"actions": "late"}}},
            },
        },
        dialect,
    )
    step = run(chart, "FIN")
    assert step.state.configuration == ("m", "m.after")
    assert names(step) == ["finished"]  # onDone taken within the same macrostep
    assert len(step.microsteps) == 2 and not step.state.done


def test_done_event_carries_output_v5_data_v4() -> None:
    reg = Registry(actions={"keep": lambda c, e, p: {"got": e.get("output", e.get("data"))}})
    for dialect in ("v5", "v4"):
        chart = build(
            {
                "initial": "job",
                "context": {},
                "states": {
                    "job": {
                        "initial": "end",
                        "onDone": {"actions": "keep"},
                        "states": {"end": {"type": "final", "output": {"k": 1}}},
                    }
                },
            },
            dialect,
        )
        assert E.start(chart, registry=reg).state.context == {"got": {"k": 1}}


@BOTH
def test_parallel_done_when_every_region_is_final(dialect: str) -> None:
    chart = build(
        {
            "initial": "p",
            "states": {
                "p": {
                    "type": "parallel",
                    "onDone": "m.ok",
                    "states": {
                        "x": {
                            "initial": "x1",
                            "states": {"x1": {"on": {"X": "m.p.x.f"}}, "f": {"type": "final"}},
                        },
                        "y": {
                            "initial": "y1",
                            "states": {"y1": {"on": {"Y": "m.p.y.f"}}, "f": {"type": "final"}},
                        },
                    },
                },
                "ok": {"type": "final"},
            },
        },
        dialect,
    )
    half = run(chart, "X")
    assert not half.state.done and "m.p.x.f" in half.state.configuration
    step = E.send(chart, half.state, {"type": "Y"})
    assert step.state.done and step.state.configuration == ("m", "m.ok")


def test_exit_actions_run_when_the_machine_completes() -> None:
    # v5 microstep: on completion every active state's exit actions, reverse document order
    chart = build(
        {
            "initial": "a",
            "exit": "x_root",
            "states": {"a": {"on": {"GO": "m.end"}}, "end": {"type": "final", "exit": "x_end"}},
        }
    )
    assert names(run(chart, "GO")) == ["x_end", "x_root"]


# --- eventless transitions and raised events ---------------------------------------------------------


@BOTH
def test_eventless_transitions_to_a_fixpoint(dialect: str) -> None:
    reg = Registry(
        guards={"low": lambda c, e, p: c["n"] < 3},
        actions={"inc": lambda c, e, p: {"n": c["n"] + 1}},
    )
    chart = build(
        {
            "initial": "a",
            "context": {"n": 0},
            "states": {
                "a": {"on": {"GO": "m.loop"}},
                "loop": {
                    "always": [
                        {"target": "m.loop", "guard": "low", "actions": "inc", "reenter": True},
                        {"target": "m.done"},
                    ]
                },
                "done": {},
            },
        },
        dialect,
    )
    step = run(chart, "GO", registry=reg)
    assert step.state.context == {"n": 3} and step.state.configuration == ("m", "m.done")


def test_eventless_cycle_is_refused() -> None:
    chart = build({"initial": "a", "states": {"a": {"always": "m.b"}, "b": {"always": "m.a"}}})
    with pytest.raises(ModelError, match="microsteps"):
        E.start(chart)
    v4 = build({"initial": "a", "states": {"a": {"always": "m.b"}, "b": {"always": "m.a"}}}, "v4")
    with pytest.raises(ModelError, match="microsteps"):
        E.start(v4)


def test_raised_events_after_eventless_transitions_before_the_next_external() -> None:
    chart = build(
        {
            "initial": "a",
            "states": {
                "a": {
                    "on": {
                        "GO": {
                            "target": "m.b",
                            "actions": Ref("xstate.raise", {"event": {"type": "NEXT"}}),
                        }
                    }
                },
                "b": {
                    "always": {"target": "m.c", "actions": "eventless"},
                    "on": {"NEXT": {"actions": "from_b"}},
                },
                "c": {"on": {"NEXT": {"target": "m.d", "actions": "from_c"}}},
                "d": {},
            },
        }
    )
    step = run(chart, "GO")
    # the eventless transition b -> c is taken before the raised NEXT, which c then takes
    assert names(step) == ["eventless", "from_c"] and step.state.configuration == ("m", "m.d")


# --- event descriptors ----------------------------------------------------------------------------


def test_wildcards_exact_first_then_longest_prefix() -> None:
    chart = build(
        {
            "initial": "a",
            "states": {
                "a": {
                    "on": {
                        "*": {"actions": "star"},
                        "a.*": {"actions": "a_any"},
                        "a.b.*": {"actions": "ab_any"},
                        "a.b.c": {"actions": "exact"},
                    }
                }
            },
        }
    )
    state = E.start(chart).state
    take = lambda t: names(E.send(chart, state, {"type": t}))  # noqa: E731
    assert take("a.b.c") == ["exact"]
    assert take("a.b.d") == ["ab_any"]
    assert take("a.b") == ["ab_any"]  # "a.b.*" matches "a.b" itself (matchesEventDescriptor)
    assert take("a.x") == ["a_any"] and take("a") == ["a_any"]
    assert take("zzz") == ["star"]
    assert take("ab") == ["star"]  # tokens, not characters
    assert take("*") == ["star"]  # an event may be called "*" (production XState takes it)


def test_v4_knows_only_the_star_wildcard() -> None:
    chart = build(
        {
            "initial": "a",
            "states": {"a": {"on": {"a.*": {"actions": "lit"}, "*": {"actions": "star"}}}},
        },
        "v4",
    )
    state = E.start(chart).state
    assert names(E.send(chart, state, {"type": "a.b"})) == ["star"]
    assert names(E.send(chart, state, {"type": "a.*"})) == ["lit"]  # a literal event name


# --- guards ---------------------------------------------------------------------------------------


def test_guards_registered_builtin_and_combined() -> None:
    reg = Registry(guards={"big": lambda c, e, p: e.get("n", 0) > p.get("over", 10)})
    chart = build(
        {
            "type": "parallel",
            "context": {"k": 2},
            "states": {
                "s": {"initial": "idle", "states": {"idle": {}, "busy": {}}},
                "t": {
                    "initial": "t1",
                    "states": {
                        "t1": {
                            "on": {
                                "E": [
                                    {"target": "m.t.big", "guard": Ref("big", {"over": 5})},
                                    {
                                        "target": "m.t.inidle",
                                        "guard": Ref(
                                            "xstate.and",
                                            {
                                                "guards": [
                                                    Ref("xstate.stateIn", {"state": "#m.s.idle"}),
                                                    Ref(
                                                        "xstate.not",
                                                        {
                                                            "guards": [
                                                                Ref(
                                                                    "xstate.stateIn",
                                                                    {"state": {"s": "busy"}},
                                                                )
                                                            ]
                                                        },
                                                    ),
                                                ]
                                            },
                                        ),
                                    },
                                ],
                                "C": [
                                    {
                                        "target": "m.t.cond",
                                        "guard": Ref(
                                            "xstate.condition",
                                            {"expr": "k > 1 and event.ok == true"},
                                        ),
                                    }
                                ],
                            }
                        },
                        "big": {},
                        "inidle": {},
                        "cond": {},
                    },
                },
            },
        }
    )
    state = E.start(chart, registry=reg).state
    assert (
        E.value(chart, E.send(chart, state, {"type": "E", "n": 9}, registry=reg).state)["t"]
        == "big"
    )
    assert (
        E.value(chart, E.send(chart, state, {"type": "E", "n": 1}, registry=reg).state)["t"]
        == "inidle"
    )
    assert E.send(chart, state, {"type": "C", "ok": True}).state.configuration[-1] == "m.t.cond"
    assert not E.send(chart, state, {"type": "C", "ok": False}).handled


def test_unregistered_guard_is_invalid_input() -> None:
    chart = build(
        {"initial": "a", "states": {"a": {"on": {"E": {"target": "m.a", "guard": "nope"}}}}}
    )
    state = E.start(chart).state
    with pytest.raises(InvalidInput, match="nope"):
        E.send(chart, state, {"type": "E"})


# --- actions and context ----------------------------------------------------------------------------


def test_assign_in_order_and_registered_and_unregistered_actions() -> None:
    reg = Registry(
        actions={"double": lambda c, e, p: {"n": c["n"] * 2}},
        expressions={"plus": lambda c, e, p: c["n"] + e.get("by", 0)},
    )
    chart = build(
        {
            "initial": "a",
            "context": {"n": 1},
            "states": {
                "a": {
                    "on": {
                        "GO": {
                            "actions": [
                                assign(n=Ref("plus")),
                                "double",
                                Ref("notify", {"to": "ops"}),
                                Ref("xstate.log", {"label": "n is", "value": ctx("n")}),
                            ]
                        }
                    }
                }
            },
        }
    )
    step = run(chart, {"type": "GO", "by": 2}, registry=reg)
    assert step.state.context == {"n": 6}  # (1 + 2) * 2: each action sees the one before
    assert step.effects == [
        Effect("action", "notify", {"to": "ops"}),
        Effect("log", "n is", {"value": 6}),
    ]


def test_start_context_overrides_the_chart_context() -> None:
    chart = build({"initial": "a", "context": {"n": 1, "k": 0}, "states": {"a": {}}})
    assert E.start(chart, context={"n": 5}).state.context == {"n": 5, "k": 0}


def test_v4_without_predictable_action_arguments_assigns_first() -> None:
    spec = {
        "initial": "a",
        "context": {"n": 0},
        "states": {
            "a": {
                "exit": Ref("xstate.log", {"value": ctx("n")}),
                "on": {"GO": {"target": "m.b", "actions": assign(n=7)}},
            },
            "b": {},
        },
    }
    logged = lambda chart: [e.params["value"] for e in run(chart, "GO").effects if e.kind == "log"]  # noqa: E731
    assert logged(build(spec, "v4", predictable=True)) == [0]
    assert logged(build(spec, "v4", predictable=False)) == [7]  # every assign before the rest
    assert logged(build(spec, "v5")) == [0]


def test_raise_action_needs_an_event() -> None:
    chart = build(
        {"initial": "a", "states": {"a": {"on": {"GO": {"actions": Ref("xstate.raise", {})}}}}}
    )
    with pytest.raises(InvalidInput):
        run(chart, "GO")


# --- delayed transitions ----------------------------------------------------------------------------

AFTER = {
    "initial": "wait",
    "states": {
        "wait": {
            "after": {"1000": "m.late"},
            "on": {"POKE": {"target": "m.wait", "reenter": True}, "LEAVE": "m.other"},
        },
        "late": {},
        "other": {"on": {"BACK": "m.wait"}},
    },
}
DUE = f"{AFTER_PREFIX}1000.m.wait"


def test_after_arms_on_entry_and_fires_as_an_event() -> None:
    chart = build(AFTER)
    start = E.start(chart)
    assert start.effects == [Effect("arm", DUE, {"delay_ms": 1000, "node": "m.wait", "counter": 1})]
    assert [(a.event, a.counter) for a in start.state.armed] == [(DUE, 1)]
    step = E.send(chart, start.state, {"type": DUE, "counter": 1})
    assert step.handled and step.state.configuration == ("m", "m.late") and step.state.armed == ()
    # without a counter it is an event sent by hand, taken like any other: the timer still
    # runs until the state's exit cancels it
    by_hand = E.send(chart, start.state, {"type": DUE})
    assert by_hand.state.configuration == ("m", "m.late")
    assert by_hand.effects == [Effect("cancel", DUE, {"node": "m.wait", "counter": 1})]


def test_after_cancelled_on_exit_and_stale_timers_ignored() -> None:
    chart = build(AFTER)
    start = E.start(chart)
    left = E.send(chart, start.state, {"type": "LEAVE"})
    assert left.effects == [Effect("cancel", DUE, {"node": "m.wait", "counter": 1})]
    assert left.state.armed == ()
    stale = E.send(chart, left.state, {"type": DUE, "counter": 1})
    assert not stale.handled and stale.state == left.state
    back = E.send(chart, left.state, {"type": "BACK"})
    assert [a.counter for a in back.state.armed] == [2]
    assert not E.send(chart, back.state, {"type": DUE, "counter": 1}).handled  # the old arming
    fired = E.send(chart, back.state, {"type": DUE, "counter": 2})
    assert fired.state.configuration == ("m", "m.late")
    twice = E.send(chart, fired.state, {"type": DUE, "counter": 2})
    assert not twice.handled  # delivered twice: taken once


def test_reentering_rearms_with_a_new_counter() -> None:
    chart = build(AFTER)
    step = run(chart, "POKE")
    assert [e.kind for e in step.effects] == ["cancel", "arm"]
    assert [a.counter for a in step.state.armed] == [2]


# --- invoked services ---------------------------------------------------------------------------------

INVOKE = {
    "initial": "idle",
    "context": {"user": "ann"},
    "states": {
        "idle": {"on": {"LOAD": "m.loading"}},
        "loading": {
            "invoke": [
                {
                    "id": "fetch",
                    "src": "fetchUser",
                    "input": {"name": ctx("user")},
                    "onDone": {
                        "target": "m.ready",
                        "actions": assign(data=Ref("xstate.event", {"path": "output"})),
                    },
                    "onError": "m.failed",
                }
            ],
            "on": {"CANCEL": "m.idle"},
        },
        "ready": {},
        "failed": {},
    },
}


def test_invoke_start_answer_and_stop() -> None:
    chart = build(INVOKE)
    step = run(chart, "LOAD")
    assert step.effects == [
        Effect("invoke", "fetchUser", {"id": "fetch", "input": {"name": "ann"}})
    ]
    assert step.state.invoked == ("fetch",)
    done = E.send(chart, step.state, {"type": DONE_INVOKE_PREFIX + "fetch", "output": {"age": 3}})
    assert done.state.configuration == ("m", "m.ready") and done.state.context["data"] == {"age": 3}
    assert done.state.invoked == () and done.effects == []  # answered: nothing left to stop
    cancel = E.send(chart, step.state, {"type": "CANCEL"})
    assert cancel.effects == [Effect("stop", "fetch", {"id": "fetch", "src": "fetchUser"})]
    late = E.send(chart, cancel.state, {"type": DONE_INVOKE_PREFIX + "fetch", "output": 1})
    assert not late.handled and late.state == cancel.state  # no longer running: ignored


def test_invoke_error_handled_or_stopping_the_machine() -> None:
    chart = build(INVOKE)
    running = run(chart, "LOAD").state
    failed = E.send(chart, running, {"type": ERROR_PREFIX + "fetch", "error": "boom"})
    assert failed.state.configuration == ("m", "m.failed")
    bare = build({"initial": "s", "states": {"s": {"invoke": [{"id": "job", "src": "work"}]}}})
    state = E.start(bare).state
    stopped = E.send(bare, state, {"type": ERROR_PREFIX + "job", "error": "boom"})
    # v5 macrostep: an error event nothing takes stops the machine with that error
    assert stopped.state.error == "boom" and not stopped.handled
    with pytest.raises(SessionClosed):
        E.send(bare, stopped.state, {"type": "X"})


# --- the state as data ------------------------------------------------------------------------------


def test_chart_state_is_json() -> None:
    chart = build(HISTORY)
    state = run(chart, "N", "N", "OUT").state
    data = msgspec.json.encode(state)
    back = msgspec.json.decode(data, type=ChartState)
    assert back == state
    assert E.send(chart, back, {"type": "D"}).state.configuration == (
        "m",
        "m.p",
        "m.p.b",
        "m.p.b.b2",
    )


def test_value_of_a_machine_without_states() -> None:
    chart = build({"states": {}})
    step = E.start(chart)
    assert step.state.configuration == ("m",) and E.value(chart, step.state) == {}


# --- consistency, for any chart ------------------------------------------------------------------------

EVENTS = ["A", "B", "C"]


@st.composite
def charts(draw: st.DrawFn, dialect: str) -> Chart:
    """Random charts: nested and parallel (v5) states, shallow and deep history states (under
    compound parents: a parallel parent's history defaults to the parent itself, and XState v5
    then leaves an inconsistent configuration, which the interpreter reproduces), finals,
    guarded eventless transitions, targets anywhere."""
    ids: list[str] = []
    counter = [0]

    def state(path: str, depth: int, parent_kind: str) -> dict[str, Any]:
        ids.append(path)
        cfg: dict[str, Any] = {}
        if depth < 3 and draw(st.integers(0, 9)) < 4:
            kind = "parallel" if dialect == "v5" and draw(st.booleans()) else "compound"
            states = {
                f"s{k}": state(f"{path}.s{k}", depth + 1, kind)
                for k in range(draw(st.integers(2, 3)))
            }
            if kind == "compound" and draw(st.integers(0, 3)) == 0:
                states["h"] = {
                    "type": "history",
                    "history": draw(st.sampled_from(["shallow", "deep"])),
                }
                ids.append(f"{path}.h")
            cfg = {"type": "parallel"} if kind == "parallel" else {"initial": "s0"}
            cfg["states"] = states
        elif depth and parent_kind == "compound" and draw(st.integers(0, 9)) == 0:
            cfg["type"] = "final"
        return cfg

    root = state("m", 0, "")
    if "states" not in root:
        root = {"initial": "s0", "states": {"s0": {}, "s1": {}}}
        ids[:] = ["m", "m.s0", "m.s1"]
    targets = ids[1:]

    def transitions(cfg: dict[str, Any]) -> None:
        if cfg.get("type") in ("history", "final"):
            return
        on = {}
        for ev in draw(st.lists(st.sampled_from(EVENTS), unique=True, max_size=2)):
            on[ev] = {"target": draw(st.sampled_from(targets)), "reenter": draw(st.booleans())}
        if on:
            cfg["on"] = on
        if draw(st.integers(0, 9)) == 0:
            counter[0] += 1
            cfg["always"] = {
                "target": draw(st.sampled_from(targets)),
                "guard": "once",
                "actions": "tick",
            }
        for child in (cfg.get("states") or {}).values():
            transitions(child)

    transitions(root)
    return build(root, dialect)


ONCE = Registry(
    guards={"once": lambda c, e, p: c.get("ticks", 0) < 2},
    actions={"tick": lambda c, e, p: {"ticks": c.get("ticks", 0) + 1}},
)


def consistent(chart: Chart, configuration: tuple[str, ...]) -> None:
    active = set(configuration)
    assert chart.root in active
    for node_id in active:
        node = chart.nodes[node_id]
        assert node.kind != "history", node_id
        assert node.parent is None or node.parent in active, node_id
        kids = [c for c in node.children if chart.nodes[c].kind != "history"]
        on = [c for c in kids if c in active]
        if node.kind == "compound":
            assert len(on) == 1, (node_id, on)
        elif node.kind == "parallel":
            assert on == kids, (node_id, on)


@pytest.mark.parametrize("dialect", ["v5", "v4"])
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_configuration_is_consistent(dialect: str, data: st.DataObject) -> None:
    # v4 charts here have no parallel state: xstate 4 merges the transitions of several
    # regions into one configuration and can leave two children of a compound state active,
    # which the interpreter reproduces (see the v4 notes in dialoghub.engine.chart)
    chart = data.draw(charts(dialect))
    events = data.draw(st.lists(st.sampled_from(EVENTS), max_size=12))
    step = E.start(chart, registry=ONCE)
    consistent(chart, step.state.configuration)
    for ev in events:
        if step.state.done:
            break
        step = E.send(chart, step.state, {"type": ev}, registry=ONCE)
        consistent(chart, step.state.configuration)
        assert set(step.state.order or step.state.configuration) == set(step.state.configuration)


# --- cost -------------------------------------------------------------------------------------------


def test_a_flat_chart_costs_microseconds_per_event() -> None:
    chart = build(TOGGLE)
    state = E.start(chart).state
    other = E.send(chart, state, {"type": "T"}).state
    events = [{"type": "T"}]
    n = 2000
    seconds = timeit.timeit(
        lambda: (E.send(chart, state, events[0]), E.send(chart, other, events[0])), number=n
    )
    per_event_us = seconds / (2 * n) * 1e6
    assert per_event_us < 100, per_event_us  # a few microseconds; generous for slow CI machines


@pytest.mark.parametrize(("dialect", "predictable"), [("v5", True), ("v4", True), ("v4", False)])
def test_remembered_steps_are_only_pure_ones(dialect: str, predictable: bool) -> None:
    # a step with no guard, action, timer or invoke is remembered by (configuration, event
    # type); one that assigns (even as v4 runs assigns first) never is
    chart = build(
        {
            "initial": "a",
            "context": {"n": 0},
            "on": {"*": {"actions": assign(n=Ref("inc"))}},
            "states": {"a": {"on": {"GO": "m.b"}}, "b": {"on": {"GO": "m.a"}}},
        },
        dialect,
        predictable=predictable,
    )
    reg = Registry(expressions={"inc": lambda c, e, p: c["n"] + 1})
    step = run(chart, "X", "X", "GO", "GO", "X", registry=reg)
    assert step.state.context == {"n": 3} and step.state.configuration == ("m", "m.a")
    first = E.send(chart, step.state, {"type": "GO"}, registry=reg)
    again = E.send(chart, msgspec.structs.replace(step.state, context={"n": 9}), {"type": "GO"})
    assert first.state.configuration == again.state.configuration == ("m", "m.b")
    assert again.state.context == {"n": 9} and first.microsteps == again.microsteps


def test_v4_merges_conflicting_regions_and_in_reads_the_state_value() -> None:
    # xstate 4.38 takes every region's transition (no conflict resolution): both targets end
    # up active, the state value names the first, and `in` (state.matches) sees only that one
    chart = build(
        {
            "initial": "p",
            "on": {
                "F": {"target": "m.done", "guard": Ref("xstate.stateIn", {"state": "m.right"})},
                "G": {"target": "m.done", "guard": Ref("xstate.stateIn", {"state": "m.left"})},
            },
            "states": {
                "p": {
                    "type": "parallel",
                    "states": {"x": {"on": {"E": "m.left"}}, "y": {"on": {"E": "m.right"}}},
                },
                "left": {},
                "right": {},
                "done": {},
            },
        },
        "v4",
    )
    merged = run(chart, "E").state
    assert merged.configuration == ("m", "m.left", "m.right")
    assert merged.order == ("m.left", "m.right", "m") and E.value(chart, merged) == "left"
    assert not E.send(chart, merged, {"type": "F"}).handled
    assert E.value(chart, E.send(chart, merged, {"type": "G"}).state) == "done"


def test_jump_is_a_root_transition_to_the_state_then_a_macrostep() -> None:
    """engine.chart.jump: every active state below the root exits, the target enters with
    its ancestors and initial children, then eventless transitions run (v5's rules)."""
    chart = build(
        {
            "initial": "a",
            "states": {
                "a": {"entry": "na", "exit": "xa"},
                "b": {
                    "initial": "b1",
                    "entry": "nb",
                    "states": {"b1": {"entry": "nb1"}, "b2": {"entry": "nb2", "always": "m.a"}},
                },
            },
        }
    )
    start = E.start(chart).state
    step = E.jump(chart, start, "m.b")
    assert step.state.configuration == ("m", "m.b", "m.b.b1") and names(step) == ["xa", "nb", "nb1"]
    step = E.jump(chart, start, "m.b.b2")  # b2's eventless transition follows
    assert step.state.configuration == ("m", "m.a")
    assert names(step) == ["xa", "nb", "nb2", "na"]
    with pytest.raises(InvalidInput):
        E.jump(chart, start, "m.nowhere")
