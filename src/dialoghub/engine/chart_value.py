"""Configurations and state values: XState's normalisation of a node set (v5
``getAllStateNodes``, v4 ``getConfiguration`` with its initial states and history), the
state value (:func:`value`) and ``matches``/``stateIn`` (:func:`matches`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from dialoghub.engine.chart_index import _C, _N, _compiled, _proper_ancestors
from dialoghub.engine.chart_run import _recorded, _Run
from dialoghub.engine.chart_state import ChartState
from dialoghub.errors import InvalidInput
from dialoghub.model.chart import (
    Chart,
)


def _active_children(active: Iterable[_N]) -> dict[int, list[_N]]:
    kids: dict[int, list[_N]] = {}
    for n in active:
        p = n.parent
        if p is not None:
            kids.setdefault(p.idx, []).append(n)
    return kids


def _value_children(c: _C, nodes: Iterable[_N]) -> dict[int, list[_N]]:
    return _value_tree(c, nodes)[0]


def _value_tree(c: _C, nodes: Iterable[_N]) -> tuple[dict[int, list[_N]], bool]:
    """The state value's tree, as XState computes it from its node set: normalised first
    (v5 ``getAllStateNodes``: a compound state without an active child gets its initial
    states, a parallel state its missing regions, every node its ancestors; v4
    ``getConfiguration([root], nodes)``), then ``getValueFromAdj``: a compound state's value
    is its first child when that child is atomic, else every child it has. For a consistent
    configuration that is the configuration itself; XState can reach an inconsistent one
    (v5: a history recorded while exiting changes the domain used for entering; v4: two
    regions' transitions merged), and then this is what its ``value`` and its transition
    selection see. The flag: the configuration was consistent."""
    order = list(nodes)
    adj = _active_children(order)
    if _consistent(c, order, adj):
        return adj, True  # the common case: normalising changes nothing
    norm = _v4_configuration([c.root], order) if c.v4 else _v5_all_nodes(order)
    adj = _active_children(norm)
    out: dict[int, list[_N]] = {}
    for idx, kids in adj.items():
        n = c.nodes[idx]
        if n.kind == "compound" and kids[0].atomic:
            out[idx] = kids[:1]
        else:
            out[idx] = kids
    return out, False


def _consistent(c: _C, order: Sequence[_N], adj: Mapping[int, list[_N]]) -> bool:
    """The root active, each active compound state with one active child, each active
    parallel state with all its regions, no active history state (a node whose parent is
    inactive is not counted, so the count of nodes hanging from the root comes out short)."""
    root = c.root
    if not any(n is root for n in order):
        return False
    count = 1
    for n in order:
        kind = n.kind
        kids = adj.get(n.idx)
        if kind == "compound":
            if kids is None or len(kids) != 1:
                return False
        elif kind == "parallel":
            if kids is None or len(kids) != len(n.children):
                return False
        elif kind == "history" or kids:
            return False
        count += len(kids) if kids else 0
    return count == len(order)


def _v5_initial_with_ancestors(s: _N) -> list[_N]:
    """``getInitialStateNodesWithTheirAncestors``."""
    got: dict[int, _N] = {}

    def it(n: _N) -> None:
        if n.idx in got:
            return
        got[n.idx] = n
        if n.kind == "compound" and n.initial is not None:
            it(n.initial)
        elif n.kind == "parallel":
            for ch in n.children:
                it(ch)

    it(s)
    for n in list(got.values()):
        for a in _proper_ancestors(n, s):
            got.setdefault(a.idx, a)
    return list(got.values())


def _v5_all_nodes(nodes: Sequence[_N]) -> list[_N]:
    """v5 ``getAllStateNodes``, in its Set's order."""
    got: dict[int, _N] = {n.idx: n for n in nodes}
    order = list(got.values())
    adj = _active_children(order)

    def add(x: _N) -> None:
        if x.idx not in got:
            got[x.idx] = x
            order.append(x)

    i = 0
    while i < len(order):
        s = order[i]
        i += 1
        if s.kind == "compound" and not adj.get(s.idx):
            for x in _v5_initial_with_ancestors(s):
                add(x)
        elif s.kind == "parallel":
            for child in s.children:
                if child.idx not in got:
                    for x in _v5_initial_with_ancestors(child):
                        add(x)
    i = 0
    while i < len(order):
        m = order[i].parent
        i += 1
        while m is not None:
            add(m)
            m = m.parent
    return order


def _value_of(n: _N, kids: Mapping[int, list[_N]]) -> Any:
    """``getValueFromAdj`` over the value's tree."""
    children = kids.get(n.idx)
    if not children:
        return {}
    if n.kind == "compound" and children[0].atomic:
        return children[0].key
    return {ch.key: _value_of(ch, kids) for ch in children}


def value(chart: Chart, configuration: ChartState | Sequence[str]) -> str | dict[str, Any]:
    """The XState state value of ``configuration`` (``"a"``, ``{"a": "b"}``, ``{"p": {"x":
    "x1", "y": "y1"}}``; ``{}`` for a machine without states). Given a :class:`ChartState`,
    its ``order`` is used when it has one: XState's own order, which decides the value in
    the rare configurations XState leaves inconsistent (see ``_value_children``)."""
    c = _compiled(chart)
    if isinstance(configuration, ChartState):
        configuration = configuration.order or configuration.configuration
    try:
        nodes = [c.by_id[i] for i in configuration]
    except KeyError as exc:
        raise InvalidInput(f"chart {chart.id!r} has no state {exc.args[0]!r}") from None
    v = _value_of(c.root, _value_children(c, nodes))
    return v  # type: ignore[no-any-return]


def _matches_active(c: _C, active: Mapping[int, _N], query: Any) -> bool:
    """``stateIn``/``matches``: ``#id`` (or a bare id) is the node being active (v5
    ``checkStateIn``: one of ``_nodes``; v4 ``in``: ``state.matches`` of the node's path, so
    against the state value); a state value (or its dotted path) is matched against the state
    value (``matchesState``)."""
    if isinstance(query, str):
        ident = query[1:] if query.startswith("#") else query
        n = c.by_id.get(ident)
        if n is not None:
            if not c.v4 or n.parent is None:
                return n.idx in active
            keys = [x.key for x in (n, *n.ancestors) if x.parent is not None]
            query = _path_value(keys[::-1])
        elif query.startswith("#"):
            return False
        else:
            query = _path_value(query.split("."))
    return _matches_value(c.root, _value_children(c, active.values()), query)


def _path_value(parts: list[str]) -> Any:
    if len(parts) == 1:
        return parts[0]
    return {parts[0]: _path_value(parts[1:])}


def _matches_value(n: _N, kids: Mapping[int, list[_N]], query: Any) -> bool:
    """XState's ``matchesState(query, value)``: every path of the query is in the value."""
    if isinstance(query, str):
        return any(ch.key == query for ch in kids.get(n.idx, ()))
    if not isinstance(query, Mapping):
        return False
    for key, sub in query.items():
        child = next((ch for ch in kids.get(n.idx, ()) if ch.key == key), None)
        if child is None or not _matches_value(child, kids, sub):
            return False
    return True


def matches(chart: Chart, configuration: ChartState | Sequence[str], value_or_id: Any) -> bool:
    """True when ``configuration`` is in ``value_or_id``: a node id (``#id`` or the bare id),
    a state value (``{"a": "b"}``) or its dotted path (``"a.b"``), matched as XState's
    ``state.matches`` does (an ancestor's value matches its descendants)."""
    c = _compiled(chart)
    if isinstance(configuration, ChartState):
        configuration = configuration.order or configuration.configuration
    active = {c.by_id[i].idx: c.by_id[i] for i in configuration if i in c.by_id}
    return _matches_active(c, active, value_or_id)


def _v4_initial_leaves(n: _N) -> list[_N]:
    """``initialStateNodes``: the nodes ``n``'s initial state value leads to (a history
    state on the way resolved without a history value). ``n`` is never a history node: the
    callers resolve those themselves, and a parallel state's ``children`` has none."""
    if n.atomic:
        return [n]
    if n.kind == "compound":
        init = n.initial
        assert init is not None  # _C refuses a compound state without an initial
        if init.kind == "history":
            return _v4_resolve_history(None, init)
        return _v4_initial_leaves(init)
    out: list[_N] = []
    for ch in n.children:
        out.extend(_v4_initial_leaves(ch))
    return out


def _v4_resolve_history(run: _Run | None, h: _N) -> list[_N]:
    """``resolveHistory``: while the state has no history value (``run`` None: before its
    first transition) the history's ``target``, else the parent's initial state; after that,
    the parent's last state value (an unvisited parent's being its initial one)."""
    rec = None if run is None else _recorded(run, h)
    if rec is not None:
        return rec
    if h.history_default:
        return list(h.history_default)
    assert h.parent is not None
    return _v4_initial_leaves(h.parent)


def _v4_configuration(prev: Sequence[_N], nodes: Sequence[_N]) -> list[_N]:
    """``stateUtils.getConfiguration(prev, nodes)``, in its Set's order: the nodes, their
    ancestors, then each compound without a child its previous children (else its initial
    state), each parallel's missing regions likewise, then ancestors again."""
    prev_kids = _active_children(prev)
    prev_has = {n.idx for n in prev}
    conf: dict[int, _N] = {}
    order: list[_N] = []

    def add(x: _N) -> None:
        if x.idx not in conf:
            conf[x.idx] = x
            order.append(x)

    def add_ancestors() -> None:
        for s in list(order):
            m = s.parent
            while m is not None and m.idx not in conf:
                add(m)
                m = m.parent

    for n in nodes:
        add(n)
    add_ancestors()
    snapshot = _active_children(order)
    i = 0
    while i < len(order):
        s = order[i]
        i += 1
        if s.kind == "compound" and not snapshot.get(s.idx):
            for x in prev_kids.get(s.idx, ()) if s.idx in prev_has else _v4_initial_leaves(s):
                add(x)
        elif s.kind == "parallel":
            for child in s.children:
                if child.idx not in conf:
                    add(child)
                    for x in (
                        prev_kids.get(child.idx, ())
                        if child.idx in prev_has
                        else _v4_initial_leaves(child)
                    ):
                        add(x)
    add_ancestors()
    return order
