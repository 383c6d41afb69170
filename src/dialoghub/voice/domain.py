"""The language a dialog state can take, built from its model: corpora for a domain LM.

A general language model knows English, not this dialog: on espeak's voice pocketsphinx's
bundled 27 MB LM got 35-58% of the words right, a domain LM of thirty sentences 85-98%
(../shared/research/speech.md). So every model gets its own, automatically:

- each intent's examples with every ``{slot}`` expanded to the values of its entity and
  their synonyms (a NUMBER slot to number words; a regex slot that wants digits to number
  words, which :func:`digits` turns back into digits after recognition);
- the model's own words: prompts, replies and handler texts (a user repeats them: "12
  Baker Street" in a hint is how users answer), and yes/no words where a state confirms;
- per state, only what that state can take (the intents of its ``on``, the slot being filled,
  the interrupts, yes/no when confirming), so "two" in a size question does not compete
  with "tokyo" from another state's slot.

A :class:`Domain` names its corpus by model id, version and what the state can take, so an
LM is built once per model version and state kind (:mod:`dialoghub.voice.engines` caches
it). States that can take anything (no intents, or free dictation) use the engine's general
model instead (``Domain.general``).
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from dialoghub.model import spec as m
from dialoghub.nlu.types import EntityKind, EntitySpec

__all__ = [
    "Domain",
    "Endings",
    "corpus_words",
    "digits",
    "domain_for",
    "endings",
    "number_words",
    "sentences",
    "spoken",
]

_NUMBERS = [
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
    "nineteen", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
    "hundred",
]  # fmt: skip
_YES_NO = [
    "yes",
    "no",
    "yeah",
    "yep",
    "nope",
    "sure",
    "correct",
    "right",
    "that's right",
    "no thanks",
    "yes please",
    "not really",
    "of course",
    "okay",
]
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
# Expanding every slot with every value grows as a product: cap each example's expansions
# (values are rotated through so every value still appears in some sentence).
_MAX_EXPANSIONS = 400
_SLOT = re.compile(r"\{(\w+)\}")


def _words(text: str) -> str:
    return " ".join(_WORD.findall(text.lower().replace("\u2019", "'")))


def _number_phrases() -> list[str]:
    units = _NUMBERS[1:20]
    out = list(units)
    for tens in _NUMBERS[20:28]:
        out.append(tens)
        out.extend(f"{tens} {u}" for u in units[:9])
    out.extend(f"{u} hundred" for u in units[:9])
    return out


def _values(entity: EntitySpec | None, model: m.Model | None = None) -> list[str]:
    """What a user may say for a slot of ``entity``."""
    if entity is not None and entity.kind is EntityKind.REGEX and model is not None:
        return _regex_values(entity, model)
    if entity is None:
        return []
    if entity.kind is EntityKind.LIST:
        return [w for v in entity.values for w in (v.value, *v.synonyms)]
    if entity.kind is EntityKind.NUMBER:
        return _number_phrases()
    if entity.kind is EntityKind.TIME:
        return [f"{n} {ap}" for n in _NUMBERS[1:13] for ap in ("am", "pm", "o'clock")]
    # A regex: digits are spoken as number words; letters come from the model's texts.
    if entity.pattern and "\\d" in entity.pattern:
        return _number_phrases()
    return []


def _regex_values(entity: EntitySpec, model: m.Model) -> list[str]:
    """A regex slot's spoken forms: what the model's own texts hold that matches it ("like 12
    Baker Street" in a hint: how users are told to answer), with its digits spoken, and with
    every other number in their place. A pattern no text matches gives number words only
    (for digits) or nothing."""
    try:
        pattern = re.compile(entity.pattern or "", re.IGNORECASE)
    except re.error:
        return []
    found = sorted({mt.group(0) for t in _raw_texts(model) for mt in pattern.finditer(t)})
    wants_digits = "\\d" in (entity.pattern or "")
    if not found:
        return _number_phrases() if wants_digits else []
    out: list[str] = []
    for text in found:
        out.append(spoken(text))
        if wants_digits and re.search(r"\d+", text):
            out.extend(spoken(re.sub(r"\d+", str(n), text, count=1)) for n in range(1, 100))
    return out


def _expand(example: str, slot_values: Mapping[str, list[str]]) -> Iterator[str]:
    names = _SLOT.findall(example)
    if not names:
        yield example
        return
    choices = [slot_values.get(n) or [""] for n in names]
    total = 1
    for c in choices:
        total *= len(c)
    if total <= _MAX_EXPANSIONS:
        combos: Iterable[tuple[str, ...]] = itertools.product(*choices)
    else:  # rotate: value i of each slot at step i, so every value shows up
        longest = max(len(c) for c in choices)
        combos = (tuple(c[i % len(c)] for c in choices) for i in range(longest))
    for combo in combos:
        parts = _SLOT.split(example)  # text, name, text, name, ..., text
        yield "".join(p if i % 2 == 0 else combo[i // 2] for i, p in enumerate(parts))


@dataclass(frozen=True, slots=True)
class Domain:
    """What one state of one model version can take, as a corpus of sentences.

    ``key`` names it (model id, version and a digest of what the state takes) and is the
    cache key of the LM built from it; ``general`` means "use the engine's general model";
    ``digits`` asks for number words to be written as digits after recognition (the state
    takes a pattern of digits).
    """

    key: str
    sentences: tuple[str, ...] = ()
    general: bool = False
    digits: bool = False
    intents: tuple[str, ...] = field(default=())


def _slot_values(model: m.Model, intent: m.IntentDef) -> dict[str, list[str]]:
    return {s.name: _values(model.entities.get(s.entity), model) for s in intent.slots}


def _raw_texts(model: m.Model) -> list[str]:
    """Prompts, replies and handler texts, as written."""
    texts: list[str] = []

    def code(instructions: Iterable[Any]) -> None:
        for ins in instructions:
            if isinstance(ins, m.Say):
                texts.append(ins.text.source)

    units = [model.states, *(u.states for u in model.units.values())]
    for states in units:
        for state in states.values():
            code(state.code)
            if state.prompt is not None:
                texts.extend(w.source for w in state.prompt.wordings)
            for h in (state.no_match, state.not_allowed, state.timeout, state.ambiguous):
                if h is not None:
                    code(h.code)
    for h in (model.no_match, model.not_allowed, model.command_error, model.ambiguous):
        if h is not None:
            code(h.code)
    for intent in model.intents.values():
        for slot in intent.slots:
            for t in (slot.prompt, *slot.reprompts):
                if t is not None:
                    texts.append(t.source)
    return texts


def _model_texts(model: m.Model) -> list[str]:
    """The model's texts as spoken word sequences (templates' slots left out)."""
    return [spoken(_SLOT.sub(" ", t)) for t in _raw_texts(model)]


def sentences(
    model: m.Model, intents: Iterable[str], *, fill: str | None = None, yes_no: bool = False
) -> list[str]:
    """The corpus of a state taking ``intents`` (names), filling slot ``fill`` (an entity
    name's values said alone), and answering yes/no."""
    out: list[str] = []
    for name in intents:
        intent = model.intents.get(name)
        if intent is None:
            continue
        values = _slot_values(model, intent)
        for example in intent.examples:
            out.extend(_weighted(_words(s) for s in _expand(example, values)))
    if fill is not None:
        vals = _values(model.entities.get(fill), model)
        out.extend(_weighted(_words(v) for v in vals))
        out.extend(_weighted(_words(f"{v} please") for v in vals))
    if yes_no:
        out.extend(_weighted(_YES_NO))
    out.extend(_model_texts(model))
    return sorted(s for s in out if s)


#: How many sentences of the corpus one example (or one slot's values) weighs, at least.
WEIGHT = 24


def _weighted(items: Iterable[str]) -> list[str]:
    """Each distinct sentence of one example, repeated so the example weighs at least
    ``WEIGHT`` sentences. Without it an example expanded into 48 city/day sentences out-
    weighs "thank you" 48 to 1 in the LM's counts, and espeak's "thank you" came back as
    "sunny you" (the weather example)."""
    distinct = sorted(set(items))
    if not distinct:
        return []
    times = max(1, -(-WEIGHT // len(distinct)))
    return [s for s in distinct for _ in range(times)]


def _interrupts(model: m.Model) -> list[str]:
    return [n for n, i in model.intents.items() if i.interrupt]


def _wants_digits(model: m.Model, intents: Iterable[str]) -> bool:
    for name in intents:
        intent = model.intents.get(name)
        for slot in intent.slots if intent else ():
            ent = model.entities.get(slot.entity)
            if ent is not None and ent.kind is EntityKind.REGEX and "\\d" in (ent.pattern or ""):
                return True
    return False


def domain_for(model: m.Model, unit: str, state: str, awaiting: Mapping[str, Any] | None) -> Domain:
    """The domain of a session resting in ``unit``/``state`` with its ``awaiting`` record."""
    aw = awaiting or {}
    try:
        st = model.state(state, unit)
    except KeyError:
        st = None
    takes = [n for n in (st.on if st is not None else {}) if n in model.intents]
    fill_entity: str | None = None
    fill = aw.get("fill")
    if isinstance(fill, Mapping):
        intent = model.intents.get(str(fill.get("intent")))
        slot = (
            next((s for s in intent.slots if s.name == fill.get("slot")), None) if intent else None
        )
        if intent is not None:
            takes.append(intent.name)
        if slot is not None:
            fill_entity = slot.entity
    yes_no = "confirm" in aw or (st is not None and st.confirm is not None)
    if not takes and fill_entity is None and not yes_no:
        if "listen" in aw or st is None or not st.on:
            # an open question (a listen step, a state that takes any text): all intents
            takes = list(model.intents)
        if not takes:
            return Domain(key=f"{model.id}@{model.version}:general", general=True)
    takes = sorted(set(takes) | set(_interrupts(model)))
    corpus = sentences(model, takes, fill=fill_entity, yes_no=yes_no)
    digest = hashlib.sha1("\n".join(corpus).encode()).hexdigest()[:12]
    return Domain(
        key=f"{model.id}@{model.version}:{digest}",
        sentences=tuple(corpus),
        digits=_wants_digits(model, takes),
        intents=tuple(takes),
    )


def whole_model(model: m.Model) -> Domain:
    """Everything the model can take in any state (for a client that does not say where)."""
    corpus = sentences(model, list(model.intents), yes_no=True)
    digest = hashlib.sha1("\n".join(corpus).encode()).hexdigest()[:12]
    return Domain(
        key=f"{model.id}@{model.version}:all:{digest}",
        sentences=tuple(corpus),
        digits=_wants_digits(model, model.intents),
        intents=tuple(model.intents),
    )


class Endings:
    """How often the domain's sentences end after a word, or after a pair of words: what the
    endpointer asks to tell a pause inside a sentence ("i'd like a ...") from its end
    ("... in paris"). The counts are the corpus's own (an example weighs as the LM weighs
    it); ``<s>`` stands before the first word, so "yes" alone is a sentence."""

    __slots__ = ("_after",)
    PRIOR = 2.0

    def __init__(self, corpus: Iterable[str]) -> None:
        after: dict[tuple[str, ...], list[int]] = {}
        for sentence in corpus:
            words = ("<s>", *sentence.split())
            for i in range(1, len(words)):
                last = i == len(words) - 1
                for context in (words[i : i + 1], words[i - 1 : i + 1]):
                    seen = after.setdefault(context, [0, 0])
                    seen[0] += last
                    seen[1] += 1
        self._after = {k: (ends, total) for k, (ends, total) in after.items()}

    def probability(self, words: Iterable[str]) -> float | None:
        """How often a sentence ends after ``words``' last word, and after its last two: the
        pair's rate, pulled towards the word's by ``PRIOR`` sentences (a pair seen twice,
        never last, is not proof: "weather for rome" ends where "for rome" was only seen
        before "tomorrow"). None when nothing is known (no words, a word the corpus
        lacks)."""
        seq = ("<s>", *words)
        if len(seq) < 2:
            return None
        word = self._after.get(seq[-1:])
        if word is None:
            return None
        p = word[0] / word[1]
        pair = self._after.get(seq[-2:])
        if pair is not None:
            p = (pair[0] + self.PRIOR * p) / (pair[1] + self.PRIOR)
        return p

    def seen(self, words: Iterable[str]) -> bool:
        """Whether the corpus has ``words``' last two words together (a recogniser's stray
        word at a pause, "what is the weather you", makes a pair it never saw)."""
        seq = ("<s>", *words)
        return len(seq) >= 2 and seq[-2:] in self._after


@functools.lru_cache(maxsize=256)
def endings(domain: Domain) -> Endings | None:
    """The :class:`Endings` of ``domain``'s corpus (None for the general model), built once
    per domain."""
    return None if domain.general or not domain.sentences else Endings(domain.sentences)


def corpus_words(domain: Domain) -> set[str]:
    """Every word of a domain's corpus."""
    return {w for s in domain.sentences for w in s.split()}


_UNIT_VALUE = {w: i for i, w in enumerate(_NUMBERS[:20])}
_TENS_VALUE = {w: 20 + 10 * i for i, w in enumerate(_NUMBERS[20:28])}


def digits(text: str) -> str:
    """Number words written as digits ("twelve baker street" -> "12 baker street"), for
    states whose slots take a pattern of digits; other words are left alone."""
    words = text.split()
    out: list[str] = []
    i = 0
    while i < len(words):
        w = words[i]
        if w in _TENS_VALUE or w in _UNIT_VALUE:
            value = 0
            while i < len(words):
                w = words[i]
                if w in _TENS_VALUE and value % 100 == 0:
                    value += _TENS_VALUE[w]
                elif (
                    w in _UNIT_VALUE
                    and value % 10 == 0
                    and value % 100 in (0, *_TENS_VALUE.values())
                ):
                    value += _UNIT_VALUE[w]
                elif w == "hundred" and 0 < value < 10:
                    value *= 100
                else:
                    break
                i += 1
            out.append(str(value))
            continue
        out.append(w)
        i += 1
    return " ".join(out)


def number_words(n: int) -> str:
    """``n`` (0..999) in words, as a synthesiser says it: 14 -> "fourteen"."""
    if n < 20:
        return _NUMBERS[n]
    if n < 100:
        tens, unit = divmod(n, 10)
        return _NUMBERS[18 + tens] + ("" if not unit else " " + _NUMBERS[unit])
    hundreds, rest = divmod(n, 100)
    return f"{_NUMBERS[hundreds]} hundred" + ("" if not rest else " " + number_words(rest))


def spoken(text: str) -> str:
    """``text`` as words are spoken: lower case, no punctuation, numbers under 1000 in words
    (the inverse of :func:`digits`; how a reply is recognised back)."""
    out = []
    for w in re.findall(r"[a-z]+(?:'[a-z]+)?|\d+", text.lower().replace("\u2019", "'")):
        out.append(number_words(int(w)) if w.isdigit() and int(w) < 1000 else w)
    return " ".join(out)
