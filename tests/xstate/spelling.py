"""A machine written in XState v5's spelling, spelled for v4 (the same features, v4's keys).

The corpus and the generator write machines once, in v5's spelling; where every feature also
exists in v4 the test runs the v4 spelling too, against XState v4. The two are different
machines where the versions' defaults differ (a self transition re-enters by default in v4, not
in v5): each spelling is compared with its own XState, never with the other.

=================================  =====================================================
v5                                 v4
=================================  =====================================================
``guard: "g"``                     ``cond: "g"``
``guard: {type, params}``          ``cond: {type, ...params}``
``guard: {type: "stateIn",         ``in: state``
params: {state}}``
``guard: and / or / not``          (none: :class:`NotInV4`)
``actions: {type, params}``        ``{type, ...params}``
``reenter: true`` / ``false``      ``internal: false`` / ``true``
a final state's ``output``         its ``data``
the root's ``output``              (none: dropped; v4's machine output is the final data)
``invoke.input``                   ``invoke.data``
``on: {"a.*": ...}``               (none: :class:`NotInV4`)
=================================  =====================================================
"""

from __future__ import annotations

from typing import Any

__all__ = ["NotInV4", "to_v4"]


class NotInV4(ValueError):
    """The machine uses a feature XState v4 does not have."""


def _params_inline(obj: Any) -> Any:
    if isinstance(obj, dict) and "params" in obj:
        out = {k: v for k, v in obj.items() if k != "params"}
        out.update(obj["params"] or {})
        return out
    return obj


def _actions(actions: Any) -> Any:
    if isinstance(actions, list):
        return [_params_inline(a) for a in actions]
    return _params_inline(actions)


def _transition(t: Any) -> Any:
    if isinstance(t, list):
        return [_transition(x) for x in t]
    if not isinstance(t, dict):
        return t
    out: dict[str, Any] = {}
    for key, value in t.items():
        if key == "guard":
            kind = value.get("type") if isinstance(value, dict) else None
            if kind in ("and", "or", "not", "xstate.and", "xstate.or", "xstate.not"):
                raise NotInV4(f"guard {kind}")
            if kind in ("stateIn", "xstate.stateIn"):
                out["in"] = value["params"]["state"]
            else:
                out["cond"] = _params_inline(value)
        elif key == "actions":
            out["actions"] = _actions(value)
        elif key == "reenter":
            out["internal"] = not value
        else:
            out[key] = value
    return out


def _state(node: dict[str, Any], root: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "states":
            out[key] = {k: _state(v) for k, v in value.items()}
        elif key == "on":
            on = {}
            for event, t in value.items():
                if event.endswith(".*"):
                    raise NotInV4(f"partial wildcard {event!r}")
                on[event] = _transition(t)
            out[key] = on
        elif key in ("always", "onDone"):
            out[key] = _transition(value)
        elif key == "after":
            if isinstance(value, dict):
                out[key] = {d: _transition(t) for d, t in value.items()}
            else:
                out[key] = _transition(value)
        elif key in ("entry", "exit"):
            out[key] = _actions(value)
        elif key == "invoke":
            out[key] = [_invoke(i) for i in value] if isinstance(value, list) else _invoke(value)
        elif key == "output":
            if not root:
                out["data"] = value
        else:
            out[key] = value
    return out


def _invoke(inv: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in inv.items():
        if key in ("onDone", "onError"):
            out[key] = _transition(value)
        elif key == "input":
            out["data"] = value
        else:
            out[key] = value
    return out


def to_v4(machine: dict[str, Any], predictable: bool = True) -> dict[str, Any]:
    """``machine`` (v5 spelling) in v4's spelling; ``predictable`` sets v4's
    ``predictableActionArguments`` (actions in document order, as v5 always does)."""
    out = _state(machine, root=True)
    if predictable:
        out["predictableActionArguments"] = True
    return out
