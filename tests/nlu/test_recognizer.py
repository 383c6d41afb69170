from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dialoghub.errors import ModelError
from dialoghub.nlu import EntityKind, EntitySpec, EntityValue, IntentSpec, Recognizer

CITY = EntitySpec(
    "city",
    values=(
        EntityValue("New York", ("the big apple", "nyc")),
        EntityValue("Paris"),
        EntityValue("London"),
        EntityValue("San Francisco", ("sf", "frisco")),
    ),
)
DAY = EntitySpec("day", values=(EntityValue("today"), EntityValue("tomorrow")))
FLIGHT_NO = EntitySpec("flight_no", EntityKind.REGEX, pattern=r"\b(?P<value>[a-z]{2}\d{3,4})\b")
INTENTS = [
    IntentSpec(
        "weather",
        (
            "what's the weather in {city}",
            "weather for {city} {day}",
            "will it rain in {city} {day}",
            "forecast for {city}",
        ),
        {"city": "city", "day": "day"},
    ),
    IntentSpec(
        "book_flight",
        (
            "book a flight from {origin} to {destination}",
            "i need to fly to {destination} from {origin}",
            "flights to {destination}",
        ),
        {"origin": "city", "destination": "city"},
    ),
    IntentSpec(
        "book_table",
        (
            "book a table for {people} at {time}",
            "reserve a table for {people} people",
            "table for {people} at {time}",
        ),
        {"people": "number", "time": "time"},
    ),
    IntentSpec(
        "flight_status",
        ("what is the status of flight {flight}", "is {flight} on time"),
        {"flight": "flight_no"},
    ),
    IntentSpec("greet", ("hello", "hi there", "good morning")),
    IntentSpec("goodbye", ("bye", "goodbye", "see you later")),
    IntentSpec("set_volume", ("set the volume to {level}", "volume {level}"), {"level": "number"}),
]


@pytest.fixture(scope="module")
def recognizer() -> Recognizer:
    return Recognizer(INTENTS, [CITY, DAY, FLIGHT_NO])


def slot_values(r: Recognizer, text: str) -> dict[str, object]:
    return {name: s.value for name, s in r.recognize(text).slots.items()}


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("what's the weather in paris", "weather"),
        ("What is the weather in Paris?", "weather"),
        ("WEATHER PARIS", "weather"),
        ("paris weather tomorrow", "weather"),  # word order
        ("um, could you please tell me the weather in london", "weather"),  # fillers
        ("whats the wether in londn", "weather"),  # typos
        ("is it going to rain in sf tomorrow", "weather"),
        ("book a flight from paris to london", "book_flight"),
        ("from paris to london, book me a flight", "book_flight"),
        ("i need to fly to nyc", "book_flight"),
        ("reserve a table for four people", "book_table"),
        ("a table for 2 at 7pm please", "book_table"),
        ("resreve a tabel for 3", "book_table"),
        ("what is the status of flight ba123", "flight_status"),
        ("is BA123 on time?", "flight_status"),
        ("hello", "greet"),
        ("hello there!", "greet"),
        ("bye bye", "goodbye"),
        ("set the volume to seven", "set_volume"),
        ("volume 3", "set_volume"),
    ],
)
def test_intents(recognizer: Recognizer, text: str, intent: str) -> None:
    result = recognizer.recognize(text)
    assert result.intent == intent, result
    assert recognizer.threshold <= result.confidence <= 1.0


def test_an_exact_example_is_certain(recognizer: Recognizer) -> None:
    assert recognizer.recognize("what's the weather in Paris").confidence == 1.0


def test_fillers_and_typos_cost_a_little_confidence(recognizer: Recognizer) -> None:
    exact = recognizer.recognize("what's the weather in paris").confidence
    typo = recognizer.recognize("what's the waether in paris").confidence
    fillers = recognizer.recognize("umm so what's the weather in paris like").confidence
    extra = recognizer.recognize("what's the weather in paris for my trip").confidence
    assert exact > typo > recognizer.threshold
    assert exact == fillers  # words that mean nothing cost nothing
    assert exact > extra > recognizer.threshold  # "trip" is a word no example explains


def test_contraction_and_expansion_are_the_same(recognizer: Recognizer) -> None:
    a = recognizer.recognize("what's the weather in paris")
    b = recognizer.recognize("what is the weather in paris")
    assert (a.intent, a.confidence) == (b.intent, b.confidence)


