"""The learned recognizer: intents and slots learned from the examples (issue 15)."""

from __future__ import annotations

import pytest

pytest.importorskip("pycrfsuite")

from dialoghub.errors import ModelError, ModelValidationError
from dialoghub.model.loader import load_model_text
from dialoghub.nlu import (
    EntityKind,
    EntitySpec,
    EntityValue,
    IntentSpec,
    Recognizer,
    learned,
)
from dialoghub.nlu.learned import LearnedRecognizer

SHOW = EntitySpec("show", EntityKind.TEXT)
STATE = EntitySpec(
    "state",
    values=(EntityValue("IN", ("Indiana",)), EntityValue("OR", ("Oregon",)),
            EntityValue("ME", ("Maine",)), EntityValue("CA", ("California",))),
    case_sensitive=True,
)  # fmt: skip
CITY = EntitySpec(
    "city", values=(EntityValue("Boston"), EntityValue("Paris"), EntityValue("New York"))
)
INTENTS = [
    IntentSpec(
        "find_show",
        (
            "find the tv show {show}",
            "look up the show {show}",
            "i want to watch the series {show}",
            "search for the program {show}",
            "where can i see the tv series {show}",
        ),
        {"show": "show"},
    ),
    IntentSpec(
        "cinema",
        (
            "what films are playing at the cinema",
            "movie times at the cinema tonight",
            "which movies are showing nearby",
            "show me the film schedule",
        ),
    ),
    IntentSpec(
        "weather",
        (
            "what is the weather in {city}",
            "will it rain in {city} {state}",
            "forecast for {city} {state}",
            "is it cold in {state}",
            "weather in {state} please",
        ),
        {"city": "city", "state": "state"},
    ),
    IntentSpec(
        "remind",
        ("remind me to call mom", "remind me about the meeting", "set a reminder for me"),
    ),
]


@pytest.fixture(scope="module")
def rec() -> LearnedRecognizer:
    return LearnedRecognizer(INTENTS, [SHOW, STATE, CITY])


def test_an_unseen_title_is_found_by_its_context(rec: LearnedRecognizer) -> None:
    r = rec.recognize("Find the TV show The Daydreamer")
    assert r.intent == "find_show"
    # An unseen title, capitalized or not ("the" may or may not be part of it).
    show = r.slots["show"]
    assert show.value in ("The Daydreamer", "Daydreamer")
    assert "Find the TV show The Daydreamer"[show.start : show.end] == show.text
    lower = rec.recognize("find the tv show the daydreamer")
    assert lower.intent == "find_show"
    assert lower.slots["show"].text.endswith("daydreamer")


def test_the_intent_with_slots_is_not_lost_to_a_shorter_one(rec: LearnedRecognizer) -> None:
    r = rec.recognize("look up the show Midnight Gospel")
    assert r.intent == "find_show"
    assert r.slots["show"].text == "Midnight Gospel"


def test_a_list_value_that_is_an_ordinary_word_needs_its_context(
    rec: LearnedRecognizer,
) -> None:
    # "me" is a case-sensitive state code; lower case it is the pronoun.
    r = rec.recognize("remind me to water the plants")
    assert r.intent == "remind"
    assert r.slots == {}
    w = rec.recognize("is it cold in ME")
    assert w.intent == "weather"
    assert w.slots["state"].value == "ME"


def test_synonyms_normalise_a_tagged_value(rec: LearnedRecognizer) -> None:
    r = rec.recognize("will it rain in Boston Indiana")
    assert r.intent == "weather"
    assert r.slots["city"].value == "Boston"
    assert r.slots["state"].value == "IN"


def test_out_of_scope_text_gets_no_intent(rec: LearnedRecognizer) -> None:
    r = rec.recognize("zqxv plorb wintle")
    assert r.intent is None
    assert r.confidence < rec.threshold
    assert rec.recognize("").intent is None
    assert rec.recognize("   ").intent is None


def test_allowed_limits_the_candidates(rec: LearnedRecognizer) -> None:
    r = rec.recognize("find the tv show Lost", allowed={"cinema", "remind"})
    assert r.intent in (None, "cinema", "remind")
    assert all(name in ("cinema", "remind") for name, _ in r.alternatives)


def test_confidences_are_probabilities(rec: LearnedRecognizer) -> None:
    r = rec.recognize("what is the weather in Paris")
    assert r.intent == "weather"
    assert 0.5 <= r.confidence <= 1.0
    assert r.alternatives and all(0.0 <= s <= r.confidence for _, s in r.alternatives)


def test_extract_takes_a_free_text_answer_whole(rec: LearnedRecognizer) -> None:
    found = rec.extract("show", "  Stranger Things! ")
    assert found is not None and found.value == "Stranger Things"
    assert rec.extract("state", "in") is None  # case-sensitive: "in" is no state
    state = rec.extract("state", "IN")
    assert state is not None and state.value == "IN"
    assert rec.extract("show", "   ") is None


