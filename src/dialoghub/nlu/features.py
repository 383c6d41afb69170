"""What the learned recognizer's models see of a text: features of the text and of each word.

Both models read the same :class:`~dialoghub.nlu.entities.Analysis` the matcher reads
(normalized, spell-corrected words with their spans in the raw text) and the entity values
found in it, so a training sentence and a user's text are seen the same way.

* the intent classifier sees the words, word pairs, four-letter stems and the entities whose
  values occur (``@city``), and, for models with few examples, the letter triples to
  quintuples of each word (``subwords``);
* the slot tagger sees, for each word, the word, its neighbours two either side, word pairs,
  a prefix and suffixes, how it is written (capitalized, all capitals, digits: the raw
  text keeps what normalization folds) and whether an entity value starts or continues there.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from dialoghub.nlu.entities import Analysis, Match

__all__ = ["intent_features", "regex_marker", "word_features"]

_REGEX_MARK = "zzre"  # prefix of the word standing for a regular-expression value


def regex_marker(entity: str) -> str:
    """The word a regular-expression placeholder is written as in training sentences."""
    return _REGEX_MARK + "".join(c for c in entity.casefold() if c.isalnum())


def _words(analysis: Analysis, matches: Sequence[Match], regex: frozenset[str]) -> list[str]:
    words = list(analysis.words)
    for m in matches:
        if m.entity in regex:
            for k in range(m.start, min(m.end, len(words))):
                words[k] = regex_marker(m.entity)
    return words


def intent_features(
    analysis: Analysis,
    matches: Sequence[Match],
    *,
    regex: frozenset[str] = frozenset(),
    entities: bool = True,
    subwords: bool = False,
) -> dict[str, float]:
    """The bag of features of a whole text, every value 1.0 (without ``entities``: no
    ``@entity`` terms; with ``subwords``: the 3- to 5-letter pieces of each word, its start
    and end marked, so "playlists" shares evidence with "playlist" and a misspelling with
    the word)."""
    words = _words(analysis, matches, regex)
    f: dict[str, float] = {}
    previous = "<s>"
    for w in words:
        f["w=" + w] = 1.0
        if len(w) > 4:
            f["p=" + w[:4]] = 1.0
        f["b=" + previous + "|" + w] = 1.0
        previous = w
        if subwords:
            _pieces(f, w)
    f["b=" + previous + "|</s>"] = 1.0
    if entities:
        for m in matches:
            f["e=" + m.entity] = 1.0
    return f


def _pieces(f: dict[str, float], word: str) -> None:
    marked = "<" + word + ">"
    for n in (3, 4, 5):
        for k in range(len(marked) - n + 1):
            f["c=" + marked[k : k + n]] = 1.0


@functools.lru_cache(maxsize=1 << 16)
def _shape(raw: str) -> str:
    if raw.isdecimal():
        return "D"
    if raw.isupper() and len(raw) > 1:
        return "U"
    if raw[:1].isupper():
        return "T"
    if not raw.isalpha() and any(c.isdigit() for c in raw):  # letters only: no digit
        return "M"
    return "l"


def word_features(
    analysis: Analysis,
    matches: Sequence[Match],
    *,
    regex: frozenset[str] = frozenset(),
    hidden: Sequence[tuple[int, int]] = (),
) -> list[dict[str, float]]:
    """One feature bag per word. Entity values inside ``hidden`` word ranges are not
    marked (training hides some, so the tagger learns the context as well as the list)."""
    words = _words(analysis, matches, regex)
    n = len(words)
    text = analysis.text
    raws = [text[cs:ce] for cs, ce in analysis.spans]
    padded = ["<s2>", "<s>", *words, "</s>", "</s2>"]
    shapes = ["", "", *map(_shape, raws), "", ""]
    out: list[dict[str, float]] = []
    for k, w in enumerate(words):
        before, after = padded[k + 1], padded[k + 3]
        raw = raws[k].casefold()
        f = {
            "bias": 1.0,  # a prior per label: CRFsuite has no other
            "w=" + w: 1.0,
            "s=" + w[-3:]: 1.0,
            # A prefix and a suffix of the word as written: what an unseen name, place or
            # title looks like ("-land", "mc-"; two-letter ones as well cost more training
            # time than the slot F1 they bring on the SNIPS benchmark).
            "p3=" + raw[:3]: 1.0,
            "s4=" + raw[-4:]: 1.0,
            "h=" + shapes[k + 2]: 1.0,
            "h-1=" + shapes[k + 1]: 1.0,
            "h+1=" + shapes[k + 3]: 1.0,
            "w-1=" + before: 1.0,
            "w-2=" + padded[k]: 1.0,
            "w+1=" + after: 1.0,
            "w+2=" + padded[k + 4]: 1.0,
            "b-=" + before + "|" + w: 1.0,
            "b+=" + w + "|" + after: 1.0,
        }
        if raw != w:
            # As written, where normalization or spelling correction renamed it (only there:
            # one attribute less per word for CRFsuite to read, the same slot F1 on SNIPS).
            f["r=" + raw] = 1.0
        if k == 0:
            f["first"] = 1.0
        if k == n - 1:
            f["last"] = 1.0
        out.append(f)
    for m in matches:
        if any(a <= m.start and m.end <= b for a, b in hidden):
            continue
        for k in range(m.start, min(m.end, n)):
            out[k][("eB=" if k == m.start else "eI=") + m.entity] = 1.0
    return out
