"""Times of day in a normalized token sequence, as ``"HH:MM"`` (24-hour clock).

Understood: ``7pm``, ``7 p.m.``, ``7:30 pm``, ``19:30``, ``7.30pm``, ``noon``, ``midnight``,
``seven o'clock``, ``seven thirty pm``, ``half past seven``, ``quarter to eight``,
``ten past seven``, ``8 in the evening``, ``nine tonight``. A bare hour after "at", "by",
"around", ... ("at 7") is taken as that hour on the 24-hour clock ("07:00") but reported as
*weak*, so a competing number reading of the same words can win when it fits better.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from dialoghub.nlu.numbers import small_number_at

__all__ = ["TIME_WORDS", "TimeMatch", "find_times"]


class TimeMatch(NamedTuple):
    """A time found at ``tokens[start:end]``; ``strong`` when the words can only be a time."""

    start: int
    end: int
    value: str
    strong: bool


_FIXED = {"noon": (12, 0), "midday": (12, 0), "midnight": (0, 0)}
_CUES = frozenset({"at", "by", "around", "until", "till", "til", "before", "after", "from"})
_PAST = frozenset({"past", "after"})
_TO = frozenset({"to", "before", "till", "of"})

#: Words only times use; the recognizer adds them to its spelling vocabulary.
TIME_WORDS = frozenset(
    [*_FIXED, "oclock", "am", "pm", "half", "quarter", "past", "morning", "afternoon",
     "evening", "tonight", "night", "minutes"]
)  # fmt: skip


def _fmt(hour: int, minute: int) -> str:
    return f"{hour:02d}:{minute:02d}"


def _meridiem_at(tokens: Sequence[str], i: int) -> tuple[str, int] | None:
    """ "am"/"pm" (or "a m"/"p m", which is how "a.m." tokenizes) at ``i``."""
    if i >= len(tokens):
        return None
    word = tokens[i]
    if word in ("am", "pm"):
        return word, i + 1
    if word in ("a", "p") and i + 1 < len(tokens) and tokens[i + 1] == "m":
        return word + "m", i + 2
    return None


def _daypart_at(tokens: Sequence[str], i: int) -> tuple[str, int] | None:
    """ "in the morning" / "in the evening" / "at night" / "tonight" as a meridiem."""
    n = len(tokens)
    if i < n and tokens[i] == "tonight":
        return "pm", i + 1
    if i + 2 < n and tokens[i] == "in" and tokens[i + 1] == "the":
        part = tokens[i + 2]
        if part == "morning":
            return "am", i + 3
        if part in ("afternoon", "evening"):
            return "pm", i + 3
    if i + 1 < n and tokens[i] == "at" and tokens[i + 1] == "night":
        return "night", i + 2
    return None


def _apply(hour: int, minute: int, meridiem: str | None) -> str | None:
    """The 24-hour time, or None when the words don't make one ("13 am", "7:75")."""
    if not (0 <= minute <= 59 and 0 <= hour <= 23):
        return None
    if meridiem is None:
        return _fmt(hour, minute)
    if meridiem == "night":  # "11 at night" is 23:00, "2 at night" is 02:00
        meridiem = "pm" if 6 <= hour <= 11 else "am"
    if hour > 12:
        # "19:30 pm" is redundant but unambiguous; "19 am" is nonsense.
        return _fmt(hour, minute) if meridiem == "pm" else None
    if hour == 0:
        return None
    hour %= 12
    return _fmt(hour + 12 if meridiem == "pm" else hour, minute)


def _suffix_at(tokens: Sequence[str], i: int) -> tuple[str | None, bool, int]:
    """What follows an hour: (meridiem, whether anything time-like was there, end)."""
    if i < len(tokens) and tokens[i] == "oclock":
        i += 1
        mer = _meridiem_at(tokens, i) or _daypart_at(tokens, i)
        return (mer[0], True, mer[1]) if mer else (None, True, i)
    mer = _meridiem_at(tokens, i) or _daypart_at(tokens, i)
    if mer:
        return mer[0], True, mer[1]
    return None, False, i


