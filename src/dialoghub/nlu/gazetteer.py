"""Every list value of a model in one index: where entity values occur in a text, fast.

The matcher runs one matcher per entity; a model converted from a corpus may have forty
entities of thousands of values, and the learned recognizer needs all of them as features
(for every training sentence and every text). One index keyed by a value's first word finds
them all in one pass over the words: on the SNIPS benchmark, 15 µs a text instead of 650.

Readings may overlap (the same words can be a value of two entities, a short value inside a
long one): they are features, and the tagger decides. A case-sensitive value is found only
as written, as :mod:`.entities` does.
"""

from __future__ import annotations

from collections.abc import Iterable

from dialoghub.nlu.entities import Analysis, Match
from dialoghub.nlu.normalize import norms
from dialoghub.nlu.types import EntityKind, EntitySpec

__all__ = ["Gazetteer"]

_ARTICLES = frozenset({"the", "a", "an"})

# phrase -> (entity, canonical value, spellings it must be written in or None)
_Entry = tuple[str, str, frozenset[str] | None]


class Gazetteer:
    """The list and free-text values of some entities (see the module docstring)."""

    def __init__(self, specs: Iterable[EntitySpec]) -> None:
        phrases: dict[tuple[str, ...], dict[str, tuple[str, set[str] | None]]] = {}
        for spec in specs:
            if spec.kind not in (EntityKind.LIST, EntityKind.TEXT):
                continue
            for entry in spec.values:
                cased = (
                    spec.case_sensitive if entry.case_sensitive is None else entry.case_sensitive
                )
                for said in (entry.value, *entry.synonyms):
                    words = norms(said)
                    forms = [(words, " ".join(said.split()))]
                    if len(words) > 1 and words[0] in _ARTICLES:
                        forms.append((words[1:], " ".join(said.split()[1:])))
                    for key, form in forms:
                        if not key:
                            continue
                        per = phrases.setdefault(key, {})
                        value, exact = per.get(spec.name, (entry.value, set() if cased else None))
                        if exact is not None:
                            if cased:
                                exact.add(form)
                            else:
                                exact = None  # declared case-insensitively once: any case
                        per[spec.name] = (value, exact)
        self._phrases: dict[tuple[str, ...], tuple[_Entry, ...]] = {
            key: tuple(
                (e, v, frozenset(x) if x is not None else None) for e, (v, x) in sorted(per.items())
            )
            for key, per in phrases.items()
        }
        lengths: dict[str, set[int]] = {}
        for key in self._phrases:
            lengths.setdefault(key[0], set()).add(len(key))
        self._lengths = {w: tuple(sorted(ls, reverse=True)) for w, ls in lengths.items()}

    def find(self, analysis: Analysis) -> list[Match]:
        """Every value in the text, overlapping readings included, left to right."""
        words = analysis.words
        spans = analysis.spans
        n = len(words)
        found: list[Match] = []
        for i, w in enumerate(words):
            lengths = self._lengths.get(w)
            if lengths is None:
                continue
            for length in lengths:
                if i + length > n:
                    continue
                entries = self._phrases.get(tuple(words[i : i + length]))
                if entries is None:
                    continue
                cs, ce = spans[i][0], spans[i + length - 1][1]
                written = None
                for entity, value, exact in entries:
                    if exact is not None:
                        if written is None:
                            written = " ".join(analysis.text[cs:ce].split())
                        if written not in exact:
                            continue
                    q = min(analysis.quality[i : i + length])
                    found.append(Match(entity, value, i, i + length, cs, ce, q, 3))
        return found
