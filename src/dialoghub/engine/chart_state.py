"""The statechart interpreter's records: where a chart is (:class:`ChartState`, with its
:class:`Armed` timers), what one step did (:class:`Step`, its :class:`Effect` records and
microsteps) and what the application implements (:class:`Registry`). Plain data; the
interpreter itself is :mod:`dialoghub.engine.chart`, which re-exports these names."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import msgspec

#: A macrostep that takes more microsteps than this is a cycle (eventless transitions or
#: raised events going round); XState itself would loop for ever (``maxIterations`` defaults
#: to Infinity), the interpreter raises :class:`~dialoghub.errors.ModelError` instead.
MAX_MICROSTEPS = 1000


INIT_EVENT = "xstate.init"


GuardFn = Callable[[Mapping[str, Any], Mapping[str, Any], Mapping[str, Any]], bool]


ActionFn = Callable[
    [Mapping[str, Any], Mapping[str, Any], Mapping[str, Any]], Mapping[str, Any] | None
]


ExprFn = Callable[[Mapping[str, Any], Mapping[str, Any], Mapping[str, Any]], Any]


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
