"""Which reading of a value wins, where open values may go, and the words around a value.

Boundaries the other recognizer tests leave open: ``extract``'s order (exact over
spell-corrected, longer over shorter, then leftmost), an unknown entity named to ``extract``,
open values only for open entities and empty slots, and fillers the model itself uses.
"""

from __future__ import annotations

import pytest

from dialoghub.errors import ModelError
from dialoghub.nlu import EntitySpec, EntityValue, IntentSpec
from dialoghub.nlu.recognizer import Recognizer
from dialoghub.nlu.types import SlotValue

CITY = EntitySpec(
    "city",
    values=(EntityValue("York"), EntityValue("New York"), EntityValue("London"),
            EntityValue("Barcelona"), EntityValue("Rome")),
    open=True,
)  # fmt: skip
DAY = EntitySpec("day", values=(EntityValue("today"), EntityValue("tomorrow")))
INTENTS = [
    IntentSpec(
        "weather",
        ("weather in {city}", "weather in {city} on {day}"),
        {"city": "city", "day": "day"},
    ),
    IntentSpec("bye", ("bye", "thanks bye")),  # "thanks": a filler this model uses
]


@pytest.fixture(scope="module")
def rec() -> Recognizer:
    # Built inside the test session, not at import: the compiler's code runs under test.
    return Recognizer(INTENTS, [CITY, DAY])


def span(value: SlotValue | None) -> tuple[object, ...] | None:
    return None if value is None else (value.value, value.text, value.start, value.end)


# --- extract: which reading ----------------------------------------------------------------


def test_extract_prefers_an_exact_reading_to_a_corrected_one_wherever_it_is(rec: Recognizer) -> None:
    # "Barcelonna" is one edit from Barcelona (and first); "London" is exact.
    assert span(rec.extract("city", "Barcelonna or London")) == ("London", "London", 14, 20)


def test_extract_prefers_the_longer_reading(rec: Recognizer) -> None:
    assert span(rec.extract("city", "York or New York")) == ("New York", "New York", 8, 16)


def test_extract_takes_the_leftmost_of_equal_readings(rec: Recognizer) -> None:
    assert span(rec.extract("city", "Rome or York")) == ("Rome", "Rome", 0, 4)
    assert span(rec.extract("city", "York or Rome")) == ("York", "York", 0, 4)


def test_extract_of_a_built_in_entity_the_model_does_not_declare(rec: Recognizer) -> None:
    assert span(rec.extract("number", "about 12 of them")) == (12, "12", 6, 8)
    assert rec.extract("time", "no time") is None


def test_extract_of_an_unknown_entity_is_a_model_error_naming_it(rec: Recognizer) -> None:
    with pytest.raises(ModelError) as info:
        rec.extract("planet", "Mars")
    assert str(info.value) == "intent '<extract>': slot 'planet' uses unknown entity 'planet'"
    assert info.value.details == {"intent": "<extract>", "slot": "planet", "entity": "planet"}


# --- open values ---------------------------------------------------------------------------


def test_an_unknown_word_after_a_closed_entity_context_is_no_value(rec: Recognizer) -> None:
    # "on" comes before {day} in an example, but day is a closed list.
    rec = rec.recognize("weather in London on Blursday")
    assert rec.intent == "weather"
    assert {k: span(v) for k, v in rec.slots.items()} == {
        "city": ("London", "London", 11, 17)
    }


def test_an_open_value_never_replaces_a_value_found_in_the_list(rec: Recognizer) -> None:
    rec = rec.recognize("weather in London in Lyon")
    assert span(rec.slots["city"]) == ("London", "London", 11, 17)


def test_an_open_value_where_the_list_has_none(rec: Recognizer) -> None:
    rec = rec.recognize("weather in Lyon on tomorrow")
    assert span(rec.slots["city"]) == ("Lyon", "Lyon", 11, 15)
    assert span(rec.slots["day"]) == ("tomorrow", "tomorrow", 19, 27)


def test_a_filler_the_model_uses_is_still_dropped_around_an_open_answer(rec: Recognizer) -> None:
    assert span(rec.open_answer("city", "Lyon thanks")) == ("Lyon", "Lyon", 0, 4)
    assert span(rec.open_answer("city", "thanks, Lyon")) == ("Lyon", "Lyon", 8, 12)


def test_a_filler_the_model_uses_is_still_dropped_around_a_bare_value(rec: Recognizer) -> None:
    assert {k: span(v) for k, v in rec.bare_values("London thanks").items()} == {
        "city": ("London", "London", 0, 6)
    }
    assert rec.bare_values("London bye") == {}  # a word of the model that is no filler


def test_an_answer_that_is_a_word_of_the_model_is_no_open_value(rec: Recognizer) -> None:
    assert rec.open_answer("city", "weather") is None
    assert rec.open_answer("city", "Lyon weather") is None
