"""The weather dialog every system under benchmark plays, turn by turn.

The script and the lookup table live here, once, so that dialoghub and each peer answer the same
user messages from the same data. Turn ``i`` of every session sends ``MESSAGES[i % 6]`` and must
answer ``EXPECTED[i % 6]``; the harness checks every reply, so a system that answers wrongly
fails the run instead of posting a fast number.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "EXPECTED",
    "MESSAGES",
    "WEATHER",
    "Forecast",
    "expected_reply",
    "lookup_weather",
    "message",
]


@dataclass(frozen=True, slots=True)
class Forecast:
    """What the weather command answers for one city."""

    forecast: str
    temperature: int


#: The local lookup table behind the ``lookup_weather`` command (city -> forecast).
WEATHER: dict[str, Forecast] = {
    "Paris": Forecast("sunny", 21),
    "London": Forecast("rainy", 14),
    "Tokyo": Forecast("cloudy", 18),
    "New York": Forecast("windy", 9),
    "Madrid": Forecast("hot", 30),
}

#: What the user says, cycled: turn ``i`` sends ``MESSAGES[i % len(MESSAGES)]``.
MESSAGES: tuple[str, ...] = (
    "hello",
    "what's the weather in Paris",
    "how about London",
    "what is the weather like",
    "Tokyo",
    "thanks",
)

#: The reply each message must get, in the same order (turn 4 asks for the missing city).
EXPECTED: tuple[str, ...] = (
    "Hello! Ask me about the weather in any city.",
    "In Paris it is sunny and 21 degrees.",
    "In London it is rainy and 14 degrees.",
    "Which city?",
    "In Tokyo it is cloudy and 18 degrees.",
    "You're welcome!",
)


def message(turn: int) -> str:
    """The user message of turn ``turn`` (0-based) of any session."""
    return MESSAGES[turn % len(MESSAGES)]


def expected_reply(turn: int) -> str:
    """The reply turn ``turn`` (0-based) of any session must produce."""
    return EXPECTED[turn % len(EXPECTED)]


def lookup_weather(city: str) -> Forecast:
    """Answer the weather command for ``city`` from :data:`WEATHER` (KeyError if unknown)."""
    return WEATHER[city]
