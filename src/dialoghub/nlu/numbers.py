"""Numbers written as digits or as English words, found in a normalized token sequence.

The recognizer's built-in NUMBER entity and the TIME parser both read numbers from the
tokens :func:`dialoghub.nlu.normalize.tokenize` produces: ``-4``, ``3.5``, ``1,000``,
``twenty one``, ``a hundred and five``, ``three point five``, ``minus two``, ``5 thousand``.
Values are ``int`` when integral, else ``float``.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["NUMBER_WORDS", "find_numbers", "number_at", "parse_digits", "small_number_at"]

Number = int | float

_UNITS: dict[str, int] = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
    "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
    "nineteen": 19,
}  # fmt: skip
_TENS: dict[str, int] = {
    "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
    "eighty": 80, "ninety": 90,
}  # fmt: skip
_SCALES: dict[str, int] = {"thousand": 1_000, "million": 1_000_000, "billion": 1_000_000_000}
_SIGNS = frozenset({"minus", "negative"})

#: Every word that can be part of a number; the recognizer adds them to its spelling
#: vocabulary so "twnety" still reads as "twenty".
NUMBER_WORDS = frozenset([*_UNITS, *_TENS, *_SCALES, "hundred", "point", "minus", "negative"])

# Words a number may start with: a cheap pre-check before running the parser at a position.
_STARTS = frozenset([*_UNITS, *_TENS, *_SIGNS, "a", "an", "point"])


def _tidy(value: float) -> Number:
    """An integral value as ``int`` (so "12.0" and "twelve" compare equal to 12)."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def parse_digits(token: str) -> Number | None:
    """The value of a digit token ("12", "-3.5", "1,000"), or None for anything else."""
    if not token or ":" in token:
        return None
    body = token[1:] if token[0] == "-" else token
    if not body or not body[0].isdecimal():
        return None
    try:
        value: Number = (
            float(token.replace(",", "")) if "." in token else int(token.replace(",", ""))
        )
    except ValueError:
        return None
    return _tidy(value)


def number_at(tokens: Sequence[str], i: int) -> tuple[Number, int] | None:
    """The number starting at ``tokens[i]`` and the index just after it, if one starts there.

    The parser is a small state machine over word classes, so it accepts "twenty one" and
    "nine hundred and ninety nine" but stops before "one two" (two numbers, not twelve).
    """
    n = len(tokens)
    if i >= n:
        return None
    j = i
    sign = 1
    if tokens[j] in _SIGNS:
        sign = -1
        j += 1
        if j >= n:
            return None
    digits = parse_digits(tokens[j])
    if digits is not None:
        j += 1
        value: float = digits
        # "5 thousand", "2.5 million", "3 hundred thousand"
        while j < n and (tokens[j] == "hundred" or tokens[j] in _SCALES):
            value *= 100 if tokens[j] == "hundred" else _SCALES[tokens[j]]
            j += 1
        return _tidy(sign * value), j
    total = 0
    current = 0
    last: str | None = None  # the class of the previous word; None before the first one
    while j < n:
        word = tokens[j]
        nxt = tokens[j + 1] if j + 1 < n else ""
        if word in _UNITS:
            v = _UNITS[word]
            if last in (None, "hundred", "scale", "and") or (last == "tens" and 1 <= v <= 9):
                current += v
                last = "unit"
            else:
                break
        elif word in _TENS:
            if last in (None, "hundred", "scale", "and"):
                current += _TENS[word]
                last = "tens"
            else:
                break
        elif word == "hundred":
            if last in ("unit", "a"):
                current *= 100
                last = "hundred"
            else:
                break
        elif word in _SCALES:
            if last in ("unit", "tens", "hundred", "a"):
                total += current * _SCALES[word]
                current = 0
                last = "scale"
            else:
                break
        elif word in ("a", "an"):
            # "a hundred", "a thousand"; a lone "a" is an article, not the number one.
            if last is None and (nxt == "hundred" or nxt in _SCALES):
                current = 1
                last = "a"
            else:
                break
        elif word == "and":
            if last in ("hundred", "scale") and (nxt in _UNITS or nxt in _TENS):
                last = "and"
            else:
                break
        elif word == "point":
            fraction = _fraction_at(tokens, j + 1)
            if fraction is None or last in ("a", "and"):
                break
            digits_text, j = fraction
            whole = total + current
            return _tidy(sign * (whole + float("0." + digits_text))), j
        else:
            break
        j += 1
    if last is None or last in ("a", "and"):
        return None
    return sign * (total + current), j


def _fraction_at(tokens: Sequence[str], i: int) -> tuple[str, int] | None:
    """The digits after "point": digit words ("five two") or one digit token ("52")."""
    if i < len(tokens) and tokens[i].isdecimal():
        return tokens[i], i + 1
    digits: list[str] = []
    j = i
    while j < len(tokens) and tokens[j] in _UNITS and _UNITS[tokens[j]] < 10:
        digits.append(str(_UNITS[tokens[j]]))
        j += 1
    return ("".join(digits), j) if digits else None


def small_number_at(tokens: Sequence[str], i: int, limit: int) -> tuple[int, int] | None:
    """A whole number in ``[0, limit]`` at ``tokens[i]`` without scales ("forty five", "7")."""
    if i >= len(tokens):
        return None
    word = tokens[i]
    if word.isdecimal():
        value = int(word)
        return (value, i + 1) if value <= limit else None
    if word in _UNITS:
        value = _UNITS[word]
        return (value, i + 1) if value <= limit else None
    if word in _TENS:
        value = _TENS[word]
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
        unit = _UNITS.get(nxt, 0)
        if 1 <= unit <= 9 and value + unit <= limit:
            return value + unit, i + 2
        return (value, i + 1) if value <= limit else None
    return None


def find_numbers(tokens: Sequence[str]) -> list[tuple[int, int, Number]]:
    """Every number in ``tokens`` as ``(start, end, value)``, left to right, not overlapping."""
    found: list[tuple[int, int, Number]] = []
    i = 0
    n = len(tokens)
    while i < n:
        word = tokens[i]
        if word in _STARTS or word[:1].isdecimal() or word[:2][-1:].isdecimal():
            hit = number_at(tokens, i)
            if hit is not None:
                found.append((i, hit[1], hit[0]))
                i = hit[1]
                continue
        i += 1
    return found
