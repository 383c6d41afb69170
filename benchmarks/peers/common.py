"""The weather dialog's logic as plain functions, for the peers that have no dialog language.

LangGraph and ADK are frameworks for LLM agents; here no LLM is used, so both peers call the
same deterministic keyword/regex understanding and the same reply templates. Only the way each
framework stores and loads the session differs, which is what the benchmark measures.

The dialog's memory is two fields: ``awaiting_city`` (the weather intent came without a city,
so the next message may be just a city name) and ``last_city``.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from benchmarks.workload import WEATHER, Forecast

__all__ = [
    "Intent",
    "Outcome",
    "Understanding",
    "needs_lookup",
    "respond",
    "understand",
]


class Intent(enum.StrEnum):
    """What the user meant."""

    GREET = "greet"  # hello, hi, hey
    WEATHER = "weather"  # asks for the weather, with or without a city
    THANKS = "thanks"  # thanks, thank you
    UNKNOWN = "unknown"  # nothing recognized


@dataclass(frozen=True, slots=True)
class Understanding:
    """The intent of one user message and the city it names, if any."""

    intent: Intent
    city: str | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    """The reply of one turn and the dialog memory after it."""

    reply: str
    awaiting_city: bool
    last_city: str | None


_CITIES = {city.lower(): city for city in WEATHER}
_CITY = re.compile(r"\b(" + "|".join(re.escape(c) for c in _CITIES) + r")\b", re.IGNORECASE)
_GREET = re.compile(r"\b(hello|hi|hey)\b", re.IGNORECASE)
_THANKS = re.compile(r"\b(thanks|thank you)\b", re.IGNORECASE)
_ASKS_WEATHER = re.compile(r"\b(weather|forecast|temperature|how about)\b", re.IGNORECASE)

GREETING = "Hello! Ask me about the weather in any city."
ASK_CITY = "Which city?"
WELCOME = "You're welcome!"
NOT_UNDERSTOOD = "Sorry, I did not understand."


def understand(text: str, *, awaiting_city: bool) -> Understanding:
    """Recognize the intent and city of ``text``.

    A bare city name counts as a weather request only while the dialog awaits a city.
    """
    found = _CITY.search(text)
    city = _CITIES[found.group(1).lower()] if found else None
    if _GREET.search(text):
        return Understanding(Intent.GREET)
    if _THANKS.search(text):
        return Understanding(Intent.THANKS)
    if _ASKS_WEATHER.search(text) or (awaiting_city and city is not None):
        return Understanding(Intent.WEATHER, city)
    return Understanding(Intent.UNKNOWN)


def needs_lookup(understanding: Understanding) -> bool:
    """True when the turn must run the weather lookup (a weather request naming a city)."""
    return understanding.intent is Intent.WEATHER and understanding.city is not None


def respond(
    understanding: Understanding,
    forecast: Forecast | None,
    *,
    awaiting_city: bool,
    last_city: str | None,
) -> Outcome:
    """The reply to ``understanding``; ``forecast`` is the lookup's answer, if one ran."""
    match understanding.intent:
        case Intent.GREET:
            return Outcome(GREETING, False, last_city)
        case Intent.THANKS:
            return Outcome(WELCOME, False, last_city)
        case Intent.WEATHER if understanding.city is not None and forecast is not None:
            city = understanding.city
            text = f"In {city} it is {forecast.forecast} and {forecast.temperature} degrees."
            return Outcome(text, False, city)
        case Intent.WEATHER:
            return Outcome(ASK_CITY, True, last_city)
        case _:
            return Outcome(NOT_UNDERSTOOD, awaiting_city, last_city)
