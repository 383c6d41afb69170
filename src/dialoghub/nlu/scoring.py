"""How well a text fits each intent: the matcher's scores over the terms of the examples.

Every intent example is a bag of *terms*: its normalized words, with each ``{slot}``
placeholder replaced by an entity term (``@city``). The user's text becomes a bag the same
way (:mod:`.words`), and every entity value found in it adds its entity term, so "weather in
the big apple" and "weather in {city}" share ``weather``, ``in`` and ``@city``.

Terms are weighted by how few intents use them (inverse document frequency over intents, so
"weather" outweighs "the"). For each example, ``matched`` is the weight the text and the
example share, and the score is the geometric mean of

* how much of the text the example explains (``matched / weight of the text``), and
* how much of the example the text contains (``matched / weight of the example``);

an intent scores as its best example (a text sharing only slot values with an example that
has words is scaled down: "3" alone hardly means "volume {level}"). Filler words the model
never uses ("um", "please") weigh nothing; other unknown words weigh half as much as a word
only one intent uses, so "order a cheeseburger" is a weaker match for "order a {pizza}" than
"order a margherita". Spell-corrected words count a little less than exact ones. Word order
does not matter.

:class:`ScoreIndex` holds what scoring needs, computed once per model: the weights, each
term's postings (the examples and intents using it, and how often) and each example's norm.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from dialoghub.nlu.entities import Analysis, Match
from dialoghub.nlu.normalize import STOPWORDS
from dialoghub.nlu.words import OTHER, TERM

__all__ = ["ScoreIndex"]

# Entity terms weigh less than words: "Paris" alone says which city, hardly which intent.
_ENTITY_DAMPING = 0.5
# And a text that shares only slot values with an example that also has words ("3" with
# "volume {level}") is scaled down again: it answers a question rather than asks for something.
# An example made of slots only ("{city}") is not affected.
_VALUES_ONLY = 0.8
_VALUES_ONLY_SQUARED = _VALUES_ONLY * _VALUES_ONLY


def _damping(term: str) -> float:
    if term.startswith("@"):
        return _ENTITY_DAMPING
    return 0.5 if term in STOPWORDS else 1.0


# A term's postings: (examples, counts there, intents, counts there).
_Posting = tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...], tuple[int, ...]]


class ScoreIndex:
    """The weights and postings of a model's example terms (see the module docstring)."""

    def __init__(
        self, example_terms: Sequence[Sequence[str]], example_intent: Sequence[int], n_intents: int
    ) -> None:
        """Index ``example_terms`` (one bag per example), ``example_intent[k]`` the index of
        the intent owning example ``k``; an intent's examples are consecutive."""
        self._n_intents = n_intents
        # Weights: inverse document frequency over intents, never zero.
        intent_terms: dict[str, set[int]] = {}
        for ex, bag in enumerate(example_terms):
            for term in bag:
                intent_terms.setdefault(term, set()).add(example_intent[ex])
        n = n_intents
        self._weight = {
            t: math.log(1.0 + n / len(owners)) * _damping(t)
            for t, owners in sorted(intent_terms.items())
        }
        self._penalty = 0.5 * math.log(1.0 + n)

        postings: dict[str, list[tuple[int, int]]] = {}
        self._norm: list[float] = []
        for ex, bag in enumerate(example_terms):
            counts: dict[str, int] = {}
            for term in bag:
                counts[term] = counts.get(term, 0) + 1
            for term, count in counts.items():
                postings.setdefault(term, []).append((ex, count))
            # Never zero: a bag is never empty (compile_intent drops empty examples) and
            # every weight is positive.
            self._norm.append(sum(self._weight[t] * c for t, c in counts.items()))
        # Per example, what scoring needs: its inverse weight, its intent, and the factor for
        # a text that shares only slot values with it (squared, as scores are).
        self._example_static = [
            (
                1.0 / self._norm[ex],
                example_intent[ex],
                _VALUES_ONLY_SQUARED if any(t[0] != "@" for t in bag) else 1.0,
            )
            for ex, bag in enumerate(example_terms)
        ]
        # Each intent's examples are numbered consecutively: intent k owns ranges[k].
        counts_per_intent = [0] * n_intents
        for owner in example_intent:
            counts_per_intent[owner] += 1
        self._ranges: list[tuple[int, int]] = []
        first = 0
        for count in counts_per_intent:
            self._ranges.append((first, first + count))
            first += count
        # Per term: the examples using it and how often, and the same per intent (a term's
        # count in an intent is its largest count in any one of the intent's examples).
        self._postings: dict[str, _Posting] = {}
        for term, post in sorted(postings.items()):
            most: dict[int, int] = {}
            for ex, count in post:
                owner = example_intent[ex]
                if count > most.get(owner, 0):
                    most[owner] = count
            per_intent = sorted(most.items())
            self._postings[term] = (
                tuple(ex for ex, _ in post),
                tuple(c for _, c in post),
                tuple(i for i, _ in per_intent),
                tuple(c for _, c in per_intent),
            )

    def scores(self, analysis: Analysis, kinds: list[int], matches: list[Match]) -> list[float]:
        """Every intent's score in [0, 1], by intent index, for an analysed text (``kinds``:
        each word's :data:`~dialoghub.nlu.words.TERM`, ``FILLER`` or ``OTHER``) and the entity
        values found in it."""
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
            if kind == TERM:
                count, q = bag.get(form, (0, 1.0))
                bag[form] = (count + 1, min(q, analysis.quality[k]))
                # Words inside an entity value are accounted for by the entity term; they may
                # still match an example that spells the value out ("a large pizza"). A
                # repeated word ("bye bye") says nothing new, so it weighs once.
                if not covered[k] and count == 0:
                    text_weight += weight[form]
            elif kind == OTHER and not covered[k]:
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
        shared_intent = [0.0] * self._n_intents
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