def test_slots_with_synonyms_and_canonical_values(recognizer: Recognizer) -> None:
    result = recognizer.recognize("weather in the big apple tomorrow")
    assert result.intent == "weather"
    city = result.slots["city"]
    assert (city.value, city.text) == ("New York", "the big apple")
    assert "weather in the big apple tomorrow"[city.start : city.end] == "the big apple"
    assert result.slots["day"].value == "tomorrow"


def test_slots_found_away_from_their_place_in_the_examples(recognizer: Recognizer) -> None:
    assert slot_values(recognizer, "tomorrow in paris, what's the weather") == {
        "city": "Paris",
        "day": "tomorrow",
    }


def test_slots_of_the_same_entity_go_by_context(recognizer: Recognizer) -> None:
    expected = {"origin": "Paris", "destination": "London"}
    assert slot_values(recognizer, "book a flight from paris to london") == expected
    assert slot_values(recognizer, "book a flight to london from paris") == expected
    assert slot_values(recognizer, "fly to london from paris") == expected
    assert slot_values(recognizer, "flights to nyc") == {"destination": "New York"}


def test_number_and_time_slots(recognizer: Recognizer) -> None:
    assert slot_values(recognizer, "table for four at 7pm") == {"people": 4, "time": "19:00"}
    assert slot_values(recognizer, "book a table for 2 at 7") == {"people": 2, "time": "07:00"}
    assert slot_values(recognizer, "at half past seven, a table for twenty one") == {
        "people": 21,
        "time": "07:30",
    }
    assert slot_values(recognizer, "set the volume to three point five") == {"level": 3.5}
    assert slot_values(recognizer, "volume minus 2") == {"level": -2}


def test_regex_slot(recognizer: Recognizer) -> None:
    result = recognizer.recognize("is ba123 on time")
    assert result.slots["flight"].value == "ba123"


def test_nothing_close_enough(recognizer: Recognizer) -> None:
    for text in ["banana sandwich", "the", "xyzzy plugh", "1234"]:
        result = recognizer.recognize(text)
        assert result.intent is None, result
        assert result.slots == {}
        assert result.confidence < recognizer.threshold


def test_below_threshold_still_reports_the_candidates(recognizer: Recognizer) -> None:
    result = recognizer.recognize("book")
    assert result.intent is None
    assert result.confidence > 0
    assert result.alternatives[0] == ("book_flight", result.confidence) or result.alternatives[
        0
    ] == ("book_table", result.confidence)
    assert {name for name, _ in result.alternatives} == {"book_flight", "book_table"}


def test_threshold_is_configurable() -> None:
    strict = Recognizer(INTENTS, [CITY, DAY, FLIGHT_NO], threshold=0.99)
    lenient = Recognizer(INTENTS, [CITY, DAY, FLIGHT_NO], threshold=0.2)
    assert strict.recognize("um weather in paris, like, now").intent is None
    assert lenient.recognize("book").intent in {"book_flight", "book_table"}
    with pytest.raises(ValueError):
        Recognizer(INTENTS, [CITY, DAY, FLIGHT_NO], threshold=1.5)


def test_alternatives_are_runners_up_best_first(recognizer: Recognizer) -> None:
    result = recognizer.recognize("what's the weather in paris")
    names = [name for name, _ in result.alternatives]
    scores = [score for _, score in result.alternatives]
    assert "weather" not in names
    assert scores == sorted(scores, reverse=True)
    assert all(0 < s < result.confidence for s in scores)


def test_ambiguity_shows_as_close_alternatives() -> None:
    intents = [
        IntentSpec("cancel_order", ("cancel my order",)),
        IntentSpec("cancel_booking", ("cancel my booking",)),
        IntentSpec("greet", ("hello",)),
    ]
    result = Recognizer(intents, []).recognize("cancel it please")
    assert result.intent == "cancel_order"  # a tie: declaration order decides ...
    assert result.alternatives[0] == ("cancel_booking", result.confidence)  # ... and says so
    clear = Recognizer(intents, []).recognize("cancel my order")
    assert clear.intent == "cancel_order"
    assert clear.alternatives[0][1] < clear.confidence - 0.2


def test_allowed_restricts_the_candidates(recognizer: Recognizer) -> None:
    text = "what's the weather in paris"
    assert recognizer.recognize(text).intent == "weather"
    restricted = recognizer.recognize(text, allowed={"greet", "goodbye"})
    assert restricted.intent is None  # the weather intent exists but is not allowed here
    assert all(name in {"greet", "goodbye"} for name, _ in restricted.alternatives)
    assert recognizer.recognize(text, allowed=["weather", "greet"]).intent == "weather"
    assert recognizer.recognize(text, allowed=[]).intent is None
    assert recognizer.recognize(text, allowed={"no_such_intent"}).intent is None


