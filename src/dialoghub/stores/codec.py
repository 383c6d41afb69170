"""Binary encoding shared by the stores: msgpack via msgspec, strict on decode.

A session snapshot is one msgpack map; the events of one update are stored together as one
msgpack array (they share ``version`` and ``time``), which keeps the log compact: one row, one
key and one timestamp per update instead of per event.

Event batches (which accumulate forever) are deflated with a *preset dictionary* of
dialoghub's own vocabulary (event types, field names, action tags). Small records barely
compress on their own, because deflate has nothing earlier to refer back to; with the
dictionary, the words every record repeats cost a few bits each. The dictionary holds no
application data, so it fits every model equally. Snapshots stay plain msgpack: one per
session, rewritten in place, and read on every cache miss, so their speed matters more than
their size.

Every blob starts with a format byte, so old rows stay readable when the format changes:
``0x00`` plain msgpack, ``0x01`` deflate with dictionary 1. A new dictionary gets a new byte;
never change an existing one, or stored rows become unreadable.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import Any

import msgspec

from dialoghub.engine.records import Event, Session
from dialoghub.errors import StoreCorrupt

__all__ = [
    "decode_batch",
    "decode_session",
    "encode_batch",
    "encode_batch_raw",
    "encode_session",
    "pack_batch",
    "plain_batch",
]

_enc = msgspec.msgpack.Encoder()
_session_dec = msgspec.msgpack.Decoder(Session)
_batch_dec = msgspec.msgpack.Decoder(list[tuple[str, dict[str, Any]]])

_PLAIN = 0x00
_DEFLATE_V1 = 0x01


def _vocabulary() -> bytes:
    """Dictionary 1: msgpack of dialoghub's field names and tags. Frozen: never edit."""
    words = [
        # event types
        "session_started", "input_received", "intent_recognized", "slot_filled",
        "variable_set", "variable_cleared", "variables_replaced", "params_set",
        "state_entered", "action_emitted", "command_result_received", "timeout_fired",
        "session_ended", "unit_called", "unit_returned", "confirmation",
        # field names
        "id", "tenant", "default", "model_id", "model_version", "unit", "main", "state",
        "params", "metadata", "input", "type", "text", "confidence", "intent", "name",
        "value", "action", "awaiting", "kind", "user", "command", "immediate", "wake",
        "fill", "slot", "filled", "block", "do", "pc", "on_error", "outputs", "error",
        "reason", "status", "ended", "count", "variables", "requires_wake_word",
        "variable", "transcript", "version", "seq", "time", "created_at", "updated_at",
        "last_request", "last_response", "counters", "stack", "active", "expired",
        # input and action tags
        "wait_for_user", "reply", "transcribe", "end", "asr", "command_result", "jump",
        "set_variables", "timeout", "event", "prompt", "reached final state",
    ]  # fmt: skip
    # Least useful first: deflate prefers matches near the end of the dictionary.
    return b"".join(_enc.encode(w) for w in reversed(words)) + _enc.encode(
        {"type": "wait_for_user", "immediate": False, "requires_wake_word": False}
    )


_ZDICT = _vocabulary()
_PLAIN_PREFIX = bytes((_PLAIN,))


# A 1 KiB window (it holds the whole dictionary) and the smallest hash table keep the deflate
# state at a few KiB. The default (256 KiB) crosses malloc's mmap threshold, so every record
# paid for fresh zeroed pages: 30 us per record instead of 5.
_WBITS = -10
_MEMLEVEL = 1


# A compressor primed with the dictionary, copied for each record: the same state as a new
# compressor given the dictionary (so the same bytes), without hashing the dictionary again
# (2.0 -> 0.7 us). ``copy`` takes the object's lock, so threads may share it.
_PRIMED = zlib.compressobj(6, zlib.DEFLATED, _WBITS, _MEMLEVEL, zlib.Z_DEFAULT_STRATEGY, _ZDICT)


def _pack(raw: bytes) -> bytes:
    c = _PRIMED.copy()
    packed = c.compress(raw) + c.flush()
    if len(packed) + 1 < len(raw):
        return bytes((_DEFLATE_V1,)) + packed
    return bytes((_PLAIN,)) + raw


def _unpack(data: bytes, what: str) -> bytes:
    if not data:
        raise StoreCorrupt(f"stored {what} is empty")
    fmt = data[0]
    if fmt == _PLAIN:
        return data[1:]
    if fmt == _DEFLATE_V1:
        try:
            d = zlib.decompressobj(-15, _ZDICT)
            return d.decompress(data[1:]) + d.flush()
        except zlib.error as exc:
            raise StoreCorrupt(f"stored {what} cannot be inflated: {exc}") from exc
    raise StoreCorrupt(
        f"stored {what} has format {fmt:#04x}, which this dialoghub does not know; "
        "it was written by a newer version: upgrade dialoghub"
    )


def encode_session(session: Session) -> bytes:
    """Encode a snapshot."""
    return _PLAIN_PREFIX + _enc.encode(session)


def decode_session(data: bytes) -> Session:
    """Decode a snapshot; raises StoreCorrupt if it is not one."""
    try:
        return _session_dec.decode(_unpack(data, "session"))
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise StoreCorrupt(f"stored session cannot be decoded: {exc}") from exc


def encode_batch(events: Sequence[Event]) -> bytes:
    """Encode the events of one update (same version and time) as ``[[type, data], ...]``."""
    return _pack(encode_batch_raw(events))


def encode_batch_raw(events: Sequence[Event]) -> bytes:
    """The first half of :func:`encode_batch`: msgpack only, not yet deflated.

    A store may deflate it later with :func:`pack_batch` on another thread: deflating
    releases the GIL, so a writer thread doing it leaves the event loop's thread free.
    """
    return _enc.encode([(e.type, e.data) for e in events])


def plain_batch(events: Sequence[Event]) -> bytes:
    """The events of one update in the plain format (``0x00``, msgpack, not deflated).

    :func:`decode_batch` reads it like a deflated row. For a store that keeps rows in memory
    for a short while (the in-process store), where deflate's ~5 us per update costs more
    than the bytes it saves.
    """
    return _PLAIN_PREFIX + encode_batch_raw(events)


def pack_batch(raw: bytes) -> bytes:
    """The second half of :func:`encode_batch`: deflate what :func:`encode_batch_raw` gave."""
    return _pack(raw)


def decode_batch(first_seq: int, version: int, time: float, data: bytes) -> list[Event]:
    """Rebuild the events of one update from its row."""
    try:
        items = _batch_dec.decode(_unpack(data, "events"))
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise StoreCorrupt(f"stored events cannot be decoded: {exc}") from exc
    return [
        Event(seq=first_seq + i, version=version, time=time, type=t, data=d)
        for i, (t, d) in enumerate(items)
    ]
