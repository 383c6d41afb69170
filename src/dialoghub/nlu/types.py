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


@dataclass(frozen=True, slots=True)
class EntityValue:
    """One value of a list entity and the other ways users say it."""

    value: str
    synonyms: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class EntitySpec:
    """An entity: a kind of thing a slot holds."""

    name: str
    kind: EntityKind = EntityKind.LIST
    values: tuple[EntityValue, ...] = ()
    pattern: str | None = None  # for REGEX


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
    scores, best first, so the engine can detect an ambiguous input.
    """

    intent: str | None
    confidence: float
    slots: dict[str, SlotValue] = field(default_factory=dict)
    alternatives: tuple[tuple[str, float], ...] = ()
