from __future__ import annotations

import pytest

from dialoghub.nlu.fuzzy import Speller, max_edits, osa_distance


@pytest.mark.parametrize(
    ("a", "b", "d"),
    [
        ("weather", "weather", 0),
        ("weather", "wether", 1),
        ("weather", "waether", 1),  # a swap is one edit
        ("weather", "weathre", 1),
        ("kitten", "sitting", 3),
        ("", "abc", 3),
    ],
)
def test_distance(a: str, b: str, d: int) -> None:
    assert osa_distance(a, b, 5) == d
    assert osa_distance(b, a, 5) == d


def test_distance_stops_above_the_limit() -> None:
    assert osa_distance("kitten", "sitting", 1) == 2
    assert osa_distance("a", "abcdef", 2) == 3


def test_short_words_are_never_corrected() -> None:
    assert max_edits(3) == 0
    assert max_edits(4) == 1
    assert max_edits(7) == 1
    assert max_edits(8) == 2
    assert Speller(["the"]).correct("teh") is None
    assert Speller(["from"]).correct("form") == ("from", 1)
    assert Speller(["weather"]).correct("wethr") is None  # two edits on a seven-letter word


def test_corrections() -> None:
    speller = Speller(["weather", "tomorrow", "restaurant", "paris"])
    assert speller.correct("weather") == ("weather", 0)
    assert speller.correct("wether") == ("weather", 1)
    assert speller.correct("tomorow") == ("tomorrow", 1)
    assert speller.correct("resturnat") == ("restaurant", 2)
    assert speller.correct("pariss") == ("paris", 1)
    assert speller.correct("banana") is None
    assert speller.correct("12345") is None


def test_ties_are_decided_by_rank_then_alphabet() -> None:
    speller = Speller(["cart", "care"], rank={"care": 5})
    assert speller.correct("carx") == ("care", 1)
    assert Speller(["cart", "care"]).correct("carx") == ("care", 1)
    assert Speller(["cart", "care"], rank={"cart": 1}).correct("carx") == ("cart", 1)
