"""The matcher's word reader (nlu/words.py), read back word by word: form, quality, kind.

A word the model's vocabulary holds is taken as written (a TERM when some example uses it,
else OTHER: an entity value's word, a number word); a filler no example uses is a FILLER; an
everyday word is OTHER and never corrected; anything else is spell-corrected towards the
vocabulary (quality 0.85 for one edit, 0.7 for two) or kept as an OTHER.
"""

from __future__ import annotations

import pytest

from dialoghub.nlu import words
from dialoghub.nlu.words import FILLER, OTHER, TERM, Word, WordReader

VOCABULARY = {"weather", "forecast", "temperature", "paris", "rome", "please"}
TERMS = frozenset({"weather", "forecast", "temperature", "please"})


@pytest.fixture
def reader() -> WordReader:
    return WordReader(VOCABULARY, TERMS, {"weather": 3, "forecast": 1})


def test_the_kinds_are_three_distinct_codes() -> None:
    # scoring.py and open_values.py compare against these; two equal codes would merge kinds
    assert len({TERM, FILLER, OTHER}) == 3


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # a term of the examples, case folded
        ("Weather", (Word("weather", 1.0, TERM),)),
        # in the vocabulary (an entity's value) but no example uses it
        ("Paris", (Word("paris", 1.0, OTHER),)),
        # a filler the examples use is a term like any other
        ("please", (Word("please", 1.0, TERM),)),
        # a filler the model does not know is ignored, never corrected
        ("um", (Word("um", 1.0, FILLER),)),
        ("the", (Word("the", 1.0, FILLER),)),
        # an everyday word is not a typo: "home" stays home, not "rome"
        ("home", (Word("home", 1.0, OTHER),)),
        # nothing close in the vocabulary
        ("xyzzy", (Word("xyzzy", 1.0, OTHER),)),
        ("12", (Word("12", 1.0, OTHER),)),
        # one edit: 0.85; towards a term it is a TERM, towards a value's word an OTHER
        ("wether", (Word("weather", 0.85, TERM),)),
        ("parris", (Word("paris", 0.85, OTHER),)),
        ("temprature", (Word("temperature", 0.85, TERM),)),
        # two edits (a long word): 0.7
        ("tempreture", (Word("temperature", 0.7, TERM),)),
        # contractions are read part by part
        ("what's", (Word("what", 1.0, OTHER), Word("is", 1.0, FILLER))),
        ("Forecast's", (Word("forecast", 1.0, TERM),)),
    ],
)
def test_each_written_word(reader: WordReader, raw: str, expected: tuple[Word, ...]) -> None:
    assert reader.word(raw) == expected


def test_an_empty_part_of_a_contraction_is_dropped_and_the_rest_kept(reader: WordReader) -> None:
    # "n't" alone splits into "" and "not": the empty part is skipped, not the word's end
    assert reader.word("n't") == (Word("not", 1.0, FILLER),)


def test_answers_are_cached_per_written_word(reader: WordReader) -> None:
    first = reader.word("Wether")
    assert reader.word("Wether") is first
    # another spelling of the same word is another entry, with the same answer
    assert reader.word("wether") == first
    assert reader.word("wether") is not first


def test_the_cache_is_emptied_past_its_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(words, "CACHE_WORDS", 3)
    reader = WordReader(VOCABULARY, TERMS, {})
    kept = reader.word("one")
    for raw in ("two", "three", "four"):  # four entries: the bound of 3 is not yet passed
        reader.word(raw)
    assert reader.word("one") is kept
    reader.word("five")  # a fifth entry finds four (> 3): the cache starts again
    assert reader.word("one") is not kept
    assert reader.word("one") == kept


def test_analyse_lists_every_part_with_the_span_of_its_written_word(reader: WordReader) -> None:
    text = "Wether in Paris, what's 12!"
    analysis, kinds = reader.analyse(text)
    assert analysis.text == text
    assert analysis.words == ["weather", "in", "paris", "what", "is", "12"]
    assert analysis.spans == [(0, 6), (7, 9), (10, 15), (17, 23), (17, 23), (24, 26)]
    assert analysis.quality == [0.85, 1.0, 1.0, 1.0, 1.0, 1.0]
    assert kinds == [TERM, FILLER, OTHER, OTHER, FILLER, OTHER]


def test_analyse_of_a_text_without_words(reader: WordReader) -> None:
    analysis, kinds = reader.analyse(" ?! ")
    assert (analysis.words, analysis.spans, analysis.quality, kinds) == ([], [], [], [])
