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
"""

from __future__ import annotations

import functools
import re
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import msgspec

from dialoghub.errors import InvalidInput, ModelError, SessionClosed, UnexpectedInput
from dialoghub.model.chart import (
    AFTER_PREFIX,
    AND,
    ASSIGN,
    CONDITION,
    CONTEXT,
    DONE_INVOKE_PREFIX,
    DONE_STATE_PREFIX,
    ERROR_PREFIX,
    EVENT,
    LOG,
    NOT,
    OR,
    RAISE,
    STATE_IN,
    Chart,
    Node,
    Ref,
    Transition,
)
from dialoghub.model.conditions import Condition

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

#: A macrostep that takes more microsteps than this is a cycle (eventless transitions or
#: raised events going round); XState itself would loop for ever (``maxIterations`` defaults
#: to Infinity), the interpreter raises :class:`~dialoghub.errors.ModelError` instead.
MAX_MICROSTEPS = 1000
INIT_EVENT = "xstate.init"
_NULL_EVENT = ""  # v4's eventless "null event"

GuardFn = Callable[[Mapping[str, Any], Mapping[str, Any], Mapping[str, Any]], bool]
ActionFn = Callable[
    [Mapping[str, Any], Mapping[str, Any], Mapping[str, Any]], Mapping[str, Any] | None
]
ExprFn = Callable[[Mapping[str, Any], Mapping[str, Any], Mapping[str, Any]], Any]


# --- records ------------------------------------------------------------------------------


class Armed(msgspec.Struct, frozen=True, kw_only=True):
    """A delayed event waiting for its timer: ``event`` is due ``delay_ms`` after ``node``
    was entered. ``counter`` is the arming number (ChartState.counter when armed): the
    application hands it back with the due event, and an event whose arming is no longer
    armed (the node was exited, or the event was already taken) is stale and ignored."""

    event: str
    delay_ms: int
    node: str
    counter: int
    registered: bool = True  # False: re-armed over, it fires but a cancel no longer reaches it


class ChartState(msgspec.Struct, frozen=True, kw_only=True):
    """Where a chart is: plain data, JSON-able (``msgspec.json.encode``).

    ``configuration``: every active node id, ancestors included, in document order.
    ``history``: history node id -> the node ids it restores. ``armed``: delayed events
    waiting for their timers; ``invoked``: the ids of invoked services running, in the order
    they were started; ``counter``: the last arming number. ``done``: a top-level final state
    was reached (``output`` is the machine's output: v5 the root's ``output``, v4 the final
    state's ``data``). ``error``: an invoked service failed and nothing handled it; XState v5
    then stops the machine with that error (like ``done``, no event is taken after it).
    ``order``: the active ids in the order XState itself keeps them (v5: the order they were
    entered, which orders eventless transitions of parallel regions; v4: its configuration,
    which orders parallel regions); empty when the chart has no parallel state.
    """

    configuration: tuple[str, ...]
    history: dict[str, tuple[str, ...]] = {}
    context: dict[str, Any] = {}
    done: bool = False
    output: Any = None
    armed: tuple[Armed, ...] = ()
    invoked: tuple[str, ...] = ()
    counter: int = 0
    error: Any = None
    order: tuple[str, ...] = ()


class Effect(msgspec.Struct, frozen=True):
    """One thing the application carries out, in execution order.

    ``kind``: ``"action"`` (an action the application did not register: ``name`` and its
    ``params``, a command), ``"invoke"`` (start service ``name``; params ``id``, ``input``),
    ``"stop"`` (stop invoke ``name``, its id; params ``id``, ``src``), ``"arm"`` (a timer:
    ``name`` is the event to send back when due; params ``delay_ms``, ``node``,
    ``counter``), ``"cancel"`` (that timer is no longer wanted; params ``node``,
    ``counter``), ``"log"`` (``name`` is the label; params ``value``).
    """

    kind: str
    name: str
    params: dict[str, Any] = {}


Microstep = tuple[tuple[str, ...], tuple[str, ...]]


class Step(NamedTuple):
    """What one :func:`start` or :func:`send` did: the new state, the effects in order,
    whether the event was taken (``handled``; False for an event no active state takes, a
    stale timer or the answer of an invoke no longer running), and each microstep's (exited
    ids in exit order, entered ids in entry order) for the event log."""

    state: ChartState
    effects: list[Effect]
    handled: bool
    microsteps: list[Microstep]


@dataclass(frozen=True, slots=True)
class Registry:
    """What the application implements, by name.

    ``guards``: ``fn(context, event, params) -> bool``. ``actions``: ``fn(context, event,
    params) -> dict of context updates or None`` (run where the action stands, like an
    ``assign``; an action not registered becomes an ``Effect("action", ...)``).
    ``expressions``: ``fn(context, event, params) -> value``, for a :class:`Ref` standing
    for a value (an ``assign`` value, an ``output``, an invoke ``input``, a raised event).
    """

    guards: Mapping[str, GuardFn] = field(default_factory=dict)
    actions: Mapping[str, ActionFn] = field(default_factory=dict)
    expressions: Mapping[str, ExprFn] = field(default_factory=dict)


_EMPTY_REGISTRY = Registry()
_step = functools.partial(tuple.__new__, Step)  # Step(...) without NamedTuple's slow __new__


# --- the chart, precomputed ---------------------------------------------------------------


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


# --- the run: one macrostep's working state -------------------------------------------------


class _Run:
    __slots__ = (
        "active",
        "armed",
        "c",
        "changed",
        "context",
        "counter",
        "done",
        "effects",
        "error",
        "history",
        "invoked",
        "microsteps",
        "output",
        "pure",
        "queue",
        "raised",
        "reg",
        "starting",
        "steps",
    )

    def __init__(self, c: _C, state: ChartState | None, reg: Registry) -> None:
        self.c = c
        self.reg = reg
        self.effects: list[Effect] = []
        self.microsteps: list[Microstep] = []
        self.queue: deque[dict[str, Any]] = deque()
        self.raised: list[dict[str, Any]] = []  # v4: the raised events of one transition
        self.changed = False
        self.starting = state is None
        self.pure = True  # no guard evaluated, no action run, no timer or invoke touched
        self.steps = 0
        by_id = c.by_id
        if state is None:
            self.active: dict[int, _N] = {}
            self.history: dict[str, tuple[str, ...]] = {}
            self.context: dict[str, Any] = {}
            self.armed: list[Armed] = []
            self.invoked: list[str] = []
            self.counter = 0
        else:
            try:
                ids = state.order or state.configuration
                self.active = {n.idx: n for n in (by_id[i] for i in ids)}
            except KeyError as exc:
                raise InvalidInput(f"chart {c.name!r} has no state {exc.args[0]!r}") from None
            self.history = state.history
            self.context = state.context
            self.armed = list(state.armed)
            self.invoked = list(state.invoked)
            self.counter = state.counter
        self.done = False
        self.output: Any = None
        self.error: Any = None

    def count(self) -> None:
        self.steps += 1
        if self.steps > MAX_MICROSTEPS:
            raise ModelError(
                f"chart {self.c.name!r}: more than {MAX_MICROSTEPS} microsteps in one "
                "macrostep without coming to rest: eventless transitions or raised events go "
                "round in a cycle (XState would loop for ever)"
            )

    def state(self) -> ChartState:
        active = self.active
        config = tuple(n.id for n in sorted(active.values(), key=_idx))
        order = tuple(n.id for n in active.values()) if self.c.has_parallel else ()
        return ChartState(
            configuration=config,
            history=self.history,
            context=self.context,
            done=self.done,
            output=self.output,
            armed=tuple(self.armed),
            invoked=tuple(self.invoked),
            counter=self.counter,
            error=self.error,
            order=order,
        )


def _idx(n: _N) -> int:
    return n.idx


# --- guards, values, actions ------------------------------------------------------------------

_CONDITIONS: dict[str, Condition] = {}


def _dig(value: Any, path: Sequence[str]) -> Any:
    for key in path:
        if isinstance(value, Mapping):
            value = value.get(key)
        elif isinstance(value, list | tuple) and key.isdigit() and int(key) < len(value):
            value = value[int(key)]
        else:
            return None
    return value


def _condition(expr: str) -> Condition:
    cond = _CONDITIONS.get(expr)
    if cond is None:
        cond = Condition.parse(expr)
        if len(_CONDITIONS) < 4096:
            _CONDITIONS[expr] = cond
    return cond


def _lookup(context: Mapping[str, Any], event: Mapping[str, Any]) -> Callable[[str], Any]:
    """Names in a ``condition`` guard: ``event.x`` reads the event, ``context.x`` and a bare
    ``x`` the context."""

    def lookup(name: str) -> Any:
        head, _, rest = name.partition(".")
        path = rest.split(".") if rest else []
        if head == "event":
            return _dig(event, path)
        if head == "context":
            return _dig(context, path)
        return _dig(context.get(head), path)

    return lookup


def _guard(run: _Run, g: Ref, event: Mapping[str, Any]) -> bool:
    """XState's ``evaluateGuard`` for a registered guard or a built-in one."""
    run.pure = False
    name = g.name
    params = g.params
    if name == STATE_IN:
        return _matches_active(run.c, run.active, params.get("state", params.get("stateValue")))
    if name in (AND, OR, NOT):
        subs = params.get("guards")
        if subs is None and "guard" in params:
            subs = [params["guard"]]
        refs = [s if isinstance(s, Ref) else Ref(str(s)) for s in subs or ()]
        if name == AND:
            return all(_guard(run, s, event) for s in refs)
        if name == OR:
            return any(_guard(run, s, event) for s in refs)
        return not all(_guard(run, s, event) for s in refs)  # xstate not(): !evaluate(guard)
    fn = run.reg.guards.get(name)
    if fn is not None:
        return bool(fn(run.context, event, params))
    if name == CONDITION:
        return _condition(str(params.get("expr", ""))).evaluate(_lookup(run.context, event))
    raise InvalidInput(
        f"chart {run.c.name!r}: guard {name!r} (line {g.line}) is not registered",
        guard=name,
        line=g.line,
    )


