"""engine/chart_index.py: the index the interpreter builds of a chart (nodes in document
order, intervals, candidate transitions per event type, v4's transition order, the names
of v4's delayed events, v4 strict's events), its refusals, and its cache."""

from __future__ import annotations

import dataclasses
import gc
from types import SimpleNamespace
from typing import Any

import pytest

from dialoghub.engine import chart_index as I
from dialoghub.engine.chart import start
from dialoghub.errors import ModelError
from dialoghub.model.chart import Chart, Node, Ref, Transition
from dialoghub.model.xstate_chart import compile_xstate


def chart(config: dict[str, Any], dialect: str = "v5", **kw: Any) -> Chart:
    return compile_xstate(config, dialect=dialect, **kw)  # type: ignore[arg-type]


TREE = {
    "id": "m",
    "initial": "a",
    "states": {
        "a": {
            "initial": "a1",
            "states": {"a1": {}, "h": {"type": "history", "history": "deep"}, "a2": {}},
        },
        "b": {"type": "parallel", "states": {"x": {}, "y": {}}},
        "f": {"type": "final"},
    },
}


# --- descriptors ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event", "descriptor", "expected"),
    [
        ("a", "a", True),
        ("anything", "*", True),
        ("a", "a.*", True),
        ("a.x", "a.*", True),
        ("a.x.y", "a.*", True),
        ("ab", "a.*", False),
        ("b.x", "a.*", False),
        ("a.b.c", "a.b.*", True),
        ("a.b", "a.b.*", True),
        ("a.c", "a.b.*", False),
        ("a", "a.b.*", False),
        ("a.b", "a.*.*", False),  # an infix * matches as a last token only
        ("a.x", "a.*.b.*", False),
        ("a.x", "a.x", True),
        ("a.x", "a.y", False),
        ("a.x", "a*", False),
        ("a", "a.b", False),
    ],
)
def test_matches_descriptor(event: str, descriptor: str, expected: bool) -> None:
    assert I._matches_descriptor(event, descriptor) is expected


# --- the index --------------------------------------------------------------------------


def test_nodes_in_document_order_with_intervals_and_children() -> None:
    c = I._compiled(chart(TREE))
    ids = [n.id for n in c.nodes]
    assert ids == ["m", "m.a", "m.a.a1", "m.a.h", "m.a.a2", "m.b", "m.b.x", "m.b.y", "m.f"]
    assert [n.idx for n in c.nodes] == list(range(9))
    by = c.by_id
    assert c.root is by["m"]
    assert (by["m"].idx, by["m"].end) == (0, 8)
    assert (by["m.a"].idx, by["m.a"].end) == (1, 4)
    assert (by["m.a.a1"].idx, by["m.a.a1"].end) == (2, 2)
    assert (by["m.b"].idx, by["m.b"].end) == (5, 7)
    assert [n.id for n in by["m.a"].children] == ["m.a.a1", "m.a.a2"]
    assert [n.id for n in by["m.a"].hist_children] == ["m.a.h"]
    assert sorted(by["m.a"].keyed) == ["a1", "a2", "h"]
    assert by["m.a"].keyed["h"] is by["m.a.h"]
    assert [n.id for n in by["m.b.x"].ancestors] == ["m.b", "m"]
    assert by["m.b.x"].depth == 2
    assert by["m"].depth == 0
    assert by["m"].parent is None
    assert by["m.a"].initial is by["m.a.a1"]
    assert by["m.b"].initial is None
    assert [(n.id, n.atomic) for n in c.nodes if n.atomic] == [
        ("m.a.a1", True), ("m.a.a2", True), ("m.b.x", True), ("m.b.y", True), ("m.f", True),
    ]  # fmt: skip
    assert by["m.a.h"].history == "deep"
    assert (c.has_parallel, c.has_history, c.has_always) == (True, True, False)
    assert c.v4 is False
    assert c.name == "m"


def test_descends_and_proper_ancestors() -> None:
    c = I._compiled(chart(TREE))
    by = c.by_id
    assert I._is_desc(by["m.a.a1"], by["m.a"]) is True
    assert I._is_desc(by["m.a.a2"], by["m.a"]) is True  # the interval's last node
    assert I._is_desc(by["m.a"], by["m.a"]) is False  # proper
    assert I._is_desc(by["m.b"], by["m.a"]) is False  # just past the interval
    assert I._is_desc(by["m"], by["m.a"]) is False
    assert I._is_desc(by["m"], None) is True
    assert I._idx(by["m.b"]) == 5
    assert I._proper_ancestors(by["m.b.x"], None) == [by["m.b"], by["m"]]
    assert I._proper_ancestors(by["m.b.x"], by["m"]) == [by["m.b"]]
    assert I._proper_ancestors(by["m.b.x"], by["m.b.x"]) == []
    assert I._proper_ancestors(by["m"], None) == []


