"""XState v4's semantics (xstate 4.38.3 ``StateNode.transition``, ``resolveTransition``,
``getActions``): v4's names of internal events, selection over the state value without
conflict resolution, the merged next configuration, history as the parent's last state
value, actions in v4's order (assigns first without ``predictableActionArguments``), and
the depth-first follow-up of null, raised and done events."""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any

from dialoghub.engine.chart_actions import (
    _act,
    _arm,
    _assign,
    _cancel,
    _resolve,
    _spawn,
    _stop,
    _update,
)
from dialoghub.engine.chart_enter import _done_event
from dialoghub.engine.chart_index import _C, _N, _NULL_EVENT, _T, _idx, _proper_ancestors
from dialoghub.engine.chart_run import _Run
from dialoghub.engine.chart_select import _next
from dialoghub.engine.chart_state import INIT_EVENT
from dialoghub.engine.chart_value import (
    _v4_configuration,
    _v4_initial_leaves,
    _v4_resolve_history,
    _value_children,
    _value_tree,
)
from dialoghub.model.chart import (
    AFTER_PREFIX,
    ASSIGN,
    DONE_INVOKE_PREFIX,
    DONE_STATE_PREFIX,
    ERROR_PREFIX,
    RAISE,
    Ref,
)

_V4_NAMES = (
    (DONE_STATE_PREFIX, "done.state."),
    (DONE_INVOKE_PREFIX, "done.invoke."),
    (ERROR_PREFIX, "error.platform."),
)


_LITERAL = "\x00"  # marks an event type to be matched as a name no transition has


_V4_AFTER_NAME = re.compile(r"xstate\.after\((.+)\)#(.+)")


def _v4_internal(c: _C, etype: str) -> str | None:
    """The chart's name for an internal event in v4's spelling (``done.state.x``,
    ``done.invoke.x``, ``error.platform.x``, ``xstate.after(1000)#x``), or None."""
    for new, old in _V4_NAMES:
        if etype.startswith(old):
            return new + etype[len(old) :]
    m = _V4_AFTER_NAME.fullmatch(etype)
    if m is not None:
        return f"{AFTER_PREFIX}{m.group(1)}.{m.group(2)}"
    return None


def _v4_shown(c: _C, event: Mapping[str, Any]) -> Mapping[str, Any]:
    """The event as XState v4 names it (``done.state.<id>``, ``done.invoke.<id>``,
    ``error.platform.<id>``, ``xstate.after(<delay>)#<id>``): the chart says them in v5's
    words, v4's actions and guards see v4's."""
    etype = event["type"]
    if not etype.startswith("xstate."):
        return event
    if etype.endswith(_LITERAL):
        return {**event, "type": etype[: -len(_LITERAL)]}
    name = c.v4_after.get(etype)
    if name is None:
        for new, old in _V4_NAMES:
            if etype.startswith(new):
                name = old + etype[len(new) :]
                break
        else:
            return event
    return {**event, "type": name}


class _V4:
    """v4's StateTransition: selected transitions, the exit set ``next`` computed, and the
    nodes the targets resolve to."""

    __slots__ = ("configuration", "exit_set", "transitions")

    def __init__(self) -> None:
        self.transitions: list[_T] = []
        self.exit_set: list[_N] = []
        self.configuration: list[_N] = []


def _v4_preorder(c: _C, kids: Mapping[int, list[_N]]) -> list[_N]:
    """``getStateNodes(state.value)``: the configuration in state-value order."""
    out: list[_N] = []

    def walk(n: _N) -> None:
        out.append(n)
        for ch in kids.get(n.idx, ()):
            walk(ch)

    walk(c.root)
    return out


def _v4_reentering(source: _N, target: _N) -> list[_N]:
    """``getPotentiallyReenteringNodes``."""
    if source.idx < target.idx:
        return [source]
    nodes: list[_N] = []
    marker: _N | None = source
    while marker is not None and marker is not target:
        nodes.append(marker)
        marker = marker.parent
    if marker is not target:
        return []
    nodes.append(target)
    return nodes


def _v4_next(
    run: _Run, n: _N, event: Mapping[str, Any], fresh: bool, shown: Mapping[str, Any]
) -> _V4 | None:
    """v4 ``StateNode.next``."""
    t = _next(run, n, event, True, shown)
    if t is None:
        return None
    st = _V4()
    st.transitions.append(t)
    if not t.targets:
        st.configuration.append(n)
        return st
    for tg in t.targets:  # getRelativeStateNodes
        if tg.kind == "history":
            st.configuration.extend(_v4_resolve_history(None if fresh else run, tg))
        else:
            st.configuration.extend(_v4_initial_leaves(tg))
    if t.reenter:  # v4's external transitions (not `internal`)
        for tg in t.targets:
            st.exit_set.extend(_v4_reentering(n, tg))
    return st


