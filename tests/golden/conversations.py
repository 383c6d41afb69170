"""The scripted conversations the golden histories record, one per file in ``histories/``.

A conversation names an example model, how its session starts, and the inputs sent to it
one second apart (the engine is pure: the same script always gives the same history). An
input the engine refuses is part of the script too: its error is recorded instead of a
step, and the session carries on unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: The clock every conversation starts at; each input comes one second after the last.
T0 = 1_700_000_000.0


@dataclass(frozen=True)
class Conversation:
    """One example conversation: ``model`` is a path under examples/."""

    name: str
    model: str
    inputs: tuple[dict[str, Any], ...]
    start: dict[str, Any] = field(default_factory=dict)  # start()'s keyword arguments


def text(t: str) -> dict[str, Any]:
    return {"type": "text", "text": t}


def result(command: str, error: str | None = None, **outputs: Any) -> dict[str, Any]:
    r: dict[str, Any] = {"type": "command_result", "id": command, "outputs": outputs}
    if error is not None:
        r["error"] = error
    return r


def event(name: str, **params: Any) -> dict[str, Any]:
    return {"type": "event", "name": name, "params": params or None}


TIMEOUT: dict[str, Any] = {"type": "timeout"}

CONVERSATIONS: tuple[Conversation, ...] = (
    Conversation(
        "weather-paris-tomorrow",
        "weather/weather.yaml",
        (
            text("hello"),
            text("what's the weather in Paris"),
            text("and this?"),  # refused: a command result is awaited
            result("lookup_weather", forecast="sunny", temperature=21),
            text("and tomorrow?"),
            result("lookup_weather", forecast="rainy", temperature=17),
            text("thanks"),
            text("bye"),
        ),
        start={"metadata": {"user": "ada"}, "params": {"channel": "web"}},
    ),
    Conversation(
        "weather-ask-city-help-cancel",
        "weather/weather.yaml",
        (
            text("what is the weather like"),
            text("help"),
            text("tokio"),  # a typo of a city
            result("lookup_weather", error="no forecast for Tokyo"),
            {"type": "set_variables", "variables": {"note": "retry later"}},
            text("how about the big apple"),
            result("lookup_weather", wrong=1),  # refused: no such output
            result("lookup_weather", forecast="windy", temperature=9),
            text("xyzzy plugh"),
            text("cancel"),
        ),
        start={"lifetime": {"idle": 300.0, "absolute": 3600.0}},
    ),
    Conversation(
        "weather-jump-and-end",
        "weather/weather.yaml",
        (
            {"type": "jump", "state": "nowhere"},  # refused: no such state
            {"type": "jump", "state": "greet", "params": {"p": 1}, "variables": {"city": "Rome"}},
            text("forecast for Madrid today"),
            result("lookup_weather", forecast="hot", temperature=30),
            {"type": "end", "reason": "closed by the operator"},
            text("hello"),  # refused: the session ended
        ),
    ),
    Conversation(
        "pizza-order-menu-address",
        "pizza/pizza.yaml",
        (
            text("I'd like a large pepperoni"),
            text("yes"),
            text("what's on the menu"),  # an interrupt inside the address unit
            text("I live somewhere"),
            text("12 Baker Street"),
            result("place_order", order_id="A7", minutes=25),
            text("yes"),
            text("I want a pizza"),
            text("veggie"),
            text("small"),
            text("no, a medium one"),
            text("yes"),
            text("deliver to 3 Elm Road"),
            result("place_order", error="out of the area"),
            text("no"),
        ),
    ),
    Conversation(
        "pizza-timeouts",
        "pizza/pizza.yaml",
        (TIMEOUT, TIMEOUT),
    ),
    Conversation(
        "pizza-no-to-confirmation",
        "pizza/pizza.yaml",
        (
            text("can I have a margarita"),
            text("family size"),
            text("hmm"),
            text("no"),
            text("what pizzas do you have"),
            text("hawaiian"),
            text("small"),
            text("goodbye"),
        ),
    ),
    Conversation(
        "getname-timeouts-then-name",
        "getname/getname.yaml",
        (TIMEOUT, text("what?"), text("my name is ada")),
    ),
    Conversation(
        "getname-no-answer",
        "getname/getname.yaml",
        (TIMEOUT, TIMEOUT, TIMEOUT),
    ),
    Conversation(
        "review-revisions-then-approval",
        "review/review.json",
        (
            event("REQUEST_CHANGES", revisionNumber=1),
            event("REQUEST_MORE_CHANGES", revisionNumber=2),
            event("NOT_AN_EVENT"),
            event("APPROVE"),
        ),
        start={"params": {"status": "pending"}, "metadata": {"documentId": "doc-123"}},
    ),
    Conversation(
        "review-rejected",
        "review/review.json",
        (event("REJECT"),),
    ),
)
