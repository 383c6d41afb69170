"""Comparing two versions of a model: what would break the sessions of the old one."""

from __future__ import annotations

from pathlib import Path

from dialoghub.hub import Hub
from dialoghub.hub.compat import count_waiting
from dialoghub.model.compat import compare
from dialoghub.model.loader import load_model_text
from dialoghub.model.spec import Model

WEATHER = Path(__file__).resolve().parents[2] / "examples" / "weather" / "weather.yaml"


def _weather(*edits: tuple[str, str]) -> Model:
    text = WEATHER.read_text(encoding="utf-8")
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new)
    return load_model_text(text, "new.yaml")


def _kinds(changes: list) -> set[tuple[str, str | None, bool]]:
    return {(c.kind, c.state, c.breaking) for c in changes}


def test_the_same_model_changes_nothing(weather: Model) -> None:
    assert compare(weather, _weather()) == []


def test_a_renamed_waiting_state_breaks(weather: Model) -> None:
    new = _weather(("  listen:", "  waiting:"), ("next: listen", "next: waiting"))
    changes = compare(weather, new)
    assert _kinds(changes) == {("state_renamed", "listen", True)}
    assert "renamed to 'waiting'" in changes[0].message


def test_a_removed_pass_through_state_is_only_a_note(weather: Model) -> None:
    new = _weather(
        ("      thanks: welcome\n", "      thanks: listen\n"),
        ("  welcome:\n    say: You're welcome!\n    next: listen\n", ""),
    )
    assert _kinds(compare(weather, new)) == {("state_removed", "welcome", False)}


def test_a_moved_command_step_breaks(weather: Model) -> None:
    new = _weather(
        (
            "      - command: lookup_weather",
            "      - say: Let me see.\n      - command: lookup_weather",
        )
    )
    changes = compare(weather, new)
    assert _kinds(changes) == {("resume_moved", "forecast", True)}
    assert "command lookup_weather at step 1 -> command lookup_weather at step 2" in str(changes[0])


def test_removed_intent_command_and_output_break(weather: Model) -> None:
    new = _weather(
        ("  thanks: [thanks, thank you, cheers, thanks a lot]\n", ""),
        ("      thanks: welcome\n", ""),
        ("  welcome:\n    say: You're welcome!\n    next: listen\n", ""),
        ("outputs: [forecast, temperature]", "outputs: [forecast]"),
        (" and {temperature} degrees", ""),
    )
    kinds = _kinds(compare(weather, new))
    assert ("intent_removed", "listen", True) in kinds
    assert ("output_removed", None, True) in kinds
    assert ("state_removed", "welcome", False) in kinds


def test_breaking_changes_come_first(weather: Model) -> None:
    new = _weather(
        ("      thanks: welcome\n", "      thanks: listen\n"),
        ("  welcome:\n    say: You're welcome!\n    next: listen\n", ""),
        ("outputs: [forecast, temperature]", "outputs: [forecast]"),
        (" and {temperature} degrees", ""),
    )
    assert [c.breaking for c in compare(weather, new)] == [True, False]


async def test_count_waiting_counts_active_sessions_in_the_state(weather: Model) -> None:
    new = _weather(("  listen:", "  waiting:"), ("next: listen", "next: waiting"))
    async with Hub("memory://") as hub:
        hub.add_model(weather)
        for _ in range(3):
            await hub.create_session("weather")
        ended = await hub.create_session("weather")
        await hub.end_session(ended.id)
        (change,) = await count_waiting(hub, "weather", compare(weather, new))
    assert change.sessions == 3
    assert change.breaking
    assert "[3 active session(s) there]" in str(change)


async def test_a_state_nobody_waits_in_is_safe_to_rename(weather: Model) -> None:
    new = _weather(("  listen:", "  waiting:"), ("next: listen", "next: waiting"))
    async with Hub("memory://") as hub:
        hub.add_model(weather)
        (change,) = await count_waiting(hub, "weather", compare(weather, new))
    assert change.sessions == 0
    assert not change.breaking
