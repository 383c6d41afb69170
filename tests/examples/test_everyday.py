"""Issue 16: each line a newcomer tried on the example dialogs, as a whole conversation.

Every conversation runs through a Hub and a Runner with the examples' plugins, and the
stored log replays to the stored snapshot after it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from dialoghub import Hub
from dialoghub.agent import Runner, load_plugins
from tests.conftest import EXAMPLES
from tests.examples.helpers import clock, replayed

ORDERS: list[dict[str, Any]] = []


def place_order(kind: str, size: str, street: str) -> dict[str, Any]:
    ORDERS.append({"kind": kind, "size": size, "street": street})
    return {"order_id": f"A{len(ORDERS)}", "minutes": 25}


@pytest.fixture
async def runner() -> AsyncIterator[Runner]:
    ORDERS.clear()
    async with Hub("memory://", clock=clock()) as hub:
        for name in ("weather", "pizza", "getname"):
            hub.load_models(EXAMPLES / name)
        commands = load_plugins(str(EXAMPLES / "weather" / "plugins.py"))
        yield Runner(hub, {**commands, "place_order": place_order})


async def talk(runner: Runner, model: str, sid: str, *lines: str) -> list[list[str]]:
    """The replies to each line (the first entry: the session's greeting)."""
    out = [(await runner.start(model, session_id=sid)).replies]
    for line in lines:
        out.append((await runner.send(sid, line)).replies)
    await replayed(runner.hub, sid)
    return out


# --- weather ------------------------------------------------------------------------------

GOODBYE = ["Goodbye!"]


async def test_never_mind_at_which_city_lets_the_user_go(runner: Runner) -> None:
    _, asked, cancelled, next_ = await talk(
        runner, "weather", "w1", "what's the weather like", "never mind", "how about Paris"
    )
    assert asked == ["Which city?"]
    assert cancelled == ["OK, never mind. Ask me about the weather whenever you like."]
    assert next_ == ["In Paris it is sunny and 21 degrees."]
    session = await runner.hub.get_session("w1")
    assert session.state == "listen" and session.awaiting is not None
    assert "fill" not in session.awaiting


async def test_a_question_gives_up_after_three_tries(runner: Runner) -> None:
    replies = await talk(
        runner, "weather", "w2", "what's the weather like", "hmm", "I really don't know", "um"
    )
    assert replies[1:4] == [["Which city?"]] * 3
    assert replies[4] == ["Sorry, I can only tell the weather. Try: what's the weather in Paris?"]
    events = await runner.hub.events("w2", limit=1000)
    assert [e.data for e in events if e.type == "slot_given_up"] == [
        {"intent": "get_weather", "slot": "city", "tries": 3}
    ]


async def test_help_answers_and_asks_the_question_again(runner: Runner) -> None:
    _, _, helped, answered = await talk(
        runner, "weather", "w3", "what's the weather like", "help", "Tokyo"
    )
    assert helped[0].startswith("I tell the weather in any city") and helped[1] == "Which city?"
    assert answered == ["In Tokyo it is cloudy and 18 degrees."]


async def test_thanks_bye_ends_the_session(runner: Runner) -> None:
    _, bye = await talk(runner, "weather", "w4", "thanks bye")
    assert bye == GOODBYE
    assert (await runner.hub.get_session("w4")).ended


async def test_a_city_outside_the_list_reaches_the_lookup(runner: Runner) -> None:
    _, said, again = await talk(
        runner, "weather", "w5", "what's the weather in Lyon", "what's the weather like"
    )
    assert said == ["Sorry, I have no forecast for Lyon."]
    assert again == ["Sorry, I have no forecast for Lyon."]  # the city carries over
    _, asked, answered = await talk(runner, "weather", "w5b", "what's the weather like", "Lyon")
    assert asked == ["Which city?"]
    assert answered == ["Sorry, I have no forecast for Lyon."]


async def test_and_tomorrow_keeps_the_city(runner: Runner) -> None:
    _, paris, tomorrow, today = await talk(
        runner, "weather", "w6", "what's the weather in Paris", "and tomorrow?", "how about Tokyo"
    )
    assert paris == ["In Paris it is sunny and 21 degrees."]
    assert tomorrow == ["In Paris tomorrow it is sunny and 21 degrees."]
    # the day does not carry over: a new question about Tokyo is about today
    assert today == ["In Tokyo it is cloudy and 18 degrees."]


async def test_tomorrow_alone_is_a_follow_up(runner: Runner) -> None:
    _, _, tomorrow = await talk(runner, "weather", "w7", "weather in London", "tomorrow")
    assert tomorrow == ["In London tomorrow it is rainy and 14 degrees."]


async def test_a_bare_city_asks_for_its_weather(runner: Runner) -> None:
    _, london, nyc = await talk(runner, "weather", "w8", "london", "the big apple")
    assert london == ["In London it is rainy and 14 degrees."]
    assert nyc == ["In New York it is windy and 9 degrees."]


async def test_start_over_goes_back_to_the_greeting(runner: Runner) -> None:
    _, _, again = await talk(runner, "weather", "w9", "what's the weather like", "start over")
    assert again == ["Hi! I'm the weather assistant. Ask me about the weather in any city."]


# --- pizza --------------------------------------------------------------------------------


async def test_no_medium_at_the_confirmation_corrects_the_size(runner: Runner) -> None:
    replies = await talk(runner, "pizza", "p1", "a large pepperoni", "no, medium", "yes",
                         "12 Baker Street", "no")  # fmt: skip
    assert replies[1] == ["So a large pepperoni, right?"]
    assert replies[2] == ["So a medium pepperoni, right?"]
    assert replies[3] == ["What's the delivery address?"]
    assert replies[4][0].startswith("Order A1: medium pepperoni to 12 Baker Street")
    assert ORDERS == [{"kind": "pepperoni", "size": "medium", "street": "12 Baker Street"}]
    assert replies[5] == ["Thanks for your order. Enjoy!"]


async def test_no_medium_at_anything_else_does_not_end_the_order(runner: Runner) -> None:
    replies = await talk(runner, "pizza", "p2", "a small veggie", "yes", "3 Elm Road",
                         "no, medium", "yes", "a large hawaiian", "yes")  # fmt: skip
    assert replies[3][-1] == "Anything else?"
    assert replies[4] == ["Anything else?"]  # asked again, not taken as "no"
    assert not (await runner.hub.get_session("p2")).ended
    assert replies[5] == ["What would you like to order?"]


async def test_a_value_alone_at_the_confirmation_corrects_it(runner: Runner) -> None:
    _, confirm, corrected, again = await talk(
        runner, "pizza", "p7", "a large pepperoni", "medium", "maybe"
    )
    assert confirm == ["So a large pepperoni, right?"]
    assert corrected == ["So a medium pepperoni, right?"]
    assert again == ["So a medium pepperoni, right?"]  # neither yes, no nor a value: again


async def test_a_bare_margarita_is_an_order(runner: Runner) -> None:
    _, size, confirm = await talk(runner, "pizza", "p3", "margarita", "large")
    assert size == ["What size: small, medium or large?"]
    assert confirm == ["So a large margherita, right?"]


async def test_same_address_as_before(runner: Runner) -> None:
    replies = await talk(runner, "pizza", "p4", "a small veggie", "yes", "3 Elm Road", "yes",
                         "a medium pepperoni", "yes", "same address as before", "no")  # fmt: skip
    assert replies[7][0].startswith("Order A2: medium pepperoni to 3 Elm Road")
    assert [o["street"] for o in ORDERS] == ["3 Elm Road", "3 Elm Road"]


async def test_same_address_without_one_asks_for_it(runner: Runner) -> None:
    replies = await talk(runner, "pizza", "p5", "a small veggie", "yes", "same address as before")
    assert replies[3] == ["I don't have an address from before.", "What's the delivery address?"]


async def test_cancel_leaves_the_address_question(runner: Runner) -> None:
    replies = await talk(runner, "pizza", "p6", "a small veggie", "yes", "cancel", "no")
    assert replies[3] == ["OK, I cancelled that.", "Anything else?"]
    session = await runner.hub.get_session("p6")
    assert session.unit == "main" and session.stack == [] and session.ended
    assert ORDERS == []


# --- getname ------------------------------------------------------------------------------


async def test_hmm_is_not_a_name(runner: Runner) -> None:
    _, hmm, name = await talk(runner, "getname", "g1", "hmm", "Ada")
    assert hmm == ["Sorry, I didn't catch that. What's your name?"]
    assert name == ["Nice to meet you, Ada!", "Welcome aboard, Ada."]
