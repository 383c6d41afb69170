"""Session variables through plugins, isolation between sessions, resume, serialization."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from dialoghub.agent import AgentApp, Plugins, RoundStatus, RulePlanner, SyncAgentApp
from dialoghub.errors import RoundBusy, SessionNotFound
from dialoghub.hub import Hub
from tests.agent.conftest import make_planner, make_plugins

ROOT = Path(__file__).resolve().parents[2]


async def test_a_plugin_variable_is_seen_by_the_next_round_and_not_by_another_session(
    app: AgentApp,
) -> None:
    one = await app.get_session()
    two = await app.get_session()
    await one.send_message("weather in Paris")
    assert (await one.send_message("last?")).reply == "last city: Paris"
    assert (await two.send_message("last?")).reply == "last city: None"
    assert (await one.send_message("weather in Rome")).reply == "Rome: sunny (lookup 2)"
    assert (await two.send_message("weather in Oslo")).reply == "Oslo: sunny (lookup 1)"
    assert (await one.variables())["count"] == 2


async def test_update_session_var_reaches_the_plugins(app: AgentApp) -> None:
    session = await app.get_session()
    await session.update_session_var({"count": 41})
    assert (await session.send_message("weather in Paris")).reply.endswith("(lookup 42)")


async def test_a_session_resumes_in_another_app_on_the_same_store(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/a.db"
    async with AgentApp(url, planner=make_planner(), plugins=make_plugins()) as app:
        session = await app.get_session("s-1")
        await session.send_message("weather in Paris")
        await session.stop()
    async with AgentApp(url, planner=make_planner(), plugins=make_plugins()) as app:
        session = await app.get_session("s-1")
        assert (await session.send_message("last")).reply == "last city: Paris"
        rounds = await session.rounds()
        assert [r.status for r in rounds] == [RoundStatus.FINISHED] * 2
        assert rounds[0].reply == "Paris: sunny (lookup 1)"


async def test_rounds_of_one_session_wait_for_each_other() -> None:
    gate = asyncio.Event()
    async with (
        Hub("memory://") as hub,
        AgentApp(hub, planner=make_planner(), plugins=make_plugins(gate)) as app,
    ):
        session = await app.get_session()
        first = asyncio.create_task(session.send_message("weather in Paris"))
        second = asyncio.create_task(session.send_message("weather in Rome"))
        for _ in range(20):
            await asyncio.sleep(0)
        assert not first.done() and not second.done()
        gate.set()
        a, b = await first, await second
    assert a.reply == "Paris: sunny (lookup 1)" and b.reply == "Rome: sunny (lookup 2)"
    assert a.ended_at is not None and b.started_at <= a.ended_at  # accepted while a ran


async def test_a_second_round_is_refused_when_configured() -> None:
    gate = asyncio.Event()
    async with (
        Hub("memory://") as hub,
        AgentApp(hub, planner=make_planner(), plugins=make_plugins(gate), busy="refuse") as app,
    ):
        session = await app.get_session()
        first = asyncio.create_task(session.send_message("weather in Paris"))
        await asyncio.sleep(0)
        with pytest.raises(RoundBusy):
            await session.send_message("weather in Rome")
        gate.set()
        assert (await first).status is RoundStatus.FINISHED
        assert len(await session.rounds()) == 1


async def test_two_apps_on_one_store_cannot_run_two_rounds_of_one_session(tmp_path: Path) -> None:
    """The round's start is a compare-and-set on the session: the second app is refused."""
    gate = asyncio.Event()
    url = f"sqlite:///{tmp_path}/a.db"
    async with (
        AgentApp(url, planner=make_planner(), plugins=make_plugins(gate)) as a,
        AgentApp(url, planner=make_planner(), plugins=make_plugins()) as b,
    ):
        b.shared_store = True  # b knows a may run rounds on this store
        await a.get_session("s")
        started = asyncio.Event()
        first = asyncio.create_task(
            a.send_message("s", "weather in Paris", event_handler=lambda e: started.set())
        )
        await started.wait()  # its start is stored
        with pytest.raises(RoundBusy):
            await b.send_message("s", "weather in Rome")
        gate.set()
        assert (await first).status is RoundStatus.FINISHED


async def test_many_sessions_run_their_rounds_concurrently() -> None:
    gate = asyncio.Event()
    async with (
        Hub("memory://") as hub,
        AgentApp(hub, planner=make_planner(), plugins=make_plugins(gate)) as app,
    ):
        sessions = [await app.get_session() for _ in range(20)]
        inside = asyncio.Event()
        count = 0

        def handler(event: Any) -> None:
            nonlocal count
            count += event.type == "post_attachment"
            if count == 20:  # every round is inside its plugin at once
                inside.set()

        tasks = [asyncio.create_task(s.send_message("weather in Paris", handler)) for s in sessions]
        await asyncio.wait_for(inside.wait(), 10)
        gate.set()
        rounds = await asyncio.gather(*tasks)
    assert all(r.status is RoundStatus.FINISHED for r in rounds)


