"""The statechart interpreter: a compiled :class:`~dialoghub.model.chart.Chart` run as XState
runs it, as a pure function ``(chart, state, event) -> (state, effects)``.

:func:`start` enters the initial configuration, :func:`send` takes one external event through
one *macrostep*: the event's microstep, then eventless transitions and internal (raised, done)
events until the chart is at rest. Nothing here does I/O, reads a clock or draws a random
number: timers and invoked services leave as :class:`Effect` records for the application
(arm a timer, start a command), and their outcomes come back as ordinary events
(``xstate.after.<delay>.<node id>``, ``xstate.done.actor.<id>``, ``xstate.error.actor.<id>``).
A :class:`ChartState` is plain data (msgspec), so it lives in a session snapshot and a
session replays from its events alone.

Two algorithms, one per XState major, because they disagree on observable behaviour (the
README of ``tests/xstate`` lists what the differential tests see):

* **v5** (``chart.dialect == "v5"``) ports XState v5's ``stateUtils.ts`` (xstate 5.33,
  ``packages/core/src/stateUtils.ts`` in github.com/statelyai/xstate): ``macrostep``,
  ``microstep``, ``removeConflictingTransitions``, ``getTransitionDomain``, ``computeExitSet``,
  ``computeEntrySet``/``addDescendantStatesToEnter``/``addAncestorStatesToEnter``,
  ``exitStates`` (history recorded on exit), ``enterStates`` (done events). That is the SCXML
  algorithm with XState's own choices, kept here on purpose: the transition domain is the
  least common *ancestor* (not the least compound one, so a transition between two regions
  of a parallel state re-enters every region at its initial state), a parallel state's own
  transitions are looked at only when none of its regions has one (``transitionParallelNode``),
  and eventless transitions are selected over the atomic states in the order they were
  entered (``snapshot._nodes``), not in document order.
* **v4** (``chart.dialect == "v4"``) ports xstate 4.38.3's ``StateNode.transition`` /
  ``resolveTransition`` / ``getActions`` and ``stateUtils.getConfiguration``: the next
  configuration is the previous one with the targets' leaves merged in (a region that a
  transition does not target keeps its state), external transitions exit what
  ``getPotentiallyReenteringNodes`` says, eventless transitions are tried once after every
  transition (and after an unhandled event) with the null event ``{"type": ""}``, raised
  and done events are taken depth first after them, history is the last state value of the
  parent (a history state's default ``target`` is only used before the first transition),
  and with ``predictableActionArguments: false`` (``chart.predictable`` False) every
  ``assign`` of a transition runs before its other actions.

Event matching (``getCandidates``): v5 takes a state's transitions for the exact event type
first, then its wildcard descriptors (``*``, ``a.*``; ``a.*`` also matches ``a`` and
``a.b.c``) from the longest to the shortest (``stateUtils.getCandidates``,
``utils.matchesEventDescriptor``); v4 knows only ``*``, and takes a state's transitions in its
own order (``formatTransitions``: ``onDone``, invoke ``onDone``/``onError``, ``on`` without
``*``, ``on['*']``, ``always``, ``after``) keeping those for the event type or ``*``. The
chart names internal events in v5's words; a v4 machine's guards and actions see v4's
(``done.state.x``, ``done.invoke.x``, ``error.platform.x``, ``xstate.after(1000)#x``), and
v4's spellings sent in are understood.

More of XState kept as it is, each checked against the real packages (tests/xstate):

* Delayed events (``after``) are armed on entry after the entry actions and cancelled on exit
  after the exit actions (v5 ``getDelayedTransitions`` appends ``raise(..., {delay})`` and
  ``cancel`` to them; v4 the same with ``send``/``cancel``). XState keeps one timer per event
  id: a state entered again without being exited re-arms over a running timer, which then
  still fires but can no longer be cancelled (``Armed.registered`` False). A due timer comes
  back with its arming ``counter``; a delayed event without one was sent by hand and is taken
  like any event (it does not consume the timer).
* Invoked services start after a state's entry actions (v5 ``enterStates``; v4 likewise with
  ``predictableActionArguments``, before them without) and stop after its exit actions. An
  ``xstate.error.actor.<id>`` nothing takes stops a v5 machine (``status: 'error'``,
  ``ChartState.error``); v4 throws it from the interpreter and the machine goes on.
* v5 runs a compound state's ``initial`` actions when its initial transition is taken
  (``statesForDefaultEntry``); on completion (a top-level final state) every active state's
  exit actions run, then every invoke still running stops.
* XState can reach configurations that are not consistent (v5: a history recorded while
  exiting changes the domain used for entering; v4: several regions' transitions merged into
  one configuration); its state value is then computed through its own normalisation, and
  so is it here (``_value_children``), with XState's node order kept in ``ChartState.order``.

Cost: each chart is indexed once (nodes in document order, ancestors, intervals for
"descends from", candidate transitions per event type, transition domains), in a cache that
holds charts weakly. A step that evaluates no guard and runs no action, timer or invoke is
a function of (configuration, event type) alone and is remembered per chart (for charts with
no parallel, history or eventless state): a flat dialog costs a dictionary lookup per event.

This module is the API (:func:`start`, :func:`send`, :func:`jump`, and the names of
``__all__``); the parts, each its own module below it: ``chart_state`` (the records),
``chart_index`` (the chart, precomputed), ``chart_run`` (a macrostep's working state),
``chart_value`` (configurations, state values, ``matches``), ``chart_enter`` (v5 exit and
entry sets, history, done events), ``chart_actions`` (guards, actions, delays, invokes),
``chart_select`` (v5 selection and conflicts), ``chart_macro`` (v5 microstep and macrostep)
and ``chart_v4`` (v4's semantics).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from dialoghub.engine.chart_actions import _stop_all
from dialoghub.engine.chart_index import _C, _CACHE, _T, _compiled
from dialoghub.engine.chart_macro import _macrostep_v5
from dialoghub.engine.chart_run import _Run
from dialoghub.engine.chart_state import (
    _EMPTY_REGISTRY,
    INIT_EVENT,
    MAX_MICROSTEPS,
    ActionFn,
    Armed,
    ChartState,
    Effect,
    ExprFn,
    GuardFn,
    Microstep,
    Registry,
    Step,
    _step,
)
from dialoghub.engine.chart_v4 import _LITERAL, _v4_internal, _v4_send, _v4_start
from dialoghub.engine.chart_value import matches, value
from dialoghub.errors import InvalidInput, SessionClosed, UnexpectedInput
from dialoghub.model.chart import (
    AFTER_PREFIX,
    DONE_INVOKE_PREFIX,
    ERROR_PREFIX,
    Chart,
    Transition,
)

__all__ = [
    "INIT_EVENT",
    "JUMP_EVENT",
    "MAX_MICROSTEPS",
    "ActionFn",
    "Armed",
    "ChartState",
    "Effect",
    "ExprFn",
    "GuardFn",
    "Microstep",
    "Registry",
    "Step",
    "jump",
    "matches",
    "send",
    "start",
    "value",
]


def _finish(run: _Run, handled: bool) -> Step:
    if run.done:
        if run.invoked:
            _stop_all(run)
        run.armed = []
    return Step(run.state(), run.effects, handled, run.microsteps)


_MEMO_MAX = 4096


def _remember(c: _C, state: ChartState, etype: str, run: _Run, handled: bool) -> None:
    """Keep a pure step's outcome (see ``_C.memo``)."""
    memo = c.memo
    if memo is None or len(memo) >= _MEMO_MAX or run.done or run.error is not None:
        return
    if not handled:
        memo[(state.configuration, etype)] = (state.configuration, None)
        return
    micro = run.microsteps[0] if run.microsteps else ((), ())
    if any(c.by_id[i].kind == "final" for i in micro[1]):
        return
    memo[(state.configuration, etype)] = (run.state().configuration, micro)


