"""The pizza example: slot filling with confirmation, conditions, a unit, an interrupt."""

from __future__ import annotations

from typing import Any

import pytest

from dialoghub import Hub, errors
from dialoghub.agent.runner import Runner
from tests.conftest import EXAMPLES
from tests.examples.helpers import clock, last, replayed

ORDERS: list[dict[str, Any]] = []


def place_order(kind: str, size: str, street: str) -> dict[str, Any]:
    if street.startswith("0 "):
        raise LookupError(f"we do not deliver to {street}")
    ORDERS.append({"kind": kind, "size": size, "street": street})
    return {"order_id": f"A{len(ORDERS)}", "minutes": 25}


@pytest.fixture
async def runner() -> Any:
    ORDERS.clear()
    async with Hub("memory://", clock=clock()) as hub:
        hub.load_models(EXAMPLES / "pizza")
        yield Runner(hub, {"place_order": place_order})


async def test_full_order_with_menu_interrupt_correction_and_address(runner: Runner) -> None:
    hub = runner.hub
    v = await runner.start("pizza", session_id="p1")
    assert v.replies == ["Welcome to Pizza Hub!", "What would you like to order?"]
    assert v.state == "take_order" and v.variables == {"orders": 0}

    v = await runner.send("p1", "I'd like a pizza")
    assert v.replies == ["Which pizza would you like?"]

    # the interrupt: the menu unit runs, then the interrupted question is asked again
    v = await runner.send("p1", "what's on the menu?")
    assert v.replies[0].startswith("Our pizzas: margherita")
    assert v.replies[1] == "Which pizza would you like?"
    assert (v.session.unit, v.state, v.session.stack) == ("main", "take_order", [])

    v = await runner.send("p1", "a margherita")
    assert v.replies == ["What size: small, medium or large?"]
    v = await runner.send("p1", "large")
    assert v.replies == ["So a large margherita, right?"]

    # "no" with a correction re-confirms with the new value
    v = await runner.send("p1", "no, a medium one")
    assert v.replies == ["So a medium margherita, right?"]

    v = await runner.send("p1", "yes")
    assert v.replies == ["What's the delivery address?"]
    assert v.session.unit == "address" and v.state == "ask"
    assert v.session.stack[0]["unit"] == "main" and v.session.stack[0]["state"] == "priced"

    v = await runner.send("p1", "hmm")
    assert v.replies == ["I need a house number and a street, like 12 Baker Street."]
    v = await runner.send("p1", "12 Baker Street")
    assert v.replies == [
        "Order A1: medium margherita to 12 Baker Street, 10 euros, in about 25 minutes.",
        "Anything else?",
    ]
    assert ORDERS == [{"kind": "margherita", "size": "medium", "street": "12 Baker Street"}]
    s = v.session
    assert s.unit == "main" and s.stack == []
    assert s.variables["address"] == {"street": "12 Baker Street"}  # the unit's own scope
    assert s.variables["main"]["orders"] == 1 and s.variables["main"]["price"] == 10

    v = await runner.send("p1", "no")
    assert v.replies == ["Thanks for your order. Enjoy!"]
    assert last(v) == "EndAction" and v.ended
    await replayed(hub, "p1")


async def test_large_pizza_condition_and_failed_delivery(runner: Runner) -> None:
    await runner.start("pizza", session_id="p2")
    v = await runner.send("p2", "I'd like a large pepperoni")
    assert v.replies == ["So a large pepperoni, right?"]
    v = await runner.send("p2", "yes")
    assert v.replies == ["Large it is: a free drink comes with it.", "What's the delivery address?"]
    v = await runner.send("p2", "0 Nowhere Road")
    assert v.replies == ["Sorry, we can't deliver to 0 Nowhere Road.", "Anything else?"]
    assert v.variables["orders"] == 0  # the error branch skipped the increment
    v = await runner.send("p2", "no")
    assert v.replies == ["Goodbye!"]
    await replayed(runner.hub, "p2")


async def test_plain_no_asks_the_slots_again_and_another_request_interrupts_confirm(
    runner: Runner,
) -> None:
    await runner.start("pizza", session_id="p3")
    v = await runner.send("p3", "a small veggie please")
    assert v.replies == ["So a small veggie, right?"]
    v = await runner.send("p3", "no")
    assert v.replies == ["Which pizza would you like?"]
    assert "kind" not in v.variables and "size" not in v.variables
    v = await runner.send("p3", "purple")  # not a pizza: asked again with the other wording
    assert v.replies == ["We have margherita, pepperoni, hawaiian and veggie: which one?"]
    v = await runner.send("p3", "hawaiian")
    v = await runner.send("p3", "medium")
    assert v.replies == ["So a medium hawaiian, right?"]
    v = await runner.send("p3", "what's on the menu")
    assert v.replies[-1] == "So a medium hawaiian, right?"
    v = await runner.send("p3", "bye")  # a new request instead of yes/no
    assert v.replies == ["Goodbye!"] and v.ended
    await replayed(runner.hub, "p3")


async def test_order_question_times_out_twice_then_says_goodbye(runner: Runner) -> None:
    hub = runner.hub
    v = await runner.start("pizza", session_id="p4")
    aw = v.session.awaiting
    assert aw is not None and aw["timeout"] == 30 and aw["due_at"] == v.session.updated_at + 30
    v = await hub.timeout("p4")
    assert v.replies == ["Still there? Tell me which pizza you'd like."]
    assert v.session.counters == {"prompt": 1}
    v = await hub.timeout("p4")
    assert v.replies == ["Goodbye!"] and v.ended
    await replayed(hub, "p4")


async def test_bad_inputs_are_refused_and_change_nothing(runner: Runner) -> None:
    hub = runner.hub
    await runner.start("pizza", session_id="p5")
    before = await hub.get_session("p5")
    with pytest.raises(errors.InvalidInput):
        await hub.process_text("p5", "   ")
    with pytest.raises(errors.UnknownCommand):
        await hub.process_command_result("p5", "place_order", {"order_id": "x"})
    with pytest.raises(errors.UnexpectedInput):
        await hub.process_event("p5", "APPROVE")
    assert await hub.get_session("p5") == before
    v = await runner.send("p5", "sing me a song")
    assert v.replies == ["Sorry, I didn't get that. You can order a pizza or ask for the menu."]
    await replayed(hub, "p5")