def test_extract_slots_of_a_named_intent(rec: LearnedRecognizer) -> None:
    assert rec.extract_slots("weather", "forecast for Paris CA") == {
        "city": rec.extract_slots("weather", "forecast for Paris CA")["city"],
        "state": rec.extract_slots("weather", "forecast for Paris CA")["state"],
    }
    assert rec.extract_slots("weather", "forecast for Paris CA")["state"].value == "CA"
    with pytest.raises(ModelError):
        rec.extract_slots("no_such_intent", "hello")


def test_ties_are_reported_not_decided_by_declaration_order() -> None:
    twins = [IntentSpec("a", ("open the door", "hello there")),
             IntentSpec("b", ("open the door", "hello there"))]  # fmt: skip
    for recognizer in (LearnedRecognizer(twins, []), Recognizer(twins, [])):
        r = recognizer.recognize("open the door")
        assert set(r.tied) == {"a", "b"}, type(recognizer).__name__


def test_no_tie_when_one_intent_is_better(rec: LearnedRecognizer) -> None:
    assert rec.recognize("what is the weather in Paris").tied == ()


def test_training_is_deterministic_and_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    learned._CACHE.clear()
    first = LearnedRecognizer(INTENTS, [SHOW, STATE, CITY])
    learned._CACHE.clear()
    second = LearnedRecognizer(INTENTS, [SHOW, STATE, CITY])
    texts = ["find the tv show Dark", "is it cold in OR", "remind me to go", "films tonight"]
    assert [first.recognize(t) for t in texts] == [second.recognize(t) for t in texts]

    def no_training(*args: object) -> None:
        raise AssertionError("trained again")

    monkeypatch.setattr(LearnedRecognizer, "_train", no_training)
    third = LearnedRecognizer(INTENTS, [SHOW, STATE, CITY])  # same content: from the cache
    assert [third.recognize(t) for t in texts] == [first.recognize(t) for t in texts]
    with pytest.raises(AssertionError, match="trained again"):
        LearnedRecognizer(INTENTS[:2], [SHOW])  # other content trains


def test_numbers_times_and_patterns_are_slots_too() -> None:
    intents = [
        IntentSpec("book", ("book a table for {people} at {time}", "table for {people}",
                            "reserve for {people} people at {time}"),
                   {"people": "number", "time": "time"}),
        IntentSpec("status", ("status of flight {flight}", "is {flight} on time",
                              "where is flight {flight}"), {"flight": "flight_no"}),
        IntentSpec("greet", ("hello", "hi there", "good morning")),
    ]  # fmt: skip
    flight = EntitySpec("flight_no", EntityKind.REGEX, pattern=r"\b[a-z]{2}\d{3,4}\b")
    rec = LearnedRecognizer(intents, [flight])
    r = rec.recognize("book a table for four at 7pm")
    assert r.intent == "book"
    assert r.slots["people"].value == 4
    assert r.slots["time"].value == "19:00"
    s = rec.recognize("status of flight BA123")
    assert s.intent == "status"
    assert s.slots["flight"].value.lower() == "ba123"


def test_a_bad_model_is_refused_as_the_matcher_refuses_it() -> None:
    with pytest.raises(ModelError):
        LearnedRecognizer([IntentSpec("a", ("go to {nowhere}",))], [])
    with pytest.raises(ModelError):
        LearnedRecognizer([IntentSpec("a", ("x",)), IntentSpec("a", ("y",))], [])


def test_one_intent_is_every_text_that_fits() -> None:
    rec = LearnedRecognizer([IntentSpec("only", ("say hello", "hello there"))], [])
    assert rec.recognize("hello there").intent == "only"


MODEL = """
id: shows
start: main
settings: {recognizer: learned}
entities:
  show: {type: text}
  state:
    case_sensitive: true
    values: [IN, OR, {value: ME, synonyms: [Maine]}]
intents:
  find_show:
    examples: ["find the tv show {show=Lost}", "look up the show {show}",
               "search for the program {show=The Wire}"]
  weather:
    examples: ["weather in {state}", "is it cold in {state=OR}", "forecast for {state}"]
  bye: [goodbye, bye bye, see you]
states:
  main:
    say: Hello
    on: {find_show: main, weather: main, bye: main}
"""


def test_a_model_chooses_the_learned_recognizer() -> None:
    model = load_model_text(MODEL)
    assert isinstance(model.recognizer, LearnedRecognizer)
    r = model.recognizer.recognize("find the tv show Better Call Saul")
    assert r.intent == "find_show"
    assert r.slots["show"].value == "Better Call Saul"
    assert [s.name for s in model.intents["find_show"].slots] == ["show"]
    assert model.entities["state"].case_sensitive is True