def test_v5_candidates_exact_first_then_wildcards_longest_first() -> None:
    c = I._compiled(
        chart(
            {
                "id": "m",
                "initial": "a",
                "states": {
                    "a": {
                        "on": {"*": "b", "mouse.*": "c", "mouse.click.*": "d", "mouse.click": "e"},
                        "always": {"target": "b", "guard": "never"},
                    },
                    "b": {"on": {"GO": "a"}},
                    "c": {},
                    "d": {},
                    "e": {},
                },
            },
            guards=["never"],
        )
    )
    a = c.by_id["m.a"]

    def targets(etype: str, n: I._N = a) -> list[str]:
        return [t.targets[0].id for t in I._candidates(n, etype, False)]

    assert targets("mouse.click") == ["m.e", "m.d", "m.c", "m.b"]
    assert targets("mouse.move") == ["m.c", "m.b"]
    assert targets("other") == ["m.b"]
    assert a.cand["mouse.move"] is I._candidates(a, "mouse.move", False)  # remembered
    assert [t.event for t in a.wild] == ["mouse.click.*", "mouse.*", "*"]
    assert list(a.exact) == ["mouse.click"]
    assert [t.event for t in a.always] == [None]
    assert a.transient is True
    assert c.has_always is True
    b = c.by_id["m.b"]
    assert targets("GO", b) == ["m.a"]
    assert targets("NO", b) == []
    assert b.cand == {}  # without wildcards nothing is remembered
    assert c.by_id["m.c"].transient is False


def test_v4_candidates_in_format_transitions_order() -> None:
    c = I._compiled(
        chart(
            {
                "id": "m",
                "initial": "a",
                "states": {
                    "a": {
                        "after": {"100": "b"},
                        "on": {"*": "b", "GO": "c"},
                        "invoke": {"id": "svc", "src": "s", "onError": "d", "onDone": "c"},
                        "onDone": "e",
                        "initial": "a1",
                        "states": {"a1": {}},
                        "always": {"target": "b", "cond": "never"},
                    },
                    "b": {},
                    "c": {},
                    "d": {},
                    "e": {},
                },
            },
            "v4",
            guards=["never"],
        )
    )
    a = c.by_id["m.a"]
    assert [t.event for t in a.ordered] == [
        "xstate.done.state.m.a",
        "xstate.done.actor.svc",
        "xstate.error.actor.svc",
        "GO",
        "*",
        "xstate.after.100.m.a",
    ]
    assert a.exact == {} and a.wild == []  # v4 keeps only its own order
    assert [t.targets[0].id for t in I._candidates(a, "GO", True)] == ["m.c", "m.b"]
    assert [t.targets[0].id for t in I._candidates(a, "OTHER", True)] == ["m.b"]
    assert [t.targets[0].id for t in I._candidates(a, "", True)] == ["m.b"]  # the null event
    assert I._candidates(a, "", True) is a.always
    assert I._candidates(c.by_id["m.b"], "GO", True) == []
    assert c.v4_after == {"xstate.after.100.m.a": "xstate.after(100)#m.a"}


def test_v4_group_of_each_kind_of_transition() -> None:
    c = I._compiled(
        chart(
            {
                "id": "m",
                "initial": "a",
                "states": {
                    "a": {
                        "invoke": {"id": "svc", "src": "s"},
                        "after": {"100": "a"},
                        "initial": "a1",
                        "states": {"a1": {}},
                    },
                },
            },
            "v4",
        )
    )
    a = c.by_id["m.a"]

    def group(event: str | None) -> int:
        return I._v4_group(a, I._T(Transition(source="m.a", event=event), a, []))

    assert group("xstate.done.state.m.a") == 0
    assert group("xstate.done.state.m") == 2
    assert group("xstate.done.actor.svc") == 1
    assert group("xstate.error.actor.svc") == 1
    assert group("xstate.done.actor.other") == 2
    assert group("xstate.error.actor.other") == 2
    assert group("*") == 3
    assert group("xstate.after.100.m.a") == 5
    assert group("xstate.after.200.m.a") == 2
    assert group("GO") == 2
    assert group(None) == 2


