"""The statechart interpreter's index of a chart: nodes in document order with what the
interpreter asks of them precomputed (ancestors, descendant intervals, candidate transitions
per event type, v4's transition order), cached per chart and held weakly."""

from __future__ import annotations

import functools
import weakref
from collections.abc import Callable, Iterable

from dialoghub.engine.chart_state import Microstep
from dialoghub.errors import ModelError
from dialoghub.model.chart import (
    AFTER_PREFIX,
    DONE_INVOKE_PREFIX,
    DONE_STATE_PREFIX,
    ERROR_PREFIX,
    Chart,
    Node,
    Transition,
)

_NULL_EVENT = ""  # v4's eventless "null event"


class _T:
    """A transition, resolved to node objects."""

    __slots__ = ("actions", "domain", "event", "guard", "hist", "reenter", "source", "targets")

    def __init__(self, t: Transition, source: _N, targets: list[_N]) -> None:
        self.source = source
        self.event = t.event
        self.targets = targets
        self.guard = t.guard
        self.actions = t.actions
        self.reenter = t.reenter
        self.hist = any(n.kind == "history" for n in targets)
        self.domain: _N | bool | None = False  # False: not computed (or depends on history)


class _N:
    """A node with everything the interpreter asks of it precomputed."""

    __slots__ = (
        "after",
        "always",
        "ancestors",
        "atomic",
        "cand",
        "children",
        "depth",
        "end",
        "entry",
        "exact",
        "exit",
        "hist_children",
        "history",
        "history_default",
        "id",
        "idx",
        "initial",
        "initial_actions",
        "invoke",
        "key",
        "keyed",
        "kind",
        "node",
        "ordered",
        "output",
        "parent",
        "transient",
        "wild",
    )

    def __init__(self, node: Node, idx: int, parent: _N | None) -> None:
        self.node = node
        self.id = node.id
        self.key = node.key
        self.kind = node.kind
        self.idx = idx
        self.end = idx
        self.parent = parent
        self.ancestors: list[_N] = [] if parent is None else [parent, *parent.ancestors]
        self.depth = len(self.ancestors)
        self.atomic = node.kind in ("atomic", "final")
        self.children: list[_N] = []  # not history nodes
        self.hist_children: list[_N] = []
        self.keyed: dict[str, _N] = {}
        self.initial: _N | None = None
        self.initial_actions = node.initial_actions
        self.history = node.history
        self.history_default: list[_N] = []
        self.entry = node.entry
        self.exit = node.exit
        self.after = node.after
        self.invoke = node.invoke
        self.output = node.output
        self.exact: dict[str, list[_T]] = {}
        self.wild: list[_T] = []
        self.always: list[_T] = []
        self.ordered: list[_T] = []  # v4: event transitions in formatTransitions order
        self.cand: dict[str, list[_T]] = {}
        self.transient = False


def _matches_descriptor(event_type: str, descriptor: str) -> bool:
    """XState v5 ``matchesEventDescriptor``: ``*``, or ``a.b.*`` matching by whole tokens
    (``a.*`` matches ``a``, ``a.x`` and ``a.x.y``; an infix ``*`` matches as a last token)."""
    if descriptor == event_type or descriptor == "*":
        return True
    if not descriptor.endswith(".*"):
        return False
    tokens = event_type.split(".")
    for i, part in enumerate(descriptor.split(".")):
        if part == "*":
            return i == descriptor.count(".")
        if i >= len(tokens) or part != tokens[i]:
            return False
    return True  # pragma: no cover - a descriptor ending in ".*" returns in the loop


def _v4_group(n: _N, t: _T) -> int:
    """Where v4's ``formatTransitions`` puts a transition among its node's transitions."""
    event = t.event or ""
    if event == DONE_STATE_PREFIX + n.id:
        return 0
    if event.startswith((DONE_INVOKE_PREFIX, ERROR_PREFIX)) and any(
        event in (DONE_INVOKE_PREFIX + i.id, ERROR_PREFIX + i.id) for i in n.invoke
    ):
        return 1
    if event == "*":
        return 3
    if event.startswith(AFTER_PREFIX) and any(d.event == event for d in n.after):
        return 5
    return 2


_Memo = dict[tuple[tuple[str, ...], str], tuple[tuple[str, ...], "Microstep | None"]]


