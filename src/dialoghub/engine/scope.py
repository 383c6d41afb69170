"""How a name in a template or a condition finds its value in a session.

``city`` is a variable of the current unit; ``address.street`` is the variable ``street`` of
the unit ``address`` (or the key ``street`` of the current unit's dict variable ``address``,
which wins when it exists); ``params.x`` and ``metadata.x`` read the session's params and
metadata. Anything not set is None.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dialoghub.engine.records import Session
from dialoghub.model.templates import Template

__all__ = ["evaluate_value", "lookup", "lookup_in"]


def _dig(value: Any, path: list[str]) -> Any:
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def lookup(session: Session, name: str) -> Any:
    """The value ``name`` refers to in ``session``, or None."""
    local = session.variables.get(session.unit, {})
    if "." not in name:
        return local.get(name)
    head, *rest = name.split(".")
    if head == "params":
        return _dig(session.params, rest)
    if head == "metadata":
        return _dig(session.metadata, rest)
    if isinstance(local.get(head), dict):
        return _dig(local[head], rest)
    if head in session.variables:
        return _dig(session.variables[head], rest)
    return None


def lookup_in(session: Session) -> Callable[[str], Any]:
    """``lookup`` bound to one session, as templates and conditions take it."""
    return lambda name: lookup(session, name)


def evaluate_value(value: Any, session: Session) -> Any:
    """A step's value: literals as they are, templates rendered.

    A template that is exactly one placeholder (``"{temperature}"``) keeps the variable's type
    instead of turning it into text.
    """
    if not isinstance(value, Template):
        return value
    if len(value.parts) == 3 and value.parts[0] == "" and value.parts[2] == "":
        return lookup(session, value.parts[1])
    return value.render(lookup_in(session))
