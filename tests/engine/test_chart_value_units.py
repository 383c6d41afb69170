"""engine/chart_value.py: the state value of a configuration and ``matches``, including the
configurations XState can leave inconsistent, which it normalises before computing a value
(v5 ``getAllStateNodes``, v4 ``getConfiguration([root], nodes)``; README of tests/xstate).

A configuration is given as node ids in XState's order; for an inconsistent one the value
follows XState's rules: a compound state's value is its first child when that child is
atomic, else every child it has; a compound without a child gets its initial state (v5;
v4 only below a node it did not have before), a parallel state its missing regions."""

from __future__ import annotations

from typing import Any

import pytest

from dialoghub.engine.chart import ChartState, matches, value
from dialoghub.errors import InvalidInput
from dialoghub.model.chart import Chart, Node
from dialoghub.model.xstate_chart import compile_xstate

NESTED = {
    "id": "m",
    "initial": "a",
    "states": {"a": {"initial": "a1", "states": {"a1": {}, "a2": {}}}, "b": {}},
}
PARALLEL = {
    "id": "p",
    "type": "parallel",
    "states": {
        "x": {"initial": "x1", "states": {"x1": {}, "x2": {}}},
        "y": {"initial": "y1", "states": {"y1": {}, "y2": {"initial": "z", "states": {"z": {}}}}},
        "w": {},
    },
}


def chart(config: dict[str, Any], dialect: str = "v5") -> Chart:
    return compile_xstate(config, dialect=dialect)  # type: ignore[arg-type]


# --- consistent configurations ----------------------------------------------------------


@pytest.mark.parametrize("dialect", ["v5", "v4"])
def test_value_of_consistent_configurations(dialect: str) -> None:
    c = chart(NESTED, dialect)
    assert value(c, ["m", "m.a", "m.a.a2"]) == {"a": "a2"}
    assert value(c, ["m", "m.b"]) == "b"
    p = chart(PARALLEL, dialect)
    assert value(p, ["p", "p.x", "p.x.x1", "p.y", "p.y.y2", "p.y.y2.z", "p.w"]) == {
        "x": "x1",
        "y": {"y2": "z"},
        "w": {},
    }


def test_value_of_a_machine_without_states() -> None:
    c = chart({"id": "m"})
    assert value(c, ["m"]) == {}


def test_value_of_a_chart_state_uses_its_order_when_it_has_one() -> None:
    c = chart(NESTED)
    plain = ChartState(configuration=("m", "m.a", "m.b"))
    assert value(c, plain) == {"a": "a1", "b": {}}
    ordered = ChartState(configuration=("m", "m.a", "m.b"), order=("m", "m.b", "m.a"))
    assert value(c, ordered) == "b"


def test_value_refuses_an_unknown_node() -> None:
    c = chart(NESTED)
    with pytest.raises(InvalidInput) as e:
        value(c, ["m", "m.zz"])
    assert str(e.value) == "chart 'm' has no state 'm.zz'"


# --- inconsistent configurations: XState's normalisation ----------------------------------


@pytest.mark.parametrize("dialect", ["v5", "v4"])
def test_two_children_of_a_compound_state(dialect: str) -> None:
    c = chart(NESTED, dialect)
    # the first child is atomic: it alone is the value
    assert value(c, ["m", "m.b", "m.a"]) == "b"
    # the first is compound: every child, the compound one given its initial state
    assert value(c, ["m", "m.a", "m.b"]) == {"a": "a1", "b": {}}
    assert value(c, ["m", "m.a", "m.a.a1", "m.a.a2"]) == {"a": "a1"}
    assert value(c, ["m", "m.a", "m.a.a2", "m.a.a1"]) == {"a": "a2"}


@pytest.mark.parametrize("dialect", ["v5", "v4"])
def test_missing_ancestors_are_added(dialect: str) -> None:
    c = chart(NESTED, dialect)
    assert value(c, ["m.a.a2"]) == {"a": "a2"}
    assert value(c, ["m", "m.a.a2"]) == {"a": "a2"}
    assert value(c, ["m.b"]) == "b"