def test_v4_after_names_only_the_nodes_own_delays() -> None:
    c = I._compiled(
        chart(
            {
                "id": "m",
                "initial": "a",
                "states": {"a": {"after": {"100": "b", "2500": "b"}}, "b": {"after": {"7": "a"}}},
            },
            "v4",
        )
    )
    assert c.v4_after == {
        "xstate.after.100.m.a": "xstate.after(100)#m.a",
        "xstate.after.2500.m.a": "xstate.after(2500)#m.a",
        "xstate.after.7.m.b": "xstate.after(7)#m.b",
    }


def test_v4_context_and_strict_events() -> None:
    assert I._compiled(chart({"id": "m"}, "v4")).no_context is True
    assert I._compiled(chart({"id": "m", "context": {}}, "v4")).no_context is False
    assert I._compiled(chart({"id": "m"})).no_context is False
    assert I._compiled(chart({"id": "m"}, "v4")).predictable is False
    assert I._compiled(chart({"id": "m", "predictableActionArguments": True}, "v4")).predictable
    assert I._compiled(chart({"id": "m"})).predictable is True
    strict = {
        "id": "m",
        "strict": True,
        "initial": "a",
        "states": {
            "a": {
                "on": {
                    "GO": "b",
                    "NOTE": {"actions": "note"},
                    "NOTHING": {},
                    "SELF": {"target": "a"},
                }
            },
            "b": {"on": {"BACK": {"target": "a", "internal": True}}},
        },
    }
    events = I._compiled(chart(strict, "v4")).v4_events
    assert events == frozenset({"GO", "NOTE", "SELF", "BACK"})
    assert I._compiled(chart({**strict, "strict": False}, "v4")).v4_events is None


# --- refusals ---------------------------------------------------------------------------


def test_refusals_name_the_chart_and_the_node() -> None:
    root = Node(id="m", key="", kind="compound", parent=None, children=("m.a",), initial=("m.a",))
    a = Node(id="m.a", key="a", kind="atomic", parent="m")
    with pytest.raises(ModelError) as e:
        I._C(Chart(id="c", root="m", nodes={"m": root}))
    assert str(e.value) == "chart 'c': no node 'm.a'"
    no_initial = Node(id="m", key="", kind="compound", parent=None, children=("m.a",))
    with pytest.raises(ModelError) as e:
        I._C(Chart(id="c", root="m", nodes={"m": no_initial, "m.a": a}))
    assert str(e.value) == "chart 'c': compound state 'm' has no initial"
    bad_initial = Node(
        id="m", key="", kind="compound", parent=None, children=("m.a",), initial=("m.zz",)
    )
    with pytest.raises(ModelError) as e:
        I._C(Chart(id="c", root="m", nodes={"m": bad_initial, "m.a": a}))
    assert str(e.value) == "chart 'c': the initial of 'm' names no node 'm.zz'"
    bad_target = Node(
        id="m.a", key="a", kind="atomic", parent="m",
        transitions=(Transition(source="m.a", event="GO", targets=("m.zz",)),),
    )  # fmt: skip
    with pytest.raises(ModelError) as e:
        I._C(Chart(id="c", root="m", nodes={"m": root, "m.a": bad_target}))
    assert str(e.value) == "chart 'c': a transition of 'm.a' names no node 'm.zz'"
    bad_history = Node(id="m.a", key="a", kind="history", parent="m", history_default=("m.q",))
    with pytest.raises(ModelError) as e:
        I._C(Chart(id="c", root="m", nodes={"m": root, "m.a": bad_history}))
    assert str(e.value) == "chart 'c': history 'm.a' names no node 'm.q'"


def test_a_compound_initial_is_its_first_target() -> None:
    # only the first of the initial's target ids is the initial child; the rest is not read
    root = Node(
        id="m", key="", kind="compound", parent=None, children=("m.a", "m.b"),
        initial=("m.b", "m.nowhere"),
    )  # fmt: skip
    nodes = {
        "m": root,
        "m.a": Node(id="m.a", key="a", kind="atomic", parent="m"),
        "m.b": Node(id="m.b", key="b", kind="atomic", parent="m"),
    }
    c = I._C(Chart(id="c", root="m", nodes=nodes))
    assert c.root.initial is c.by_id["m.b"]


# --- the cache --------------------------------------------------------------------------


def test_the_cache_holds_a_chart_weakly() -> None:
    c = chart(TREE)
    first = I._compiled(c)
    assert I._compiled(c) is first
    assert first.owner() is c
    key = id(c)
    assert I._CACHE[key] is first
    del c
    gc.collect()
    assert key not in I._CACHE