def _resolve(run: _Run, v: Any, event: Mapping[str, Any]) -> Any:
    """A value as written, or the value of the named expression a :class:`Ref` stands for:
    a registered expression, or the built-ins ``context``/``event`` (``params["path"]``,
    dotted) and ``condition``."""
    if type(v) is Ref:
        fn = run.reg.expressions.get(v.name)
        if fn is not None:
            return fn(run.context, event, v.params)
        path = str(v.params.get("path", ""))
        parts = path.split(".") if path else []
        if v.name == CONTEXT:
            return _dig(run.context, parts)
        if v.name == EVENT:
            return _dig(event, parts)
        if v.name == CONDITION:
            return _condition(str(v.params.get("expr", ""))).evaluate(_lookup(run.context, event))
        raise InvalidInput(
            f"chart {run.c.name!r}: expression {v.name!r} (line {v.line}) is not registered",
            expression=v.name,
            line=v.line,
        )
    if type(v) is dict:
        return {k: _resolve(run, x, event) for k, x in v.items()}
    if type(v) is list:
        return [_resolve(run, x, event) for x in v]
    return v


def _update(run: _Run, updates: Mapping[str, Any] | None) -> None:
    run.pure = False  # a registered action ran (even one that changes nothing)
    if updates is None or run.c.no_context:
        return
    if not isinstance(updates, Mapping):
        raise InvalidInput(
            f"chart {run.c.name!r}: a registered action returned {type(updates).__name__}, "
            "not a dict of context updates or None"
        )
    run.context = {**run.context, **updates}
    run.changed = True


