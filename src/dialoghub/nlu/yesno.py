"""Is an answer a yes or a no? For confirmation questions ("So a large margherita, right?").

Deterministic and small on purpose: the answer to a yes/no question is short, so the first
words decide ("no, a large one" is a no), then any yes or no word anywhere; a negated yes
("not right", "that's not correct") is a no. Anything else is None: the question is asked
again (or the text is handled as a new request).
"""

from __future__ import annotations

import re

__all__ = ["yes_or_no"]

_YES = frozenset({
    "yes", "yeah", "yea", "yep", "yup", "ya", "sure", "correct", "right", "ok", "okay",
    "affirmative", "absolutely", "definitely", "certainly", "indeed", "exactly", "perfect",
    "confirm", "confirmed", "y", "aye", "true",
})  # fmt: skip
_YES_PHRASES = ("of course", "sounds good", "go ahead", "that's it", "that is it", "do it")
_NO = frozenset({
    "no", "nope", "nah", "nay", "negative", "wrong", "incorrect", "cancel", "n", "false", "never",
})  # fmt: skip
_NO_PHRASES = ("not really", "not quite", "don't", "do not", "not right", "not correct")
_WORD = re.compile(r"[a-z']+")


def yes_or_no(text: str) -> bool | None:
    """True for a yes, False for a no, None when the answer is neither."""
    lowered = text.lower().replace("\u2019", "'")  # a typographic apostrophe
    words = _WORD.findall(lowered)
    if not words:
        return None
    joined = " ".join(words)
    if any(p in joined for p in _NO_PHRASES) or words[0] in _NO or "isn't" in words:
        return False
    if "not" in words and any(w in _YES for w in words):
        return False
    if words[0] in _YES or any(joined.startswith(p) for p in _YES_PHRASES):
        return True
    if any(w in _NO for w in words):
        return False
    if any(w in _YES for w in words) or any(p in joined for p in _YES_PHRASES):
        return True
    return None
