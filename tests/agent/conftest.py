"""Fixtures of the agent tests: an app on an in-memory store with a two-plugin rule planner."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from dialoghub.agent import AgentApp, AgentEvent, Plugins, RulePlanner, Turn
from dialoghub.hub import Hub


def make_plugins(gate: asyncio.Event | None = None) -> Plugins:
    plugins = Plugins()

    @plugins.register()
    async def lookup(ctx: Any, city: str) -> dict[str, Any]:
        """The weather of a city."""
        ctx.status(f"looking up {city}")
        ctx.stream("checking ")
        ctx.stream("the sky")
        ctx.attach("json", {"city": city}, name="query")
        ctx.set_session_var("last_city", city)
        if gate is not None:
            await gate.wait()
        return {"city": city, "forecast": "sunny"}

    @plugins.register()
    def count(ctx: Any) -> int:
        """How many lookups this session made (a sync plugin, run in a thread)."""
        n = int(ctx.get_session_var("count", 0)) + 1
        ctx.set_session_var("count", n)
        return n

    @plugins.register()
    def explode(ctx: Any) -> None:
        raise RuntimeError("boom")

    return plugins


def make_planner() -> RulePlanner:
    planner = RulePlanner(default="I only know the weather.")

    @planner.rule(r"weather in (?P<city>\w+)")
    async def weather(turn: Turn, m: re.Match[str]) -> str:
        result = await turn.call("lookup", {"city": m["city"]})
        n = await turn.call("count")
        return f"{result['city']}: {result['forecast']} (lookup {n})"

    @planner.rule(r"explode")
    async def explode(turn: Turn, m: re.Match[str]) -> str:
        await turn.call("explode")
        return "never"

    @planner.rule(r"last")
    async def last(turn: Turn, m: re.Match[str]) -> str:
        return f"last city: {turn.variables.get('last_city')}"

    @planner.rule(r"files")
    async def files(turn: Turn, m: re.Match[str]) -> str:
        return "files: " + ", ".join(Path(p).name for p in turn.files)

    return planner


class Collect:
    """An event handler (a class with handle) that keeps every event."""

    def __init__(self) -> None:
        self.events: list[AgentEvent] = []

    def handle(self, event: AgentEvent) -> None:
        self.events.append(event)

    def types(self) -> list[str]:
        return [e.type.value for e in self.events]


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[AgentApp]:
    async with (
        Hub("memory://") as hub,
        AgentApp(
            hub, planner=make_planner(), plugins=make_plugins(), workspace=tmp_path / "ws"
        ) as agent,
    ):
        yield agent