class _C:
    """A chart, indexed: nodes in document order (preorder), transitions resolved."""

    __slots__ = (
        "by_id",
        "has_always",
        "has_history",
        "has_parallel",
        "memo",
        "name",
        "no_context",
        "nodes",
        "owner",
        "predictable",
        "root",
        "v4",
        "v4_after",
        "v4_events",
    )

    def __init__(self, chart: Chart) -> None:
        self.name = chart.id
        self.owner: Callable[[], Chart | None] = lambda: None  # set by _compiled
        self.v4 = chart.dialect == "v4"
        self.predictable = chart.predictable or not self.v4
        nodes: list[_N] = []
        by_id: dict[str, _N] = {}

        def visit(node_id: str, parent: _N | None) -> _N:
            try:
                node = chart.nodes[node_id]
            except KeyError:
                raise ModelError(f"chart {chart.id!r}: no node {node_id!r}") from None
            n = _N(node, len(nodes), parent)
            nodes.append(n)
            by_id[n.id] = n
            for child_id in node.children:
                child = visit(child_id, n)
                n.keyed[child.key] = child
                (n.hist_children if child.kind == "history" else n.children).append(child)
            n.end = len(nodes) - 1
            return n

        self.root = visit(chart.root, None)
        self.nodes = nodes
        self.by_id = by_id

        def resolve(ids: Iterable[str], where: str) -> list[_N]:
            out = []
            for i in ids:
                if i not in by_id:
                    raise ModelError(f"chart {chart.id!r}: {where} names no node {i!r}")
                out.append(by_id[i])
            return out

        for n in nodes:
            node = n.node
            if n.kind == "compound":
                if not node.initial:
                    raise ModelError(f"chart {chart.id!r}: compound state {n.id!r} has no initial")
                n.initial = resolve(node.initial[:1], f"the initial of {n.id!r}")[0]
            n.history_default = resolve(node.history_default, f"history {n.id!r}")
            for t in node.transitions:
                tt = _T(t, n, resolve(t.targets, f"a transition of {n.id!r}"))
                if t.event is None:
                    n.always.append(tt)
                    continue
                n.ordered.append(tt)
                if self.v4:
                    continue
                if t.event == "*" or t.event.endswith(".*"):
                    n.wild.append(tt)
                else:
                    n.exact.setdefault(t.event, []).append(tt)
            n.transient = bool(n.always)
            if self.v4:
                n.ordered.sort(key=functools.partial(_v4_group, n))
            else:
                # getCandidates: wildcard descriptors from the longest (stable sort)
                n.wild.sort(key=lambda t: -len(t.event or ""))
        self.has_parallel = any(n.kind == "parallel" for n in nodes)
        self.has_always = any(n.always for n in nodes)
        self.has_history = any(n.kind == "history" for n in nodes)
        #: v4's names of the delayed events (``xstate.after(1000)#m.a``), by their chart name
        self.v4_after = {
            d.event: f"xstate.after({d.event[len(AFTER_PREFIX) : -len(n.id) - 1]})#{n.id}"
            for n in nodes
            for d in n.after
            if d.event.startswith(AFTER_PREFIX) and d.event.endswith("." + n.id)
        }
        # v4: a machine without `context` has none, and assigns leave it so (updateContext)
        self.no_context = self.v4 and not chart.has_context
        # v4 strict: the events the machine accepts (v4 StateNode.events: every node's
        # ownEvents, leaving out targetless internal transitions without actions)
        self.v4_events: frozenset[str] | None = (
            frozenset(
                t.event
                for n in chart.nodes.values()
                for t in n.transitions
                if t.event is not None and (t.targets or t.actions or t.reenter)
            )
            if chart.v4_strict
            else None
        )
        # the outcome of a step that evaluated no guard and ran no action (nor timer, invoke,
        # final state) is a function of (configuration, event type) alone: remembered, for
        # charts where the configuration is all the state there is (no parallel, history or
        # eventless state: the common flat dialog)
        self.memo: _Memo | None = (
            {} if not (self.has_parallel or self.has_history or self.has_always) else None
        )


#: the precomputed form of every chart in use, by ``id(chart)``: an entry goes when its chart
#: is garbage (weakref.finalize); ``owner`` tells an entry from one of a dead chart whose id
#: a new chart got
_CACHE: dict[int, _C] = {}


_STRONG: dict[int, Chart] = {}  # charts that cannot be weakly referenced: kept, a bounded few


_STRONG_MAX = 256


def _compiled(chart: Chart) -> _C:
    key = id(chart)
    c = _CACHE.get(key)
    if c is not None and c.owner() is chart:
        return c
    c = _C(chart)
    try:
        c.owner = weakref.ref(chart)
        weakref.finalize(chart, _CACHE.pop, key, None)
    except TypeError:  # no __weakref__ slot: keep the chart (its id stays unique) in a bound
        if len(_STRONG) >= _STRONG_MAX:
            old = next(iter(_STRONG))
            del _STRONG[old]
            _CACHE.pop(old, None)
        _STRONG[key] = chart
        c.owner = functools.partial(_STRONG.get, key)
    _CACHE[key] = c
    return c


def _candidates(n: _N, event_type: str, v4: bool) -> list[_T]:
    """``getCandidates``: the node's transitions that take ``event_type``, in XState's order."""
    if not v4:
        if not n.wild:
            return n.exact.get(event_type) or []
    elif event_type == _NULL_EVENT:
        return n.always  # v4's null event takes the eventless transitions, and only them
    elif not n.ordered:
        return []
    got = n.cand.get(event_type)
    if got is not None:
        return got
    if v4:
        got = [t for t in n.ordered if t.event == event_type or t.event == "*"]
    else:
        got = list(n.exact.get(event_type) or ())
        got.extend(t for t in n.wild if _matches_descriptor(event_type, t.event or ""))
    if len(n.cand) < 512:
        n.cand[event_type] = got
    return got


def _is_desc(n: _N, anc: _N | None) -> bool:
    """XState's ``isDescendant`` (proper); every node descends from None (above the root)."""
    return anc is None or anc.idx < n.idx <= anc.end


def _idx(n: _N) -> int:
    return n.idx


def _proper_ancestors(n: _N, upto: _N | None) -> list[_N]:
    """``getProperAncestors(n, upto)``: from the parent up, stopping before ``upto``."""
    if upto is n:
        return []
    out = []
    m = n.parent
    while m is not None and m is not upto:
        out.append(m)
        m = m.parent
    return out
