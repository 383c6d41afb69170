"""Giving the entity values found in a text to an intent's slots.

An intent may have several slots of one entity ("from {origin} to {destination}"). The words
next to each placeholder in the intent's examples (:class:`SlotContext`) say which value goes
where: "to paris from london" gives London to ``origin`` because "from" precedes ``{origin}``.
With nothing to go on, the k-th value goes to the k-th slot in the order the examples use them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from dialoghub.nlu.entities import Analysis, Match, best_non_overlapping
from dialoghub.nlu.types import SlotValue

__all__ = ["SlotContext", "assign_slots"]


@dataclass(frozen=True, slots=True)
class SlotContext:
    """The words next to a slot's placeholder across an intent's examples."""

    before: frozenset[str]
    before2: frozenset[str]  # two words before: "from the city of {origin}"
    after: frozenset[str]

    def affinity(self, words: Sequence[str], m: Match) -> float:
        """How well the words around a match fit this slot (0 when nothing is known)."""
        score = 0.0
        if m.start >= 1 and words[m.start - 1] in self.before:
            score += 2.0
        elif m.start >= 2 and words[m.start - 2] in self.before2:
            score += 0.5
        if m.end < len(words) and words[m.end] in self.after:
            score += 1.0
        return score


def assign_slots(
    entity_slots: Sequence[tuple[str, Sequence[str]]],
    contexts: dict[str, SlotContext],
    analysis: Analysis,
    matches: Sequence[Match],
) -> dict[str, SlotValue]:
    """Slot name -> value, from ``matches`` (any entities; overlaps are resolved here).

    ``entity_slots`` lists each entity with its slots in example order.
    """
    wanted = {entity for entity, _ in entity_slots}
    chosen = best_non_overlapping([m for m in matches if m.entity in wanted])
    result: dict[str, SlotValue] = {}
    for entity, slots in entity_slots:
        found = [m for m in chosen if m.entity == entity]
        if not found:
            continue
        # Greedy, best fitting pair first; ties go to the k-th value for the k-th slot.
        pairs = sorted(
            (-contexts[slot].affinity(analysis.words, m), abs(si - mi), mi, si)
            for si, slot in enumerate(slots)
            for mi, m in enumerate(found)
        )
        used_slots: set[int] = set()
        used_matches: set[int] = set()
        for _, _, mi, si in pairs:
            if si in used_slots or mi in used_matches:
                continue
            used_slots.add(si)
            used_matches.add(mi)
            m = found[mi]
            text = analysis.text[m.char_start : m.char_end]
            result[slots[si]] = SlotValue(m.value, text, m.char_start, m.char_end)
    return dict(sorted(result.items()))
