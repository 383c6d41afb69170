"""Fixtures of the agent tests: an app on an in-memory store with a two-plugin rule planner."""

from __future__ import annotations

import asyncio
import re
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from dialoghub.agent import AgentApp, AgentEvent, Plugins, RulePlanner, Turn
from dialoghub.hub import Hub
from dialoghub.server import Settings, create_app
from dialoghub.server.keystore import MemoryKeyStore
from dialoghub.server.routes_messages import AgentConfig, install
from tests.server.conftest import Keys, make_keys


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


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Keys]]:
    keystore = MemoryKeyStore()
    keys = make_keys(keystore)
    settings = Settings(
        store=f"sqlite:///{tmp_path}/s.db",
        rate_limit=0,
        timers=False,
        token_keys=("k1:0123456789abcdef0123456789abcdef",),
    )
    app = create_app(settings, keystore=keystore)
    install(
        app,
        AgentConfig(planner=make_planner(), plugins=make_plugins(), workspace=str(tmp_path / "ws")),
    )
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not srv.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}", keys
    finally:
        srv.should_exit = True
        thread.join(10)
        sock.close()
