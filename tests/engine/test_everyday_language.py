"""Issue 16's model language: global intents, questions that give up, slots that carry over,
values alone, open entities; the examples of docs/models.md run as conversations."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from dialoghub import Hub
from dialoghub.errors import ModelValidationError, NoMatch
from dialoghub.model.loader import load_model_text
from tests.examples.helpers import clock, replayed

DOCS = Path(__file__).resolve().parents[2] / "docs" / "models.md"


def doc_model(model_id: str) -> str:
    """The YAML block of docs/models.md whose model has this id."""
    blocks = [b.split("```", 1)[0] for b in DOCS.read_text("utf-8").split("```yaml\n")[1:]]
    return next(b for b in blocks if b.startswith(f"id: {model_id}\n"))


@pytest.fixture
async def hub() -> AsyncIterator[Hub]:
    async with Hub("memory://", clock=clock()) as hub:
        yield hub


async def talk(hub: Hub, text: str, *lines: str) -> list[list[str]]:
    model = load_model_text(text, "m.yaml")
    hub.add_model(model)
    out = [(await hub.create_session(model.id, session_id="s")).replies]
    for line in lines:
        out.append((await hub.process_text("s", line)).replies)
    await replayed(hub, "s")
    return out


# --- the reference page's examples ---------------------------------------------------------


async def test_docs_give_up(hub: Hub) -> None:
    replies = await talk(hub, doc_model("give_up"), "a coffee", "hm", "er", "a large coffee")
    assert replies[1:3] == [["Small or large?"], ["Small or large?"]]
    assert replies[3] == ["Let's leave the coffee for now."]  # tries: 2, then its give_up
    assert replies[4] == ["One large coffee."]


async def test_docs_globals(hub: Hub) -> None:
    replies = await talk(hub, doc_model("globals"), "a coffee", "help", "never mind",
                         "a large coffee")  # fmt: skip
    assert replies[2] == ["Say small or large, or cancel.", "Small or large?"]
    assert replies[3] == []  # cancel: back to start, which waits without a word
    assert replies[4] == ["One large coffee.", "Anything else?"]
    assert (await hub.get_session("s")).state == "closing"
    # closing opts out (global: false): "cancel" is no global there, only a no-match
    with pytest.raises(NoMatch):
        await hub.process_text("s", "cancel")


async def test_docs_follow_ups(hub: Hub) -> None:
    replies = await talk(hub, doc_model("follow_ups"), "weather in Paris tomorrow", "London",
                         "and today?", "weather in Paris")  # fmt: skip
    assert replies[1] == ["Weather in Paris tomorrow."]
    assert replies[2] == ["Weather in London."]  # a value alone; the day does not carry
    assert replies[3] == ["Weather in London today."]  # the city carries
    assert replies[4] == ["Weather in Paris."]


async def test_docs_entities_template_parts(hub: Hub) -> None:
    replies = await talk(hub, doc_model("entities"), "a table for 4")
    assert replies[1] == ["4 people in town."]


# --- the finer points ------------------------------------------------------------------------

UNIT = """
id: u
entities:
  street: {pattern: "\\\\d+ [a-z]+ street"}
intents:
  order: [a pizza, I want a pizza]
  address: ["{street}"]
  cancel: [cancel, never mind]
global:
  cancel: cancelled
states:
  start:
    on: {order: ordering}
  ordering:
    do: [{call: address}, {say: "To {address.street}."}]
    next: start
  cancelled: {say: Cancelled., next: start}
units:
  address:
    states:
      ask:
        ask: Where to?
        on: {address: done}
      done: {final: true}
"""


async def test_a_global_target_leaves_the_unit(hub: Hub) -> None:
    replies = await talk(hub, UNIT, "a pizza", "never mind")
    assert replies[1] == ["Where to?"]
    assert replies[2] == ["Cancelled."]
    s = await hub.get_session("s")
    assert (s.unit, s.state, s.stack) == ("main", "start", [])


AMBIGUOUS = """
id: a
entities:
  city: [Paris, London]