def test_a_model_without_the_setting_keeps_the_matcher() -> None:
    model = load_model_text(MODEL.replace("settings: {recognizer: learned}\n", ""))
    assert isinstance(model.recognizer, Recognizer)


@pytest.mark.parametrize(
    "change",
    [
        ("recognizer: learned", "recognizer: neural"),
        ("case_sensitive: true", "case_sensitive: yes please"),
        ("{value: ME, synonyms: [Maine]}", "{value: ME, case_sensitive: 1}"),
    ],
)
def test_bad_settings_are_refused(change: tuple[str, str]) -> None:
    with pytest.raises(ModelValidationError):
        load_model_text(MODEL.replace(*change))


_PROBE = """
from tests.nlu.test_learned import CITY, INTENTS, SHOW, STATE
from dialoghub.nlu.learned import LearnedRecognizer
rec = LearnedRecognizer(INTENTS, [SHOW, STATE, CITY])
for text in ["find the tv show Dark", "is it cold in OR", "remind me to go", "films tonight",
             "will it rain in Paris Maine"]:
    print(repr(rec.recognize(text)))
"""


def test_the_same_model_gives_the_same_answers_in_another_process() -> None:
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    outputs = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run(
            [sys.executable, "-c", _PROBE], cwd=root, env=env, capture_output=True, text=True,
            check=True, timeout=60,
        )  # fmt: skip
        outputs.append(done.stdout)
    assert outputs[0] == outputs[1]
    assert outputs[0].count("Recognition(") == 5


def test_examples_left_out_of_training_are_still_checked() -> None:
    n = learned.TAG_EXAMPLES + 1
    (dropped,) = set(range(n)) - set(learned._spread(n, learned.TAG_EXAMPLES))
    examples = [f"say hello {k}" for k in range(n)]
    examples[dropped] = "say hello to {nobody}"
    with pytest.raises(ModelError, match="nobody"):
        LearnedRecognizer([IntentSpec("a", tuple(examples)), IntentSpec("b", ("bye",))], [])
    examples[dropped] = "say hello to {city}"  # a slot named after an entity, only there
    rec = LearnedRecognizer([IntentSpec("a", tuple(examples)), IntentSpec("b", ("bye",))], [CITY])
    assert "city" in rec.extract_slots("a", "say hello to Paris")


def test_trained_models_can_be_kept_across_restarts(monkeypatch: pytest.MonkeyPatch) -> None:
    entities = [SHOW, STATE, CITY]
    learned._CACHE.clear()
    first = LearnedRecognizer(INTENTS, entities)
    key = learned.content_key(INTENTS, entities)
    assert first.content_key == key
    data = learned.export_trained(key)
    assert data is not None and learned.export_trained("no such key") is None
    learned._CACHE.clear()  # a restart

    def no_training(*args: object) -> None:
        raise AssertionError("trained again")

    monkeypatch.setattr(LearnedRecognizer, "_train", no_training)
    learned.import_trained(key, data)
    again = LearnedRecognizer(INTENTS, entities)
    texts = ["find the tv show Dark", "is it cold in OR", "remind me to go"]
    assert [again.recognize(t) for t in texts] == [first.recognize(t) for t in texts]
    for bad in (b"", b"not msgpack", data[:-7]):
        with pytest.raises(ModelError):
            learned.import_trained(key, bad)


def test_a_possessive_is_not_part_of_the_value() -> None:
    artist = EntitySpec("artist", EntityKind.TEXT)
    intents = [
        IntentSpec("play", ("play {artist=Adele}'s new song", "put on {artist=Sting}'s album",
                            "play a track by {artist=Nina Simone}", "play {artist}'s hits")),
        IntentSpec("stop", ("stop the music", "pause", "stop playing")),
    ]  # fmt: skip
    r = LearnedRecognizer(intents, [artist]).recognize("play Bob Marley's new song")
    assert r.intent == "play"
    assert r.slots["artist"].text == "Bob Marley"


def test_without_python_crfsuite_the_learned_recognizer_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import sys

    from dialoghub.errors import RecognizerUnavailable
    from dialoghub.nlu import crf

    learned._CACHE.clear()
    monkeypatch.setitem(sys.modules, "pycrfsuite", None)  # import pycrfsuite fails
    assert crf.available() is False
    with pytest.raises(RecognizerUnavailable, match=r"dialoghub\[nlu\]") as caught:
        LearnedRecognizer(INTENTS, [SHOW, STATE, CITY])
    assert caught.value.details == {"recognizer": "learned"}
    with pytest.raises(RecognizerUnavailable):
        load_model_text(MODEL)
    # the matcher needs nothing
    model = load_model_text(MODEL.replace("settings: {recognizer: learned}\n", ""))
    assert model.recognizer.recognize("bye bye").intent == "bye"
