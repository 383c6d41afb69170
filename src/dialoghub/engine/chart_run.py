"""One macrostep's working state (``_Run``): the active nodes, history, context, timers,
invokes and the effects and microsteps recorded so far; it becomes the next
:class:`~dialoghub.engine.chart_state.ChartState`."""

from __future__ import annotations

from collections import deque
from typing import Any

from dialoghub.engine.chart_index import _C, _N, _idx
from dialoghub.engine.chart_state import (
    MAX_MICROSTEPS,
    Armed,
    ChartState,
    Effect,
    Microstep,
    Registry,
)
from dialoghub.errors import InvalidInput, ModelError


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


def _recorded(run: _Run, h: _N) -> list[_N] | None:
    ids = run.history.get(h.id)
    if ids is None:
        return None
    by_id = run.c.by_id
    return [by_id[i] for i in ids if i in by_id]
