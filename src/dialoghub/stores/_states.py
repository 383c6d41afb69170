"""The state index: which listing keys a session answers to when listed by state.

A dialog session is in one state: it is listed by that name (``Session.state``). A statechart
session is in a configuration of nested and parallel states, and "sessions in ``red``" means
those in ``red`` or in any state inside it (issue 18: a state or any of its ancestors). Its
keys are every state path of its state value (``red.walk`` gives ``red`` and ``red.walk``; the
parallel value ``{"p": {"r1": "x", "r2": {}}}`` gives ``p``, ``p.r1``, ``p.r1.x``, ``p.r2``) and
every active node id but the root's (``light.red``, or a state's own ``id``), so a listing may
name a state by its path or by its id.

Every store keeps the session's own ``state`` where it always did (a column, an entry field, a
sorted set) and the *other* keys in an index of its own (:func:`extra_keys`), so a flat dialog,
whose only key is its state, writes nothing more than before.
"""

from __future__ import annotations

import json
from typing import Any

from dialoghub.engine.records import Session

__all__ = ["extra_keys", "keys_of_state", "state_keys"]


def _paths(value: Any, prefix: str, out: list[str]) -> None:
    if isinstance(value, str):
        out.append(f"{prefix}{value}")
    elif isinstance(value, dict):
        for key, sub in value.items():
            here = f"{prefix}{key}"
            out.append(here)
            _paths(sub, here + ".", out)


def keys_of_state(state: str, configuration: list[str] | tuple[str, ...]) -> list[str]:
    """The listing keys of a session at ``state`` with ``configuration``, own state first."""
    out = [state]
    if not configuration:
        return out
    if state.startswith("{"):
        try:
            value = json.loads(state)
        except ValueError:  # pragma: no cover - the engine writes JSON here
            value = None
        found: list[str] = []
        _paths(value, "", found)
    else:
        parts = state.split(".")
        found = [".".join(parts[: i + 1]) for i in range(len(parts))]
    found.extend(configuration[1:])  # node ids; the root's (the machine's id) says nothing
    for key in found:
        if key not in out:
            out.append(key)
    return out


def state_keys(session: Session) -> list[str]:
    """Every key ``session`` is listed under by state, its own ``state`` first."""
    return keys_of_state(session.state, session.configuration)


def extra_keys(session: Session) -> list[str]:
    """The keys beyond ``session.state`` (none for a dialog session)."""
    return state_keys(session)[1:] if session.configuration else []
