"""Golden histories: recorded conversations of every example model, replayed against today.

Each file in ``histories/`` holds, for one scripted conversation (``conversations.py``),
every update's actions and events (or the refusal) and the snapshot the session ended as.
Three checks per history:

* today's engine, given the same script, returns the same actions and emits the same events,
  field by field, and ends in the same snapshot;
* the recorded events, folded by today's fold alone, give the recorded snapshot (a fold bug
  shows here even when it would keep replay equal to the engine's own snapshot);
* the file is what ``DIALOGHUB_GOLDEN_UPDATE=1`` would write (nothing edited by hand).

An intended change of behaviour regenerates them on purpose::

    DIALOGHUB_GOLDEN_UPDATE=1 .venv/bin/pytest tests/golden -q

and the reviewer reads the change as the diff of the JSON files.
"""

from __future__ import annotations

import json
import os

import pytest

from tests.golden.conversations import CONVERSATIONS, Conversation
from tests.golden.history import HISTORIES, differences, dump, fold, path_of, record

UPDATE = os.environ.get("DIALOGHUB_GOLDEN_UPDATE") == "1"
MODELS = ("weather", "pizza", "getname", "review")


def _report(lines: list[str], limit: int = 40) -> str:
    more = f"\n... and {len(lines) - limit} more" if len(lines) > limit else ""
    return "\n".join(lines[:limit]) + more


@pytest.mark.parametrize("conversation", CONVERSATIONS, ids=lambda c: c.name)
def test_history_is_reproduced(conversation: Conversation) -> None:
    file = HISTORIES / f"{conversation.name}.json"
    now = record(conversation)
    if UPDATE:
        HISTORIES.mkdir(exist_ok=True)
        file.write_text(dump(now), encoding="utf-8")
        return
    assert file.exists(), (
        f"{path_of(file)} is missing; record it with DIALOGHUB_GOLDEN_UPDATE=1 "
        ".venv/bin/pytest tests/golden"
    )
    recorded = json.loads(file.read_text(encoding="utf-8"))
    diff = differences(recorded, now)
    assert not diff, (
        f"{conversation.name}: today's engine differs from {path_of(file)} "
        "(recorded -> now); if the change is intended, regenerate with "
        f"DIALOGHUB_GOLDEN_UPDATE=1:\n{_report(diff)}"
    )
    assert file.read_text(encoding="utf-8") == dump(recorded)  # written by the tool only


@pytest.mark.parametrize("conversation", CONVERSATIONS, ids=lambda c: c.name)
def test_recorded_events_fold_into_the_recorded_snapshot(conversation: Conversation) -> None:
    file = HISTORIES / f"{conversation.name}.json"
    if UPDATE and not file.exists():
        pytest.skip("being recorded")
    recorded = json.loads(file.read_text(encoding="utf-8"))
    diff = differences(recorded["snapshot"], fold(recorded))
    assert not diff, f"folding {path_of(file)} gives another snapshot:\n{_report(diff)}"


def test_every_history_has_a_conversation_and_every_model_a_history() -> None:
    names = {c.name for c in CONVERSATIONS}
    assert len(names) == len(CONVERSATIONS)
    files = {p.stem for p in HISTORIES.glob("*.json")}
    if UPDATE:
        for stale in files - names:
            (HISTORIES / f"{stale}.json").unlink()
        return
    assert files == names
    assert {c.model.split("/")[0] for c in CONVERSATIONS} == set(MODELS)


def test_the_histories_cover_the_engine() -> None:
    """The recorded conversations reach every kind of event and every kind of action."""
    kinds, actions, refusals = set(), set(), set()
    for c in CONVERSATIONS:
        history = json.loads((HISTORIES / f"{c.name}.json").read_text(encoding="utf-8"))
        for u in history["updates"]:
            kinds.update(e["type"] for e in u.get("events", ()))
            actions.update(a["type"] for a in u.get("actions", ()))
            if "refused" in u:
                refusals.add(u["refused"]["error"])
    assert {
        "session_started",
        "input_received",
        "intent_recognized",
        "slot_filled",
        "variable_set",
        "variable_cleared",
        "variables_replaced",
        "params_set",
        "state_entered",
        "chart_stepped",
        "action_emitted",
        "command_result_received",
        "timeout_fired",
        "frame_pushed",
        "frame_popped",
        "confirmation_answered",
        "session_ended",
    } <= kinds
    assert {"reply", "wait_for_user", "command", "end"} <= actions
    assert {"UnexpectedInput", "InvalidInput", "SessionClosed"} <= refusals


def test_a_difference_is_reported_by_path() -> None:
    recorded = {"a": [1, {"b": "x"}], "c": 1, "d": True}
    assert differences(recorded, recorded) == []
    assert differences(recorded, {"a": [1, {"b": "y"}, 3], "c": 1.0, "d": 1}) == [
        "a[1].b: 'x' -> 'y'",
        "a: 2 items -> 3 items",
        "d: True -> 1",
    ]
    assert differences({"a": 1}, {"b": 1}) == ["a: 1 -> (missing)", "b: (missing) -> 1"]
