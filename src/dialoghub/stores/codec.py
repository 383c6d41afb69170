"""Binary encoding shared by the stores: msgpack via msgspec, strict on decode.

A session snapshot is one msgpack map; the events of one update are stored together as one
msgpack array (they share ``version`` and ``time``), which keeps the log compact: one row, one
key and one timestamp per update instead of per event.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from dialoghub.engine.records import Event, Session
from dialoghub.errors import StoreCorrupt

__all__ = ["decode_batch", "decode_session", "encode_batch", "encode_session"]

_enc = msgspec.msgpack.Encoder()
_session_dec = msgspec.msgpack.Decoder(Session)
_batch_dec = msgspec.msgpack.Decoder(list[tuple[str, dict[str, Any]]])


def encode_session(session: Session) -> bytes:
    """Encode a snapshot."""
    return _enc.encode(session)


def decode_session(data: bytes) -> Session:
    """Decode a snapshot; raises StoreCorrupt if it is not one."""
    try:
        return _session_dec.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise StoreCorrupt(f"stored session cannot be decoded: {exc}") from exc


def encode_batch(events: Sequence[Event]) -> bytes:
    """Encode the events of one update (same version and time) as ``[[type, data], ...]``."""
    return _enc.encode([(e.type, e.data) for e in events])


def decode_batch(first_seq: int, version: int, time: float, data: bytes) -> list[Event]:
    """Rebuild the events of one update from its row."""
    try:
        items = _batch_dec.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise StoreCorrupt(f"stored events cannot be decoded: {exc}") from exc
    return [
        Event(seq=first_seq + i, version=version, time=time, type=t, data=d)
        for i, (t, d) in enumerate(items)
    ]
