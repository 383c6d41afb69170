"""A tie between intents is ambiguous: the ``ambiguous`` handler runs, whatever the margin.

Two intents with the same example score exactly alike; declaration order alone would pick
the first. The recognizer reports them in ``Recognition.tied`` and the engine
(``engine.dialog.is_ambiguous``) hands the turn to the ambiguous handler instead.
"""

from __future__ import annotations

import pytest

from dialoghub.engine.records import Reply, Text
from dialoghub.engine.step import start, step
from dialoghub.model.loader import load_model_text
from dialoghub.nlu import crf

DOORS = """
id: doors
settings: {SETTINGS}
intents:
  open_door: [open the door, open it]
  open_gate: [open the door, open it]
  close: [close the window, shut the window]
ambiguous: "The door or the gate?"
no_match: "Pardon?"
states:
  start:
    ask: What shall I open?
    on: {open_door: door, open_gate: gate, close: closed}
  door: {say: Door open., final: true}
  gate: {say: Gate open., final: true}
  closed: {say: Window closed., final: true}
"""

RECOGNIZERS = [
    "{}",
    "{ambiguity_margin: 0.05}",
    pytest.param(
        "{recognizer: learned}",
        marks=pytest.mark.skipif(not crf.available(), reason="python-crfsuite not installed"),
    ),
]


def _turn(settings: str, text: str) -> tuple[list[str], list[dict[str, object]], str]:
    model = load_model_text(DOORS.replace("{SETTINGS}", settings))
    begun = start(model, "t", now=1.0)
    r = step(model, begun.session, Text(text=text), 2.0)
    replies = [a.text for a in r.actions if isinstance(a, Reply)]
    recognized = [e.data for e in r.events if e.type == "intent_recognized"]
    return replies, recognized, r.session.state


@pytest.mark.parametrize("settings", RECOGNIZERS)
def test_a_tie_runs_the_ambiguous_handler(settings: str) -> None:
    replies, recognized, state = _turn(settings, "open the door")
    assert replies == ["The door or the gate?"]
    (event,) = recognized
    assert event["intent"] is None
    assert sorted(event["ambiguous"]) == ["open_door", "open_gate"]  # type: ignore[arg-type]
    assert state == "start"


@pytest.mark.parametrize("settings", RECOGNIZERS)
def test_a_clear_winner_is_not_ambiguous(settings: str) -> None:
    replies, recognized, state = _turn(settings, "close the window")
    assert replies == ["Window closed."]
    (event,) = recognized
    assert event["intent"] == "close"
    assert "ambiguous" not in event
    assert state == "closed"


def test_a_tie_without_an_ambiguous_handler_goes_to_the_first_declared() -> None:
    # Nothing else to do: the model has no handler to ask with.
    text = DOORS.replace("{SETTINGS}", "{}").replace('ambiguous: "The door or the gate?"\n', "")
    model = load_model_text(text)
    begun = start(model, "t", now=1.0)
    r = step(model, begun.session, Text(text="open the door"), 2.0)
    assert r.session.state == "door"


@pytest.mark.parametrize(
    ("first", "second"),
    [("kitchen bed my", "my bed kitchen"), ("kitchen a off", "kitchen off a")],
)
def test_the_same_words_in_another_order_tie(first: str, second: str) -> None:
    # Both examples explain the whole text; their scores summed the words in another order
    # and differed in the last bit, so the first declared won without a tie being reported.
    from dialoghub.nlu import IntentSpec, Recognizer

    r = Recognizer([IntentSpec("one", [first]), IntentSpec("two", [second])], [])
    for text in (first, second):
        rec = r.recognize(text)
        assert rec.confidence == 1.0 and sorted(rec.tied) == ["one", "two"], text


def test_a_partial_match_of_two_intents_ties_too() -> None:
    from dialoghub.nlu import IntentSpec, Recognizer

    r = Recognizer(
        [IntentSpec("door", ["open the door now"]), IntentSpec("gate", ["now open the door"]),
         IntentSpec("lamp", ["turn on the lamp"])], [],
    )  # fmt: skip
    rec = r.recognize("open the door")
    assert 0.3 < rec.confidence < 1.0 and sorted(rec.tied) == ["door", "gate"]

