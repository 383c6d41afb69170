"""Turning raw text into normalized tokens that still know where they came from.

Everything the recognizer compares (intent examples, entity values, user input) goes through
:func:`tokenize`, so both sides agree on case, accents, apostrophes and contractions. Each
token keeps the character span of the raw text it came from, so a slot can report the exact
words the user typed (``SlotValue.text``, ``start``, ``end``) even after "what's" became the
two tokens ``what`` and ``is``.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from typing import NamedTuple

__all__ = [
    "COMMON_WORDS",
    "FILLERS",
    "STOPWORDS",
    "TOKEN_PATTERN",
    "Token",
    "normalize_word",
    "norms",
    "scan",
    "split_word",
    "tokenize",
]


def _wordset(text: str) -> frozenset[str]:
    return frozenset(text.split())


class Token(NamedTuple):
    """One normalized token and the span ``text[start:end]`` of the raw text it came from."""

    norm: str
    start: int
    end: int


# A number is digits with at most one inner "." or ":" ("3.5", "7:30"), or digits grouped by
# thousands ("1,000,000"). A leading "-" counts as a sign only when it does not follow a word
# character, so "5-3" is two numbers and "-5" is one. Words are runs of letters, apostrophes
# inside them kept ("what's", "o'clock") so contractions can be expanded afterwards.
_TOKEN_RE = re.compile(
    r"(?:(?<![\w-])-)?(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:[.:]\d+)?)"
    r"|[^\W\d_]+(?:['\u2019`][^\W\d_]+)*"
)
#: The written words and numbers of a text (what :func:`scan` lists), for a caller that
#: iterates the matches itself.
TOKEN_PATTERN = _TOKEN_RE

# Whole-word rewrites: contractions whose stem changes, and chat spellings common enough that
# users expect them to work. The values are what the word means, as separate tokens.
_REWRITES: dict[str, tuple[str, ...]] = {
    "won't": ("will", "not"),
    "can't": ("can", "not"),
    "cannot": ("can", "not"),
    "shan't": ("shall", "not"),
    "ain't": ("is", "not"),
    "let's": ("let", "us"),
    "o'clock": ("oclock",),
    "y'all": ("you", "all"),
    "ma'am": ("madam",),
    # apostrophe-less spellings people type on phones
    "whats": ("what", "is"),
    "wheres": ("where", "is"),
    "hows": ("how", "is"),
    "thats": ("that", "is"),
    "im": ("i", "am"),
    "ive": ("i", "have"),
    "dont": ("do", "not"),
    "doesnt": ("does", "not"),
    "didnt": ("did", "not"),
    "isnt": ("is", "not"),
    "cant": ("can", "not"),
    "wont": ("will", "not"),
    "wanna": ("want", "to"),
    "gonna": ("going", "to"),
    "gotta": ("got", "to"),
    "gimme": ("give", "me"),
    "lemme": ("let", "me"),
    "u": ("you",),
    "ur": ("your",),
    "pls": ("please",),
    "plz": ("please",),
    "thx": ("thanks",),
    "tmrw": ("tomorrow",),
    "tmr": ("tomorrow",),
    "oclock": ("oclock",),
}

# Words before which "'s" means "is" rather than a possessive ("what's" vs "john's").
_S_IS = _wordset(
    """
    what where when who how why that there here it he she this everything something
    """
)

# Suffix contractions, tried in order (longest first so "n't" wins over "'t").
_SUFFIXES: tuple[tuple[str, str], ...] = (
    ("n't", "not"),
    ("'re", "are"),
    ("'ve", "have"),
    ("'ll", "will"),
    ("'d", "would"),
    ("'m", "am"),
)

#: Words that carry no intent on their own: they never count against a match when no intent
#: uses them, and they are never "corrected" into a similar-looking word of the model.
FILLERS = _wordset(
    """
    um umm uh uhh er erm hmm hm ah oh eh well so okay ok like just actually basically really
    please kindly could would can will shall should may might must do does did you your i me
    my we us our a an the to of for in on at by with about and or but if then also too very
    some any this that these those it its is are was were be been am have has had hey hi hello
    thanks thank yes yeah yep no nope not know think want wanted need tell let get first
    second third fourth fifth sixth seventh eighth ninth tenth
    """
)

#: Function words: when a model uses them they count, but for half as much as other words,
#: so "could you tell me" does not pull a text towards the one intent that says "you".
STOPWORDS = _wordset(
    """
    um umm uh uhh er erm hmm hm ah oh eh well so just actually really please kindly could
    would can will shall should may might must do does did you your i me my we us our a an the
    to of for in on at by with about and or but if then also too very some any this that these
    those it its is are was were be been am have has had not
    """
)

#: Everyday words a user writes on purpose. When the model does not know one, it is a word the
#: model does not know, not a typo: "none" is not "nine", "there" is not "three", "home" is
#: not "Rome". (Fillers are in this set too.)
COMMON_WORDS = FILLERS | _wordset(
    """
    none nine fine find fire hour here there their where were wear what when then than them
    they thing think thin home hose house rome come came some same game name more most
    move love live life like lime time tome take make made many much must mine nice once
    only open over same seem seen send sent show side size sold sure told tone took town
    tree true turn used very wait walk wall want warm wash week well went west wide wife
    will wind wish with word work year your about after again also away back been best
    better both call case could days does done door down each even ever face fact feel
    felt form from full gave give goes gone good hand hard have head hear held help high
    hold idea into just keep kind knew know land last late left less line long look lost
    mean meet miss near need next note part past pick place plan play point poor quite
    rain read real rest ride road room rule said save seat sell shop shot sign sing sort
    spot stay step stop such sure talk team tell test text that this thus till tiny tone
    upon user view ways what whom wine wire work yard yeah zone nothing something anything
    everything someone anyone everyone because before being between bring could every
    first found great group house large later learn light might money month never night
    other people right small sound still story study their these thing those three under
    until water where which while white whole world would write wrong young phone price
    order later early today again maybe sorry thanks
    """
)


def normalize_word(word: str) -> str:
    """Case-fold a word, strip its accents and unify its apostrophes ("Café\u2019s" -> "cafe's")."""
    word = word.casefold()
    if not word.isascii():
        # NFKD splits "é" into "e" + a combining accent, which is then dropped; other scripts
        # (CJK, Cyrillic, ...) pass through unchanged apart from compatibility forms.
        decomposed = unicodedata.normalize("NFKD", word)
        word = "".join(c for c in decomposed if not unicodedata.combining(c))
        word = word.replace("\u2019", "'").replace("`", "'")
    return word


def split_word(word: str) -> tuple[str, ...]:
    """Expand one normalized word into the tokens it stands for ("what's" -> what, is)."""
    rewrite = _REWRITES.get(word)
    if rewrite is not None:
        return rewrite
    if "'" not in word:
        return (word,)
    if word.endswith("'s"):
        stem = word[:-2]
        # A possessive keeps its stem only: "john's" is about john.
        return (stem, "is") if stem in _S_IS else (stem.replace("'", ""),)
    for suffix, meaning in _SUFFIXES:
        if word.endswith(suffix):
            return (word[: -len(suffix)].replace("'", ""), meaning)
    # Names such as "o'brien" or "d'arcy": the apostrophe is spelling, not grammar.
    return (word.replace("'", ""),)


def scan(text: str) -> list[tuple[str, int, int]]:
    """The written words and numbers of ``text`` with their spans, before normalization."""
    return [(m.group(), m.start(), m.end()) for m in _TOKEN_RE.finditer(text)]


def tokenize(text: str) -> list[Token]:
    """Split ``text`` into normalized tokens with their spans in ``text``.

    Punctuation disappears, case and accents are folded, contractions are expanded (each
    part keeps the span of the whole written word).
    """
    tokens: list[Token] = []
    for raw, start, end in scan(text):
        for part in split_word(normalize_word(raw)):
            if part:
                tokens.append(Token(part, start, end))
    return tokens


@functools.lru_cache(maxsize=1 << 16)
def norms(text: str) -> tuple[str, ...]:
    """The normalized tokens of ``text``, without spans (cached: a model's values and the
    literal pieces of its examples are read by several indexes, and repeat)."""
    return tuple(t.norm for t in tokenize(text))