def test_a_compound_without_a_child_gets_its_initial_state() -> None:
    v5 = chart(NESTED)
    assert value(v5, ["m"]) == {"a": "a1"}
    assert value(v5, ["m", "m.a"]) == {"a": "a1"}
    # v4 normalises against [root]: the root keeps its (no) children; below it, initials
    v4 = chart(NESTED, "v4")
    assert value(v4, ["m"]) == {}
    assert value(v4, ["m", "m.a"]) == {"a": "a1"}


@pytest.mark.parametrize("dialect", ["v5", "v4"])
def test_a_parallel_state_gets_its_missing_regions(dialect: str) -> None:
    p = chart(PARALLEL, dialect)
    assert value(p, ["p", "p.x", "p.x.x2"]) == {"x": "x2", "y": "y1", "w": {}}
    assert value(p, ["p", "p.y", "p.y.y2"]) == {"x": "x1", "y": {"y2": "z"}, "w": {}}
    assert value(p, ["p", "p.w", "p.x", "p.x.x2", "p.y", "p.y.y1"]) == {
        "w": {},
        "x": "x2",
        "y": "y1",
    }


def test_v5_missing_region_is_entered_down_to_its_initial_leaves() -> None:
    p = chart(
        {
            "id": "p",
            "type": "parallel",
            "states": {
                "x": {},
                "y": {
                    "initial": "q",
                    "states": {"q": {"type": "parallel", "states": {"r": {}, "s": {}}}},
                },
            },
        }
    )
    assert value(p, ["p", "p.x"]) == {"x": {}, "y": {"q": {"r": {}, "s": {}}}}
    assert value(p, ["p"]) == {"x": {}, "y": {"q": {"r": {}, "s": {}}}}


def test_an_active_history_node_makes_the_configuration_inconsistent() -> None:
    config = {
        "id": "m",
        "initial": "a",
        "states": {
            "a": {"initial": "a1", "states": {"a1": {}, "a2": {}, "h": {"type": "history"}}},
            "b": {},
        },
    }
    for dialect in ("v5", "v4"):
        c = chart(config, dialect)
        # the history node is the first child: not atomic, so every child is the value
        assert value(c, ["m", "m.a", "m.a.h", "m.a.a2"]) == {"a": {"h": {}, "a2": {}}}
        assert value(c, ["m", "m.a", "m.a.a2", "m.a.h"]) == {"a": "a2"}


def test_an_atomic_node_with_an_active_child_is_impossible_but_valued() -> None:
    # a duplicated id counts twice: the count check sees it (the value is the same)
    c = chart(NESTED)
    assert value(c, ["m", "m.b", "m.b"]) == "b"
    assert value(c, ["m", "m", "m.b"]) == "b"


# --- matches ---------------------------------------------------------------------------


@pytest.mark.parametrize("dialect", ["v5", "v4"])
def test_matches_ids_values_and_paths(dialect: str) -> None:
    c = chart(NESTED, dialect)
    conf = ["m", "m.a", "m.a.a2"]
    for query in ("#m.a.a2", "m.a.a2", "#m.a", "#m", "m", "a", "a.a2", {"a": "a2"}, {"a": {}}):
        assert matches(c, conf, query) is True, query
    for query in ("#m.b", "#m.a.a1", "#nowhere", "b", "a.a1", "a.a2.x", {"a": "a1"}, {"b": {}}):
        assert matches(c, conf, query) is False, query
    for query in (3, None, ["a"], {"a": 3}, {"zz": "a2"}):
        assert matches(c, conf, query) is False, query


def test_matches_a_nested_value() -> None:
    p = chart(PARALLEL)
    conf = ["p", "p.x", "p.x.x1", "p.y", "p.y.y2", "p.y.y2.z", "p.w"]
    assert matches(p, conf, {"x": "x1", "y": {"y2": "z"}}) is True
    assert matches(p, conf, {"x": "x1", "y": "y2"}) is True
    assert matches(p, conf, {"x": "x1", "y": "y1"}) is False
    assert matches(p, conf, {"y": {"y2": "q"}}) is False
    assert matches(p, conf, "y.y2.z") is True
    assert matches(p, conf, "w") is True
    assert matches(p, conf, "#p.w") is True


