"""What may enter a session: session ids, inputs, and the values they carry.

Every face (the Hub, the server's routes and dispatcher, import, fork) refuses the same
things with the same :class:`~dialoghub.errors.InvalidInput`, so the rules live here, pure.

Metadata, parameters, variables, event parameters and command outputs are JSON-like values
(dicts, lists, scalars). Every part of dialoghub that walks them (the stores' encoders, the
hub's snapshot copy, the condition evaluator, Python's own ``json``) recurses, so a value
nested a thousand levels deep reaches Python's recursion limit somewhere far from where it
came in. :func:`too_deep` finds such a value once, where it enters, without recursing itself.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

from dialoghub.engine.records import Input
from dialoghub.errors import InvalidInput

__all__ = [
    "MAX_VALUE_DEPTH",
    "check_input",
    "check_session_id",
    "check_storable",
    "too_deep",
]

#: How deeply a value may nest dicts and lists (a scalar is depth 0, ``{"a": 1}`` depth 1).
MAX_VALUE_DEPTH = 64


def too_deep(value: Any, limit: int = MAX_VALUE_DEPTH) -> str | None:
    """The path (``a.b.0.c``, cut short) to where ``value`` nests deeper than ``limit``
    levels, or None when it does not. Structs count like the dicts they encode to."""
    stack: list[tuple[Any, int, str]] = [(value, 0, "")]
    while stack:
        item, depth, path = stack.pop()
        if isinstance(item, msgspec.Struct):
            item = {f: getattr(item, f) for f in item.__struct_fields__}
        if isinstance(item, dict):
            children: Any = item.items()
        elif isinstance(item, list | tuple):
            children = enumerate(item)
        else:
            continue
        if depth >= limit:
            return path or "(top)"
        for key, child in children:
            if isinstance(child, dict | list | tuple | msgspec.Struct):
                step = str(key)[:20]
                stack.append((child, depth + 1, f"{path}.{step}" if path else step))
    return None


_SESSION_ID = re.compile(r"(?!\.\.?$)[^\x00-\x1f\x7f/\\]{1,200}")  # not . or ..
_input_decoder: msgspec.json.Decoder[Input] = msgspec.json.Decoder(Input)
_encoder = msgspec.msgpack.Encoder()


def check_session_id(session_id: Any) -> str:
    """``session_id`` if it is one: 1 to 200 characters, no ``/``, ``\\`` or control
    characters, not ``.`` or ``..`` (a URL cannot name those); else InvalidInput."""
    if not isinstance(session_id, str) or not _SESSION_ID.fullmatch(session_id):
        raise InvalidInput(
            f"invalid session id {session_id!r}: 1 to 200 characters, no '/', '\\' or "
            "control characters, not '.' or '..'",
            session_id=session_id,
        )
    return session_id


def check_input(inp: Input) -> Input:
    """``inp`` with its field types checked (the records do not check on creation), its
    values storable and within :data:`MAX_VALUE_DEPTH`; else InvalidInput."""
    what = f"{type(inp).__name__} input"
    _check_depth(inp, what, MAX_VALUE_DEPTH + 1)  # +1: the input's own level
    try:
        checked = _input_decoder.decode(msgspec.json.encode(inp))
    except (msgspec.ValidationError, TypeError) as exc:
        raise InvalidInput(f"invalid {type(inp).__name__} input: {exc}") from None
    check_storable(checked, what, MAX_VALUE_DEPTH + 1)
    return checked


def _check_depth(value: Any, what: str, limit: int) -> None:
    where = too_deep(value, limit)
    if where is not None:
        raise InvalidInput(
            f"{what} nests dicts and lists deeper than {MAX_VALUE_DEPTH} levels (at {where})",
            max_depth=MAX_VALUE_DEPTH,
        )


def check_storable(value: Any, what: str, depth: int = MAX_VALUE_DEPTH) -> None:
    """Refuse (InvalidInput naming ``what``) a value the stores cannot keep exactly: an
    integer beyond 64 bits, a type msgpack cannot encode, nesting deeper than ``depth``."""
    _check_depth(value, what, depth)
    try:
        _encoder.encode(value)
    except OverflowError:
        raise InvalidInput(f"{what} has an integer that does not fit in 64 bits") from None
    except TypeError as exc:
        raise InvalidInput(f"{what} has a value that cannot be stored: {exc}") from None
