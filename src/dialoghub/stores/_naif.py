"""The NaifJs session-file layout: one session <-> one entry of the JSON file.

The file is one object keyed by session id. Each entry has NaifJs's fields at the top::

    "34824744": {"unit": "secondUnit", "state": "restart", "time": 1602775249799,
                 "active": false, "variables": {"firstUnit": {"firstName": "Giorgio"}},
                 "request": {"text": "no", "speech": false, "time": 1602775251565},
                 "response": {"text": "...", "speech": false, "time": ..., "stateid": "..."},
                 "dialoghub": {...}}

and the few fields dialoghub adds under ``"dialoghub"`` (model, version, seq, status, timers,
creation order, idempotency records), which NaifJs ignores. The entry is the session's
*snapshot* only: its events and the snapshots kept for time travel live in the append-only
log beside the file (:mod:`dialoghub.stores._jsonlog`), so the size of an entry does not grow
with the session's history. Files written by earlier versions, with ``"events"`` and
``"snapshots"`` inside ``"dialoghub"``, still load (:func:`from_entry` returns them; the store
moves them to the log). An entry without ``"dialoghub"`` (a file written by hand or by NaifJs)
loads with defaults: it keeps its ``active`` flag, waits for the user's text in its state,
and its model is the one the store URL maps its unit to (``?models=unit:model``), else the
``?model=`` option, else the model whose id is its unit name. ``request``/``response`` are
always written in NaifJs's shape (``speech``, ``stateid``, times in milliseconds); the
engine's own record of them, when it differs, is kept under ``"dialoghub"``.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any

import msgspec

from dialoghub.engine.records import Session
from dialoghub.errors import EntryError

__all__ = ["Entry", "EntryError", "Row", "entry_key", "from_entry", "render"]

_json = msgspec.json.Encoder()
# Top-level entry fields that belong to NaifJs, in its order; "time" is milliseconds.
_NAIF = ("unit", "state", "time", "active", "variables", "request", "response")
# Fields of the snapshot that live under "dialoghub" (the rest map to _NAIF fields).
_OURS = (
    "id", "tenant", "model_id", "model_version", "params", "metadata", "status", "version",
    "seq", "created_at", "updated_at", "awaiting", "stack", "counters", "lifetime",
    "expires_at", "due_at",
)  # fmt: skip


@dataclass(slots=True)
class Row:
    """The events of one update: one stored entry, as in every store."""

    first_seq: int
    version: int
    time: float
    items: bytes  # JSON ``[[type, data], ...]``

    def render(self) -> bytes:
        """The row as ``[first_seq, version, time, [[type, data], ...]]``."""
        head = _json.encode([self.first_seq, self.version, self.time])
        return head[:-1] + b"," + self.items + b"]"


@dataclass(slots=True)
class Entry:
    """One session held by the JSON store, with the file text of its entry cached."""

    order: int  # creation order: the listing's keyset and the file's order
    session: Session
    rows: list[Row] = field(default_factory=list)
    idempotency: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    text: bytes = b""  # cached render(); rebuilt only when the session changes
    # (seq, JSON snapshot) kept every SNAPSHOT_EVERY versions, ascending: for time travel
    snapshots: list[tuple[int, bytes]] = field(default_factory=list)
    log_bytes: int = 0  # bytes of the log lines about this session: garbage once deleted


def entry_key(tenant: str, session_id: str) -> str:
    """The file key of a session: its id, prefixed with its tenant unless ``default``."""
    return session_id if tenant == "default" else f"{tenant}/{session_id}"


def _ms(seconds: Any) -> Any:
    return round(seconds * 1000) if isinstance(seconds, int | float) else seconds


def naif_request(req: dict[str, Any]) -> dict[str, Any]:
    """The NaifJs shape of a request: ``text``, ``speech`` (a transcript), ``time`` in ms.

    A request the engine recorded (it has the input's ``type`` and ``time`` in seconds) is
    converted; one loaded from the file (hand-written or NaifJs) is already in that shape.
    """
    if "type" not in req:
        return req
    out: dict[str, Any] = {"text": req["text"]} if "text" in req else {}
    out["speech"] = req["type"] == "asr"
    out["time"] = _ms(req.get("time"))
    out.update((k, v) for k, v in req.items() if k not in ("type", "text", "time"))
    return out


def naif_response(resp: dict[str, Any], unit: str) -> dict[str, Any]:
    """The NaifJs shape of a response: ``text``, ``speech``, ``time`` in ms, ``stateid``
    (``unit.state``); one loaded from the file is already in that shape."""
    if "version" not in resp or "stateid" in resp:
        return resp
    return {
        "text": resp.get("text", ""),
        "speech": False,
        "time": _ms(resp.get("time")),
        "stateid": f"{unit}.{resp.get('state')}",
    }


def render(order: int, session: Session, idempotency: dict[str, tuple[str, bytes]]) -> bytes:
    """The JSON value of one file entry: the snapshot, without the history."""
    data: dict[str, Any] = msgspec.to_builtins(session)
    out: dict[str, Any] = {
        "unit": data["unit"],
        "state": data["state"],
        "time": round(session.updated_at * 1000),
        "active": data["active"],
        "variables": data["variables"],
    }
    ours = {name: data[name] for name in _OURS if name in data}
    # The NaifJs fields in NaifJs's shape; the engine's own record of them, when it differs,
    # under "dialoghub" so that a load gives the session back exactly.
    request, response = data.get("last_request"), data.get("last_response")
    if request is not None:
        out["request"] = naif_request(request)
        if out["request"] is not request:
            ours["last_request"] = request
    if response is not None:
        out["response"] = naif_response(response, data["unit"])
        if out["response"] is not response:
            ours["last_response"] = response
    ours["order"] = order
    if idempotency:
        ours["idempotency"] = {
            k: [fp, base64.b64encode(resp).decode()] for k, (fp, resp) in idempotency.items()
        }
    out["dialoghub"] = ours
    return _json.encode(out)


def from_entry(
    key: str,
    value: Any,
    *,
    model_id: str | None,
    order: int,
    models: dict[str, str] | None = None,
) -> Entry:
    """Rebuild a session from its file entry; EntryError says what is wrong with it.

    A hand-written entry (no ``"dialoghub"``) gets the model ``models[unit]``, else
    ``model_id``, else the model named like its unit; it keeps its ``active`` flag (absent:
    false) and waits for the user's text in its state.
    """
    if not isinstance(value, dict):
        raise EntryError(f"is a {type(value).__name__}, not an object")
    ours = value.get("dialoghub")
    if ours is not None and not isinstance(ours, dict):
        raise EntryError('"dialoghub" is not an object')
    hand_written = ours is None
    ours = dict(ours or {})
    rows_raw = ours.pop("events", [])
    idem_raw = ours.pop("idempotency", {})
    kept_raw = ours.pop("snapshots", [])
    order = ours.pop("order", order)
    time_ms = value.get("time", 0)
    if not isinstance(time_ms, int | float) or isinstance(time_ms, bool):
        raise EntryError(f'"time" must be a number of milliseconds, not {time_ms!r}')
    unit = value.get("unit")
    chosen = (models or {}).get(unit) if isinstance(unit, str) else None
    data: dict[str, Any] = {
        "id": key,
        "model_id": chosen or model_id or (unit if isinstance(unit, str) else "default"),
        "model_version": "",
        # A hand-written session exists, so it has a version to compare-and-set against.
        "version": 1,
        "created_at": time_ms / 1000,
        "updated_at": time_ms / 1000,
        "last_request": value.get("request"),
        "last_response": value.get("response"),
        **({"awaiting": {"kind": "user", "immediate": False}} if hand_written else {}),
        **ours,
        "unit": unit,
        "state": value.get("state"),
        "active": value.get("active", not hand_written),
        "variables": value.get("variables", {}),
    }
    try:
        session = msgspec.convert(data, Session)
        rows = [
            Row(first_seq, version, time, _json.encode(items))
            for first_seq, version, time, items in msgspec.convert(
                rows_raw, list[tuple[int, int, float, list[tuple[str, dict[str, Any]]]]]
            )
        ]
        idem = {
            k: (fp, base64.b64decode(resp, validate=True))
            for k, (fp, resp) in msgspec.convert(idem_raw, dict[str, tuple[str, str]]).items()
        }
        if not isinstance(order, int):
            raise EntryError(f'"dialoghub.order" must be an integer, not {order!r}')
        kept = [(s.seq, _json.encode(s)) for s in msgspec.convert(kept_raw, list[Session])]
    except (msgspec.ValidationError, binascii.Error) as exc:
        raise EntryError(str(exc)) from exc
    return Entry(order=order, session=session, rows=rows, idempotency=idem, snapshots=kept)