def _assign(run: _Run, a: Ref, event: Mapping[str, Any]) -> None:
    run.pure = False
    assignments = a.params.get("assignments", {})
    if type(assignments) is Ref:  # a whole-context assigner: its value is the partial update
        _update(run, _resolve(run, assignments, event))
        return
    updates = {k: _resolve(run, v, event) for k, v in assignments.items()}
    if not run.c.no_context:
        run.context = {**run.context, **updates}
    run.changed = True  # XState clones the snapshot on every assign


def _raise_event(run: _Run, a: Ref, event: Mapping[str, Any]) -> dict[str, Any]:
    ev = _resolve(run, a.params.get("event"), event)
    if isinstance(ev, str):
        ev = {"type": ev}
    if not isinstance(ev, dict) or not isinstance(ev.get("type"), str):
        raise InvalidInput(f"chart {run.c.name!r}: raise (line {a.line}) needs an event")
    if "delay" in a.params:
        raise InvalidInput(
            f"chart {run.c.name!r}: a delayed raise (line {a.line}) is not supported; use `after`"
        )
    return ev


def _act(run: _Run, a: Ref, event: Mapping[str, Any], raised: list[dict[str, Any]]) -> None:
    """One action, where it stands (v5's ``resolveAndExecuteActionsWithContext``)."""
    run.pure = False
    name = a.name
    if name == ASSIGN:
        _assign(run, a, event)
    elif name == RAISE:
        raised.append(_raise_event(run, a, event))
    elif name == LOG:
        params = a.params
        value = _resolve(run, params["value"], event) if "value" in params else None
        run.effects.append(Effect("log", str(params.get("label", "")), {"value": value}))
    else:
        fn = run.reg.actions.get(name)
        if fn is not None:
            _update(run, fn(run.context, event, a.params))
        else:
            run.effects.append(Effect("action", name, dict(a.params)))


