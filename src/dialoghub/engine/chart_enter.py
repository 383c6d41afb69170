"""XState v5's exit and entry sets (``stateUtils.ts``): history defaults and recorded
histories, transition domains, ``computeExitSet``, ``computeEntrySet`` with its descendant
and ancestor states, final states and done events."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dialoghub.engine.chart_index import _N, _T, _is_desc, _proper_ancestors
from dialoghub.engine.chart_run import _recorded, _Run
from dialoghub.model.chart import (
    DONE_STATE_PREFIX,
)


def _history_default(h: _N) -> list[_N]:
    """``resolveHistoryDefaultTransition``: the history's target, else the parent itself when
    it is parallel, else the parent's initial state."""
    if h.history_default:
        return h.history_default
    parent = h.parent
    assert parent is not None
    if parent.kind == "parallel":
        return [parent]
    return [parent.initial] if parent.initial is not None else []


def _effective_targets(run: _Run, targets: Sequence[_N]) -> list[_N]:
    """``getEffectiveTargetStates``: history targets replaced by what they restore."""
    out: dict[int, _N] = {}
    for tg in targets:
        if tg.kind == "history":
            rec = _recorded(run, tg)
            for n in rec if rec is not None else _effective_targets(run, _history_default(tg)):
                out.setdefault(n.idx, n)
        else:
            out.setdefault(tg.idx, tg)
    return list(out.values())


def _lca(nodes: Sequence[_N]) -> _N | None:
    """``findLeastCommonAncestor``: the nearest proper ancestor of the first node that every
    other node descends from (properly)."""
    head, tail = nodes[0], nodes[1:]
    for anc in head.ancestors:
        if all(_is_desc(n, anc) for n in tail):
            return anc
    return None


def _domain(run: _Run, t: _T) -> _N | None:
    """``getTransitionDomain`` (None: above the root, every node is exited)."""
    d = t.domain
    if d is not False:
        return d  # type: ignore[return-value]
    targets = _effective_targets(run, t.targets)
    src = t.source
    if not t.reenter and all(tg is src or _is_desc(tg, src) for tg in targets):
        dom: _N | None = src
    else:
        dom = _lca([*targets, src])
        if dom is None and not t.reenter:
            dom = run.c.root
    if not t.hist:
        t.domain = dom
    return dom


def _exit_set(run: _Run, ts: Sequence[_T]) -> dict[int, _N]:
    """``computeExitSet``."""
    out: dict[int, _N] = {}
    for t in ts:
        if t.targets:
            dom = _domain(run, t)
            if t.reenter and t.source is dom:
                assert dom is not None
                out[dom.idx] = dom
            for n in run.active.values():
                if _is_desc(n, dom):
                    out[n.idx] = n
    return out


def _add_descendants(run: _Run, s: _N, enter: dict[int, _N], default: set[int]) -> None:
    """``addDescendantStatesToEnter``. ``default`` collects ``statesForDefaultEntry``: the
    states whose ``initial`` transition is taken (their ``initial_actions`` run)."""
    if s.kind == "history":
        rec = _recorded(run, s)
        nodes = rec if rec is not None else _history_default(s)
        parent = s.parent
        assert parent is not None
        # a history without a target takes the parent's initial transition (with its
        # initial actions: `historyDefaultTransition === stateNode.parent.initial`); one with
        # a target, even the initial child, does not
        initial = rec is None and parent.kind != "parallel" and not s.history_default
        for n in nodes:
            enter[n.idx] = n
            if initial:  # the default is the parent's initial transition
                default.add(parent.idx)
            _add_descendants(run, n, enter, default)
        for n in nodes:
            _add_ancestors(run, enter, default, _proper_ancestors(n, parent), None)
    elif s.kind == "compound":
        init = s.initial
        assert init is not None
        if init.kind != "history":
            enter[init.idx] = init
            default.add(init.idx)
        _add_descendants(run, init, enter, default)
        _add_ancestors(run, enter, default, _proper_ancestors(init, s), None)
    elif s.kind == "parallel":
        for child in s.children:
            if not any(_is_desc(x, child) for x in enter.values()):
                enter[child.idx] = child
                default.add(child.idx)
                _add_descendants(run, child, enter, default)


def _add_ancestors(
    run: _Run,
    enter: dict[int, _N],
    default: set[int],
    ancestors: Sequence[_N],
    domain: _N | None,
) -> None:
    """``addAncestorStatesToEnter`` (``domain`` None: no reentrancy domain). A region it adds
    is not a default entry (XState adds it to ``statesToEnter`` only)."""
    for anc in ancestors:
        if domain is None or _is_desc(anc, domain):
            enter[anc.idx] = anc
        if anc.kind == "parallel":
            for child in anc.children:
                if not any(_is_desc(x, child) for x in enter.values()):
                    enter[child.idx] = child
                    _add_descendants(run, child, enter, default)


def _entry_set(run: _Run, ts: Sequence[_T], default: set[int]) -> dict[int, _N]:
    """``computeEntrySet``."""
    enter: dict[int, _N] = {}
    for t in ts:
        dom = _domain(run, t)
        src = t.source
        for s in t.targets:
            if s.kind != "history" and (src is not s or src is not dom or t.reenter):
                enter[s.idx] = s
                default.add(s.idx)
            _add_descendants(run, s, enter, default)
        for s in _effective_targets(run, t.targets) if t.targets else ():
            ancestors = _proper_ancestors(s, dom)
            if dom is not None and dom.kind == "parallel":
                ancestors.append(dom)
            reentrancy = None if src.parent is None and t.reenter else dom
            _add_ancestors(run, enter, default, ancestors, reentrancy)
    return enter


def _in_final(active: Mapping[int, _N], n: _N) -> bool:
    """v5 ``isInFinalState``."""
    if n.kind == "compound":
        return any(ch.kind == "final" and ch.idx in active for ch in n.children)
    if n.kind == "parallel":
        return all(_in_final(active, ch) for ch in n.children)
    return n.kind == "final"


def _done_event(node_id: str, output: Any, v4: bool) -> dict[str, Any]:
    ev: dict[str, Any] = {"type": DONE_STATE_PREFIX + node_id}
    ev["data" if v4 else "output"] = output
    return ev
