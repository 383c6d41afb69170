"""Running a scripted conversation into a history, and comparing two histories.

A history is plain JSON: for each update (the start, then each input) the input, the time,
the actions the engine returned and the events it emitted (or the error it refused the
input with), and at the end the snapshot the session must be. Comparing walks both
documents and names every path where they differ, so a failing golden test reads as a diff.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec

from dialoghub.engine.fold import replay
from dialoghub.engine.records import Event, Input, Session
from dialoghub.engine.step import start, step
from dialoghub.errors import DialoghubError
from dialoghub.model.loader import load_model
from tests.golden.conversations import T0, Conversation

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
HISTORIES = Path(__file__).resolve().parent / "histories"


def event_record(e: Event) -> dict[str, Any]:
    return {"seq": e.seq, "version": e.version, "time": e.time, "type": e.type, "data": e.data}


def events_from(records: list[dict[str, Any]]) -> list[Event]:
    return [Event(**r) for r in records]


def record(conversation: Conversation) -> dict[str, Any]:
    """Run ``conversation`` through today's engine: its history as plain JSON data."""
    model = load_model(EXAMPLES / conversation.model)
    now = T0
    first = start(model, conversation.name, now=now, **conversation.start)
    session: Session = first.session
    updates: list[dict[str, Any]] = [
        {
            "start": conversation.start,
            "time": now,
            "actions": msgspec.to_builtins(first.actions),
            "events": [event_record(e) for e in first.events],
        }
    ]
    for raw in conversation.inputs:
        now += 1
        inp = msgspec.convert(raw, Input)
        update: dict[str, Any] = {"input": raw, "time": now}
        try:
            r = step(model, session, inp, now)
        except DialoghubError as exc:
            update["refused"] = {
                "error": type(exc).__name__,
                "code": exc.code,
                "message": exc.message,
                "details": msgspec.to_builtins(exc.details),
            }
        else:
            session = r.session
            update["actions"] = msgspec.to_builtins(r.actions)
            update["events"] = [event_record(e) for e in r.events]
        updates.append(update)
    history = {
        "conversation": conversation.name,
        "model": conversation.model,
        "model_version": model.version,
        "updates": updates,
        "snapshot": msgspec.to_builtins(session),
    }
    return json.loads(json.dumps(history))  # as the file reads back: tuples are lists


def fold(history: dict[str, Any]) -> dict[str, Any]:
    """The snapshot the recorded events fold into (nothing of the engine but the fold)."""
    events = [r for u in history["updates"] for r in u.get("events", ())]
    return msgspec.to_builtins(replay(events_from(events)))


def path_of(file: Path) -> str:
    return str(file.relative_to(ROOT))


def dump(history: dict[str, Any]) -> str:
    return json.dumps(history, indent=1, ensure_ascii=False) + "\n"


def differences(recorded: Any, now: Any, path: str = "") -> list[str]:
    """Every path where ``now`` differs from ``recorded``, as ``path: recorded -> now``."""
    if isinstance(recorded, dict) and isinstance(now, dict):
        out: list[str] = []
        for key in sorted(recorded.keys() | now.keys()):
            sub = f"{path}.{key}" if path else str(key)
            if key not in now:
                out.append(f"{sub}: {recorded[key]!r} -> (missing)")
            elif key not in recorded:
                out.append(f"{sub}: (missing) -> {now[key]!r}")
            else:
                out.extend(differences(recorded[key], now[key], sub))
        return out
    if isinstance(recorded, list) and isinstance(now, list):
        out = []
        for i, (a, b) in enumerate(zip(recorded, now, strict=False)):
            out.extend(differences(a, b, f"{path}[{i}]"))
        if len(recorded) != len(now):
            out.append(f"{path}: {len(recorded)} items -> {len(now)} items")
        return out
    # a float and an int of one value are one JSON number; a bool is not a number
    if recorded == now and (type(recorded) is type(now) or _numbers(recorded, now)):
        return []
    return [f"{path}: {recorded!r} -> {now!r}"]


def _numbers(a: Any, b: Any) -> bool:
    return all(isinstance(v, int | float) and not isinstance(v, bool) for v in (a, b))