def _clock_at(tokens: Sequence[str], i: int) -> TimeMatch | None:
    """A time that starts with its hour: "7:30 pm", "7pm", "seven thirty pm", "7 oclock"."""
    word = tokens[i]
    if ":" in word:
        hh, _, mm = word.partition(":")
        if not (hh.isdecimal() and mm.isdecimal() and len(mm) == 2):
            return None
        meridiem, _, end = _suffix_at(tokens, i + 1)
        value = _apply(int(hh), int(mm), meridiem)
        return TimeMatch(i, end, value, True) if value else None
    if "." in word:  # "7.30pm": only with a meridiem, else it is a decimal number
        hh, _, mm = word.partition(".")
        meridiem, marked, end = _suffix_at(tokens, i + 1)
        if not (marked and meridiem and hh.isdecimal() and len(mm) == 2):
            return None
        value = _apply(int(hh), int(mm), meridiem)
        return TimeMatch(i, end, value, True) if value else None
    hour = small_number_at(tokens, i, 23)
    if hour is None:
        return None
    h, j = hour
    minute = 0
    # "seven thirty", "seven oh five": minutes as words; digits after an hour ("7 30") are
    # more often two numbers than a time, so they are not read as minutes.
    if j < len(tokens) and not tokens[j].isdecimal():
        if tokens[j] == "oh" and j + 1 < len(tokens):
            m = small_number_at(tokens, j + 1, 9)
            if m is not None and not tokens[j + 1].isdecimal():
                minute, j = m
        else:
            m = small_number_at(tokens, j, 59)
            if m is not None and m[0] >= 10:
                minute, j = m
    meridiem, marked, end = _suffix_at(tokens, j)
    if not marked:
        return None
    value = _apply(h, minute, meridiem)
    return TimeMatch(i, end, value, True) if value else None


def _relative_at(tokens: Sequence[str], i: int) -> TimeMatch | None:
    """ "half past seven", "quarter to eight", "ten past seven", "20 minutes to 8 pm"."""
    n = len(tokens)
    word = tokens[i]
    j = i + 1
    if word in ("half", "quarter"):
        minutes, explicit = (30 if word == "half" else 15), True
    elif word == "a" and j < n and tokens[j] == "quarter":
        minutes, explicit, j = 15, True, j + 1
    else:
        m = small_number_at(tokens, i, 59)
        if m is None or m[0] == 0:
            return None
        minutes, j = m
        explicit = j < n and tokens[j] in ("minutes", "minute", "mins", "min")
        if explicit:
            j += 1
    if j >= n or (tokens[j] not in _PAST and tokens[j] not in _TO):
        return None
    before = tokens[j] in _TO
    hour = small_number_at(tokens, j + 1, 23)
    if hour is None:
        return None
    meridiem, marked, end = _suffix_at(tokens, hour[1])
    # "5 to 7" is as often a range as a time: only "quarter", "minutes" or a meridiem after
    # the hour make it a time. "past" is unambiguous enough on its own.
    if before and not (explicit or marked):
        return None
    target = _apply(hour[0], 0, meridiem)
    if target is None:
        return None
    total = int(target[:2]) * 60 + (-minutes if before else minutes)
    total %= 24 * 60
    return TimeMatch(i, end, _fmt(total // 60, total % 60), True)


def find_times(tokens: Sequence[str]) -> list[TimeMatch]:
    """Every time of day in ``tokens``, left to right, not overlapping."""
    found: list[TimeMatch] = []
    i = 0
    n = len(tokens)
    while i < n:
        word = tokens[i]
        hit: TimeMatch | None = None
        if word in _FIXED:
            hour, minute = _FIXED[word]
            hit = TimeMatch(i, i + 1, _fmt(hour, minute), True)
        else:
            hit = _relative_at(tokens, i) or _clock_at(tokens, i)
            if hit is None and word in _CUES and i + 1 < n:
                hit = _weak_at(tokens, i + 1)
        if hit is not None:
            found.append(hit)
            i = hit.end
        else:
            i += 1
    return found


def _weak_at(tokens: Sequence[str], i: int) -> TimeMatch | None:
    """A bare hour after a cue word ("at 7", "around seven thirty")."""
    strong = _relative_at(tokens, i) or _clock_at(tokens, i)
    if strong is not None:
        return strong
    if ":" in tokens[i] or "." in tokens[i]:
        return None
    hour = small_number_at(tokens, i, 23)
    if hour is None:
        return None
    h, j = hour
    minute = 0
    m = small_number_at(tokens, j, 59)
    if m is not None and m[0] >= 10 and not tokens[j].isdecimal() and not tokens[i].isdecimal():
        minute, j = m
    return TimeMatch(i, j, _fmt(h, minute), False)
