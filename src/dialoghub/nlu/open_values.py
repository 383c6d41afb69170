"""Values the lists do not hold, and values said alone.

* An *open* list entity (``open: true``) also takes words outside its list: where an example
  puts the slot ("weather in Lyon": the unknown words right after ``in``), or as a short
  answer to the slot's question ("Lyon", "in Lyon please").
* A text that is only entity values ("london", "and tomorrow?") is a *bare* value: a
  listening state reads it as the one intent it belongs to.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from dialoghub.nlu.entities import Analysis, Match, best_non_overlapping
from dialoghub.nlu.intents import CompiledIntent
from dialoghub.nlu.normalize import FILLERS, STOPWORDS
from dialoghub.nlu.types import SlotValue
from dialoghub.nlu.words import OTHER

__all__ = ["FOLLOW_UP", "OPEN_WORDS", "bare_values", "open_answer", "open_slots", "open_value"]

#: The most words an unknown value of an open entity may have ("San Sebastian de los Reyes"
#: is asked again; "Saint Malo" is fine).
OPEN_WORDS = 4
#: Words a follow-up may wrap a bare value in ("what about tomorrow?").
FOLLOW_UP = frozenset({"what", "how", "about", "and", "then", "instead"})
# Words around a value that say nothing of it: fillers and function words, whether or not the
# model uses them ("in Lyon please", "thanks, Paris").
_AROUND = FILLERS | STOPWORDS


def open_value(analysis: Analysis, start: int, end: int) -> SlotValue:
    """The words ``[start:end]`` as written, capitalized when written all in lower case."""
    cs, ce = analysis.spans[start][0], analysis.spans[end - 1][1]
    said = analysis.text[cs:ce]
    value = said.title() if said.islower() else said
    return SlotValue(value, said, cs, ce)


def open_slots(
    intent: CompiledIntent,
    open_entities: Collection[str],
    slots: dict[str, SlotValue],
    analysis: Analysis,
    kinds: Sequence[int],
    matches: Sequence[Match],
) -> None:
    """Fill each empty slot of an open entity with an unknown value where the examples put
    the slot: the words the model does not know right after a word that comes before
    ``{slot}`` in an example ("weather in Lyon": ``in``)."""
    covered = {k for m in matches for k in range(m.start, m.end)}
    words = analysis.words
    for slot, entity in intent.slots.items():
        if slot in slots or entity not in open_entities or slot not in intent.contexts:
            continue
        before = intent.contexts[slot].before
        for k in range(len(words) - 1):
            if words[k] not in before:
                continue
            end = k + 1
            while (end < len(words) and end - k <= OPEN_WORDS and kinds[end] == OTHER
                   and end not in covered):
                end += 1
            if end > k + 1:
                slots[slot] = open_value(analysis, k + 1, end)
                break


def open_answer(analysis: Analysis, kinds: Sequence[int]) -> SlotValue | None:
    """A short answer of a few words the model does not know, the function words around
    them dropped ("in Lyon please"), or None when it is more than a short phrase. The
    caller has checked that no entity value is in it."""
    content = [k for k, form in enumerate(analysis.words) if form not in _AROUND]
    if not content or len(content) > OPEN_WORDS:
        return None
    first, last = content[0], content[-1]
    if content != list(range(first, last + 1)) or any(kinds[k] != OTHER for k in content):
        return None
    return open_value(analysis, first, last + 1)


def bare_values(analysis: Analysis, found: Sequence[Match]) -> dict[str, SlotValue]:
    """The entity values of a text that says nothing else, by entity (the first reading of
    each); empty when the text has other words than fillers and follow-up words."""
    matches = best_non_overlapping(list(found))
    if not matches:
        return {}
    covered = {k for m in matches for k in range(m.start, m.end)}
    for k, form in enumerate(analysis.words):
        if k not in covered and form not in _AROUND and form not in FOLLOW_UP:
            return {}
    out: dict[str, SlotValue] = {}
    for m in matches:
        out.setdefault(
            m.entity,
            SlotValue(m.value, analysis.text[m.char_start : m.char_end], m.char_start, m.char_end),
        )
    return out
