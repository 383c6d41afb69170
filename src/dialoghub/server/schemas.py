"""Reading request bodies: the wire structs (:mod:`dialoghub.wire`, re-exported here) decoded
with the server's refusals, each a 400 ``bad_request`` that says what is wrong.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec

from dialoghub.engine.values import MAX_VALUE_DEPTH, too_deep
from dialoghub.server.errors import BadRequest
from dialoghub.wire import (
    INPUT_TYPES,
    SESSION_ID_PATTERN,
    CreatedKey,
    CreateKey,
    CreateSession,
    EndSession,
    EventOut,
    EventPage,
    ForkOut,
    ForkSession,
    Health,
    KeyList,
    KeyOut,
    ModelInfo,
    ModelList,
    ProblemOut,
    SessionPage,
    StatelessUpdate,
    StrictInput,
    UpdateSession,
    ValidateResult,
    VersionInfo,
    ViewOut,
    to_input,
)

__all__ = [
    "INPUT_TYPES",
    "MAX_BODY_DEPTH",
    "SESSION_ID_PATTERN",
    "CreateKey",
    "CreateSession",
    "CreatedKey",
    "EndSession",
    "EventOut",
    "EventPage",
    "ForkOut",
    "ForkSession",
    "Health",
    "KeyList",
    "KeyOut",
    "ModelInfo",
    "ModelList",
    "ProblemOut",
    "SessionPage",
    "StatelessUpdate",
    "StrictInput",
    "UpdateSession",
    "ValidateResult",
    "VersionInfo",
    "ViewOut",
    "decode",
    "to_input",
]


def _whole(value: Any) -> Any:
    """``value`` with every whole float (5.0) turned into an int (5)."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**63:
        return int(value)
    if isinstance(value, dict):
        return {k: _whole(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_whole(v) for v in value]
    return value


_decoders: dict[Any, msgspec.json.Decoder[Any]] = {}

#: How deeply a request body or WebSocket frame may nest objects and arrays. The values in
#: it sit a level or two below the top, so whatever passes here is within the hub's own
#: :data:`~dialoghub.engine.values.MAX_VALUE_DEPTH` and every deep value is a 400.
MAX_BODY_DEPTH = MAX_VALUE_DEPTH


def decode(body: bytes, kind: type[Any]) -> Any:
    """Decode a JSON request body into ``kind``; BadRequest with the reason if it cannot.

    Before the typed decode, the body is read once as plain JSON to refuse what the typed
    decoder would accept silently or fail on deep inside: a key twice in one object, and
    nesting deeper than :data:`MAX_BODY_DEPTH` levels."""
    if not body:
        raise BadRequest("the request needs a JSON body")
    _check_shape(body)
    decoder = _decoders.get(kind)
    if decoder is None:
        decoder = _decoders[kind] = msgspec.json.Decoder(kind)
    try:
        return decoder.decode(body)
    except msgspec.ValidationError as exc:
        if "got `float`" not in str(exc):
            raise BadRequest(f"invalid request body: {exc}") from None
        try:  # JSON Schema counts 5.0 as an integer: so do we
            return msgspec.convert(_whole(msgspec.json.decode(body)), kind)
        except msgspec.ValidationError:
            raise BadRequest(f"invalid request body: {exc}") from None
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise BadRequest(f"request body is not valid JSON (UTF-8): {exc}") from None


class _DuplicateKey(Exception):
    pass


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for k, _ in pairs:
            if k in seen:
                raise _DuplicateKey(k)
            seen.add(k)
    return obj


def _check_shape(body: bytes) -> None:
    """Refuse a body naming a key twice in one object (a decoder keeps one of the values
    silently, and which one differs between parsers) or nested too deeply (every later
    walk of the value recurses). About 4 us for a small body."""
    try:
        value = json.loads(body, object_pairs_hook=_unique_pairs)
    except _DuplicateKey as dup:
        key = str(dup.args[0])
        raise BadRequest(
            f"request body has the key {key[:100]!r} twice in one object", key=key[:100]
        ) from None
    except RecursionError:
        value = None
        where: str | None = "(too deep to say)"
    except ValueError:  # not JSON: the typed decoder says why, in its words
        return
    else:
        where = too_deep(value, MAX_BODY_DEPTH)
    if where is not None:
        raise BadRequest(
            f"request body nests objects and arrays deeper than {MAX_BODY_DEPTH} levels "
            f"(at {where})",
            max_depth=MAX_BODY_DEPTH,
        )
