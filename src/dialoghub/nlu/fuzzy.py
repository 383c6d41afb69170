"""Spelling tolerance: map a word the model does not know to the model word it most likely is.

The recognizer knows a closed vocabulary (the words of its intent examples, entity values and
synonyms, number and time words). A user's word outside it is compared with the vocabulary by
edit distance, counting a swap of two neighbouring letters as one edit (optimal string
alignment), since "waether" is one slip of the fingers, not two. Words of three letters or
fewer are never corrected: nearly every short string is one edit from some short word, so a
"correction" would be a guess. Words of four to seven letters may be one edit away, longer
words two.

Lookup uses a deletion index (the SymSpell idea): every vocabulary word is stored under each
string obtained by deleting up to ``d`` of its letters; two words within distance ``d`` share
at least one such key, so a lookup only verifies a handful of candidates instead of scanning
the whole vocabulary.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["Speller", "max_edits", "osa_distance"]

#: Words shorter than this are never corrected.
MIN_LENGTH = 4
#: Words at least this long may be two edits away.
LONG_LENGTH = 8


def max_edits(length: int) -> int:
    """How many edits a word of this length may be away from what the user meant."""
    if length < MIN_LENGTH:
        return 0
    return 2 if length >= LONG_LENGTH else 1


def osa_distance(a: str, b: str, limit: int) -> int:
    """Optimal string alignment distance between ``a`` and ``b``, or ``limit + 1`` if above.

    Stops as soon as a whole row exceeds ``limit``, so rejecting a far word is cheap.
    """
    if a == b:
        return 0
    la, lb = len(a), len(b)
    if abs(la - lb) > limit:
        return limit + 1
    prev2: list[int] = []
    prev = list(range(lb + 1))
    for i in range(1, la + 1):
        cur = [i] + [0] * lb
        ca = a[i - 1]
        best = i
        for j in range(1, lb + 1):
            cb = b[j - 1]
            cost = 0 if ca == cb else 1
            v = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                v = min(v, prev2[j - 2] + 1)
            cur[j] = v
            best = min(best, v)
        if best > limit:
            return limit + 1
        prev2, prev = prev, cur
    return min(prev[lb], limit + 1)


def _deletes(word: str, depth: int) -> set[str]:
    """``word`` and every string made by deleting up to ``depth`` of its letters."""
    found = {word}
    frontier = {word}
    for _ in range(depth):
        nxt: set[str] = set()
        for w in frontier:
            for k in range(len(w)):
                nxt.add(w[:k] + w[k + 1 :])
        found |= nxt
        frontier = nxt
    return found


class Speller:
    """Corrects words towards a fixed vocabulary; every answer is cached.

    Ties (two vocabulary words equally close) go to the word ranked first by ``rank``
    (usually: more frequent in the model), then alphabetically, so the answer never depends
    on set or dict iteration order.
    """

    def __init__(self, vocabulary: Iterable[str], *, rank: dict[str, int] | None = None) -> None:
        self._vocab = frozenset(vocabulary)
        self._rank = rank or {}
        index: dict[str, list[str]] = {}
        for word in sorted(self._vocab):
            depth = max_edits(len(word))
            if depth == 0:
                continue
            for key in _deletes(word, depth):
                index.setdefault(key, []).append(word)
        self._index = index
        self._cache: dict[str, tuple[str, int] | None] = {}

    def __contains__(self, word: object) -> bool:
        return word in self._vocab

    def correct(self, word: str) -> tuple[str, int] | None:
        """The vocabulary word ``word`` most likely meant and the edits between, or None.

        A word of the vocabulary is returned as itself with distance 0.
        """
        if word in self._vocab:
            return word, 0
        cached = self._cache.get(word, False)
        if cached is not False:
            return cached  # type: ignore[return-value]
        result = self._lookup(word)
        if len(self._cache) > 100_000:  # a bound, not an eviction policy: inputs are short
            self._cache.clear()
        self._cache[word] = result
        return result

    def _lookup(self, word: str) -> tuple[str, int] | None:
        if len(word) < MIN_LENGTH or not word.isalpha():
            return None
        depth = max_edits(len(word) + 1)  # an extra letter must not cost the second edit
        candidates: set[str] = set()
        for key in _deletes(word, depth):
            hits = self._index.get(key)
            if hits:
                candidates.update(hits)
        best: tuple[int, int, str] | None = None
        for cand in candidates:
            allowed = max_edits(len(cand))
            if allowed == 0:
                continue
            d = osa_distance(word, cand, allowed)
            if d > allowed:
                continue
            rank = (d, -self._rank.get(cand, 0), cand)
            if best is None or rank < best:
                best = rank
        return (best[2], best[0]) if best else None
