"""Transition selection (XState v5): ``StateNode.next`` (also v4's), ``transitionNode`` over
the state value, ``selectEventlessTransitions`` and ``removeConflictingTransitions``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dialoghub.engine.chart_actions import _guard
from dialoghub.engine.chart_enter import _exit_set
from dialoghub.engine.chart_index import _N, _T, _candidates, _idx, _is_desc
from dialoghub.engine.chart_run import _Run
from dialoghub.engine.chart_value import _value_children


def _next(
    run: _Run, n: _N, event: Mapping[str, Any], v4: bool, shown: Mapping[str, Any] | None = None
) -> _T | None:
    """``StateNode.next``: the node's first candidate whose guard passes (the guard is given
    ``shown``, the event as the machine's own XState version names it, when there is one)."""
    for t in _candidates(n, event["type"], v4):
        if t.guard is None or _guard(run, t.guard, shown or event):
            return t
    return None


def _select(run: _Run, event: Mapping[str, Any]) -> list[_T]:
    """v5 ``transitionNode`` over the state value: from each atomic state up, the first node
    with an enabled transition; a parallel state's own transitions count only when none of
    its regions has one."""
    if not run.c.has_parallel:
        leaf = max(run.active.values(), key=_idx)  # a chain: the deepest is the atomic state
        for n in (leaf, *leaf.ancestors):
            t = _next(run, n, event, False)
            if t is not None:
                return [t]
        return []
    kids = _value_children(run.c, run.active.values())

    def sel(n: _N) -> list[_T]:
        out: list[_T] = []
        for ch in kids.get(n.idx, ()):
            out.extend(sel(ch))
        if not out:
            t = _next(run, n, event, False)
            if t is not None:
                out.append(t)
        return out

    return sel(run.c.root)


def _select_eventless(run: _Run, event: Mapping[str, Any]) -> list[_T]:
    """``selectEventlessTransitions``: atomic states in the order they were entered."""
    enabled: dict[int, _T] = {}
    for leaf in run.active.values():
        if not leaf.atomic:
            continue
        for s in (leaf, *leaf.ancestors):
            if not s.always:
                continue
            found = None
            for t in s.always:
                if t.guard is None or _guard(run, t.guard, event):
                    found = t
                    break
            if found is not None:
                enabled.setdefault(id(found), found)
                break
    if not enabled:
        return []
    return _remove_conflicts(run, list(enabled.values()))


def _remove_conflicts(run: _Run, ts: list[_T]) -> list[_T]:
    """``removeConflictingTransitions``: of two transitions exiting a common state, the one
    from the descendant source wins, else the earlier one."""
    if len(ts) < 2:
        return ts
    kept: list[_T] = []
    exits: dict[int, set[int]] = {}

    def ex(t: _T) -> set[int]:
        got = exits.get(id(t))
        if got is None:
            got = exits[id(t)] = set(_exit_set(run, [t]))
        return got

    for t1 in ts:
        preempted = False
        remove: list[_T] = []
        for t2 in kept:
            if ex(t1) & ex(t2):
                if _is_desc(t1.source, t2.source):
                    remove.append(t2)
                else:
                    preempted = True
                    break
        if not preempted:
            kept = [t for t in kept if t not in remove]
            kept.append(t1)
    return kept
