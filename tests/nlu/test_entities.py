from __future__ import annotations

import pytest

from dialoghub.errors import ModelError
from dialoghub.nlu import EntityKind, EntitySpec, EntityValue, Recognizer
from dialoghub.nlu.entities import Match, best_non_overlapping

CITY = EntitySpec(
    "city",
    values=(
        EntityValue("New York", ("the big apple", "NYC")),
        EntityValue("San Francisco", ("SF", "frisco")),
        EntityValue("York"),
        EntityValue("Paris"),
        EntityValue("São Paulo"),
    ),
)
FLIGHT = EntitySpec("flight", EntityKind.REGEX, pattern=r"\b(?P<value>[a-z]{2}\d{3,4})\b")
ORDER = EntitySpec("order", EntityKind.REGEX, pattern=r"#\d+")


@pytest.fixture(scope="module")
def recognizer() -> Recognizer:
    return Recognizer([], [CITY, FLIGHT, ORDER])


@pytest.mark.parametrize(
    ("text", "value", "said"),
    [
        ("Paris", "Paris", "Paris"),
        ("i'd say paris please", "Paris", "paris"),
        ("NEW YORK!", "New York", "NEW YORK"),
        ("the big apple", "New York", "the big apple"),
        ("big apple", "New York", "big apple"),  # the leading article is optional
        ("nyc", "New York", "nyc"),
        ("frisco I guess", "San Francisco", "frisco"),
        ("sao paulo", "São Paulo", "sao paulo"),
        ("Pariss", "Paris", "Pariss"),  # one typo
        ("san fransisco", "San Francisco", "san fransisco"),
    ],
)
def test_list_values_synonyms_case_and_typos(
    recognizer: Recognizer, text: str, value: str, said: str
) -> None:
    slot = recognizer.extract("city", text)
    assert slot is not None
    assert slot.value == value
    assert slot.text == said
    assert text[slot.start : slot.end] == said


def test_the_longest_value_wins(recognizer: Recognizer) -> None:
    slot = recognizer.extract("city", "fly to new york")
    assert slot is not None and slot.value == "New York"
    slot = recognizer.extract("city", "fly to york")
    assert slot is not None and slot.value == "York"


def test_no_value(recognizer: Recognizer) -> None:
    assert recognizer.extract("city", "somewhere warm") is None
    assert recognizer.extract("city", "") is None


def test_regex_with_a_value_group_and_any_case(recognizer: Recognizer) -> None:
    slot = recognizer.extract("flight", "is BA1234 late?")
    assert slot is not None
    assert (slot.value, slot.text, slot.start, slot.end) == ("BA1234", "BA1234", 3, 9)


def test_regex_without_a_group_uses_the_whole_match(recognizer: Recognizer) -> None:
    slot = recognizer.extract("order", "where is order #4521?")
    assert slot is not None
    assert slot.value == "#4521"


def test_built_in_number_and_time_need_no_declaration(recognizer: Recognizer) -> None:
    n = recognizer.extract("number", "maybe twenty one of them")
    assert n is not None and (n.value, n.text) == (21, "twenty one")
    t = recognizer.extract("time", "let's say half past seven pm")
    assert t is not None and (t.value, t.text) == ("19:30", "half past seven pm")
    assert recognizer.extract("number", "none at all") is None


def test_number_words_with_a_typo(recognizer: Recognizer) -> None:
    n = recognizer.extract("number", "twnety one")
    assert n is not None and n.value == 21


def test_unknown_entity(recognizer: Recognizer) -> None:
    with pytest.raises(ModelError):
        recognizer.extract("colour", "red")


@pytest.mark.parametrize(
    "spec",
    [
        EntitySpec("bad", EntityKind.REGEX),
        EntitySpec("bad", EntityKind.REGEX, pattern="(unclosed"),
    ],
)
def test_unusable_regex_entities_are_refused(spec: EntitySpec) -> None:
    with pytest.raises(ModelError) as info:
        Recognizer([], [spec])
    assert info.value.details["entity"] == "bad"


def test_duplicate_entity_is_refused() -> None:
    with pytest.raises(ModelError):
        Recognizer([], [CITY, CITY])


def _m(entity: str, start: int, end: int, specificity: int, score: float = 1.0) -> Match:
    return Match(entity, None, 0, 0, start, end, score, specificity)


def test_best_non_overlapping_prefers_longer_then_more_specific() -> None:
    number = _m("number", 10, 11, 1)
    weak_time = _m("time", 10, 11, 2, 0.8)
    strong_time = _m("time", 10, 14, 2)
    people = _m("number", 0, 1, 1)
    assert best_non_overlapping([number, weak_time, people]) == [people, weak_time]
    assert best_non_overlapping([strong_time, number, people]) == [people, strong_time]
    # the input order does not matter
    assert best_non_overlapping([people, weak_time, number]) == [people, weak_time]