def _v4_select(
    run: _Run,
    kids: Mapping[int, list[_N]],
    event: Mapping[str, Any],
    fresh: bool,
    shown: Mapping[str, Any],
) -> _V4 | None:
    """v4 ``_transition`` over the state value (regions in its key order): no conflict
    resolution, every region's transition is taken."""

    def sel(n: _N) -> _V4 | None:
        children = kids.get(n.idx)
        if not children:
            return _v4_next(run, n, event, fresh, shown)
        if len(children) == 1:
            got = sel(children[0])
            if got is not None and got.transitions:
                return got
            return _v4_next(run, n, event, fresh, shown)
        merged = _V4()
        for ch in children:
            got = sel(ch)
            if got is not None:
                merged.transitions.extend(got.transitions)
                merged.exit_set.extend(got.exit_set)
                merged.configuration.extend(got.configuration)
        if not merged.transitions:
            return _v4_next(run, n, event, fresh, shown)
        return merged

    return sel(run.c.root)


def _v4_in_final(conf: Mapping[int, Any] | set[int], n: _N) -> bool:
    """v4 ``isInFinalState`` (an atomic state is never "in a final state")."""
    if n.kind == "compound":
        return any(ch.kind == "final" and ch.idx in conf for ch in n.children)
    if n.kind == "parallel":
        return all(_v4_in_final(conf, ch) for ch in n.children)
    return False


def _v4_recorded(h: _N, kids: Mapping[int, list[_N]]) -> tuple[str, ...]:
    """What ``resolveHistory`` makes of the parent's state value: shallow, its keys (the
    active children); deep, the end of each of its paths (the active leaves)."""
    p = h.parent
    assert p is not None
    if h.history != "deep":
        return tuple(x.id for x in kids.get(p.idx, ()))
    out: list[str] = []

    def walk(n: _N) -> None:
        children = kids.get(n.idx)
        if not children:
            out.append(n.id)
        for ch in children or ():
            walk(ch)

    for ch in kids.get(p.idx, ()):
        walk(ch)
    return tuple(out)


def _v4_record_history(run: _Run, conf: Sequence[_N], prev: Sequence[_N], fresh: bool) -> None:
    """v4's history value after a transition (``updateHistoryValue``): every parent's last
    state value, created on the first transition from the previous state value (a parent
    never active has its initial value), kept here as what each history node restores."""
    c = run.c
    if not c.has_history:
        return
    kids = _value_children(c, conf)  # the new state value: what updateHistoryValue reads
    named = {n.idx for n in _v4_preorder(c, kids)}
    prev_kids = _value_children(c, prev) if fresh else {}
    prev_named = {n.idx for n in _v4_preorder(c, prev_kids)} if fresh else set()
    hist = dict(run.history)
    for h in c.nodes:
        if h.kind != "history":
            continue
        p = h.parent
        assert p is not None
        if p.idx in named and kids.get(p.idx):
            hist[h.id] = _v4_recorded(h, kids)
        elif fresh:
            if p.idx in prev_named and prev_kids.get(p.idx):
                hist[h.id] = _v4_recorded(h, prev_kids)
            elif h.history == "deep":
                hist[h.id] = tuple(x.id for x in _v4_initial_leaves(p))
            elif p.kind == "parallel":
                hist[h.id] = tuple(x.id for x in p.children)
            else:
                hist[h.id] = (p.initial.id,) if p.initial is not None else ()
    run.history = hist


_Block = tuple[Sequence[Ref], "_N | None", str]


