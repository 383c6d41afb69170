"""The matcher: which intent a text expresses, how sure that is, and its slots.

The recognizer compiles a model's intents (:mod:`.intents`) and entities (:mod:`.entities`)
once. A text is read word by word (:mod:`.words`: normalized, spell-corrected towards the
model's vocabulary), the entity values in it are found, and every intent is scored by the
terms it shares with the intent's examples (:mod:`.scoring`). Word order does not matter, and
slots are found wherever they are in the text.

Slots
-----
The chosen intent's entities are read from the text, overlaps resolved (longer, then more
specific readings win), and each value is given to a slot (:mod:`.slots`). When an intent has
several slots of one entity ("from {origin} to {destination}"), the words around each
placeholder in the examples decide which value goes where. An open entity also takes
unknown words where the examples put its slot (:mod:`.open_values`).

Everything is compiled in ``__init__``; ``recognize`` does no regex compilation, no sorting of
the model, and caches the analysis of every distinct written word.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence

from dialoghub.errors import ModelError
from dialoghub.nlu import open_values
from dialoghub.nlu.entities import Analysis, Match, Matcher, compile_entity
from dialoghub.nlu.intents import CompiledIntent, compile_intent
from dialoghub.nlu.numbers import NUMBER_WORDS
from dialoghub.nlu.scoring import ScoreIndex
from dialoghub.nlu.slots import assign_slots
from dialoghub.nlu.times import TIME_WORDS
from dialoghub.nlu.types import EntityKind, EntitySpec, IntentSpec, Recognition, SlotValue
from dialoghub.nlu.words import WordReader

__all__ = ["MAX_ALTERNATIVES", "Recognizer"]

# Entity names that work without being declared: slots may say `entity: number` directly.
_BUILTIN = {"number": EntityKind.NUMBER, "time": EntityKind.TIME}

#: How many runner-up intents a recognition lists.
MAX_ALTERNATIVES = 5
#: Decimal places of a reported score (confidence, alternatives); scores equal at these tie.
DIGITS = 4


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
        score_now: bool = True,
    ) -> None:
        """Compile ``intents`` and ``entities``; raise :class:`ModelError` if they don't fit.

        ``threshold`` is the confidence below which :meth:`recognize` answers no intent.
        Slots may name an undeclared entity ``number`` or ``time``: the built-in ones.
        ``score_now=False`` leaves the scoring tables until a score is first asked for: for
        a caller that mostly analyses texts and reads slots (the learned recognizer of a
        model with many examples never scores).
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

        self._intents: list[CompiledIntent] = []
        example_terms: list[list[str]] = []
        example_intent: list[int] = []
        seen: set[str] = set()
        for intent in intents:
            if intent.name in seen:
                raise ModelError(f"intent {intent.name!r} is declared twice", intent=intent.name)
            seen.add(intent.name)
            index = len(self._intents)
            compiled, terms = compile_intent(intent, self._entity_for, self._known)
            self._intents.append(compiled)
            for bag in terms:
                example_terms.append(bag)
                example_intent.append(index)
        self._names = [i.name for i in self._intents]
        self._index = {name: k for k, name in enumerate(self._names)}

        # Entities the scorer looks for: those some intent has a slot for, in a fixed order.
        used = sorted({e for i in self._intents for e in i.slots.values()})
        self._used: list[tuple[str, Matcher]] = [(e, self._matchers[e]) for e in used]

        self._example_terms = example_terms
        self._example_intent = example_intent
        self._scorer: ScoreIndex | None = None
        if score_now:
            self._scorer = ScoreIndex(example_terms, example_intent, len(self._intents))

        # How often the examples use each term: spelling ties go to the more frequent word.
        frequency = Counter(term for bag in example_terms for term in bag)
        vocabulary = {t for t in frequency if not t.startswith("@")}
        for matcher in self._matchers.values():
            vocabulary |= matcher.words
        vocabulary |= NUMBER_WORDS | TIME_WORDS
        self._reader = WordReader(vocabulary, frozenset(frequency), dict(frequency))

    # --- compiling -------------------------------------------------------------------------

    def _known(self, entity: str) -> bool:
        """Whether ``entity`` is declared or built in (a built-in is added on first use)."""
        if entity in self._matchers:
            return True
        kind = _BUILTIN.get(entity)
        if kind is None:
            return False
        self._matchers[entity] = compile_entity(EntitySpec(entity, kind))
        return True

    def _entity_for(self, intent: str, slot: str, entity: str) -> str:
        """Resolve a slot's entity name (a built-in is added on first use)."""
        if not self._known(entity):
            raise ModelError(
                f"intent {intent!r}: slot {slot!r} uses unknown entity {entity!r}",
                intent=intent,
                slot=slot,
                entity=entity,
            )
        return entity

    # --- analysing and scoring -------------------------------------------------------------

    def _analyse(self, text: str) -> tuple[Analysis, list[int]]:
        return self._reader.analyse(text)

    def _scores(self, analysis: Analysis, kinds: list[int], matches: list[Match]) -> list[float]:
        """Every intent's score, by intent index."""
        scorer = self._scorer
        if scorer is None:
            scorer = self._scorer = ScoreIndex(
                self._example_terms, self._example_intent, len(self._intents)
            )
        return scorer.scores(analysis, kinds, matches)

    def _find(self, analysis: Analysis, matchers: Sequence[tuple[str, Matcher]]) -> list[Match]:
        found: list[Match] = []
        if analysis.text:
            for _, matcher in matchers:
                found.extend(matcher.find(analysis))
        return found

    def _slots(
        self, intent: CompiledIntent, analysis: Analysis, matches: list[Match]
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
        analysis, kinds = self._analyse(text)  # no words (an empty text): every score 0
        matches = self._find(analysis, self._used)
        scores = self._scores(analysis, kinds, matches)
        candidates: Sequence[int] = range(len(scores))
        if allowed is not None:
            candidates = [i for i in candidates if self._names[i] in allowed]
        # Best first; equal scores in declaration order (a stable sort keeps it, reversed too).
        ranked = sorted(
            (i for i in candidates if scores[i] > 0.0), key=scores.__getitem__, reverse=True
        )
        if not ranked:
            return Recognition(None, 0.0)
        best = ranked[0]
        confidence = round(scores[best], DIGITS)  # scores are in [0, 1]
        if confidence < self.threshold:
            alternatives = self._alternatives(scores, ranked[:MAX_ALTERNATIVES])
            return Recognition(None, confidence, {}, alternatives)
        alternatives = self._alternatives(scores, ranked[1 : MAX_ALTERNATIVES + 1])
        slots = self._slots(self._intents[best], analysis, matches)
        self._open_slots(self._intents[best], slots, analysis, kinds, matches)
        # Intents that score as the best does: declaration order picked ``best``, not the
        # text, so the tie is reported for the caller to ask (the ``ambiguous`` handler).
        # Compared as reported (rounded): the same words in another order can sum to a
        # score one bit off (0.9999999999999999 against 1.0), which is no difference.
        tied = tuple(self._names[i] for i in ranked if round(scores[i], DIGITS) == confidence)
        return Recognition(
            self._names[best], confidence, slots, alternatives, tied if len(tied) > 1 else ()
        )

    def _alternatives(
        self, scores: list[float], ranked: list[int]
    ) -> tuple[tuple[str, float], ...]:
        return tuple((self._names[i], round(scores[i], DIGITS)) for i in ranked)

    # --- values outside an open entity's list, values alone --------------------------------

    def _open_slots(
        self, intent: CompiledIntent, slots: dict[str, SlotValue], analysis: Analysis,
        kinds: list[int], matches: list[Match],
    ) -> None:
        if self._open:
            open_values.open_slots(intent, self._open, slots, analysis, kinds, matches)

    def open_answer(self, entity: str, text: str) -> SlotValue | None:
        """A short answer that is a value outside the list of the open entity ``entity``
        ("Lyon" to "Which city?"): a few words the model does not know, the function words
        around them dropped ("in Lyon please"). None when the entity is not open, the text
        holds a value some entity knows, or it is more than a short phrase."""
        if entity not in self._open:
            return None
        analysis, kinds = self._analyse(text)
        if self._find(analysis, self._used):
            return None
        return open_values.open_answer(analysis, kinds)

    def bare_values(self, text: str) -> dict[str, SlotValue]:
        """The entity values of a text that says nothing else ("london", "and tomorrow?"),
        by entity; empty when the text has other words. A listening state reads such a
        value as the one intent it belongs to."""
        analysis, _ = self._analyse(text)
        return open_values.bare_values(analysis, self._find(analysis, self._used))

    def extract(self, entity: str, text: str) -> SlotValue | None:
        """One value of ``entity`` in ``text`` (the answer to "Which city?"), or None.

        The best reading wins (exact over spell-corrected, longer over shorter), then the
        leftmost. ``number`` and ``time`` work even when the model does not declare them.
        """
        self._entity_for("<extract>", entity, entity)  # a built-in, else ModelError
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
