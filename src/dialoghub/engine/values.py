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
from itertools import compress
from operator import not_
from typing import Any, NoReturn

import msgspec

from dialoghub.engine.records import Input, Text
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


#: Exact types that never nest: a container holding only these is done in one C-level pass.
_FLAT_TYPES: frozenset[type] = frozenset({str, int, float, bool, type(None), bytes})
_FLAT, _DICT, _SEQ, _STRUCT, _OTHER = 1, 2, 3, 4, 5  # what a type is to the walk
#: Each type's kind, found once (``isinstance`` against a Struct is slow); bounded, so types
#: made at run time cannot grow it without end.
_KINDS: dict[type, int] = dict.fromkeys(_FLAT_TYPES, _FLAT)
_MAX_KINDS = 1024


def _kind(t: type) -> int:
    kind = _KINDS.get(t)
    if kind is None:
        if issubclass(t, dict):
            kind = _DICT
        elif issubclass(t, list | tuple):
            kind = _SEQ
        elif issubclass(t, msgspec.Struct):
            kind = _STRUCT
        else:
            kind = _OTHER
        if len(_KINDS) < _MAX_KINDS:
            _KINDS[t] = kind
    return kind


def too_deep(value: Any, limit: int = MAX_VALUE_DEPTH) -> str | None:
    """The path (``a.b.0.c``, cut short) to where ``value`` nests deeper than ``limit``
    levels, or None when it does not. Structs count like the dicts they encode to."""
    return _walk(value, limit)[0]


def _walk(value: Any, limit: int) -> tuple[str | None, bool]:
    """:func:`too_deep`'s path, and whether ``value`` holds anything other than the nesting
    types and exact scalars (a set, a dataclass: what an encoder may still turn into nesting
    this walk did not see)."""
    kind = _kind(type(value))
    if kind in (_FLAT, _OTHER):
        return None, kind == _OTHER
    flat, kinds, astuple, other = _FLAT_TYPES, _KINDS, msgspec.structs.astuple, False
    isflat = flat.__contains__
    # a path is (parent's path, key), spelled out only for the answer
    stack: list[tuple[Any, int, int, Any]] = [(value, kind, 0, None)]
    pop, push = stack.pop, stack.append
    while stack:
        item, kind, depth, path = pop()
        if depth >= limit:
            return _spell(path), other
        # only the children that are not exact scalars, picked out in C (no Python loop
        # over a struct's scalar fields or a list of strings)
        if kind == _DICT:
            keys: Any = item.keys()
            values: Any = item.values()
        elif kind == _SEQ:
            keys, values = range(len(item)), item
        else:
            keys, values = item.__struct_fields__, astuple(item)
        pairs = compress(zip(keys, values, strict=True), map(not_, map(isflat, map(type, values))))
        inner = depth + 1
        for key, child in pairs:
            # never _FLAT: the exact scalar types, the only ones of that kind, are left out
            k = kinds.get(type(child)) or _kind(type(child))
            if k == _OTHER:
                other = True
                continue
            # a child of scalars only within the limit has nothing below it: not stacked
            # (one at the limit is, so the walk answers in the same order as ever)
            if inner < limit and flat.issuperset(
                map(
                    type,
                    child.values() if k == _DICT else child if k == _SEQ else astuple(child),
                )
            ):
                continue
            push((child, k, inner, (path, key)))
    return None, other


def _spell(path: Any) -> str:
    """``a.b.0.c`` (each key cut to 20 characters) from a walk's linked path."""
    keys: list[str] = []
    while path is not None:
        path, key = path
        keys.append(str(key)[:20])
    return ".".join(reversed(keys)) or "(top)"


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
    if type(inp) is Text and type(inp.text) is str:
        # The most frequent input, and one whose round trip below can only give it back:
        # an exact ``str`` nests nothing and decodes to itself. Only its encoding can fail
        # (a lone surrogate), with the same UnicodeEncodeError the encoders raise.
        inp.text.encode()
        return inp
    what = f"{type(inp).__name__} input"
    where, other = _walk(inp, MAX_VALUE_DEPTH + 1)  # +1: the input's own level
    if where is not None:
        _refuse_depth(what, where)
    try:
        checked = _input_decoder.decode(msgspec.json.encode(inp))
    except (msgspec.ValidationError, TypeError) as exc:
        raise InvalidInput(f"invalid {type(inp).__name__} input: {exc}") from None
    if other:  # a set or a dataclass may have encoded to nesting the walk did not see
        check_storable(checked, what, MAX_VALUE_DEPTH + 1)
    else:  # the decoded copy nests exactly as ``inp`` (or less): only the encode is left
        _check_encodes(checked, what)
    return checked


def _check_depth(value: Any, what: str, limit: int) -> None:
    where = too_deep(value, limit)
    if where is not None:
        _refuse_depth(what, where)


def _refuse_depth(what: str, where: str) -> NoReturn:
    raise InvalidInput(
        f"{what} nests dicts and lists deeper than {MAX_VALUE_DEPTH} levels (at {where})",
        max_depth=MAX_VALUE_DEPTH,
    )


def check_storable(value: Any, what: str, depth: int = MAX_VALUE_DEPTH) -> None:
    """Refuse (InvalidInput naming ``what``) a value the stores cannot keep exactly: an
    integer beyond 64 bits, a type msgpack cannot encode, nesting deeper than ``depth``."""
    _check_depth(value, what, depth)
    _check_encodes(value, what)


def _check_encodes(value: Any, what: str) -> None:
    try:
        _encoder.encode(value)
    except OverflowError:
        raise InvalidInput(f"{what} has an integer that does not fit in 64 bits") from None
    except TypeError as exc:
        raise InvalidInput(f"{what} has a value that cannot be stored: {exc}") from None
