"""Answers the weather model's ``lookup_weather`` command from a small local table.

A plugin module maps command ids to functions: each takes the command's params as keyword
arguments and returns its outputs; raising an exception turns into the command's error.
"""

from __future__ import annotations

from typing import Any

#: city -> (forecast, temperature in degrees Celsius)
TABLE: dict[str, tuple[str, int]] = {
    "Paris": ("sunny", 21),
    "London": ("rainy", 14),
    "Tokyo": ("cloudy", 18),
    "New York": ("windy", 9),
    "Madrid": ("hot", 30),
}


def lookup_weather(city: str | None = None, day: str | None = None) -> dict[str, Any]:
    """The forecast for ``city``; raises LookupError for a city not in the table."""
    if city not in TABLE:
        raise LookupError(f"no forecast for {city}")
    forecast, temperature = TABLE[city]
    return {"forecast": forecast, "temperature": temperature}


COMMANDS = {"lookup_weather": lookup_weather}
