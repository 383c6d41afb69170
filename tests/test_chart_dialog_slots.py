"""Nested dialog states with the flat language's slots, conditions and templates: slot values
kept as variables when the transition is taken, ``{goto, when}`` transitions, templated
``say`` (docs/statecharts.md, "Slots, conditions and templates in nested states")."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dialoghub import errors
from dialoghub.engine.records import Reply, Text
from dialoghub.hub import Hub
from dialoghub.model.loader import load_model
from tests.test_chart_sessions import folds

DOCS = Path(__file__).resolve().parents[1] / "docs" / "statecharts.md"
FORECAST = next(
    block
    for block in re.findall(r"```yaml\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.S)
    if block.startswith("id: forecast")
)


@pytest.fixture
def forecast(tmp_path: Path) -> Path:
    path = tmp_path / "forecast.yaml"
    path.write_text(FORECAST)
    return path


async def test_slots_become_variables_and_templates_read_them(forecast: Path) -> None:
    async with Hub("memory://") as hub:
        hub.load_models(forecast)
        v = await hub.create_session("forecast", session_id="f", metadata={"channel": "web"})
        assert Reply(text="Which city?") in v.actions
        v = await hub.update("f", Text(text="weather in Rome tomorrow"))
        assert v.session.state == "talk.told"
        assert v.session.variables["main"] == {"city": "Rome", "day": "tomorrow"}
        assert Reply(text="In Rome tomorrow it will be sunny.") in v.actions
        assert [(e.data["name"], e.data["value"]) for e in v.events
                if e.type == "variable_set"] == [("city", "Rome"), ("day", "tomorrow")]  # fmt: skip
        # slots only add: the day said in the last turn is kept when this one names none
        v = await hub.update("f", Text(text="again"))
        assert v.session.state == "talk.asking"
        v = await hub.update("f", Text(text="weather in Oslo"))
        assert Reply(text="In Oslo tomorrow it will be sunny.") in v.actions
        await folds(hub, "f")


async def test_the_first_transition_whose_condition_holds_is_taken(forecast: Path) -> None:
    async with Hub("memory://") as hub:
        hub.load_models(forecast)
        await hub.create_session("forecast", session_id="f")
        v = await hub.update("f", Text(text="what is the weather"))  # no city: keep asking
        assert v.session.state == "talk.asking"
        assert Reply(text="Which city?") in v.actions
        assert v.session.variables.get("main", {}) == {}
        v = await hub.update("f", Text(text="weather in Paris"))
        assert v.session.state == "talk.told"
        assert Reply(text="In Paris today it will be sunny.") in v.actions


async def test_slots_of_an_intent_no_state_takes_are_not_kept(forecast: Path) -> None:
    async with Hub("memory://") as hub:
        hub.load_models(forecast)
        await hub.create_session("forecast", session_id="f")
        await hub.update("f", Text(text="weather in Paris"))
        # in talk.told nothing takes `weather`: ignored, and its slots are not stored
        v = await hub.update("f", Text(text="weather in Oslo tomorrow"))
        assert [e.data for e in v.events if e.type == "chart_event_ignored"] == [
            {"event": "weather"}
        ]
        assert v.session.variables["main"] == {"city": "Paris"}
        await folds(hub, "f")


async def test_an_xstate_prompt_is_text_not_a_template(tmp_path: Path) -> None:
    machine = tmp_path / "m.json"
    machine.write_text('{"id": "m", "initial": "a", "context": {"x": 1}, '
                       '"states": {"a": {"meta": {"prompt": "Say {x} as it is."}}}}')  # fmt: skip
    async with Hub("memory://") as hub:
        hub.load_models(machine)
        v = await hub.create_session("m")
        assert Reply(text="Say {x} as it is.") in v.actions


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('- {goto: told, when: "event.city is set"}', '- {goto: told, when: "city >"}'),
         "bad condition 'city >'"),
        (('- {goto: told, when: "event.city is set"}', '- {goto: told, if: "x"}'),
         "a transition takes 'goto' and 'when', not 'if'"),
        (("- {goto: asking}", "- {when: x is set}"), "a transition needs 'goto'"),
        (("- {goto: asking}", "- {goto: nowhere}"), "no state is called 'nowhere'"),
        (('say: "In {city} {day|today} it will be sunny."', 'say: "In {city"'),
         "bad template"),
    ],
)  # fmt: skip
def test_bad_transitions_and_templates_are_refused_at_their_line(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    text = FORECAST.replace(*change)
    assert text != FORECAST
    path = tmp_path / "forecast.yaml"
    path.write_text(text)
    with pytest.raises(errors.ModelValidationError) as info:
        load_model(path)
    line = next(i for i, row in enumerate(text.splitlines(), 1) if change[1] in row)
    assert any(message in p.message and p.line == line for p in info.value.problems), [
        (p.line, p.message) for p in info.value.problems
    ]