intents:
  weather: {examples: ["weather in {city}"], slots: {city: {entity: city, required: true, prompt: City?}}}
  flights: {examples: ["flights to {city}"], slots: {city: {entity: city, required: true, prompt: To?}}}
no_match: "Weather or flights?"
states:
  start:
    on: {weather: start, flights: start}
"""


async def test_a_value_alone_that_fits_two_intents_is_no_match(hub: Hub) -> None:
    replies = await talk(hub, AMBIGUOUS, "Paris")
    assert replies[1] == ["Weather or flights?"]


MODEL_GIVE_UP = """
id: g
entities:
  size: [small, large]
intents:
  order: {examples: ["a {size} tea", a tea], slots: {size: {entity: size, required: true, prompt: Size?}}}
settings: {max_tries: 2}
give_up: {say: "Never mind the tea."}
states:
  start:
    on: {order: served}
  served: {say: "{size} tea.", next: start}
"""


async def test_the_models_give_up_and_max_tries(hub: Hub) -> None:
    replies = await talk(hub, MODEL_GIVE_UP, "a tea", "hm", "er")
    assert replies[1:3] == [["Size?"], ["Size?"]]
    assert replies[3] == ["Never mind the tea."]
    s = await hub.get_session("s")
    assert s.state == "start" and "fill" not in (s.awaiting or {})


async def test_max_tries_null_asks_for_ever(hub: Hub) -> None:
    text = MODEL_GIVE_UP.replace("max_tries: 2", "max_tries: null")
    replies = await talk(hub, text, "a tea", *["hm"] * 6)
    assert replies[1:] == [["Size?"]] * 7


async def test_an_optional_slot_is_cleared_when_its_intent_comes_again(hub: Hub) -> None:
    text = doc_model("follow_ups")
    replies = await talk(hub, text, "weather in Paris tomorrow", "weather in London")
    assert replies[2] == ["Weather in London."]
    assert "day" not in (await hub.get_session("s")).variables["main"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("global:\n  cancl: start\n", "global 'cancl' is not an intent of this model"),
        ("global:\n  cancel: nowhere\n", "no state 'nowhere'"),
        ("settings: {max_tries: 0}\n", "max_tries must be a whole number >= 1"),
    ],
)
def test_bad_globals_and_limits_are_located(change: str, message: str) -> None:
    text = doc_model("globals").replace("global:\n  cancel: start\n", "") + change
    if "cancl" not in change and "nowhere" not in change:
        text += "global:\n  cancel: start\n"
    with pytest.raises(ModelValidationError) as info:
        load_model_text(text, "m.yaml")
    assert any(message in p.message and p.line > 0 for p in info.value.problems), info.value


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("    global: false", "    global: [helpp]", "'helpp' is not a global intent"),
        ("carry: true", "carry: yes please", "carry must be true or false"),
        (
            'prompt: "Which city?", carry: true',
            'prompt: "Which city?", tries: 0',
            "tries must be a whole number >= 1",
        ),
    ],
)
def test_bad_state_and_slot_keys(old: str, new: str, message: str) -> None:
    text = (doc_model("globals") if "global" in old else doc_model("follow_ups")).replace(old, new)
    assert new in text
    with pytest.raises(ModelValidationError) as info:
        load_model_text(text, "m.yaml")
    assert any(message in p.message for p in info.value.problems), info.value


def test_only_a_list_entity_is_open() -> None:
    text = "id: o\nentities:\n  code: {pattern: 'x', open: true}\nstates:\n  s: {wait: true}\n"
    with pytest.raises(ModelValidationError) as info:
        load_model_text(text, "m.yaml")
    assert "only a list entity can be open" in str(info.value)


def test_a_template_showing_an_optional_slot_bare_warns_at_the_placeholder() -> None:
    text = doc_model("follow_ups").replace('"Weather in {city}{? {day}}."', '"Weather {day}."')
    model = load_model_text(text, "m.yaml")  # loads: a warning does not fail
    (warning,) = model.warnings
    assert "shows optional slot {day}" in warning.message
    line = text.splitlines()[warning.line - 1]
    assert line[warning.column - 1 :].startswith("{day}")
    assert not load_model_text(doc_model("follow_ups"), "m.yaml").warnings
