"""The guards and actions the machines of tests/xstate name: ref/library.mjs, in Python.

Same names, same results, all total (a missing or non-numeric key counts as 0, a missing event
field as None). A guard is ``(context, event, params) -> bool``; an action is
``(context, event, params) -> dict``, the context keys it changes (XState's ``assign``).
``params`` is the named guard's or action's parameters: v5 ``{"type": "inc", "params":
{"by": 2}}``, v4 ``{"type": "inc", "by": 2}``.

Names used in machines but absent here (``notify``, ``beep``, ...) are unregistered actions on
purpose: XState skips them (v4 warns); dialoghub makes them command actions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["ACTIONS", "GUARDS", "REGISTRY", "Action", "Guard"]

Guard = Callable[[Mapping[str, Any], Mapping[str, Any], Mapping[str, Any]], bool]
Action = Callable[[Mapping[str, Any], Mapping[str, Any], Mapping[str, Any]], dict[str, Any]]


def _num(value: Any) -> float | int:
    # JS: typeof v === 'number' && Number.isFinite(v); a bool is not a number there
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0
    return value if value == value and value not in (float("inf"), float("-inf")) else 0


def _param(params: Mapping[str, Any] | None, key: str, default: int) -> Any:
    value = (params or {}).get(key)
    return value if isinstance(value, int | float) and not isinstance(value, bool) else default


def _is_even(
    context: Mapping[str, Any], event: Mapping[str, Any], params: Mapping[str, Any]
) -> bool:
    return _num(context.get("count")) % 2 == 0


def _count_above(
    context: Mapping[str, Any], event: Mapping[str, Any], params: Mapping[str, Any]
) -> bool:
    return bool(_num(context.get("count")) > _param(params, "n", 3))


def _event_ok(
    context: Mapping[str, Any], event: Mapping[str, Any], params: Mapping[str, Any]
) -> bool:
    return event.get("ok") is True


def _ticks_below(
    context: Mapping[str, Any], event: Mapping[str, Any], params: Mapping[str, Any]
) -> bool:
    return bool(_num(context.get("ticks")) < _param(params, "n", 3))


def _inc(
    context: Mapping[str, Any], event: Mapping[str, Any], params: Mapping[str, Any]
) -> dict[str, Any]:
    return {"count": _num(context.get("count")) + _param(params, "by", 1)}


def _dec(
    context: Mapping[str, Any], event: Mapping[str, Any], params: Mapping[str, Any]
) -> dict[str, Any]:
    return {"count": _num(context.get("count")) - _param(params, "by", 1)}


def _reset(
    context: Mapping[str, Any], event: Mapping[str, Any], params: Mapping[str, Any]
) -> dict[str, Any]:
    return {"count": 0}


def _set_from_event(
    context: Mapping[str, Any], event: Mapping[str, Any], params: Mapping[str, Any]
) -> dict[str, Any]:
    return {"value": event.get("value")}


def _record(
    context: Mapping[str, Any], event: Mapping[str, Any], params: Mapping[str, Any]
) -> dict[str, Any]:
    seen = context.get("seen")
    return {"seen": [*(seen if isinstance(seen, list) else []), event.get("type")]}


def _mark(
    context: Mapping[str, Any], event: Mapping[str, Any], params: Mapping[str, Any]
) -> dict[str, Any]:
    marks = context.get("marks")
    return {"marks": [*(marks if isinstance(marks, list) else []), (params or {}).get("m")]}


def _tick(
    context: Mapping[str, Any], event: Mapping[str, Any], params: Mapping[str, Any]
) -> dict[str, Any]:
    return {"ticks": _num(context.get("ticks")) + 1}


def _untick(
    context: Mapping[str, Any], event: Mapping[str, Any], params: Mapping[str, Any]
) -> dict[str, Any]:
    return {"ticks": 0}


def _set_output(
    context: Mapping[str, Any], event: Mapping[str, Any], params: Mapping[str, Any]
) -> dict[str, Any]:
    # v5 puts a done event's payload in ``output``, v4 in ``data`` (JS: output !== undefined)
    return {"result": event["output"] if "output" in event else event.get("data")}


def _set_error(
    context: Mapping[str, Any], event: Mapping[str, Any], params: Mapping[str, Any]
) -> dict[str, Any]:
    return {"error": event["error"] if "error" in event else event.get("data")}


GUARDS: dict[str, Guard] = {
    "isEven": _is_even,
    "countAbove": _count_above,
    "eventOk": _event_ok,
    "ticksBelow": _ticks_below,
}

ACTIONS: dict[str, Action] = {
    "inc": _inc,
    "dec": _dec,
    "reset": _reset,
    "setFromEvent": _set_from_event,
    "record": _record,
    "mark": _mark,
    "tick": _tick,
    "untick": _untick,
    "setOutput": _set_output,
    "setError": _set_error,
}

#: every name, guards and actions together (no name is both)
REGISTRY: dict[str, Callable[..., Any]] = {**GUARDS, **ACTIONS}
