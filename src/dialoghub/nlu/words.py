"""What each written word of a text is to the matcher: its form, how sure, and its kind.

A written word is normalized (:mod:`.normalize`: case, accents, contractions), and a word the
model does not know is spell-corrected towards the model's vocabulary (:mod:`.fuzzy`), unless
it is a filler or an everyday word. Each resulting word has a *kind* for the scorer
(:mod:`.scoring`): a term some example uses, a filler no example uses (ignored), or any other
word (it counts against every intent). Answers are cached per distinct written word.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import NamedTuple

from dialoghub.nlu.entities import Analysis
from dialoghub.nlu.fuzzy import Speller
from dialoghub.nlu.normalize import (
    COMMON_WORDS,
    FILLERS,
    TOKEN_PATTERN,
    normalize_word,
    split_word,
)

__all__ = ["FILLER", "OTHER", "TERM", "Word", "WordReader"]

#: A word some example uses.
TERM = 0
#: A filler word no example uses: ignored.
FILLER = 1
#: Any other word: counts against every intent.
OTHER = 2

# How much a spell-corrected word counts, by the number of edits it took.
_CORRECTED = (1.0, 0.85, 0.7)
#: The most distinct written words cached (a bound for adversarial input, not an LRU).
CACHE_WORDS = 100_000


class Word(NamedTuple):
    """One analysed word: normalized and spell-corrected, its quality and its kind."""

    form: str
    quality: float
    kind: int


class WordReader:
    """Reads texts into :class:`~dialoghub.nlu.entities.Analysis` for one model's words."""

    def __init__(
        self, vocabulary: Iterable[str], terms: Collection[str], rank: dict[str, int]
    ) -> None:
        """``vocabulary``: every word a word may be corrected to; ``terms``: the words some
        example uses; ``rank``: how often each is used (ties in spelling go to the first)."""
        self._speller = Speller(vocabulary, rank=rank)
        self._terms = terms
        self._words: dict[str, tuple[Word, ...]] = {}

    def word(self, raw: str) -> tuple[Word, ...]:
        """What one written word is to the scorer (cached: users repeat themselves)."""
        cached = self._words.get(raw)
        if cached is not None:
            return cached
        parts: list[Word] = []
        terms = self._terms
        for part in split_word(normalize_word(raw)):
            if not part:
                continue
            if part in self._speller:
                parts.append(Word(part, 1.0, TERM if part in terms else OTHER))
            elif part in FILLERS:
                parts.append(Word(part, 1.0, FILLER))
            elif part in COMMON_WORDS:
                parts.append(Word(part, 1.0, OTHER))  # a real word, not a typo
            else:
                fixed = self._speller.correct(part)
                if fixed is None:
                    parts.append(Word(part, 1.0, OTHER))
                else:
                    form, edits = fixed
                    parts.append(Word(form, _CORRECTED[edits], TERM if form in terms else OTHER))
        result = tuple(parts)
        if len(self._words) > CACHE_WORDS:
            self._words.clear()
        self._words[raw] = result
        return result

    def analyse(self, text: str) -> tuple[Analysis, list[int]]:
        """``text`` as the matchers see it, and each word's kind."""
        words: list[str] = []
        spans: list[tuple[int, int]] = []
        quality: list[float] = []
        kinds: list[int] = []
        for m in TOKEN_PATTERN.finditer(text):  # as scan(text), without the list
            span = m.span()
            for w in self.word(m.group()):
                words.append(w.form)
                spans.append(span)
                quality.append(w.quality)
                kinds.append(w.kind)
        return Analysis(text, words, spans, quality), kinds
