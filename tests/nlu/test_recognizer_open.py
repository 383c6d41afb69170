"""Values outside an open entity's list, and values said alone: ``recognize``'s open slots,
``open_answer`` and ``bare_values``, with the text span each value was read from."""

from __future__ import annotations

import pytest

from dialoghub.nlu import EntitySpec, EntityValue, IntentSpec
from dialoghub.nlu.recognizer import Recognizer
from dialoghub.nlu.types import SlotValue

CITY = EntitySpec("city", values=(EntityValue("Paris"), EntityValue("Rome")), open=True)
DAY = EntitySpec("day", values=(EntityValue("today"), EntityValue("tomorrow")))
INTENTS = [
    IntentSpec(
        "weather",
        ("weather in {city}", "weather in {city} {day}"),
        {"city": "city", "day": "day"},
    ),
    IntentSpec("bye", ("bye",)),
]


@pytest.fixture(scope="module")
def rec() -> Recognizer:
    # Built inside the test session, not at import: the compiler's code runs under test.
    return Recognizer(INTENTS, [CITY, DAY])


def span(value: SlotValue | None) -> tuple[object, ...] | None:
    return None if value is None else (value.value, value.text, value.start, value.end)


@pytest.mark.parametrize(
    ("text", "city"),
    [
        ("weather in Lyon", ("Lyon", "Lyon", 11, 15)),
        ("weather in saint malo", ("Saint Malo", "saint malo", 11, 21)),  # lower case: titled
        ("weather in iNdia", ("iNdia", "iNdia", 11, 16)),  # written with capitals: kept
        ("weather in xx yy zz ww", ("Xx Yy Zz Ww", "xx yy zz ww", 11, 22)),
        ("weather in xx yy zz ww vv", ("Xx Yy Zz Ww", "xx yy zz ww", 11, 22)),  # 4 words at most
        ("weather in Lyon in Nice", ("Lyon", "Lyon", 11, 15)),  # the first place only
        ("weather in Paris", ("Paris", "Paris", 11, 16)),  # a listed value as listed
    ],
)
def test_an_open_slot_takes_unknown_words_after_its_context(text: str, city: tuple[object, ...], rec: Recognizer) -> None:
    r = rec.recognize(text)
    assert r.intent == "weather"
    assert span(r.slots.get("city")) == city


def test_an_open_value_ends_where_a_known_value_starts(rec: Recognizer) -> None:
    slots = rec.recognize("weather in Saint Malo tomorrow").slots
    assert span(slots["city"]) == ("Saint Malo", "Saint Malo", 11, 21)
    assert span(slots["day"]) == ("tomorrow", "tomorrow", 22, 30)


def test_no_open_value_without_its_context_word(rec: Recognizer) -> None:
    assert "city" not in rec.recognize("weather Lyon").slots
    assert "city" not in rec.recognize("weather in a").slots  # a filler is not a name


def test_a_closed_entity_takes_no_unknown_value() -> None:
    closed = EntitySpec("city", values=(EntityValue("Paris"),))
    rec = Recognizer([IntentSpec("weather", ("weather in {city}",), {"city": "city"})], [closed])
    assert rec.recognize("weather in Lyon").slots == {}
    assert rec.open_answer("city", "Lyon") is None


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("Lyon", ("Lyon", "Lyon", 0, 4)),
        ("in Lyon please", ("Lyon", "Lyon", 3, 7)),  # function words around it dropped
        ("um Lyon", ("Lyon", "Lyon", 3, 7)),
        ("xx yy zz ww", ("Xx Yy Zz Ww", "xx yy zz ww", 0, 11)),
        ("xx yy zz ww vv", None),  # more than a short phrase
        ("xx the yy", None),  # not one run of words
        ("Paris", None),  # a value some entity knows
        ("tomorrow", None),
        ("in", None),  # nothing left
        ("bye now", None),  # a word of the model
        ("", None),
        ("   ", None),
    ],
)
def test_open_answer(text: str, value: tuple[object, ...] | None, rec: Recognizer) -> None:
    assert span(rec.open_answer("city", text)) == value


def test_open_answer_of_an_entity_that_is_not_open(rec: Recognizer) -> None:
    assert rec.open_answer("day", "Lyon") is None
    assert rec.open_answer("nope", "Lyon") is None


@pytest.mark.parametrize(
    ("text", "values"),
    [
        ("Paris", {"city": ("Paris", "Paris", 0, 5)}),
        ("paris please", {"city": ("Paris", "paris", 0, 5)}),
        ("and tomorrow?", {"day": ("tomorrow", "tomorrow", 4, 12)}),
        ("what about Paris", {"city": ("Paris", "Paris", 11, 16)}),
        ("Paris then", {"city": ("Paris", "Paris", 0, 5)}),
        ("tomorrow Rome", {"day": ("tomorrow", "tomorrow", 0, 8), "city": ("Rome", "Rome", 9, 13)}),
        ("weather in Paris", {}),  # other words: not a value alone
        ("Paris again", {}),
        ("Lyon", {}),  # an unknown word is no value of any entity
        ("", {}),
        ("  ", {}),
    ],
)
def test_bare_values(text: str, values: dict[str, tuple[object, ...]], rec: Recognizer) -> None:
    assert {k: span(v) for k, v in rec.bare_values(text).items()} == values


def test_bare_values_keep_the_first_of_one_entity(rec: Recognizer) -> None:
    assert {k: span(v) for k, v in rec.bare_values("Paris Rome").items()} == {
        "city": ("Paris", "Paris", 0, 5)
    }