def test_allowed_picks_the_best_allowed_intent(recognizer: Recognizer) -> None:
    text = "book a table for 4 from paris"
    assert recognizer.recognize(text).intent == "book_table"
    assert recognizer.recognize(text, allowed={"book_flight"}).intent == "book_flight"


def test_extract_slots_for_a_given_intent(recognizer: Recognizer) -> None:
    slots = recognizer.extract_slots("book_flight", "London. From Paris.")
    assert {k: v.value for k, v in slots.items()} == {"origin": "Paris", "destination": "London"}
    assert recognizer.extract_slots("book_table", "just me") == {}
    with pytest.raises(ModelError):
        recognizer.extract_slots("nope", "text")


@pytest.mark.parametrize(
    "text",
    ["", " ", "\n\t ", "?!?", "🙂🙂", "日本語のテキスト", "é" * 50, "a" * 10_000,
     "weather paris " * 2_000, "\x00\x01", "-", "1" * 500, "7:99pm", ":::", "'s"],
)  # fmt: skip
def test_any_text_is_handled(recognizer: Recognizer, text: str) -> None:
    result = recognizer.recognize(text)
    assert 0.0 <= result.confidence <= 1.0
    recognizer.extract("city", text)
    recognizer.extract("number", text)
    recognizer.extract_slots("book_table", text)


def test_empty_text_is_no_intent(recognizer: Recognizer) -> None:
    for text in ["", "   ", "\n"]:
        result = recognizer.recognize(text)
        assert (result.intent, result.confidence, result.slots, result.alternatives) == (
            None,
            0.0,
            {},
            (),
        )


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80))
def test_never_raises_and_is_deterministic(text: str) -> None:
    recognizer = _shared()
    first = recognizer.recognize(text)
    assert 0.0 <= first.confidence <= 1.0
    assert first == recognizer.recognize(text)
    assert first == Recognizer(INTENTS, [CITY, DAY, FLIGHT_NO]).recognize(text)


_SHARED: list[Recognizer] = []


def _shared() -> Recognizer:
    if not _SHARED:
        _SHARED.append(Recognizer(INTENTS, [CITY, DAY, FLIGHT_NO]))
    return _SHARED[0]


def test_same_result_whatever_the_declaration_order_of_entities() -> None:
    a = Recognizer(INTENTS, [CITY, DAY, FLIGHT_NO])
    b = Recognizer(INTENTS, [FLIGHT_NO, DAY, CITY])
    for text in ["weather in paris tomorrow", "fly to london from nyc", "is ba123 on time"]:
        assert a.recognize(text) == b.recognize(text)


def test_model_errors() -> None:
    with pytest.raises(ModelError):
        Recognizer([IntentSpec("x", ("go to {place}",))], [])
    with pytest.raises(ModelError):
        Recognizer([IntentSpec("x", ("go to {place}",), {"place": "nowhere"})], [])
    with pytest.raises(ModelError):
        Recognizer([IntentSpec("x", ("a",)), IntentSpec("x", ("b",))], [])


def test_a_placeholder_named_after_an_entity_needs_no_declaration() -> None:
    r = Recognizer([IntentSpec("go", ("go to {city}", "{number} times"))], [CITY])
    result = r.recognize("go to paris")
    assert result.intent == "go"
    assert result.slots["city"].value == "Paris"
    assert r.recognize("three times").slots["number"].value == 3


def test_a_lone_slot_value_is_not_an_intent(recognizer: Recognizer) -> None:
    # "Paris" answers "which city?"; it does not say which intent.
    assert recognizer.recognize("paris").intent is None
    value = recognizer.extract("city", "paris")
    assert value is not None and value.value == "Paris"


def test_an_intent_made_of_a_slot_only() -> None:
    r = Recognizer([IntentSpec("inform_city", ("{city}", "i live in {city}"))], [CITY])
    result = r.recognize("frisco")
    assert result.intent == "inform_city"
    assert result.slots["city"].value == "San Francisco"


def test_real_words_are_not_turned_into_model_words() -> None:
    r = Recognizer(
        [IntentSpec("go", ("go to {city}",)), IntentSpec("count", ("count to {number}",))],
        [EntitySpec("city", values=(EntityValue("Rome"),))],
    )
    assert r.extract("city", "take me home") is None
    assert r.extract("number", "none of them") is None
    assert r.extract("number", "is there one") is not None
    assert r.extract("number", "is there a table") is None


def test_intents_property(recognizer: Recognizer) -> None:
    assert recognizer.intents[:2] == ("weather", "book_flight")