def test_the_cache_does_not_confuse_a_dead_charts_id() -> None:
    c = chart(TREE)
    first = I._compiled(c)
    first.owner = lambda: None  # as if its chart had died and another got its id
    again = I._compiled(c)
    assert again is not first
    assert again.owner() is c


def _unweakable(config: dict[str, Any]) -> Any:
    c = chart(config)
    fields = ("id", "root", "nodes", "dialect", "context", "strict", "predictable")
    more = ("has_context", "v4_strict")
    return SimpleNamespace(**{f: getattr(c, f) for f in fields + more})


def test_charts_without_weakrefs_are_kept_in_a_bound() -> None:
    I._STRONG.clear()
    charts = [_unweakable(TREE) for _ in range(I._STRONG_MAX + 2)]
    compiled = [I._compiled(ch) for ch in charts]
    assert I._compiled(charts[-1]) is compiled[-1]
    assert compiled[-1].owner() is charts[-1]
    assert len(I._STRONG) == I._STRONG_MAX
    assert id(charts[0]) not in I._STRONG and id(charts[1]) not in I._STRONG
    assert id(charts[0]) not in I._CACHE
    assert id(charts[2]) in I._STRONG and I._CACHE[id(charts[2])] is compiled[2]
    # a dropped one is indexed again when used again
    assert I._compiled(charts[0]) is not compiled[0]
    I._STRONG.clear()


def test_candidates_are_remembered_up_to_a_bound() -> None:
    c = I._compiled(chart({"id": "m", "initial": "a", "states": {"a": {"on": {"*": "a"}}}}))
    a = c.by_id["m.a"]
    for i in range(600):
        assert len(I._candidates(a, f"E{i}", False)) == 1
    assert len(a.cand) == 512
    assert "E511" in a.cand and "E512" not in a.cand


def test_start_uses_the_index() -> None:
    s = start(chart(TREE)).state
    assert s.configuration == ("m", "m.a", "m.a.a1")


def test_a_transition_to_a_history_state_recomputes_its_domain_each_time() -> None:
    """The domain of a transition to a history state depends on what the history restores
    (v5 getTransitionDomain over the effective targets), so it is never remembered."""
    c = chart(
        {
            "id": "m",
            "initial": "P",
            "states": {
                "P": {
                    "initial": "a",
                    "on": {"OUT": "#m.Q"},
                    "states": {
                        "a": {
                            "initial": "a1",
                            "on": {"HIST": "#m.P.h", "TOB": "#m.P.b"},
                            "states": {"a1": {"on": {"NEXT": "a2"}}, "a2": {}},
                        },
                        "b": {},
                        "h": {"type": "history", "history": "deep"},
                    },
                },
                "Q": {"on": {"IN": "#m.P"}},
            },
        }
    )

    def run(state: Any, *events: str) -> Any:
        for e in events:
            state = start_send(c, state, e)
        return state

    s = run(None, "NEXT", "OUT", "IN", "HIST")
    assert s.configuration == ("m", "m.P", "m.P.a", "m.P.a.a2")
    s = run(s, "TOB", "OUT", "IN", "HIST")
    assert s.configuration == ("m", "m.P", "m.P.b")
    t = I._compiled(c).by_id["m.P.a"].exact["HIST"][0]
    assert t.hist is True
    assert t.domain is False  # not remembered
    assert I._compiled(c).by_id["m.P.a"].exact["TOB"][0].hist is False


def start_send(c: Chart, state: Any, event: str) -> Any:
    from dialoghub.engine.chart import send

    if state is None:
        state = start(c).state
    return send(c, state, {"type": event}).state


def test_v4_after_names_only_delayed_events() -> None:
    from dialoghub.model.chart import Delayed

    base = chart({"id": "m", "initial": "a", "states": {"a": {"after": {"100": "a"}}}}, "v4")
    nodes = dict(base.nodes)
    own = nodes["m.a"].after[0]
    nodes["m.a"] = dataclasses.replace(
        nodes["m.a"], after=(own, Delayed(delay_ms=5, event="tick.m.a"))
    )
    c = I._C(dataclasses.replace(base, nodes=nodes))
    assert c.v4_after == {"xstate.after.100.m.a": "xstate.after(100)#m.a"}


def test_a_compounds_initial_actions_run_when_it_is_entered_by_default() -> None:
    c = chart(
        {
            "id": "m",
            "initial": "a",
            "states": {"a": {"initial": {"target": "a1", "actions": "init"}, "states": {"a1": {}}}},
        }
    )
    assert I._compiled(c).by_id["m.a"].initial_actions == (Ref("init", line=1),)
    step = start(c)
    assert [(e.kind, e.name) for e in step.effects] == [("action", "init")]