async def test_unknown_sessions_and_rounds() -> None:
    from dialoghub.errors import RoundNotFound

    async with Hub("memory://") as hub, AgentApp(hub, planner=RulePlanner()) as app:
        with pytest.raises(SessionNotFound):
            await app.send_message("nobody", "hi")
        session = await app.get_session()
        with pytest.raises(RoundNotFound):
            await app.get_round(session.id, "nope")
        assert not await app.cancel(session.id)


def test_the_sync_face(tmp_path: Path) -> None:
    with SyncAgentApp(
        f"sqlite:///{tmp_path}/s.db", planner=make_planner(), plugins=make_plugins()
    ) as app:
        session = app.get_session("sync-1")
        seen: list[Any] = []
        rnd = session.send_message("weather in Paris", seen.append)
        assert rnd.status is RoundStatus.FINISHED and seen[-1].type == "round_end"
        session.update_session_var({"note": "x"})
        assert session.variables()["note"] == "x"
        session.stop()


async def test_a_dialog_model_plays_the_round_with_plugins(tmp_path: Path) -> None:
    """Sessions of a dialog model: the model drives, its commands are plugins."""
    from dialoghub.agent import load_plugins

    async with Hub("memory://") as hub:
        hub.load_models(ROOT / "examples" / "weather" / "weather.yaml")
        plugins = Plugins(load_plugins(str(ROOT / "examples" / "weather" / "plugins.py")))
        async with AgentApp(hub, plugins=plugins) as app:
            session = await app.get_session(model_id="weather")
            rnd = await session.send_message("what's the weather in Paris")
    assert rnd.status is RoundStatus.FINISHED
    assert "sunny" in (rnd.reply or "")
    assert [p.send_from for p in rnd.posts] == ["lookup_weather", "planner"]


async def test_event_numbers_are_never_given_twice_across_stop_and_restart(tmp_path: Path) -> None:
    from tests.agent.conftest import Collect

    url = f"sqlite:///{tmp_path}/a.db"
    async with AgentApp(url, planner=make_planner(), plugins=make_plugins()) as app:
        session = await app.get_session("n")
        first = Collect()
        await session.send_message("weather in Paris", first)
        seen: list[Any] = []
        attached = asyncio.Event()

        async def read() -> None:
            async for event in app.follow("n", after=first.events[-1].seq):
                seen.append(event)
                attached.set()

        reader = asyncio.create_task(read())
        await session.update_session_var({"x": 1})  # kept, so a late reader still gets it
        await attached.wait()  # the reader follows the live log: stop reaches it
        await session.stop()
        await asyncio.wait_for(reader, 5)
    assert [e.type for e in seen] == ["session_variable", "session_stop"]
    async with AgentApp(url, planner=make_planner(), plugins=make_plugins()) as app:
        later = Collect()
        await (await app.get_session("n")).send_message("last", later)
    assert later.events[0].seq == seen[-1].seq + 1


async def test_plugins_from_a_module_and_their_schemas() -> None:
    plugins = Plugins.from_module(str(ROOT / "examples" / "agent" / "rules.py"))
    assert set(plugins) >= {"forecast", "csv_summary"}
    tool = next(t for t in plugins.tools() if t["function"]["name"] == "forecast")
    assert tool["function"]["parameters"] == {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    }
    assert plugins.get("forecast").takes_context
    from dialoghub.errors import InvalidInput, PluginFailed

    with pytest.raises(PluginFailed):
        plugins.get("nope")
    with pytest.raises(InvalidInput):
        plugins.add("bad", 42)  # type: ignore[arg-type]


async def test_a_round_start_read_back_from_the_store_is_the_event_that_went_live(
    tmp_path: Path,
) -> None:
    """A follower that arrives between the round's stored start and its live event reads the
    start from the store (backfill): it must be the same event, time included."""
    from tests.agent.conftest import Collect

    async with AgentApp(f"sqlite:///{tmp_path}/a.db", planner=make_planner(),
                        plugins=make_plugins()) as app:  # fmt: skip
        live = Collect()
        await (await app.get_session("b")).send_message("weather in Paris", live)
        stored = await app.stored_events("b", after=0, before=live.events[-1].seq + 1)
    starts = [e for e in live.events if e.type == "round_start"]
    assert [e for e in stored if e.type == "round_start"] == starts
