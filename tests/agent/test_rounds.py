"""Rounds and their events: order, numbering, failures, cancellation, handlers that raise."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import pytest

from dialoghub.agent import (
    AgentApp,
    AgentEvent,
    EventType,
    Plugins,
    RoundStatus,
    RulePlanner,
    Scope,
)
from dialoghub.hub import Hub
from tests.agent.conftest import Collect, make_planner, make_plugins

NORMAL = [
    "round_start",
    "post_start",
    "post_status",
    "post_message",
    "post_message",
    "post_attachment",
    "session_variable",
    "post_end",  # lookup
    "post_start",
    "session_variable",
    "post_end",  # count
    "post_start",
    "post_message",
    "post_message",
    "post_end",  # the reply to the user
    "round_end",
]


async def test_a_normal_round_emits_every_event_in_order(app: AgentApp) -> None:
    session = await app.get_session()
    seen = Collect()
    before = time.time()
    rnd = await session.send_message("what is the weather in Paris", seen)
    assert rnd.status is RoundStatus.FINISHED
    assert rnd.reply == "Paris: sunny (lookup 1)"
    assert seen.types() == NORMAL
    seqs = [e.seq for e in seen.events]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))  # contiguous, increasing
    assert all(e.round_id == rnd.id and e.session_id == session.id for e in seen.events)
    assert all(before <= e.time <= time.time() for e in seen.events)
    posts = [e for e in seen.events if e.scope is Scope.POST]
    assert all(e.post_id for e in posts)
    assert seen.events[0].scope is Scope.ROUND and seen.events[6].scope is Scope.SESSION
    # the posts: two plugins then the reply to the user
    assert [(p.send_from, p.send_to) for p in rnd.posts] == [
        ("lookup", "planner"),
        ("count", "planner"),
        ("planner", "user"),
    ]
    lookup = rnd.posts[0]
    assert lookup.message == "checking the sky"
    assert lookup.args == {"city": "Paris"} and lookup.result["forecast"] == "sunny"
    assert lookup.attachments[0].content == {"city": "Paris"}
    assert seen.events[-3].is_end and seen.events[-3].type is EventType.POST_MESSAGE


async def test_the_stored_round_is_the_returned_round(app: AgentApp) -> None:
    session = await app.get_session()
    rnd = await session.send_message("weather in Rome")
    stored = await app.get_round(session.id, rnd.id)
    assert stored.status is RoundStatus.FINISHED and stored.reply == rnd.reply
    assert [p.id for p in stored.posts] == [p.id for p in rnd.posts]
    assert (await session.rounds())[0].id == rnd.id


async def test_a_failing_plugin_fails_the_round_and_send_message_returns_it(app: AgentApp) -> None:
    session = await app.get_session()
    seen = Collect()
    rnd = await session.send_message("explode now", seen)
    assert rnd.status is RoundStatus.FAILED
    assert "boom" in (rnd.error or "")
    assert seen.types() == ["round_start", "post_start", "post_end", "round_error", "round_end"]
    assert seen.events[2].data["post"]["status"] == "failed"
    assert seen.events[-1].data["status"] == "failed"
    # the session goes on: the next round plays
    assert (await session.send_message("weather in Oslo")).status is RoundStatus.FINISHED


async def test_a_planner_that_raises_fails_the_round(tmp_path: Any) -> None:
    class Broken:
        async def run(self, turn: Any) -> str:
            raise ValueError("planner bug")

    async with Hub("memory://") as hub, AgentApp(hub, planner=Broken()) as app:
        rnd = await (await app.get_session()).send_message("hi")
    assert rnd.status is RoundStatus.FAILED and "planner bug" in (rnd.error or "")


async def test_a_stop_cancels_the_round_after_its_current_step() -> None:
    gate = asyncio.Event()
    async with (
        Hub("memory://") as hub,
        AgentApp(hub, planner=make_planner(), plugins=make_plugins(gate)) as app,
    ):
        session = await app.get_session()
        seen = Collect()
        in_plugin = asyncio.Event()

        def handler(event: AgentEvent) -> None:
            seen.handle(event)
            if event.type is EventType.POST_ATTACHMENT:  # the plugin is running
                in_plugin.set()

        task = asyncio.create_task(session.send_message("weather in Paris", handler))
        await in_plugin.wait()
        stopping = asyncio.create_task(session.stop())
        await asyncio.sleep(0)
        gate.set()  # the current step (the plugin) completes...
        rnd = await task
        await stopping
    assert rnd.status is RoundStatus.CANCELLED
    # ...and nothing after it runs: no second plugin, no reply
    assert seen.types()[-2:] == ["post_end", "round_end"]
    assert seen.types().count("post_start") == 1
    assert seen.events[-1].data["status"] == "cancelled"


async def test_every_declared_event_type_is_emitted(tmp_path: Any) -> None:
    gate = asyncio.Event()
    async with (
        Hub("memory://") as hub,
        AgentApp(hub, planner=make_planner(), plugins=make_plugins(gate)) as app,
    ):
        session = await app.get_session()
        follower = app.follow(session.id)
        seen: list[AgentEvent] = []

        async def read() -> None:
            async for event in follower:
                seen.append(event)

        reader = asyncio.create_task(read())
        gate.set()
        await session.send_message("weather in Paris")
        await session.send_message("explode")
        await session.update_session_var({"user": "ann"})
        await session.stop()
        await asyncio.wait_for(reader, 5)
    assert {e.type for e in seen} == set(EventType)


@pytest.mark.parametrize("kind", ["method", "sync", "async"])
async def test_a_handler_that_raises_is_logged_and_the_round_goes_on(
    app: AgentApp, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[str] = []

    class Raising:
        def handle(self, event: AgentEvent) -> None:
            calls.append(event.type)
            raise RuntimeError("display broke")

    def sync_handler(event: AgentEvent) -> None:
        calls.append(event.type)
        raise RuntimeError("display broke")

    async def async_handler(event: AgentEvent) -> None:
        calls.append(event.type)
        raise RuntimeError("display broke")

    handler = {"method": Raising(), "sync": sync_handler, "async": async_handler}[kind]
    session = await app.get_session()
    with caplog.at_level(logging.ERROR, "dialoghub.agent"):
        rnd = await session.send_message("weather in Paris", handler)
    assert rnd.status is RoundStatus.FINISHED
    assert len(calls) == len(NORMAL)
    assert "display broke" in caplog.text


async def test_no_planner_and_empty_messages_are_refused() -> None:
    from dialoghub.errors import InvalidInput

    async with Hub("memory://") as hub, AgentApp(hub, plugins=Plugins()) as app:
        session = await app.get_session()
        with pytest.raises(InvalidInput):
            await session.send_message("   ")
        with pytest.raises(InvalidInput):
            await session.send_message("hi", files=[{"name": "a", "content": "x"}])
        with pytest.raises(InvalidInput, match="no planner"):
            await session.send_message("hi")
        assert await session.rounds() == []  # refused: nothing recorded


async def test_streamed_chunks_are_not_stored() -> None:
    """The same 500-character reply streamed as 1 chunk or as 500 is stored the same: the
    same events, the same bytes but for the digits of the live sequence numbers."""
    import msgspec

    sizes: list[tuple[int, int]] = []
    for chunks in (1, 500):
        planner = RulePlanner()

        async def talk(turn: Any, m: Any, n: int = chunks) -> str:
            for _ in range(n):
                await turn.say("x" * (500 // n))
            return ""

        planner.add("talk", talk)
        async with Hub("memory://") as hub, AgentApp(hub, planner=planner) as app:
            session = await app.get_session()
            rnd = await session.send_message("talk")
            assert rnd.reply == "x" * 500
            events = await hub.events(session.id, limit=1000)
            sizes.append((len(events), len(msgspec.msgpack.encode(events))))
    assert sizes[0][0] == sizes[1][0]
    assert abs(sizes[0][1] - sizes[1][1]) <= 4  # seq 8 against seq 503, twice


async def test_a_round_over_its_timeout_fails_and_is_recorded() -> None:
    never = asyncio.Event()
    async with (
        Hub("memory://") as hub,
        AgentApp(
            hub, planner=make_planner(), plugins=make_plugins(never), round_timeout=0.2
        ) as app,
    ):
        session = await app.get_session()
        seen = Collect()
        rnd = await session.send_message("weather in Paris", seen)
        assert rnd.status is RoundStatus.FAILED and "timed out" in (rnd.error or "")
        assert seen.types()[-2:] == ["round_error", "round_end"]
        stored = await app.get_round(session.id, rnd.id)
        assert stored.status is RoundStatus.FAILED
        # the session takes the next round
        never.set()
        assert (await session.send_message("last")).status is RoundStatus.FINISHED


async def test_a_follower_older_than_the_kept_events_gets_the_stored_ones_first() -> None:
    async with (
        Hub("memory://") as hub,
        AgentApp(hub, planner=make_planner(), plugins=make_plugins(), keep_events=3) as app,
    ):
        session = await app.get_session()
        for city in ("Paris", "Rome", "Oslo"):  # 48 events; 3 to 6 of them kept
            await session.send_message(f"weather in {city}")
        got: list[AgentEvent] = []

        async def read() -> None:
            async for event in app.follow(session.id, after=0):
                got.append(event)
                if (
                    len(got) > 1
                    and event.type is EventType.ROUND_END
                    and event.message.startswith("Oslo")
                ):
                    return

        await asyncio.wait_for(read(), 5)
    seqs = [e.seq for e in got]
    assert seqs == sorted(set(seqs))  # increasing, no repeat
    stored = [e for e in got if e.seq < got[-1].seq - 5]
    assert [e.type for e in stored[:4]] == ["round_start", "post_end", "post_end", "post_end"]
    assert stored[3].data["post"]["send_to"] == "user"  # the reply post, stored with the end
    assert [e.type for e in got].count("round_end") == 3