def _recall(
    chart: Chart,
    state: ChartState,
    etype: str,
    hit: tuple[tuple[str, ...], Microstep | None],
) -> Step:
    configuration, micro = hit
    if micro is None:
        if chart.strict:
            raise UnexpectedInput(
                f"chart {chart.id!r}: no active state takes event {etype!r}",
                event=etype,
                configuration=list(state.configuration),
            )
        return Step(state, [], False, [])
    new = ChartState(
        configuration=configuration,
        history=state.history,
        context=state.context,
        armed=state.armed,
        invoked=state.invoked,
        counter=state.counter,
    )
    return _step((new, [], True, [micro]))


#: the event a jump's transition and the actions it runs see
JUMP_EVENT = "xstate.jump"


def jump(
    chart: Chart,
    state: ChartState,
    target: str,
    *,
    registry: Registry | None = None,
) -> Step:
    """Move to the node ``target`` (an id) as a root-level transition to it would, in one
    macrostep: XState v5's ``on: {JUMP: '#target'}`` on the root (every active state below
    the root is exited, in order, with its exit actions, delays and invocations; the target
    is entered with its ancestors and initial descendants and their entry actions; eventless
    transitions and raised events follow). Actions see ``{"type": JUMP_EVENT, "state":
    target}``. XState has no jump of its own, so v5's rules are used for every chart but v4's,
    which is refused (:class:`~dialoghub.errors.InvalidInput`), as is an unknown ``target``."""
    c = _compiled(chart)
    if state.done or state.error is not None:
        raise SessionClosed(chart.id, "done" if state.done else "failed")
    if c.v4:
        raise InvalidInput(
            f"chart {chart.id!r} is an XState v4 machine: it moves only by its events (a jump "
            "follows v5's rules)"
        )
    node = c.by_id.get(target)
    if node is None or node is c.root:
        raise InvalidInput(f"chart {chart.id!r} has no state {target!r} to jump to", state=target)
    run = _Run(c, state, registry or _EMPTY_REGISTRY)
    t = _T(Transition(source=c.root.id, event=JUMP_EVENT, targets=(node.id,)), c.root, [node])
    handled = _macrostep_v5(run, {"type": JUMP_EVENT, "state": target}, False, forced=[t])
    return _finish(run, handled)