def _v4_actions(run: _Run, blocks: list[_Block], event: Mapping[str, Any]) -> list[dict[str, Any]]:
    """v4 ``getActions`` + ``resolveActions``: blocks of (actions, node, kind) in order.
    "exit": the node's exit actions, then its timers cancelled and invokes stopped; "entry":
    its invokes started (before the entry actions without predictableActionArguments, after
    them with it), its entry actions, its timers armed; "actions": a transition's; "stop":
    exit actions when the machine completes (raises dropped), timers cancelled. Without
    predictableActionArguments every assign (and registered action) of all blocks runs first.
    Returns the raised events, in order."""
    raised: list[dict[str, Any]] = []
    predictable = run.c.predictable
    registered = run.reg.actions

    def updater(a: Ref) -> bool:
        return a.name == ASSIGN or a.name in registered

    if not predictable:
        for refs, _n, _kind in blocks:
            for a in refs:
                if a.name == ASSIGN:
                    _assign(run, a, event)
                elif updater(a):
                    _update(run, registered[a.name](run.context, event, a.params))
    for refs, n, kind in blocks:
        if kind == "entry" and not predictable and n is not None:
            _spawn(run, n, event)
        for a in refs:
            if (kind == "stop" and a.name == RAISE) or (not predictable and updater(a)):
                continue
            _act(run, a, event, raised)
        if n is None:
            continue
        if kind == "exit":
            _cancel(run, n)
            _stop(run, n)
        elif kind == "entry":
            _arm(run, n)
            if predictable:
                _spawn(run, n, event)
        elif kind == "stop":
            _cancel(run, n)
    return raised


