from __future__ import annotations

import pytest

from dialoghub.nlu.normalize import tokenize
from dialoghub.nlu.numbers import find_numbers, number_at, parse_digits


def numbers(text: str) -> list[int | float]:
    return [value for _, _, value in find_numbers([t.norm for t in tokenize(text)])]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("7", 7),
        ("-4", -4),
        ("3.5", 3.5),
        ("12.0", 12),
        ("1,000", 1000),
        ("zero", 0),
        ("twelve", 12),
        ("twenty", 20),
        ("twenty one", 21),
        ("twenty-one", 21),
        ("ninety nine", 99),
        ("a hundred", 100),
        ("a hundred and five", 105),
        ("one hundred twenty three", 123),
        ("nine hundred and ninety nine", 999),
        ("two thousand and twenty four", 2024),
        ("a thousand", 1000),
        ("three million", 3_000_000),
        ("nineteen hundred", 1900),
        ("three point five", 3.5),
        ("point five", 0.5),
        ("zero point two five", 0.25),
        ("minus two", -2),
        ("negative seven point five", -7.5),
        ("5 thousand", 5000),
        ("2.5 million", 2_500_000),
    ],
)
def test_one_number(text: str, value: int | float) -> None:
    assert numbers(text) == [value]
    assert type(numbers(text)[0]) is type(value)


def test_numbers_inside_a_sentence() -> None:
    assert numbers("a table for four at 8, maybe twenty five minutes later") == [4, 8, 25]


def test_separate_numbers_are_not_merged() -> None:
    assert numbers("one two three") == [1, 2, 3]
    assert numbers("twenty thirty") == [20, 30]


def test_articles_and_dangling_words_are_not_numbers() -> None:
    assert numbers("a cat and a dog") == []
    assert numbers("the point is") == []
    assert numbers("minus") == []
    assert numbers("three point") == [3]
    assert numbers("a hundred and") == [100]


def test_number_at_reports_the_end() -> None:
    words = ["for", "twenty", "one", "people"]
    assert number_at(words, 1) == (21, 3)
    assert number_at(words, 0) is None
    assert number_at(words, 9) is None


def test_parse_digits_refuses_non_numbers() -> None:
    assert parse_digits("7:30") is None
    assert parse_digits("abc") is None
    assert parse_digits("-") is None
    assert parse_digits("") is None
    assert parse_digits("007") == 7
