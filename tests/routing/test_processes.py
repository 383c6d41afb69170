"""Two ``dialoghub serve`` processes on one PostgreSQL share clients, locks and pending
commands through the bus (Redis, NATS): the exercise across them, and one killed
mid-exchange: its clients reconnect to the other and every exchange completes once."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from dialoghub.hub import Hub
from dialoghub.provider import Call, RoutedClient
from dialoghub.routing.frames import LockSpec
from tests.routing import procs
from tests.routing.procs import NATS
from tests.services import POSTGRES, REDIS, require
from tests.stores.conftest import BACKENDS


@pytest.fixture(params=["redis", "nats"])
def bus(request: pytest.FixtureRequest) -> Iterator[str]:
    prefix = f"t{uuid.uuid4().hex[:12]}"
    if request.param == "redis":
        require(*REDIS)
        yield f"redis://127.0.0.1:6379/0?prefix={prefix}:"
        import redis

        r = redis.Redis()
        for key in r.scan_iter(match=f"{prefix}:*"):
            r.delete(key)
        r.close()
    else:
        require(*NATS)
        yield f"nats://127.0.0.1:4222?prefix={prefix}"
        from dialoghub.routing.bus_nats import drop_prefix

        asyncio.run(drop_prefix("nats://127.0.0.1:4222", prefix))


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[str]:
    require(*POSTGRES)
    url, cleanup = BACKENDS["postgres"](tmp_path)
    async with Hub(url, migrate=True):  # the schema, made once before both servers start
        pass
    yield url
    await cleanup()


def _provider(urls: list[str], answered: list[str]) -> RoutedClient:
    provider = RoutedClient(urls, name="answerer", role="provider", concurrency=16)

    @provider.command("answer")
    async def answer(call: Call) -> dict[str, str]:
        answered.append(call.key)
        return {"reply": f"re:{call.params['tag']}"}

    return provider


async def _exchange(ui: RoutedClient, tag: str) -> str:
    await ui.send(f"ask {tag}")
    return await _reply(ui)


async def _reply(ui: RoutedClient) -> str:
    while True:
        update = await ui.updates(wait=20)
        replies = [a["text"] for a in update["actions"] if a["type"] == "reply"]
        if replies:
            return replies[0]


async def test_the_exercise_across_two_processes(store: str, bus: str) -> None:
    with procs.two(store, bus) as (a, b):
        answered: list[str] = []
        provider = await _provider([a.ws, b.ws], answered).connect()
        lock = LockSpec(read=True, write=True, assign=True)
        ui1 = await RoutedClient(a.ws, name="ui1", role="ui", session_id="S1", lock=lock).connect()
        ui2 = await RoutedClient(b.ws, name="ui2", role="ui", session_id="S2", lock=lock).connect()

        async def run(ui: RoutedClient, who: str) -> list[str]:
            return [await _exchange(ui, f"{who}-{i}") for i in range(50)]

        got1, got2 = await asyncio.gather(run(ui1, "a"), run(ui2, "b"))
        assert got1 == [f"re:a-{i}" for i in range(50)]
        assert got2 == [f"re:b-{i}" for i in range(50)]
        assert len(answered) == len(set(answered)) == 100
        for c in (ui1, ui2, provider):
            await c.close()


async def test_a_process_killed_mid_exchange(store: str, bus: str) -> None:
    with procs.two(store, bus) as (a, b):
        answered: list[str] = []
        provider = await _provider([a.ws, b.ws], answered).connect()  # on a
        ui = await RoutedClient(
            [b.ws, a.ws], name="ui", role="ui", session_id="S", lock=LockSpec(read=True, write=True)
        ).connect()  # on b
        got = [await _exchange(ui, f"x-{i}") for i in range(30)]
        await ui.send("ask x-30")  # its command goes to the provider, on a ...
        a.kill()  # ... which dies mid-exchange: the provider reconnects to b
        got.append(await _reply(ui))
        got += [await _exchange(ui, f"x-{i}") for i in range(31, 60)]
        assert got == [f"re:x-{i}" for i in range(60)]
        assert provider.process != "" and len(answered) == len(set(answered))
        async with Hub(store) as hub:
            events = await hub.events("S", limit=10_000)
        results = [e for e in events if e.type == "command_result_received"]
        assert len(results) == 60  # every command answered once, none lost, none doubled
        for c in (ui, provider):
            await c.close()
