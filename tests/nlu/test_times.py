from __future__ import annotations

import pytest

from dialoghub.nlu.normalize import tokenize
from dialoghub.nlu.times import find_times


def times(text: str) -> list[str]:
    return [t.value for t in find_times([t.norm for t in tokenize(text)])]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("7pm", "19:00"),
        ("7 pm", "19:00"),
        ("7 p.m.", "19:00"),
        ("7am", "07:00"),
        ("12am", "00:00"),
        ("12pm", "12:00"),
        ("7:30 pm", "19:30"),
        ("7:30pm", "19:30"),
        ("19:30", "19:30"),
        ("07:05", "07:05"),
        ("7.30pm", "19:30"),
        ("noon", "12:00"),
        ("midnight", "00:00"),
        ("seven o'clock", "07:00"),
        ("7 oclock pm", "19:00"),
        ("seven pm", "19:00"),
        ("seven thirty pm", "19:30"),
        ("seven oh five am", "07:05"),
        ("half past seven", "07:30"),
        ("quarter past seven", "07:15"),
        ("a quarter to eight", "07:45"),
        ("quarter to one pm", "12:45"),
        ("ten past seven", "07:10"),
        ("twenty minutes to eight pm", "19:40"),
        ("eight in the evening", "20:00"),
        ("nine in the morning", "09:00"),
        ("eleven at night", "23:00"),
        ("nine tonight", "21:00"),
    ],
)
def test_one_time(text: str, value: str) -> None:
    assert times(text) == [value]


def test_a_bare_hour_needs_a_cue_and_is_weak() -> None:
    words = [t.norm for t in tokenize("table for 4 at 7")]
    found = find_times(words)
    assert [(t.value, t.strong) for t in found] == [("07:00", False)]
    assert words[found[0].start] == "7"
    assert times("at seven thirty") == ["07:30"]


@pytest.mark.parametrize(
    "text", ["7", "for 4 people", "3.5", "5 to 7", "25:00", "13 am", "7:75", "one two"]
)
def test_not_a_time(text: str) -> None:
    assert times(text) == []


def test_several_times() -> None:
    assert times("from 9am until 5:30 pm") == ["09:00", "17:30"]
