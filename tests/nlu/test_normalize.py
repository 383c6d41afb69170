from __future__ import annotations

import pytest

from dialoghub.nlu.normalize import normalize_word, split_word, tokenize


def norms(text: str) -> list[str]:
    return [t.norm for t in tokenize(text)]


def test_case_punctuation_and_accents_are_folded() -> None:
    assert norms("Hello, WORLD!!! Café?") == ["hello", "world", "cafe"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("what's up", ["what", "is", "up"]),
        ("What\u2019s up", ["what", "is", "up"]),
        ("whats up", ["what", "is", "up"]),
        ("I'm here", ["i", "am", "here"]),
        ("don't", ["do", "not"]),
        ("won't", ["will", "not"]),
        ("can't", ["can", "not"]),
        ("they're", ["they", "are"]),
        ("we'll", ["we", "will"]),
        ("I'd", ["i", "would"]),
        ("john's car", ["john", "car"]),
        ("let's go", ["let", "us", "go"]),
        ("7 o'clock", ["7", "oclock"]),
        ("O'Brien", ["obrien"]),
        ("wanna go", ["want", "to", "go"]),
    ],
)
def test_contractions_are_expanded(text: str, expected: list[str]) -> None:
    assert norms(text) == expected


def test_expanded_tokens_keep_the_span_of_the_written_word() -> None:
    text = "so what's the time"
    tokens = tokenize(text)
    assert [t.norm for t in tokens] == ["so", "what", "is", "the", "time"]
    assert text[tokens[1].start : tokens[1].end] == "what's"
    assert (tokens[1].start, tokens[1].end) == (tokens[2].start, tokens[2].end)
    assert text[tokens[4].start : tokens[4].end] == "time"


def test_numbers_stay_whole() -> None:
    assert norms("-5 and 3.5 and 1,000 and 7:30 and 5-3") == [
        "-5", "and", "3.5", "and", "1,000", "and", "7:30", "and", "5", "3",
    ]  # fmt: skip
    assert norms("7pm") == ["7", "pm"]


def test_other_scripts_pass_through() -> None:
    assert norms("Привет мир 日本語") == ["привет", "мир", "日本語"]
    assert normalize_word("ÉCOLE") == "ecole"


def test_empty_and_symbols_only() -> None:
    assert tokenize("") == []
    assert tokenize("   \t\n") == []
    assert tokenize("?!... ;-)") == []


def test_split_word_leaves_plain_words_alone() -> None:
    assert split_word("weather") == ("weather",)