def test_matches_ignores_unknown_ids_in_the_configuration() -> None:
    c = chart(NESTED)
    assert matches(c, ["m", "m.b", "m.gone"], "b") is True
    assert matches(c, ChartState(configuration=("m", "m.b")), "#m.b") is True
    state = ChartState(configuration=("m", "m.a", "m.b"), order=("m", "m.b", "m.a"))
    assert matches(c, state, {"a": "a1"}) is False  # the value of the order is "b"
    assert matches(c, state, "b") is True


def test_v4_in_matches_the_value_v5_state_in_the_nodes() -> None:
    # inconsistent: m.a active but the value (its first child atomic) is "b"
    conf = ["m", "m.b", "m.a", "m.a.a1"]
    v5, v4 = chart(NESTED), chart(NESTED, "v4")
    assert value(v5, conf) == value(v4, conf) == "b"
    assert matches(v5, conf, "#m.a") is True
    assert matches(v4, conf, "#m.a") is False
    assert matches(v5, conf, "#m.a.a1") is True
    assert matches(v4, conf, "#m.a.a1") is False
    # the root is its node being active in both
    assert matches(v4, conf, "#m") is True
    assert matches(v4, ["m.b"], "#m") is False
    assert matches(v5, ["m.b"], "#m") is False
    assert matches(v4, conf, "#m.b") is True


def test_a_hash_query_names_a_node_never_a_state_value() -> None:
    # a hand-built chart may have a key starting with "#"; "#x" still asks for the node id x
    nodes = {
        "m": Node(
            id="m", key="", kind="compound", parent=None, children=("m.h",), initial=("m.h",)
        ),
        "m.h": Node(id="m.h", key="#x", kind="atomic", parent="m"),
    }
    c = Chart(id="m", root="m", nodes=nodes)
    assert value(c, ["m", "m.h"]) == "#x"
    assert matches(c, ["m", "m.h"], "#x") is False
    assert matches(c, ["m", "m.h"], "#m.h") is True


DEEPER = {
    "id": "m",
    "initial": "a",
    "states": {
        "a": {"initial": "a1", "states": {"a1": {}, "a2": {}}},
        "b": {"initial": "b1", "states": {"b1": {}, "b2": {}}},
    },
}


@pytest.mark.parametrize("dialect", ["v5", "v4"])
def test_a_node_under_an_inactive_parent_brings_its_ancestors(dialect: str) -> None:
    c = chart(DEEPER, dialect)
    # m and a with one child each: only the count of nodes shows b2 hangs from nowhere
    assert value(c, ["m", "m.a", "m.a.a1", "m.b.b2"]) == {"a": "a1", "b": "b2"}
    # two nodes without their ancestors: each one's are added
    assert value(c, ["m.a.a2", "m.b.b2"]) == {"a": "a2", "b": "b2"}
    assert value(c, ["m.b.b2", "m.a.a2"]) == {"b": "b2", "a": "a2"}


def test_an_active_history_node_in_a_parallel_state_does_not_count_as_a_region() -> None:
    config = {
        "id": "p",
        "type": "parallel",
        "states": {
            "x": {"initial": "x1", "states": {"x1": {}}},
            "y": {"initial": "y1", "states": {"y1": {}}},
            "hp": {"type": "history"},
        },
    }
    for dialect in ("v5", "v4"):
        c = chart(config, dialect)
        # two active children for two regions, but one is the history node: y is missing
        got = value(c, ["p", "p.x", "p.x.x1", "p.hp"])
        assert got == {"x": "x1", "hp": {}, "y": "y1"}, dialect


def test_matches_a_value_deeper_than_an_atomic_state() -> None:
    c = chart(NESTED)
    assert matches(c, ["m", "m.b"], {"b": {"x": "y"}}) is False
    assert matches(c, ["m", "m.b"], {"b": {}}) is True
