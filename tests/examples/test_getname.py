"""The getname example: a Python code unit asking a name, with re-prompting timeouts."""

from __future__ import annotations

from typing import Any

import pytest

from dialoghub import Hub
from tests.conftest import EXAMPLES
from tests.examples.helpers import T0, clock, last, replayed

DIALOG = EXAMPLES / "getname" / "dialog.py"


@pytest.fixture
async def hub() -> Any:
    async with Hub("memory://", clock=clock()) as hub:
        hub.load_models(EXAMPLES / "getname")  # the data model calling the unit
        hub.add_code_unit(str(DIALOG), model_id="getname-code")  # the unit on its own
        yield hub


async def test_code_unit_alone_reprompts_then_takes_the_name(hub: Hub) -> None:
    v = await hub.create_session("getname-code", session_id="g1")
    assert v.replies == ["Hello! What's your name?"]
    assert (v.session.unit, v.state) == ("getname", "name")
    aw = v.session.awaiting
    assert aw is not None and aw["timeout"] == 10 and aw["due_at"] > T0
    assert aw["on_timeout"] == "no_answer"

    v = await hub.timeout("g1")
    assert v.replies == ["Are you still there? What's your name?"]
    assert v.session.counters == {"prompt": 1} and v.state == "name"
    v = await hub.timeout("g1")
    assert v.replies == ["Please tell me your name."]
    v = await hub.process_text("g1", "what?")
    assert v.replies == ["Sorry, I didn't catch that. What's your name?"]
    assert v.session.counters == {}  # any answer resets the timeout counter
    v = await hub.process_text("g1", "I'm grace")
    assert v.replies == ["Nice to meet you, Grace!"]
    assert last(v) == "EndAction" and v.ended
    assert v.session.variables == {"getname": {"name": "Grace"}}
    await replayed(hub, "g1")


async def test_three_timeouts_end_the_dialog(hub: Hub) -> None:
    await hub.create_session("getname-code", session_id="g2")
    await hub.timeout("g2")
    await hub.timeout("g2")
    v = await hub.timeout("g2")
    assert v.replies == ["I'll be here if you need me. Bye!"] and v.ended
    assert v.session.last_response is not None
    await replayed(hub, "g2")


async def test_data_model_calls_the_code_unit_and_reads_its_variable(hub: Hub) -> None:
    v = await hub.create_session("getname", session_id="g3")
    assert v.replies == ["Hello! What's your name?"]
    assert v.session.stack == [{"unit": "main", "state": "init", "block": ["do"], "pc": 1}]
    v = await hub.process_text("g3", "my name is Ada")
    assert v.replies == ["Nice to meet you, Ada!", "Welcome aboard, Ada."]
    assert v.ended and v.session.stack == [] and v.session.unit == "main"
    await replayed(hub, "g3")


async def test_code_and_data_sessions_share_one_store_and_event_types(hub: Hub) -> None:
    await hub.create_session("getname-code", session_id="a")
    await hub.create_session("getname", session_id="b")
    await hub.process_text("a", "Ada")
    await hub.process_text("b", "Bob")
    types_a = {e.type for e in await hub.events("a", limit=100)}
    types_b = {e.type for e in await hub.events("b", limit=100)}
    assert types_a <= types_b
    page = await hub.list_sessions()
    assert {s.id for s in page.sessions} == {"a", "b"}
