"""An intent compiled for the matcher: its slots' entities, its example bags, slot contexts.

Every example becomes a bag of terms (:mod:`.scoring`): its normalized words, each ``{slot}``
placeholder replaced by its entity's term (``@city``). The words around each placeholder
across the examples (:class:`~dialoghub.nlu.slots.SlotContext`) later say which of several
values of one entity goes to which slot ("from {origin} to {destination}").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from dialoghub.errors import ModelError
from dialoghub.nlu.examples import PLACEHOLDER
from dialoghub.nlu.normalize import norms
from dialoghub.nlu.slots import SlotContext
from dialoghub.nlu.types import IntentSpec

__all__ = ["CompiledIntent", "compile_intent"]


@dataclass(frozen=True, slots=True)
class CompiledIntent:
    """What the matcher keeps of an intent."""

    name: str
    slots: dict[str, str]  # slot -> entity
    entity_slots: tuple[tuple[str, tuple[str, ...]], ...]  # entity -> its slots, in order
    contexts: dict[str, SlotContext]


def compile_intent(
    spec: IntentSpec,
    resolve: Callable[[str, str, str], str],
    known: Callable[[str], bool],
) -> tuple[CompiledIntent, list[list[str]]]:
    """The compiled intent and one bag of terms per example (empty examples left out).

    ``resolve(intent, slot, entity)`` gives the entity a slot uses (raising
    :class:`ModelError` for an unknown one); ``known(name)`` says whether a placeholder named
    after an entity or a built-in needs no slot declaration (and makes a built-in ready).
    ``{slot=value}`` placeholders stand for their entity here, whatever the value (the value
    is for the learned tagger).
    """
    slots = {s: resolve(spec.name, s, e) for s, e in spec.slots.items()}
    order: list[str] = []  # slots in order of first appearance in the examples
    before: dict[str, set[str]] = {}
    before2: dict[str, set[str]] = {}
    after: dict[str, set[str]] = {}
    bags: list[list[str]] = []
    for example in spec.examples:
        seq: list[tuple[str, str | None]] = []  # (term, slot name or None)
        pos = 0
        for m in PLACEHOLDER.finditer(example):
            seq.extend((w, None) for w in norms(example[pos : m.start()]))
            slot = m.group(1)
            if slot not in slots:
                # A placeholder named after an entity (or a built-in) needs no declaration.
                if known(slot):
                    slots[slot] = slot
                else:
                    raise ModelError(
                        f"intent {spec.name!r}: example {example!r} uses undeclared slot "
                        f"{{{slot}}}",
                        intent=spec.name,
                        slot=slot,
                    )
            seq.append(("@" + slots[slot], slot))
            pos = m.end()
        seq.extend((w, None) for w in norms(example[pos:]))
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
    return CompiledIntent(spec.name, slots, entity_slots, contexts), bags