def start(
    chart: Chart,
    *,
    context: Mapping[str, Any] | None = None,
    registry: Registry | None = None,
) -> Step:
    """Enter ``chart``'s initial configuration (and everything that follows from it:
    eventless transitions, raised and done events). ``context`` overrides keys of the
    chart's initial context."""
    c = _compiled(chart)
    run = _Run(c, None, registry or _EMPTY_REGISTRY)
    run.context = {**chart.context, **context} if context else dict(chart.context)
    if c.v4:
        _v4_start(run)
    else:
        _macrostep_v5(run, {"type": INIT_EVENT}, True)
    return _finish(run, True)


def send(
    chart: Chart,
    state: ChartState,
    event: Mapping[str, Any],
    *,
    registry: Registry | None = None,
) -> Step:
    """Take one external event (``{"type": ..., **payload}``) through one macrostep.

    An event no active state takes is ignored with ``handled`` False (XState's default), or
    refused with :class:`~dialoghub.errors.UnexpectedInput` when ``chart.strict``. A due
    delayed event (``xstate.after.<delay>.<node id>``, with ``"counter"`` its arming number)
    whose arming is no longer armed, and the answer (``xstate.done.actor.<id>`` with
    ``output``, ``xstate.error.actor.<id>`` with ``error``) of an invoke no longer running,
    are ignored. Any event after the machine is done (or stopped on an error) raises
    :class:`~dialoghub.errors.SessionClosed`.
    """
    c = _CACHE.get(id(chart))
    if c is None or c.owner() is not chart:
        c = _compiled(chart)
    if state.done or state.error is not None:
        raise SessionClosed(chart.id, "done" if state.done else "failed")
    etype = event.get("type") if type(event) is dict or isinstance(event, Mapping) else None
    if type(etype) is not str or not etype:
        raise InvalidInput(f"an event needs a type (a non-empty string), got {etype!r}")
    literal = False
    if c.v4:
        if etype == "*":  # v4 StateNode.transition (a development build): refused
            raise InvalidInput("an event cannot have the wildcard type ('*') in XState v4")
        internal = _v4_internal(c, etype)
        if internal is not None:  # v4's own spelling of an internal event: the chart's name
            etype = internal
            event = {**event, "type": internal}
        elif etype.startswith(AFTER_PREFIX) and "counter" not in event:
            literal = True  # v5's spelling, sent by hand: in v4 a name like any other
        if (
            c.v4_events is not None
            and etype not in c.v4_events
            and not etype.startswith(("xstate.", "done.", "error."))  # v4 isBuiltInEvent
        ):
            raise UnexpectedInput(
                f"Machine '{chart.id}' does not accept event '{etype}' (XState v4 strict)",
                event=etype,
                configuration=list(state.configuration),
            )
    plain = not etype.startswith("xstate.")  # an event of the application's own
    if plain:
        memo = c.memo
        if memo is not None:
            hit = memo.get((state.configuration, etype))
            if hit is not None:
                return _recall(chart, state, etype, hit)
    ev = dict(event)
    if etype.startswith(AFTER_PREFIX) and "counter" in ev:
        # a timer's delivery (its arming number in "counter"); without one, an event sent
        # by hand that only looks like a delayed one, which XState takes like any other
        counter = ev.pop("counter")
        armed = [a for a in state.armed if a.event == etype and a.counter == counter]
        if not armed:
            return Step(state, [], False, [])
        fired = armed[0]
        # v5's timer callback also forgets the event's registered timer (`delete timerMap[id]`)
        state = msgspec.structs.replace(
            state,
            armed=tuple(
                msgspec.structs.replace(a, registered=False)
                if not c.v4 and a.event == etype and a.registered
                else a
                for a in state.armed
                if a is not fired
            ),
        )
    elif etype.startswith((DONE_INVOKE_PREFIX, ERROR_PREFIX)):
        ident = etype.removeprefix(DONE_INVOKE_PREFIX).removeprefix(ERROR_PREFIX)
        if ident not in state.invoked:
            return Step(state, [], False, [])
        state = msgspec.structs.replace(
            state, invoked=tuple(i for i in state.invoked if i != ident)
        )
        if c.v4 and etype.startswith(DONE_INVOKE_PREFIX) and "data" not in ev:
            ev["data"] = ev.get("output")
    if literal:
        ev["type"] = etype + _LITERAL
    run = _Run(c, state, registry or _EMPTY_REGISTRY)
    if c.v4:
        if etype.startswith(ERROR_PREFIX) and not any(
            (t.event or "").startswith(ERROR_PREFIX) for n in run.active.values() for t in n.ordered
        ):
            # v4 Interpreter._nextState throws the error when no active state takes any
            # error.platform event; the machine keeps its state and goes on taking events
            return _finish(run, False)
        handled = _v4_send(run, ev)
    else:
        handled = _macrostep_v5(run, ev, False)
    if plain and c.memo is not None and run.pure and len(run.microsteps) <= 1:
        _remember(c, state, etype, run, handled)
    if not handled and chart.strict and run.error is None:
        raise UnexpectedInput(
            f"chart {chart.id!r}: no active state takes event {etype!r}",
            event=etype,
            configuration=list(state.configuration),
        )
    return _finish(run, handled)
