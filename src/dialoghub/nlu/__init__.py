"""Deterministic, offline intent and slot recognition for text input."""

from __future__ import annotations

from dialoghub.nlu.recognizer import Recognizer
from dialoghub.nlu.types import (
    EntityKind,
    EntitySpec,
    EntityValue,
    IntentSpec,
    Recognition,
    SlotValue,
)

__all__ = [
    "EntityKind",
    "EntitySpec",
    "EntityValue",
    "IntentSpec",
    "Recognition",
    "Recognizer",
    "SlotValue",
]
