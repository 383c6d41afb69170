"""Guards, values and actions of a chart: registered and built-in guards (``stateIn``,
``and``/``or``/``not``, ``condition``), expressions, ``assign``, ``raise``, ``log``, the
application's actions (or :class:`~dialoghub.engine.chart_state.Effect` commands), delayed
events armed and cancelled, invoked services started and stopped."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import msgspec

from dialoghub.engine.chart_index import _N
from dialoghub.engine.chart_run import _Run
from dialoghub.engine.chart_state import Armed, Effect
from dialoghub.engine.chart_value import _matches_active
from dialoghub.errors import InvalidInput
from dialoghub.model.chart import (
    AND,
    ASSIGN,
    CONDITION,
    CONTEXT,
    EVENT,
    LOG,
    NOT,
    OR,
    RAISE,
    STATE_IN,
    Ref,
)
from dialoghub.model.conditions import Condition

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
