"""What the text understanding takes (intents, entities) and gives (a recognition).

The model loader builds these from a model file; the recognizer compiles them once per model.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

__all__ = ["EntityKind", "EntitySpec", "EntityValue", "IntentSpec", "Recognition", "SlotValue"]


class EntityKind(enum.StrEnum):
    """How an entity's values are found in text."""

    LIST = "list"  # a closed list of values, each with synonyms
    REGEX = "regex"  # a regular expression; the match (or its group "value") is the value
    NUMBER = "number"  # built-in: integers and decimals, as digits or English words
    TIME = "time"  # built-in: a time of day ("7pm", "19:30", "noon") as "HH:MM"
    # Free text (names, titles, places): found by the words around it, so a value never seen
    # before is found too; its listed values, if any, are known spellings and normalisers.
    # Only the learned recognizer finds unseen values; the matcher treats it as a list.
    TEXT = "text"


@dataclass(frozen=True, slots=True)
class EntityValue:
    """One value of a list entity and the other ways users say it."""

    value: str
    synonyms: tuple[str, ...] = ()
    # None: as the entity says. True: only as written ("IN" the state code, not "in").
    case_sensitive: bool | None = None


@dataclass(frozen=True, slots=True)
class EntitySpec:
    """An entity: a kind of thing a slot holds."""

    name: str
    kind: EntityKind = EntityKind.LIST
    values: tuple[EntityValue, ...] = ()
    pattern: str | None = None  # for REGEX
    # Values (and synonyms) match only with the case they are written in, unless a value
    # says otherwise: for codes and names that are also ordinary words ("IN", "OR", "May").
    case_sensitive: bool = False
    #: a LIST entity that also takes values outside its list ("Lyon" for a city), read from
    #: the words where an example puts the slot, or from a short answer to its question
    open: bool = False


@dataclass(frozen=True, slots=True)
class IntentSpec:
    """An intent: example utterances with ``{slot}`` placeholders, and the slots' entities."""

    name: str
    examples: tuple[str, ...]
    slots: dict[str, str] = field(default_factory=dict)  # slot name -> entity name


@dataclass(frozen=True, slots=True)
class SlotValue:
    """A slot found in text: the canonical value and the words it came from."""

    value: Any
    text: str
    start: int = 0
    end: int = 0


@dataclass(frozen=True, slots=True)
class Recognition:
    """The best intent for a text (None if nothing is close enough) and its slots.

    ``confidence`` is in [0, 1]; ``alternatives`` lists the runner-up intents with their
    scores, best first, so the engine can detect an ambiguous input. ``tied`` names every
    intent that scores exactly as well as the best one, the best one included (empty when
    the best is alone): ``intent`` is then only the first in a fixed order, not a decision,
    and the caller should treat the input as ambiguous.
    """

    intent: str | None
    confidence: float
    slots: dict[str, SlotValue] = field(default_factory=dict)
    alternatives: tuple[tuple[str, float], ...] = ()
    tied: tuple[str, ...] = ()
