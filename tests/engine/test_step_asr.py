"""ASR results in the pure engine: the confidence's bounds, and the session's wake word
(metadata ``wake_word``) when the wait requires it: compared word by word, case and
punctuation aside, stripped before the dialog hears the rest, an utterance without it (or
with nothing after it) dropped and recorded."""

from __future__ import annotations

from typing import Any

import pytest

from dialoghub import errors
from dialoghub.engine.fold import replay
from dialoghub.engine.records import ASR, Reply, WaitForUser
from dialoghub.engine.step import _words, start, step
from dialoghub.model.loader import load_model_text

MODEL = load_model_text("""
id: wake
wake_word: true
intents:
  next: [next please]
states:
  start:
    ask: First?
    on: {next: second}
  second:
    ask: Second?
    on: {next: start}
""")
T0 = 1_000.0


def _started(wake: str | None = "hey robot") -> tuple[Any, list[Any]]:
    r = start(MODEL, "s", now=T0, metadata={"wake_word": wake} if wake is not None else None)
    return r.session, list(r.events)


def _say(session: Any, events: list[Any], text: str, confidence: float = 0.9) -> Any:
    r = step(MODEL, session, ASR(text=text, confidence=confidence), T0 + 1)
    events.extend(r.events)
    assert replay(events) == r.session
    return r


@pytest.mark.parametrize("said", ["hey robot next please", "Hey, Robot! next please",
                                  "HEY ROBOT   next please"])  # fmt: skip
def test_the_wake_word_is_stripped_and_the_rest_is_heard(said: str) -> None:
    session, events = _started()
    r = _say(session, events, said)
    assert r.session.state == "second"
    assert Reply(text="Second?") in r.actions
    heard = [e.data for e in r.events if e.type == "intent_recognized"]
    assert [h["intent"] for h in heard] == ["next"]
    assert not [e for e in r.events if e.type == "utterance_dropped"]


@pytest.mark.parametrize("said", ["next please", "robot hey next please", "hey next please",
                                  "hey robot", "Hey robot!"])  # fmt: skip
def test_an_utterance_without_the_wake_word_or_nothing_after_it_is_dropped(said: str) -> None:
    session, events = _started()
    r = _say(session, events, said)
    assert r.session.state == "start"
    assert r.actions == (WaitForUser(immediate=True, requires_wake_word=True),)
    dropped = [e.data for e in r.events if e.type == "utterance_dropped"]
    assert dropped == [{"reason": "no wake word", "text": said, "wake_word": "hey robot"}]
    assert r.session.awaiting == session.awaiting  # it waits as before


@pytest.mark.parametrize("wake", [None, "", "   "])
def test_without_a_wake_word_in_the_metadata_every_utterance_is_heard(wake: str | None) -> None:
    session, events = _started(wake)
    r = _say(session, events, "next please")
    assert r.session.state == "second"


def test_words_are_compared_lower_case_without_punctuation_apostrophes_kept() -> None:
    assert _words("Hey, Robot! What's UP?") == ["hey", "robot", "what's", "up"]
    assert _words("  ...  ") == []
    assert _words("a-b c_d 42") == ["a", "b", "c", "d", "42"]


@pytest.mark.parametrize("confidence", [0.0, 1.0])
def test_a_confidence_at_either_bound_is_taken(confidence: float) -> None:
    session, events = _started(None)
    r = _say(session, events, "next please", confidence)
    assert r.session.state == "second"


@pytest.mark.parametrize("confidence", [-0.01, 1.01, 2.0])
def test_a_confidence_outside_zero_to_one_is_refused_with_its_value(confidence: float) -> None:
    session, _ = _started(None)
    with pytest.raises(errors.InvalidInput) as info:
        step(MODEL, session, ASR(text="next please", confidence=confidence), T0 + 1)
    assert info.value.message == f"ASR confidence must be in [0, 1], not {confidence}"