def _actions(run: _Run, refs: Sequence[Ref], event: Mapping[str, Any]) -> None:
    """v5: actions in order; raised events go to the internal queue."""
    if refs:
        raised: list[dict[str, Any]] = []
        for a in refs:
            _act(run, a, event, raised)
        run.queue.extend(raised)


def _arm(run: _Run, n: _N) -> None:
    """The node's delayed events armed (its ``after``). XState keeps one timer per event id
    (v5 ``scheduler.schedule``, v4 ``delayedEventsMap``): arming it again while it is armed
    (a node entered again without being exited) leaves the earlier timer running but no
    longer cancellable, so both fire; ``registered`` False marks such a timer."""
    if n.after:
        run.pure = False
    for d in n.after:
        run.counter += 1
        run.armed = [
            msgspec.structs.replace(x, registered=False)
            if x.event == d.event and x.registered
            else x
            for x in run.armed
        ]
        run.armed.append(Armed(event=d.event, delay_ms=d.delay_ms, node=n.id, counter=run.counter))
        run.effects.append(
            Effect("arm", d.event, {"delay_ms": d.delay_ms, "node": n.id, "counter": run.counter})
        )


def _cancel(run: _Run, n: _N) -> None:
    """The node's delayed events cancelled (on exit): the registered timer of each."""
    if n.after:
        run.pure = False
    for d in n.after:
        for x in run.armed:
            if x.event == d.event and x.registered:
                run.armed.remove(x)
                run.effects.append(Effect("cancel", d.event, {"node": n.id, "counter": x.counter}))
                break


def _spawn(run: _Run, n: _N, event: Mapping[str, Any]) -> None:
    if n.invoke:
        run.pure = False
    for inv in n.invoke:
        data = _resolve(run, inv.input, event) if inv.input is not None else None
        if inv.id in run.invoked:
            run.invoked.remove(inv.id)
        run.invoked.append(inv.id)
        run.changed = True
        run.effects.append(Effect("invoke", inv.src, {"id": inv.id, "input": data}))


def _stop(run: _Run, n: _N) -> None:
    if n.invoke:
        run.pure = False
    for inv in n.invoke:
        if inv.id in run.invoked:
            run.invoked.remove(inv.id)
            run.effects.append(Effect("stop", inv.id, {"id": inv.id, "src": inv.src}))
        run.changed = True  # stopChild clones the snapshot even for a finished child


def _stop_all(run: _Run) -> None:
    """``stopChildren``: every invoke still running, in the order they started."""
    srcs = {inv.id: inv.src for n in run.c.nodes for inv in n.invoke}
    for i in run.invoked:
        run.effects.append(Effect("stop", i, {"id": i, "src": srcs.get(i, "")}))
    run.invoked = []


# --- state values -------------------------------------------------------------------------------


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


# --- v5: selection ------------------------------------------------------------------------------


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


# --- v5: domains, exit and entry sets ---------------------------------------------------------


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


def _recorded(run: _Run, h: _N) -> list[_N] | None:
    ids = run.history.get(h.id)
    if ids is None:
        return None
    by_id = run.c.by_id
    return [by_id[i] for i in ids if i in by_id]


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


# --- v5: microstep and macrostep -----------------------------------------------------------------


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


# --- v4 ------------------------------------------------------------------------------------------


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


def _v4_initial_leaves(n: _N) -> list[_N]:
    """``initialStateNodes``: the nodes ``n``'s initial state value leads to (a history
    state on the way resolved without a history value)."""
    if n.atomic or (n.kind == "compound" and n.initial is None):
        return [n]
    if n.kind == "history":
        return _v4_resolve_history(None, n)
    if n.kind == "compound":
        init = n.initial
        assert init is not None
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


# --- the API ---------------------------------------------------------------------------------


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
