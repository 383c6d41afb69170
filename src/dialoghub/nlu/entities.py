"""Finding entity values in analysed text: one compiled matcher per entity.

The recognizer analyses a text once (normalized, spell-corrected tokens with their spans) and
hands that :class:`Analysis` to the matchers of the entities it needs. Each matcher returns
:class:`Match` records; choosing between overlapping matches and assigning them to slots is
the recognizer's job, because it depends on the intent.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from typing import Any, NamedTuple, Protocol

from dialoghub.errors import ModelError
from dialoghub.nlu.normalize import norms
from dialoghub.nlu.numbers import find_numbers
from dialoghub.nlu.times import find_times
from dialoghub.nlu.types import EntityKind, EntitySpec

__all__ = ["Analysis", "Match", "Matcher", "best_non_overlapping", "compile_entity"]

#: The score of a time read from a bare hour after a cue word ("at 7"): probably a time.
WEAK_TIME_SCORE = 0.8

# Articles a list value may be said without: "the big apple" also matches "big apple".
_ARTICLES = frozenset({"the", "a", "an"})


class Analysis(NamedTuple):
    """A text as the matchers see it: one entry per token in each list."""

    text: str
    words: list[str]  # normalized, spell-corrected
    spans: list[tuple[int, int]]  # character span of each token in ``text``
    quality: list[float]  # 1.0 as written, less when spell-corrected


class Match(NamedTuple):
    """One value of ``entity`` at ``words[start:end]`` (characters ``[char_start:char_end]``)."""

    entity: str
    value: Any
    start: int
    end: int
    char_start: int
    char_end: int
    score: float  # 1.0 for an exact reading; less for a spell-corrected or weak one
    # Which reading wins when several entities claim the same words: a value from a closed
    # list or a pattern the model author wrote (3) beats a time (2), which beats a number (1).
    specificity: int


class Matcher(Protocol):
    """Finds the values of one entity in an analysed text."""

    name: str
    #: Words this entity's values are made of (for the spelling vocabulary).
    words: frozenset[str]

    def find(self, analysis: Analysis) -> list[Match]:
        """Every value of the entity in the text, left to right."""
        ...


def _span(analysis: Analysis, start: int, end: int) -> tuple[int, int]:
    return analysis.spans[start][0], analysis.spans[end - 1][1]


def _written_as(analysis: Analysis, start: int, length: int, forms: frozenset[str]) -> bool:
    """Whether ``words[start:start+length]`` are written exactly as one of ``forms``."""
    cs, ce = _span(analysis, start, start + length)
    return " ".join(analysis.text[cs:ce].split()) in forms


def _quality(analysis: Analysis, start: int, end: int) -> float:
    q = analysis.quality[start:end]
    return min(q) if q else 1.0


class _ListMatcher:
    """A closed list: the longest known phrase (value or synonym) at each position wins."""

    def __init__(self, spec: EntitySpec) -> None:
        self.name = spec.name
        phrases: dict[tuple[str, ...], str] = {}
        # --- case-sensitive values (issue 15): phrase -> the spellings it must be written in;
        # a phrase some value declares case-insensitively is not in here.
        cased: dict[tuple[str, ...], set[str]] = {}
        free: set[tuple[str, ...]] = set()
        for entry in spec.values:
            exact = spec.case_sensitive if entry.case_sensitive is None else entry.case_sensitive
            for said in (entry.value, *entry.synonyms):
                words = norms(said)
                if not words:
                    continue
                # The first declaration of a phrase wins, so a synonym shared by two values
                # resolves the same way on every run.
                phrases.setdefault(words, entry.value)
                forms = [(words, " ".join(said.split()))]
                if len(words) > 1 and words[0] in _ARTICLES:
                    phrases.setdefault(words[1:], entry.value)
                    forms.append((words[1:], " ".join(said.split()[1:])))
                for key, form in forms:
                    if exact:
                        cased.setdefault(key, set()).add(form)
                    else:
                        free.add(key)
        self._cased = {k: frozenset(v) for k, v in cased.items() if k not in free}
        # --- end case-sensitive values
        by_first: dict[str, list[tuple[int, tuple[str, ...], str]]] = {}
        for words, value in phrases.items():
            by_first.setdefault(words[0], []).append((len(words), words, value))
        for options in by_first.values():
            options.sort(key=lambda o: (-o[0], o[1]))  # longest first, then stable
        self._by_first = by_first
        self.words = frozenset(w for words in phrases for w in words)

    def find(self, analysis: Analysis) -> list[Match]:
        found: list[Match] = []
        words = analysis.words
        n = len(words)
        i = 0
        while i < n:
            options = self._by_first.get(words[i])
            hit = None
            if options:
                for length, phrase, value in options:
                    if i + length <= n and tuple(words[i : i + length]) == phrase:
                        forms = self._cased.get(phrase)  # case-sensitive: as written only
                        if forms is not None and not _written_as(analysis, i, length, forms):
                            continue
                        hit = (length, value)
                        break
            if hit is None:
                i += 1
                continue
            end = i + hit[0]
            cs, ce = _span(analysis, i, end)
            q = _quality(analysis, i, end)
            found.append(Match(self.name, hit[1], i, end, cs, ce, q, 3))
            i = end
        return found


class _RegexMatcher:
    """A pattern run on the raw text, case-insensitively (users don't mind their case)."""

    words: frozenset[str] = frozenset()

    def __init__(self, spec: EntitySpec) -> None:
        self.name = spec.name
        if not spec.pattern:
            raise ModelError(f"regex entity {spec.name!r} has no pattern", entity=spec.name)
        try:
            self._pattern = re.compile(spec.pattern, re.IGNORECASE)
        except re.error as exc:
            raise ModelError(
                f"regex entity {spec.name!r} has an invalid pattern: {exc}",
                entity=spec.name,
                pattern=spec.pattern,
            ) from exc
        self._group = "value" if "value" in self._pattern.groupindex else 0

    def find(self, analysis: Analysis) -> list[Match]:
        found: list[Match] = []
        starts = [s for s, _ in analysis.spans]
        ends = [e for _, e in analysis.spans]
        for m in self._pattern.finditer(analysis.text):
            cs, ce = m.span(self._group)
            if cs < 0 or cs == ce:
                continue
            # The tokens the match overlaps, for word-based scoring and slot context.
            first = bisect.bisect_right(ends, cs)
            last = bisect.bisect_left(starts, ce)
            found.append(Match(self.name, m.group(self._group), first, max(last, first), cs, ce,
                               1.0, 3))  # fmt: skip
        return found


class _NumberMatcher:
    """The built-in NUMBER entity: digits or English number words."""

    def __init__(self, spec: EntitySpec) -> None:
        self.name = spec.name
        self.words: frozenset[str] = frozenset()

    def find(self, analysis: Analysis) -> list[Match]:
        found: list[Match] = []
        for start, end, value in find_numbers(analysis.words):
            cs, ce = _span(analysis, start, end)
            q = _quality(analysis, start, end)
            found.append(Match(self.name, value, start, end, cs, ce, q, 1))
        return found


class _TimeMatcher:
    """The built-in TIME entity: a time of day as "HH:MM"."""

    def __init__(self, spec: EntitySpec) -> None:
        self.name = spec.name
        self.words: frozenset[str] = frozenset()

    def find(self, analysis: Analysis) -> list[Match]:
        found: list[Match] = []
        for t in find_times(analysis.words):
            cs, ce = _span(analysis, t.start, t.end)
            q = _quality(analysis, t.start, t.end) * (1.0 if t.strong else WEAK_TIME_SCORE)
            # A weak time ("at 7") still outranks the plain number it overlaps when an intent
            # wants both: the cue word is evidence the number alone does not have.
            found.append(Match(self.name, t.value, t.start, t.end, cs, ce, q, 2))
        return found


_MATCHERS: dict[EntityKind, type[_ListMatcher | _RegexMatcher | _NumberMatcher | _TimeMatcher]]
_MATCHERS = {
    EntityKind.LIST: _ListMatcher,
    EntityKind.TEXT: _ListMatcher,  # its known values; unseen ones are the tagger's (issue 15)
    EntityKind.REGEX: _RegexMatcher,
    EntityKind.NUMBER: _NumberMatcher,
    EntityKind.TIME: _TimeMatcher,
}


def compile_entity(spec: EntitySpec) -> Matcher:
    """The matcher for one entity; raises :class:`ModelError` for an unusable spec."""
    return _MATCHERS[EntityKind(spec.kind)](spec)


def best_non_overlapping(matches: Sequence[Match]) -> list[Match]:
    """A set of matches that share no words, preferring longer, more specific, better ones.

    Returned in text order. Ties go to the earlier match, then to the entity name, so the
    choice never depends on the order the matchers ran in.
    """
    ranked = sorted(
        matches,
        key=lambda m: (
            -(m.char_end - m.char_start),
            -m.specificity,
            -m.score,
            m.char_start,
            m.entity,
        ),
    )
    taken: list[Match] = []
    for m in ranked:
        if all(m.char_end <= t.char_start or m.char_start >= t.char_end for t in taken):
            taken.append(m)
    taken.sort(key=lambda m: (m.char_start, m.entity))
    return taken