def _v4_done_events(
    run: _Run, entries: Sequence[_N], conf: set[int], event: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """The done events v4 raises for the final states entered: ``done.state.<final>`` and
    ``done.state.<parent>`` (none for a final child of the root), and the grandparent's when
    it is parallel with every region final."""
    events: list[dict[str, Any]] = []
    for sn in entries:
        if sn.kind != "final" or sn.parent is None or sn.parent.parent is None:
            continue
        parent = sn.parent
        out = _resolve(run, sn.output, event) if sn.output is not None else None
        events.append(_done_event(sn.id, out, True))
        events.append(_done_event(parent.id, out, True))
        grand = parent.parent
        assert grand is not None
        if grand.kind == "parallel" and all(_v4_in_final(conf, ch) for ch in grand.children):
            events.append(_done_event(grand.id, None, True))
    return events


def _v4_complete(run: _Run, conf: set[int], event: Mapping[str, Any]) -> None:
    """The machine is done; its output is the ``data`` of the root's final child."""
    run.done = True
    final = next((ch for ch in run.c.root.children if ch.kind == "final" and ch.idx in conf), None)
    out = final.output if final is not None else None
    run.output = _resolve(run, out, event) if out is not None else None


def _v4_transition(
    run: _Run, event: Mapping[str, Any]
) -> tuple[bool, bool, list[_N], list[dict[str, Any]]]:
    """v4 ``machine.transition(state, event)`` up to its recursion: the transition, its
    actions, the new configuration. Returns (willTransition, isDone, the configuration
    ``resolveTransition`` looks for eventless transitions in, the raised events).

    Without a transition the state keeps its configuration, but ``getActions`` still runs
    against the configuration its value names: a node of the configuration the value does
    not name (left there by two merged region transitions) is entered again, as in v4."""
    c = run.c
    kids, consistent = _value_tree(c, run.active.values())  # state.value, which v4 walks
    fresh = not run.history  # no history value yet (the state before the first transition)
    run.count()
    shown = _v4_shown(c, event)  # the event as v4 names it, for guards and actions
    st = _v4_select(run, kids, event, fresh, shown)
    will = st is not None and bool(st.transitions)
    prev = _v4_preorder(c, kids)  # getConfiguration([], getStateNodes(value)):
    if not consistent:  # the same nodes in the same order, when they were consistent
        prev = _v4_configuration([], prev)
    prev_has = {n.idx for n in prev}
    if st is not None and will:
        resolved = _v4_configuration(prev, st.configuration) if st.configuration else prev
        res_has = {n.idx for n in resolved}
        exit_list = list(st.exit_set)
        transition_actions = [a for t in st.transitions for a in t.actions]
    else:
        resolved = list(run.active.values())  # currentState.configuration
        res_has = {n.idx for n in resolved}
        if res_has == prev_has and not run.done:
            return False, False, prev, []
        # a done state still runs its exit actions (the "stop" block) for every event it is
        # given: v4 takes the raised events left after reaching the final state
        exit_list = []
        transition_actions = []
    done = _v4_in_final(res_has, c.root)
    exit_has = {n.idx for n in exit_list}
    entry: dict[int, _N] = {}
    for sn in sorted(resolved, key=_idx):
        if (
            sn.idx not in prev_has
            or sn.idx in exit_has
            or (sn.parent is not None and sn.parent.idx in entry)
        ):
            entry[sn.idx] = sn
    for sn in prev:
        if sn.idx not in res_has or (sn.parent is not None and sn.parent.idx in exit_has):
            exit_list.append(sn)
            exit_has.add(sn.idx)
    exits: dict[int, _N] = {}
    for sn in sorted(exit_list, key=_idx, reverse=True):
        exits.setdefault(sn.idx, sn)
    entries = sorted(entry.values(), key=_idx)
    done_events = _v4_done_events(run, entries, res_has, shown)
    blocks: list[_Block] = [(n.exit, n, "exit") for n in exits.values()]
    blocks.append((transition_actions, None, "actions"))
    blocks.extend((n.entry, n, "entry") for n in entries)
    if done:
        blocks.extend((n.exit, n, "stop") for n in sorted(resolved, key=_idx, reverse=True))
    kept = (len(run.effects), list(run.armed), list(run.invoked), run.counter)
    raised = _v4_actions(run, blocks, shown)
    if not will and (not c.predictable or run.starting):
        # resolveTransition keeps no actions without a new state value (`actions: []`): only
        # the assigns, applied before, stay. The interpreter executes what the state keeps
        # (without predictableActionArguments, and for the initial state even with it)
        del run.effects[kept[0] :]
        run.armed, run.invoked, run.counter = kept[1], kept[2], kept[3]
    if will:
        _v4_record_history(run, resolved, prev, fresh)
        run.active = {n.idx: n for n in resolved}
    if exits or entries:
        run.microsteps.append((tuple(n.id for n in exits.values()), tuple(n.id for n in entries)))
    if done:
        _v4_complete(run, res_has, shown)
    else:
        run.done = False
        run.output = None
    return will, done, resolved if will else prev, raised + done_events


def _v4_follow(
    run: _Run,
    will: bool,
    done: bool,
    conf: list[_N],
    raised: list[dict[str, Any]],
    event_type: str,
) -> list[dict[str, Any]]:
    """What ``resolveTransition`` takes next after a transition: the null event (when the
    configuration has eventless transitions), then the raised events; nothing after an
    unhandled event unless there are eventless transitions, nothing once done."""
    c = run.c
    has_always = not done and (c.root.transient or any(n.transient for n in conf))
    if not will and (not has_always or event_type == _NULL_EVENT):
        return []
    if done:
        return []
    return ([{"type": _NULL_EVENT}] if has_always else []) + raised


def _v4_drive(run: _Run, pending: list[dict[str, Any]]) -> None:
    """v4's recursion, depth first, without Python recursion: each transition's follow-ups
    are taken before the rest of its parent's."""
    stack: list[deque[dict[str, Any]]] = [deque(pending)]
    while stack:
        top = stack[-1]
        if not top:
            stack.pop()
            continue
        ev = top.popleft()
        will, done, conf, raised = _v4_transition(run, ev)
        follow = _v4_follow(run, will, done, conf, raised, ev["type"])
        if follow:
            stack.append(deque(follow))


def _v4_send(run: _Run, event: Mapping[str, Any]) -> bool:
    """v4 ``machine.transition(state, event)`` with all it leads to; returns whether the
    event itself was taken."""
    will, done, conf, raised = _v4_transition(run, event)
    _v4_drive(run, _v4_follow(run, will, done, conf, raised, event["type"]))
    return will


def _v4_start(run: _Run) -> None:
    """v4 ``getInitialState``: the initial configuration (``getStateNodes`` of the initial
    state value) entered, then its null event and raised events."""
    c = run.c
    nodes: list[_N] = []

    def walk(n: _N) -> None:
        nodes.append(n)
        if n.kind == "compound":
            assert n.initial is not None
            if n.initial.kind == "history":
                for x in _v4_resolve_history(None, n.initial):
                    nodes.extend(a for a in reversed(_proper_ancestors(x, n)) if a not in nodes)
                    walk(x)
            else:
                walk(n.initial)
        elif n.kind == "parallel":
            for ch in n.children:
                walk(ch)

    walk(c.root)
    init = {"type": INIT_EVENT}
    res_has = {n.idx for n in nodes}
    done = _v4_in_final(res_has, c.root)
    entries = sorted(nodes, key=_idx)
    done_events = _v4_done_events(run, entries, res_has, init)
    blocks: list[_Block] = [(n.entry, n, "entry") for n in entries]
    if done:
        blocks.extend((n.exit, n, "stop") for n in sorted(nodes, key=_idx, reverse=True))
    raised = _v4_actions(run, blocks, init) + done_events
    run.active = {n.idx: n for n in nodes}
    run.microsteps.append(((), tuple(n.id for n in entries)))
    if done:
        _v4_complete(run, res_has, init)
        return
    has_always = c.root.transient or any(n.transient for n in nodes)
    _v4_drive(run, ([{"type": _NULL_EVENT}] if has_always else []) + raised)
