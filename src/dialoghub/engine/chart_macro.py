"""XState v5's microstep and macrostep (``stateUtils.ts``): exits with history recorded,
transition actions, entries with their timers, invokes and done events, machine completion
and output, then eventless transitions and internal events until the chart is at rest."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dialoghub.engine.chart_actions import (
    _actions,
    _arm,
    _cancel,
    _resolve,
    _spawn,
    _stop,
    _stop_all,
)
from dialoghub.engine.chart_enter import _done_event, _entry_set, _exit_set, _in_final
from dialoghub.engine.chart_index import _C, _N, _T, _idx, _is_desc
from dialoghub.engine.chart_run import _Run
from dialoghub.engine.chart_select import _remove_conflicts, _select, _select_eventless
from dialoghub.model.chart import (
    ERROR_PREFIX,
    Transition,
)


def _microstep(run: _Run, ts: list[_T], event: Mapping[str, Any], initial: bool = False) -> bool:
    """v5 ``microstep``; True when the snapshot changed (states, history, context, children),
    which is what lets eventless transitions be selected again."""
    if not ts:
        return False
    run.count()
    run.changed = False
    active = run.active
    before = set(active)
    order_before = list(active)
    history_before = run.history
    if len(ts) > 1:
        ts = _remove_conflicts(run, ts)
    exited: list[str] = []
    if not initial:
        exits = sorted(_exit_set(run, ts).values(), key=_idx, reverse=True)
        for s in exits:  # exitStates: history first, from the configuration before exiting
            for h in s.hist_children:
                if h.history == "deep":
                    rec = [n.id for n in active.values() if n.atomic and _is_desc(n, s)]
                else:
                    rec = [n.id for n in active.values() if n.parent is s]
                if run.history is history_before:
                    run.history = dict(history_before)
                run.history[h.id] = tuple(rec)
        for s in exits:
            _actions(run, s.exit, event)
            _cancel(run, s)
            _stop(run, s)
            del active[s.idx]
            exited.append(s.id)
    for t in ts:
        _actions(run, t.actions, event)
    entered: list[str] = []
    completed: set[int] = set()
    default: set[int] = {run.c.root.idx} if initial else set()
    for s in sorted(_entry_set(run, ts, default).values(), key=_idx):
        active[s.idx] = s  # dict: a node still present keeps its place, as in a JS Set
        entered.append(s.id)
        _actions(run, s.entry, event)
        _arm(run, s)
        _spawn(run, s, event)
        if s.initial_actions and s.idx in default:
            _actions(run, s.initial_actions, event)
        if s.kind != "final":
            continue
        parent = s.parent
        marker = (
            parent
            if parent is not None and parent.kind == "parallel"
            else (parent.parent if parent is not None else None)
        )
        completion = marker or s
        if parent is not None and parent.kind == "compound":
            out = _resolve(run, s.output, event) if s.output is not None else None
            run.queue.append(_done_event(parent.id, out, False))
        while (
            marker is not None
            and marker.kind == "parallel"
            and marker.idx not in completed
            and _in_final(active, marker)
        ):
            completed.add(marker.idx)
            run.queue.append(_done_event(marker.id, None, False))
            completion = marker
            marker = marker.parent
        if marker is not None:
            continue
        run.done = True
        run.output = _machine_output(run, completion, event)
    if run.done:
        for s in sorted(active.values(), key=_idx, reverse=True):
            _actions(run, s.exit, event)
            _cancel(run, s)
    run.microsteps.append((tuple(exited), tuple(entered)))
    if run.history is history_before and set(active) == before:
        # same states, same history: XState returns the snapshot with its old `_nodes`,
        # whose order (not the one of this microstep's exits and entries) orders the next
        # eventless selection
        if exited:
            run.active = {i: active[i] for i in order_before}
        return run.changed
    return True


def _machine_output(run: _Run, completion: _N, event: Mapping[str, Any]) -> Any:
    """v5 ``getMachineOutput``: the root's ``output``, given the done event of the state that
    completed the machine (with that state's own output)."""
    root = run.c.root
    if root.output is None:
        return None
    inner = None
    if completion.output is not None and completion.parent is not None:
        inner = _resolve(run, completion.output, event)
    return _resolve(run, root.output, _done_event(completion.id, inner, False))


def _initial_targets(c: _C) -> list[_N]:
    """``getInitialStateNodes(root)``."""
    out: dict[int, _N] = {}

    def it(n: _N) -> None:
        if n.idx in out:
            return
        out[n.idx] = n
        if n.kind == "compound":
            assert n.initial is not None
            it(n.initial)
        elif n.kind == "parallel":
            for ch in n.children:
                it(ch)

    it(c.root)
    return list(out.values())


def _macrostep_v5(
    run: _Run, event: Mapping[str, Any], initial: bool, forced: list[_T] | None = None
) -> bool:
    """v5 ``macrostep`` (after ``initialMicrostep`` when starting; with ``forced``, those
    transitions instead of the event's: :func:`jump`); returns ``handled``."""
    handled = True
    if forced is not None:
        _microstep(run, forced, event)
    elif initial:
        c = run.c
        synthetic = _T(Transition(source=c.root.id, event=None, reenter=True), c.root, [])
        synthetic.targets = _initial_targets(c)
        synthetic.hist = any(n.kind == "history" for n in synthetic.targets)
        run.active[c.root.idx] = c.root
        _microstep(run, [synthetic], event, initial=True)
    else:
        ts = _select(run, event)
        handled = bool(ts)
        if not ts and event["type"].startswith(ERROR_PREFIX):
            _stop_all(run)
            run.error = event.get("error")
            return False
        _microstep(run, ts, event)
    select_eventless = True
    next_event = event
    while not run.done:
        ts = _select_eventless(run, next_event) if select_eventless and run.c.has_always else []
        eventless = bool(ts)
        if not ts:
            if not run.queue:
                break
            next_event = run.queue.popleft()
            ts = _select(run, next_event)
        changed = _microstep(run, ts, next_event)
        select_eventless = changed if eventless else True
    return handled
