"""Pronunciations for the words the CMU dictionary lacks, from espeak-ng's letter-to-sound rules.

A domain's corpus holds words that no pronouncing dictionary has: the pizza model's
"margherita", the weather model's "nyc" and "sf". Without a pronunciation a word cannot be
recognised, and every sentence holding it was left out of the LM ("a margherita pizza" could
not be said). pocketsphinx 5 ships no grapheme-to-phoneme model, but espeak-ng (the default
synthesiser, already installed for replies) has English letter-to-sound rules: ``espeak-ng -q
--ipa WORD`` prints the IPA it would say, which maps onto the acoustic model's ARPAbet
phones. A short word without a vowel letter ("nyc", "sf", "bbq") is also given its spelling
("en why see"), as users say it, from the dictionary's entries of the letters.

Without espeak-ng the words stay without a pronunciation, as before.
"""

# The IPA signs below are meant (they are what espeak-ng prints), not look-alike letters.
# ruff: noqa: RUF001, RUF002

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterable, Mapping

__all__ = ["guess", "to_arpabet"]

# IPA as espeak-ng writes American English, longest sequences first.
_IPA: list[tuple[str, str]] = sorted(
    {
        "aɪɚ": "AY ER", "aɪə": "AY AH", "aʊɚ": "AW ER",
        "aɪ": "AY", "aʊ": "AW", "eɪ": "EY", "oʊ": "OW", "ɔɪ": "OY", "tʃ": "CH", "dʒ": "JH",
        "ɑːɹ": "AA R", "ɔːɹ": "AO R", "oːɹ": "AO R", "ɛɹ": "EH R", "ɪɹ": "IH R", "ʊɹ": "UH R",
        "ɑː": "AA", "ɑ": "AA", "ɔː": "AO", "ɔ": "AO", "ɜː": "ER", "ɝ": "ER", "ɚ": "ER",
        "iː": "IY", "i": "IY", "uː": "UW", "u": "UW", "æ": "AE", "ʌ": "AH", "ə": "AH", "ɐ": "AH",
        "ɛ": "EH", "e": "EH", "ɪ": "IH", "ᵻ": "IH", "ʊ": "UH", "o": "OW", "a": "AA",
        "b": "B", "d": "D", "ð": "DH", "f": "F", "ɡ": "G", "g": "G", "h": "HH", "k": "K",
        "l": "L", "m": "M", "n": "N", "ŋ": "NG", "p": "P", "ɹ": "R", "r": "R", "s": "S",
        "ʃ": "SH", "t": "T", "θ": "TH", "v": "V", "w": "W", "j": "Y", "z": "Z", "ʒ": "ZH",
        "ɾ": "T", "ʔ": "T", "x": "K", "ç": "HH", "ɬ": "L",
    }.items(),
    key=lambda kv: -len(kv[0]),
)  # fmt: skip
_SYLLABIC = "\u0329"  # a syllabic consonant ("n̩" of "button"): a schwa before it
_VOWELS = set("aeiou")
#: At most this many words are guessed per domain (one espeak-ng call each, ~5 ms).
MAX_WORDS = 200


def to_arpabet(ipa: str) -> str:
    """espeak-ng's IPA of one word as ARPAbet phones ("mˌɑːɹɡɚɹˈiːɾə" -> "M AA R G ER IY T
    AH"); stress marks and unknown signs are dropped."""
    phones: list[str] = []
    i = 0
    while i < len(ipa):
        if ipa[i] == _SYLLABIC:
            if phones:
                phones.insert(len(phones) - 1, "AH")
            i += 1
            continue
        for sign, arpa in _IPA:
            if ipa.startswith(sign, i):
                phones.extend(arpa.split())
                i += len(sign)
                break
        else:
            i += 1  # stress, length, a palatal mark, a space
    out: list[str] = []
    for p in phones:  # espeak links "ɚɹ": ER then R, which ARPAbet writes ER
        if p == "R" and out and out[-1] in ("ER", "R"):
            continue
        out.append(p)
    return " ".join(out)


def _espeak(word: str, binary: str) -> str | None:
    try:
        proc = subprocess.run(
            [binary, "-q", "--ipa", "-v", "en-us", "--", word],
            capture_output=True,
            check=False,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if proc.returncode != 0:
        return None
    phones = to_arpabet(proc.stdout.decode(errors="replace").strip())
    return phones or None


def guess(words: Iterable[str], known: Mapping[str, list[str]]) -> dict[str, list[str]]:
    """Dictionary lines (``word phones``, ``word(2) phones``) for ``words`` that ``known``
    (the CMU dictionary's lines by word) lacks; words espeak-ng cannot say are left out."""
    binary = shutil.which("espeak-ng")
    out: dict[str, list[str]] = {}
    if binary is None:
        return out
    for word in sorted(set(words))[:MAX_WORDS]:
        if word in known or not word.isascii() or not word.replace("'", "").isalpha():
            continue
        forms: list[str] = []
        if len(word) <= 4 and not _VOWELS.intersection(word):
            letters = [known.get(c) for c in word]
            if all(letters):
                forms.append(" ".join(ln[0].split(None, 1)[1].strip() for ln in letters if ln))
        said = _espeak(word, binary)
        if said and said not in forms:
            forms.append(said)
        if forms:
            out[word] = [
                f"{word}{'' if i == 0 else f'({i + 1})'} {p}\n" for i, p in enumerate(forms)
            ]
    return out
