"""Time travel through the Hub: ``get_session(id, at=seq)`` and ``fork_session``, on every
store, checked against a replay of the log and costed by the store's events_read counter."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from dialoghub import Hub
from dialoghub.engine.fold import replay
from dialoghub.errors import InvalidInput, SessionExists
from dialoghub.stores.base import SNAPSHOT_EVERY
from tests.stores.conftest import BACKENDS

T0 = 1_700_000_000.0
WEATHER = Path(__file__).parent.parent / "examples" / "weather" / "weather.yaml"


@pytest.fixture(params=sorted(BACKENDS))
async def hub(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Hub]:
    url, cleanup = BACKENDS[request.param](tmp_path)
    ticks = iter(range(10**9))
    h = Hub(url, clock=lambda: T0 + next(ticks))
    h.load_models(WEATHER)
    try:
        async with h:
            yield h
    finally:
        await cleanup()


async def chat(hub: Hub, sid: str, turns: int) -> None:
    await hub.create_session(session_id=sid)
    for _ in range(turns):
        await hub.set_variables(sid, {"n": 1})


async def log(hub: Hub, sid: str) -> list:  # type: ignore[type-arg]
    return await hub.events(sid, limit=10_000)


async def test_get_session_at_equals_the_replay_of_the_first_events(hub: Hub) -> None:
    await chat(hub, "a", SNAPSHOT_EVERY + 20)
    events = await log(hub, "a")
    last = events[-1].seq
    for seq in [1, 2, 3, 50, *range(2 * SNAPSHOT_EVERY - 3, 2 * SNAPSHOT_EVERY + 4), last - 1]:
        assert await hub.get_session("a", at=seq) == replay(events[:seq]), seq
    assert await hub.get_session("a", at=last) == await hub.get_session("a")


async def test_get_session_at_out_of_range_is_invalid_input(hub: Hub) -> None:
    await chat(hub, "a", 1)
    last = (await hub.get_session("a")).seq
    for bad in (0, -1, last + 1):
        with pytest.raises(InvalidInput):
            await hub.get_session("a", at=bad)


async def test_reading_the_past_costs_the_same_whatever_the_history(hub: Hub) -> None:
    costs = []
    for sid, turns in (("short", SNAPSHOT_EVERY + 10), ("long", 4 * SNAPSHOT_EVERY + 10)):
        await chat(hub, sid, turns)
        last = (await hub.get_session(sid)).seq
        before = hub.store.events_read
        await hub.get_session(sid, at=last - 2)
        costs.append(hub.store.events_read - before)
    assert costs[0] == costs[1]
    assert costs[0] <= 2 * SNAPSHOT_EVERY  # two events per set_variables update


async def test_a_fork_has_its_own_history(hub: Hub) -> None:
    await chat(hub, "a", SNAPSHOT_EVERY + 5)
    events = await log(hub, "a")
    at = 2 * SNAPSHOT_EVERY + 1  # inside an update: the fork starts at that update's end
    source = replay([e for e in events if e.version <= events[at - 1].version])
    fork = await hub.fork_session("a", at=at, new_id="b")
    assert (fork.id, fork.version, fork.seq) == ("b", 1, 1)
    assert (fork.state, fork.variables, fork.awaiting) == (
        source.state,
        source.variables,
        source.awaiting,
    )
    forked = await log(hub, "b")
    assert [e.type for e in forked] == ["session_forked"]
    assert forked[0].data["source"] == {"id": "a", "seq": source.seq, "version": source.version}
    assert replay(forked) == fork == await hub.get_session("b")
    view = await hub.set_variables("b", {"n": 2})  # the fork lives on by itself
    assert view.session.version == 2 and replay(await log(hub, "b")) == view.session
    assert await log(hub, "a") == events  # the source is untouched


async def test_fork_defaults_to_now_and_a_new_id(hub: Hub) -> None:
    await chat(hub, "a", 2)
    current = await hub.get_session("a")
    fork = await hub.fork_session("a")
    assert fork.id != "a" and fork.state == current.state and fork.variables == current.variables


async def test_fork_refuses_a_taken_or_same_id(hub: Hub) -> None:
    await chat(hub, "a", 1)
    await chat(hub, "b", 1)
    with pytest.raises(SessionExists):
        await hub.fork_session("a", new_id="b")
    with pytest.raises(InvalidInput):
        await hub.fork_session("a", new_id="a")


async def test_forking_costs_the_same_whatever_the_history(hub: Hub) -> None:
    costs = []
    for sid, turns in (("short", SNAPSHOT_EVERY + 10), ("long", 4 * SNAPSHOT_EVERY + 10)):
        await chat(hub, sid, turns)
        last = (await hub.get_session(sid)).seq
        before = hub.store.events_read
        await hub.fork_session(sid, at=last - 3, new_id=f"{sid}-fork")
        costs.append(hub.store.events_read - before)
    assert costs[0] == costs[1] <= 2 * SNAPSHOT_EVERY
