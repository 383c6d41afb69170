"""The recognizer: which intent a text expresses, how sure that is, and its slots.

How a text is scored
--------------------
Every intent example becomes a bag of *terms*: its normalized words, with each ``{slot}``
placeholder replaced by an entity term (``@city``). The user's text becomes a bag the same
way: its words are normalized (:mod:`.normalize`), words the model does not know are
spell-corrected towards the model's vocabulary (:mod:`.fuzzy`), and every entity value found
in it (:mod:`.entities`) adds its entity term, so "weather in the big apple" and
"weather in {city}" share ``weather``, ``in`` and ``@city``.

Terms are weighted by how few intents use them (inverse document frequency over intents, so
"weather" outweighs "the"). For each example, ``matched`` is the weight the text and the
example share, and the score is the geometric mean of

* how much of the text the example explains (``matched / weight of the text``), and
* how much of the example the text contains (``matched / weight of the example``);

an intent scores as its best example (a text sharing only slot values with an example that
has words is scaled down: "3" alone hardly means "volume {level}"). Filler words the model
never uses ("um", "please") weigh nothing; other unknown words weigh half as much as a word
only one intent uses, so
"order a cheeseburger" is a weaker match for "order a {pizza}" than "order a margherita".
Spell-corrected words count a little less than exact ones. Word order does not matter, and
slots are found wherever they are in the text.

Slots
-----
The chosen intent's entities are read from the text, overlaps resolved (longer, then more
specific readings win), and each value is given to a slot. When an intent has several slots
of one entity ("from {origin} to {destination}"), the words around each placeholder in the
examples decide which value goes where.

Everything is compiled in ``__init__``; ``recognize`` does no regex compilation, no sorting of
the model, and caches the analysis of every distinct written word.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from dialoghub.errors import ModelError
from dialoghub.nlu.entities import (
    Analysis,
    Match,
    Matcher,
    best_non_overlapping,
    compile_entity,
)
from dialoghub.nlu.examples import PLACEHOLDER
from dialoghub.nlu.fuzzy import Speller
from dialoghub.nlu.normalize import (
    COMMON_WORDS,
    FILLERS,
    STOPWORDS,
    normalize_word,
    scan,
    split_word,
    tokenize,
)
from dialoghub.nlu.numbers import NUMBER_WORDS
from dialoghub.nlu.slots import SlotContext, assign_slots
from dialoghub.nlu.times import TIME_WORDS
from dialoghub.nlu.types import EntityKind, EntitySpec, IntentSpec, Recognition, SlotValue

__all__ = ["Recognizer"]

# ``{slot}`` or ``{slot=value}`` (the value is for the learned recognizer's tagger; here a
# placeholder stands for its entity, whatever the value).
_PLACEHOLDER = PLACEHOLDER

# Entity names that work without being declared: slots may say `entity: number` directly.
_BUILTIN = {"number": EntityKind.NUMBER, "time": EntityKind.TIME}

# How much a spell-corrected word counts, by the number of edits it took.
_CORRECTED = (1.0, 0.85, 0.7)

#: How many runner-up intents a recognition lists.
MAX_ALTERNATIVES = 5

# What a word of the text is to the scorer.
_TERM = 0  # a word some example uses
_FILLER = 1  # a filler word no example uses: ignored
_OTHER = 2  # any other word: counts against every intent


# Entity terms weigh less than words: "Paris" alone says which city, hardly which intent.
_ENTITY_DAMPING = 0.5
# And a text that shares only slot values with an example that also has words ("3" with
# "volume {level}") is scaled down again: it answers a question rather than asks for something.
# An example made of slots only ("{city}") is not affected.
_VALUES_ONLY = 0.8
_VALUES_ONLY_SQUARED = _VALUES_ONLY * _VALUES_ONLY


#: The most words an unknown value of an open entity may have ("San Sebastian de los Reyes"
#: is asked again; "Saint Malo" is fine).
_OPEN_WORDS = 4
#: Words a follow-up may wrap a bare value in ("what about tomorrow?").
_FOLLOW_UP = frozenset({"what", "how", "about", "and", "then", "instead"})


def _open_value(analysis: Analysis, start: int, end: int) -> SlotValue:
    """The words ``[start:end]`` as written, capitalized when written all in lower case."""
    cs, ce = analysis.spans[start][0], analysis.spans[end - 1][1]
    said = analysis.text[cs:ce]
    value = said.title() if said.islower() else said
    return SlotValue(value, said, cs, ce)


def _damping(term: str) -> float:
    if term.startswith("@"):
        return _ENTITY_DAMPING
    return 0.5 if term in STOPWORDS else 1.0


# A term's postings: (examples, counts there, intents, counts there).
_Posting = tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...], tuple[int, ...]]


class _Word(NamedTuple):
    form: str  # normalized, spell-corrected
    quality: float
    kind: int


@dataclass(frozen=True, slots=True)
class _Intent:
    name: str
    slots: dict[str, str]  # slot -> entity
    entity_slots: tuple[tuple[str, tuple[str, ...]], ...]  # entity -> its slots, in order
    contexts: dict[str, SlotContext]


class Recognizer:
    """Intent and slot recognition for one model's intents and entities.

    >>> from dialoghub.nlu import EntitySpec, EntityValue, IntentSpec
    >>> city = EntitySpec("city", values=(EntityValue("New York", ("the big apple",)),))
    >>> weather = IntentSpec("weather", ("what's the weather in {city}",), {"city": "city"})
    >>> r = Recognizer([weather], [city]).recognize("Wether in the Big Apple?")
    >>> r.intent, r.slots["city"].value
    ('weather', 'New York')
    """

    def __init__(
        self,
        intents: Sequence[IntentSpec],
        entities: Sequence[EntitySpec],
        *,
        threshold: float = 0.5,
    ) -> None:
        """Compile ``intents`` and ``entities``; raise :class:`ModelError` if they don't fit.

        ``threshold`` is the confidence below which :meth:`recognize` answers no intent.
        Slots may name an undeclared entity ``number`` or ``time``: the built-in ones.
        """
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must be in [0, 1], not {threshold!r}")
        self.threshold = threshold
        specs: dict[str, EntitySpec] = {}
        for spec in entities:
            if spec.name in specs:
                raise ModelError(f"entity {spec.name!r} is declared twice", entity=spec.name)
            specs[spec.name] = spec
        self._specs = specs
        self._matchers: dict[str, Matcher] = {n: compile_entity(s) for n, s in specs.items()}
        self._open = frozenset(n for n, s in specs.items() if s.open and s.kind is EntityKind.LIST)

        self._intents: list[_Intent] = []
        example_terms: list[list[str]] = []
        example_intent: list[int] = []
        seen: set[str] = set()
        for intent in intents:
            if intent.name in seen:
                raise ModelError(f"intent {intent.name!r} is declared twice", intent=intent.name)
            seen.add(intent.name)
            index = len(self._intents)
            compiled, terms = self._compile_intent(intent)
            self._intents.append(compiled)
            for bag in terms:
                example_terms.append(bag)
                example_intent.append(index)
        self._names = [i.name for i in self._intents]
        self._index = {name: k for k, name in enumerate(self._names)}

        # Entities the scorer looks for: those some intent has a slot for, in a fixed order.
        used = sorted({e for i in self._intents for e in i.slots.values()})
        self._used: list[tuple[str, Matcher]] = [(e, self._matchers[e]) for e in used]

        # Weights: inverse document frequency over intents, never zero.
        intent_terms: dict[str, set[int]] = {}
        for bag, owner in zip(example_terms, example_intent, strict=True):
            for term in bag:
                intent_terms.setdefault(term, set()).add(owner)
        n_intents = max(len(self._intents), 1)
        self._weight = {
            t: math.log(1.0 + n_intents / len(owners)) * _damping(t)
            for t, owners in sorted(intent_terms.items())
        }
        self._penalty = 0.5 * math.log(1.0 + n_intents)

        postings: dict[str, list[tuple[int, int]]] = {}
        self._norm: list[float] = []
        for ex, bag in enumerate(example_terms):
            counts: dict[str, int] = {}
            for term in bag:
                counts[term] = counts.get(term, 0) + 1
            for term, count in counts.items():
                postings.setdefault(term, []).append((ex, count))
            self._norm.append(sum(self._weight[t] * c for t, c in counts.items()) or 1.0)
        # Per example, what scoring needs: its inverse weight, its intent, and the factor for
        # a text that shares only slot values with it (squared, as scores are).
        self._example_static = [
            (
                1.0 / norm,
                owner,
                _VALUES_ONLY_SQUARED if any(t[0] != "@" for t in bag) else 1.0,
            )
            for norm, owner, bag in zip(self._norm, example_intent, example_terms, strict=True)
        ]
        # Each intent's examples are numbered consecutively: intent k owns ranges[k].
        self._ranges: list[tuple[int, int]] = []
        for k in range(len(self._intents)):
            first = example_intent.index(k) if k in example_intent else 0
            count = example_intent.count(k)
            self._ranges.append((first, first + count))
        # Per term: the examples using it and how often, and the same per intent (a term's
        # count in an intent is its largest count in any one of the intent's examples).
        self._postings: dict[str, _Posting] = {}
        for term, post in sorted(postings.items()):
            most: dict[int, int] = {}
            for ex, count in post:
                owner = example_intent[ex]
                most[owner] = max(most.get(owner, 0), count)
            per_intent = sorted(most.items())
            self._postings[term] = (
                tuple(ex for ex, _ in post),
                tuple(c for _, c in post),
                tuple(i for i, _ in per_intent),
                tuple(c for _, c in per_intent),
            )
        self._example_intent = example_intent

        frequency: dict[str, int] = {}
        for bag in example_terms:
            for term in bag:
                frequency[term] = frequency.get(term, 0) + 1
        vocabulary = {t for t in frequency if not t.startswith("@")}
        for matcher in self._matchers.values():
            vocabulary |= matcher.words
        vocabulary |= NUMBER_WORDS | TIME_WORDS
        self._speller = Speller(vocabulary, rank=frequency)
        self._words: dict[str, tuple[_Word, ...]] = {}

    # --- compiling -------------------------------------------------------------------------

    def _entity_for(self, intent: str, slot: str, entity: str) -> str:
        """Resolve a slot's entity name, adding a built-in on first use."""
        if entity not in self._matchers:
            kind = _BUILTIN.get(entity)
            if kind is None:
                raise ModelError(
                    f"intent {intent!r}: slot {slot!r} uses unknown entity {entity!r}",
                    intent=intent,
                    slot=slot,
                    entity=entity,
                )
            self._matchers[entity] = compile_entity(EntitySpec(entity, kind))
        return entity

    def _compile_intent(self, spec: IntentSpec) -> tuple[_Intent, list[list[str]]]:
        slots = {s: self._entity_for(spec.name, s, e) for s, e in spec.slots.items()}
        order: list[str] = []  # slots in order of first appearance in the examples
        before: dict[str, set[str]] = {}
        before2: dict[str, set[str]] = {}
        after: dict[str, set[str]] = {}
        bags: list[list[str]] = []
        for example in spec.examples:
            seq: list[tuple[str, str | None]] = []  # (term, slot name or None)
            pos = 0
            for m in _PLACEHOLDER.finditer(example):
                seq.extend((t.norm, None) for t in tokenize(example[pos : m.start()]))
                slot = m.group(1)
                if slot not in slots:
                    # A placeholder named after an entity (or a built-in) needs no declaration.
                    if slot in self._matchers or slot in _BUILTIN:
                        slots[slot] = self._entity_for(spec.name, slot, slot)
                    else:
                        raise ModelError(
                            f"intent {spec.name!r}: example {example!r} uses undeclared slot "
                            f"{{{slot}}}",
                            intent=spec.name,
                            slot=slot,
                        )
                seq.append(("@" + slots[slot], slot))
                pos = m.end()
            seq.extend((t.norm, None) for t in tokenize(example[pos:]))
            if not seq:
                continue
            bags.append([term for term, _ in seq])
            for k, (_, slot) in enumerate(seq):
                if slot is None:
                    continue
                if slot not in order:
                    order.append(slot)
                if k >= 1 and seq[k - 1][1] is None:
                    before.setdefault(slot, set()).add(seq[k - 1][0])
                if k >= 2 and seq[k - 2][1] is None:
                    before2.setdefault(slot, set()).add(seq[k - 2][0])
                if k + 1 < len(seq) and seq[k + 1][1] is None:
                    after.setdefault(slot, set()).add(seq[k + 1][0])
        order.extend(s for s in slots if s not in order)
        by_entity: dict[str, list[str]] = {}
        for slot in order:
            by_entity.setdefault(slots[slot], []).append(slot)
        contexts = {
            s: SlotContext(
                frozenset(before.get(s, ())), frozenset(before2.get(s, ())),
                frozenset(after.get(s, ())),
            )
            for s in order
        }  # fmt: skip
        entity_slots = tuple((e, tuple(ss)) for e, ss in sorted(by_entity.items()))
        return _Intent(spec.name, slots, entity_slots, contexts), bags

    # --- analysing text --------------------------------------------------------------------

    def _word(self, raw: str) -> tuple[_Word, ...]:
        """What one written word is to the scorer (cached: users repeat themselves)."""
        cached = self._words.get(raw)
        if cached is not None:
            return cached
        parts: list[_Word] = []
        for part in split_word(normalize_word(raw)):
            if not part:
                continue
            if part in self._speller:
                parts.append(_Word(part, 1.0, _TERM if part in self._weight else _OTHER))
            elif part in FILLERS:
                parts.append(_Word(part, 1.0, _FILLER))
            elif part in COMMON_WORDS:
                parts.append(_Word(part, 1.0, _OTHER))  # a real word, not a typo
            else:
                fixed = self._speller.correct(part)
                if fixed is None:
                    parts.append(_Word(part, 1.0, _OTHER))
                else:
                    form, edits = fixed
                    kind = _TERM if form in self._weight else _OTHER
                    parts.append(_Word(form, _CORRECTED[edits], kind))
        result = tuple(parts)
        if len(self._words) > 100_000:  # a bound for adversarial input, not an LRU
            self._words.clear()
        self._words[raw] = result
        return result

    def _analyse(self, text: str) -> tuple[Analysis, list[int]]:
        words: list[str] = []
        spans: list[tuple[int, int]] = []
        quality: list[float] = []
        kinds: list[int] = []
        for raw, start, end in scan(text):
            for w in self._word(raw):
                words.append(w.form)
                spans.append((start, end))
                quality.append(w.quality)
                kinds.append(w.kind)
        return Analysis(text, words, spans, quality), kinds

    # --- scoring ---------------------------------------------------------------------------

    def _scores(self, analysis: Analysis, kinds: list[int], matches: list[Match]) -> list[float]:
        """Every intent's score, by intent index."""
        weight = self._weight
        words = analysis.words
        covered = [False] * len(words)
        for m in matches:
            for k in range(m.start, m.end):
                covered[k] = True
        bag: dict[str, tuple[int, float]] = {}
        text_weight = 0.0
        for k, form in enumerate(words):
            kind = kinds[k]
            if kind == _TERM:
                count, q = bag.get(form, (0, 1.0))
                bag[form] = (count + 1, min(q, analysis.quality[k]))
                # Words inside an entity value are accounted for by the entity term; they may
                # still match an example that spells the value out ("a large pizza"). A
                # repeated word ("bye bye") says nothing new, so it weighs once.
                if not covered[k] and count == 0:
                    text_weight += weight[form]
            elif kind == _OTHER and not covered[k]:
                text_weight += self._penalty
        # Entity terms. Readings of the same words by different entities ("7" as a number
        # and as a time) are alternatives: the text weighs only the heaviest of them.
        cluster_end = -1
        cluster_weight = 0.0
        for m in sorted(matches, key=lambda m: (m.char_start, m.char_end, m.entity)):
            term = "@" + m.entity
            count, q = bag.get(term, (0, 1.0))
            bag[term] = (count + 1, min(q, m.score))
            w = weight.get(term, 0.0)
            if m.char_start >= cluster_end:
                text_weight += cluster_weight
                cluster_weight = w
            else:
                cluster_weight = max(cluster_weight, w)
            cluster_end = max(cluster_end, m.char_end)
        text_weight += cluster_weight

        shared = [0.0] * len(self._norm)
        shared_words = [0.0] * len(self._norm)  # the part of `shared` that is words
        shared_intent = [0.0] * len(self._intents)
        postings = self._postings
        for term, (count, q) in bag.items():
            post = postings.get(term)
            if post is None:
                continue
            w = weight[term] * q
            examples, counts, intents, intent_counts = post
            if count == 1:  # the usual case: min(count, n) is 1 for every example
                for ex in examples:
                    shared[ex] += w
                if term[0] != "@":
                    for ex in examples:
                        shared_words[ex] += w
                for i in intents:
                    shared_intent[i] += w
                continue
            for ex, n in zip(examples, counts, strict=True):
                part = w * (count if count < n else n)
                shared[ex] += part
                if term[0] != "@":
                    shared_words[ex] += part
            for i, n in zip(intents, intent_counts, strict=True):
                shared_intent[i] += w * (count if count < n else n)
        if text_weight <= 0.0:
            text_weight = 1e-9  # only words inside entity values: they explain everything
        # How much of the text an example explains is the mean of what the example itself
        # shares with it and what all the intent's examples together share with it, so
        # "hello there" fits an intent with the examples "hello" and "hi there" better than
        # an intent with only "hello". Below, each example's score is computed squared and
        # doubled, (of_example_text + of_intent_text) * of_example, with the constant half and
        # the root applied once per intent; clamping is written out because calls cost.
        inv_text = 1.0 / text_weight
        of_intent = [1.0 if m >= text_weight else m * inv_text for m in shared_intent]
        doubled = [
            ((1.0 if m >= text_weight else m * inv_text) + of_intent[i])
            * (m * inv_norm)  # never above 1: an example shares at most all of itself
            * (1.0 if mw else values_only)
            for m, mw, (inv_norm, i, values_only) in zip(
                shared, shared_words, self._example_static, strict=True
            )
        ]
        return [min(math.sqrt(0.5 * max(doubled[a:b], default=0.0)), 1.0) for a, b in self._ranges]

    def _find(self, analysis: Analysis, matchers: Sequence[tuple[str, Matcher]]) -> list[Match]:
        found: list[Match] = []
        if analysis.text:
            for _, matcher in matchers:
                found.extend(matcher.find(analysis))
        return found

    def _slots(
        self, intent: _Intent, analysis: Analysis, matches: list[Match]
    ) -> dict[str, SlotValue]:
        return assign_slots(intent.entity_slots, intent.contexts, analysis, matches)

    # --- public API ------------------------------------------------------------------------

    @property
    def intents(self) -> tuple[str, ...]:
        """The names of the intents, in declaration order."""
        return tuple(self._names)

    @property
    def entity_specs(self) -> dict[str, EntitySpec]:
        """Every entity by name: the declared ones and the built-ins the intents use."""
        out = dict(self._specs)
        for name in self._matchers:
            if name not in out:
                out[name] = EntitySpec(name, _BUILTIN[name])
        return out

    def intent_slots(self, intent: str) -> dict[str, str]:
        """Slot name -> entity name of ``intent`` (placeholders named after entities too)."""
        return dict(self._intents[self._index[intent]].slots)

    def analyse(self, text: str) -> Analysis:
        """``text`` as the scorer and the matchers see it (normalized, spell-corrected)."""
        return self._analyse(text)[0]

    def entity_matches(self, analysis: Analysis, entities: Collection[str]) -> list[Match]:
        """Every value of these entities in ``analysis``, overlaps included (unknown names are
        ignored)."""
        return self._find(
            analysis, [(e, self._matchers[e]) for e in entities if e in self._matchers]
        )

    def intent_scores(self, text: str) -> tuple[Analysis, list[Match], list[float]]:
        """The analysis of ``text``, the entity values found in it, and every intent's score
        (in declaration order): what :meth:`recognize` ranks."""
        analysis, kinds = self._analyse(text)
        matches = self._find(analysis, self._used)
        return analysis, matches, self._scores(analysis, kinds, matches)

    def assign(self, intent: str, analysis: Analysis, matches: list[Match]) -> dict[str, SlotValue]:
        """The slots of ``intent`` that ``matches`` fill, as :meth:`recognize` gives them."""
        return self._slots(self._intents[self._index[intent]], analysis, matches)

    def recognize(self, text: str, *, allowed: Collection[str] | None = None) -> Recognition:
        """The intent ``text`` most likely expresses, with its confidence and slots.

        With ``allowed``, only those intents are candidates (unknown names are ignored); call
        again without it to learn whether the text fits an intent that is not allowed here.
        ``intent`` is None when the best candidate scores below the threshold; its score is
        still the ``confidence`` and ``alternatives`` then starts with it, so a caller can
        say "did you mean ...". Otherwise ``alternatives`` lists the runners-up (score > 0,
        at most :data:`MAX_ALTERNATIVES`, best first): two close scores mean ambiguity.
        """
        if not text or text.isspace():
            return Recognition(None, 0.0)
        analysis, kinds = self._analyse(text)
        matches = self._find(analysis, self._used)
        scores = self._scores(analysis, kinds, matches)
        candidates: Sequence[int] = range(len(scores))
        if allowed is not None:
            candidates = [i for i in candidates if self._names[i] in allowed]
        ranked = sorted((i for i in candidates if scores[i] > 0.0), key=lambda i: (-scores[i], i))
        if not ranked:
            return Recognition(None, 0.0)
        best = ranked[0]
        confidence = round(min(scores[best], 1.0), 4)
        if confidence < self.threshold:
            alternatives = self._alternatives(scores, ranked[:MAX_ALTERNATIVES])
            return Recognition(None, confidence, {}, alternatives)
        alternatives = self._alternatives(scores, ranked[1 : MAX_ALTERNATIVES + 1])
        slots = self._slots(self._intents[best], analysis, matches)
        self._open_slots(self._intents[best], slots, analysis, kinds, matches)
        # Intents that score as the best does: declaration order picked ``best``, not the
        # text, so the tie is reported for the caller to ask (the ``ambiguous`` handler).
        tied = tuple(self._names[i] for i in ranked if scores[i] == scores[best])
        return Recognition(
            self._names[best], confidence, slots, alternatives, tied if len(tied) > 1 else ()
        )

    def _alternatives(
        self, scores: list[float], ranked: list[int]
    ) -> tuple[tuple[str, float], ...]:
        return tuple((self._names[i], round(min(scores[i], 1.0), 4)) for i in ranked)

    # --- values outside an open entity's list ----------------------------------------------

    def _open_slots(
        self, intent: _Intent, slots: dict[str, SlotValue], analysis: Analysis,
        kinds: list[int], matches: list[Match],
    ) -> None:
        """Fill each empty slot of an open entity with an unknown value where the examples
        put the slot: the words the model does not know right after a word that comes
        before ``{slot}`` in an example ("weather in Lyon": ``in``)."""
        if not self._open:
            return
        covered = {k for m in matches for k in range(m.start, m.end)}
        words = analysis.words
        for slot, entity in intent.slots.items():
            if slot in slots or entity not in self._open or slot not in intent.contexts:
                continue
            before = intent.contexts[slot].before
            for k in range(len(words) - 1):
                if words[k] not in before:
                    continue
                end = k + 1
                while (end < len(words) and end - k <= _OPEN_WORDS and kinds[end] == _OTHER
                       and end not in covered):
                    end += 1
                if end > k + 1:
                    slots[slot] = _open_value(analysis, k + 1, end)
                    break

    def open_answer(self, entity: str, text: str) -> SlotValue | None:
        """A short answer that is a value outside the list of the open entity ``entity``
        ("Lyon" to "Which city?"): a few words the model does not know, the function words
        around them dropped ("in Lyon please"). None when the entity is not open, the text
        holds a value some entity knows, or it is more than a short phrase."""
        if entity not in self._open or not text or text.isspace():
            return None
        analysis, kinds = self._analyse(text)
        if self._find(analysis, self._used):
            return None
        content = [k for k, form in enumerate(analysis.words)
                   if not (kinds[k] == _FILLER or form in FILLERS or form in STOPWORDS)]
        if not content or len(content) > _OPEN_WORDS:
            return None
        first, last = content[0], content[-1]
        if content != list(range(first, last + 1)) or any(kinds[k] != _OTHER for k in content):
            return None
        return _open_value(analysis, first, last + 1)

    # --- a value alone --------------------------------------------------------------------

    def bare_values(self, text: str) -> dict[str, SlotValue]:
        """The entity values of a text that says nothing else ("london", "and tomorrow?"),
        by entity; empty when the text has other words. A listening state reads such a
        value as the one intent it belongs to."""
        if not text or text.isspace():
            return {}
        analysis, kinds = self._analyse(text)
        matches = best_non_overlapping(self._find(analysis, self._used))
        if not matches:
            return {}
        covered = {k for m in matches for k in range(m.start, m.end)}
        for k, form in enumerate(analysis.words):
            if k not in covered and not (
                kinds[k] == _FILLER or form in FILLERS or form in STOPWORDS or form in _FOLLOW_UP
            ):
                return {}
        out: dict[str, SlotValue] = {}
        for m in matches:
            out.setdefault(
                m.entity,
                SlotValue(m.value, analysis.text[m.char_start : m.char_end], m.char_start,
                          m.char_end),
            )
        return out

    def extract(self, entity: str, text: str) -> SlotValue | None:
        """One value of ``entity`` in ``text`` (the answer to "Which city?"), or None.

        The best reading wins (exact over spell-corrected, longer over shorter), then the
        leftmost. ``number`` and ``time`` work even when the model does not declare them.
        """
        matcher = self._matchers.get(entity)
        if matcher is None:
            self._entity_for("<extract>", entity, entity)
            matcher = self._matchers[entity]
        analysis, _ = self._analyse(text)
        found = self._find(analysis, [(entity, matcher)])
        if not found:
            return None
        m = min(found, key=lambda m: (-m.score, -(m.char_end - m.char_start), m.char_start))
        return SlotValue(m.value, text[m.char_start : m.char_end], m.char_start, m.char_end)

    def extract_slots(self, intent: str, text: str) -> dict[str, SlotValue]:
        """The slots of ``intent`` that ``text`` fills, whatever intent the text expresses."""
        index = self._index.get(intent)
        if index is None:
            raise ModelError(f"unknown intent {intent!r}", intent=intent, known=self._names)
        compiled = self._intents[index]
        analysis, _ = self._analyse(text)
        matchers = [(e, self._matchers[e]) for e, _ in compiled.entity_slots]
        return self._slots(compiled, analysis, self._find(analysis, matchers))
