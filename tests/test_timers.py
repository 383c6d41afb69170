"""The timer service through the Hub: prompt timeouts and expiry, exactly once, on every
store; two Hubs on one PostgreSQL or Redis racing to deliver. No test sleeps: the service
runs with ``run_once(now=...)`` and the Hubs with a fake clock."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from dialoghub import Hub
from dialoghub.engine.records import Status
from dialoghub.hub.timers import TimerService
from tests.stores.conftest import BACKENDS

T0 = 1_700_000_000.0
PIZZA = Path(__file__).parent.parent / "examples" / "pizza" / "pizza.yaml"


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def make_hub(url: str, clock: Clock, **kw: object) -> Hub:
    hub = Hub(url, clock=clock, **kw)  # type: ignore[arg-type]
    hub.load_models(PIZZA)
    return hub


@pytest.fixture(params=sorted(BACKENDS))
async def url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    made, cleanup = BACKENDS[request.param](tmp_path)
    try:
        yield made
    finally:
        await cleanup()


async def types(hub: Hub, sid: str) -> list[str]:
    return [e.type for e in await hub.events(sid, limit=10_000)]


async def test_a_due_prompt_timeout_is_delivered_once(url: str) -> None:
    clock = Clock()
    async with make_hub(url, clock) as hub:
        view = await hub.create_session(session_id="p1")
        assert view.session.due_at == T0 + 30
        service = TimerService(hub)
        assert (await service.run_once(now=T0 + 29)).delivered == 0
        clock.now = T0 + 30
        assert (await service.run_once(now=T0 + 30)).delivered == 1
        s = await hub.get_session("p1")
        assert s.counters == {"prompt": 1} and s.due_at == T0 + 60  # re-prompted, due again
        assert (await service.run_once(now=T0 + 31)).delivered == 0
        clock.now = T0 + 60
        assert (await service.run_once(now=T0 + 60)).delivered == 1
        s = await hub.get_session("p1")
        assert s.status is Status.ENDED and s.timer is None  # retries used up: then bye
        assert (await types(hub, "p1")).count("timeout_fired") == 2


async def test_a_timer_whose_session_moved_on_is_dropped(url: str) -> None:
    clock = Clock()
    async with make_hub(url, clock) as hub:
        await hub.create_session(session_id="p1")
        service = TimerService(hub, lease=5)
        [timer] = await hub.store.claim_timers(T0 + 30, lease=5)  # claimed, not yet delivered
        clock.now = T0 + 10
        await hub.process_text("p1", "goodbye")  # the session moves on meanwhile
        await service._deliver(timer)
        assert "timeout_fired" not in await types(hub, "p1")
        assert (await service.run_once(now=T0 + 1000)).delivered == 0


async def test_timers_are_delivered_after_a_restart(url: str, tmp_path: Path) -> None:
    if url.startswith("memory"):
        pytest.skip("memory keeps nothing across close() by design")
    clock = Clock()
    async with make_hub(url, clock) as hub:
        await hub.create_session(session_id="p1")
    clock.now = T0 + 30
    async with make_hub(url, clock) as hub:
        assert (await TimerService(hub).run_once(now=T0 + 30)).delivered == 1
        assert (await hub.get_session("p1")).counters == {"prompt": 1}


async def test_an_idle_session_expires(url: str) -> None:
    clock = Clock()
    async with make_hub(url, clock, lifetime={"idle": 10}) as hub:
        view = await hub.create_session(session_id="p1")
        assert view.session.expires_at == T0 + 10  # before the prompt timeout (30)
        clock.now = T0 + 5
        await hub.process_text("p1", "what's on the menu?")
        assert (await hub.get_session("p1")).expires_at == T0 + 15  # idle: counted again
        clock.now = T0 + 15
        assert (await TimerService(hub).run_once(now=T0 + 15)).delivered == 1
        s = await hub.get_session("p1")
        assert (s.status, s.active, s.timer) == (Status.EXPIRED, False, None)
        assert (await types(hub, "p1"))[-1] == "session_expired"
        page = await hub.list_sessions(status="expired")
        assert [x.id for x in page.sessions] == ["p1"]


async def test_an_absolute_lifetime_ends_even_a_busy_session(url: str) -> None:
    clock = Clock()
    async with make_hub(url, clock, lifetime={"idle": 100, "absolute": 12}) as hub:
        await hub.create_session(session_id="p1")
        for t in (4, 8):
            clock.now = T0 + t
            await hub.process_text("p1", "what's on the menu?")
        assert (await hub.get_session("p1")).expires_at == T0 + 12
        clock.now = T0 + 12
        assert (await TimerService(hub).run_once(now=T0 + 12)).delivered == 1
        assert (await hub.get_session("p1")).status is Status.EXPIRED


async def test_purge_deletes_ended_and_expired_sessions_in_batches(url: str) -> None:
    clock = Clock()
    async with make_hub(url, clock, lifetime={"idle": 10}) as hub:
        for i in range(5):
            await hub.create_session(session_id=f"old{i}")
        await hub.end_session("old0")
        await TimerService(hub).run_once(now=T0 + 10)  # old1..old4 expire
        clock.now = T0 + 100
        await hub.create_session(session_id="live")
        clock.now = T0 + 1000
        assert await hub.purge(older_than=500, batch=2) == 5
        assert [s.id for s in (await hub.list_sessions()).sessions] == ["live"]


@pytest.mark.parametrize("backend", ["postgres", "redis"])
async def test_two_hubs_racing_deliver_each_timer_exactly_once(
    backend: str, tmp_path: Path
) -> None:
    made, cleanup = BACKENDS[backend](tmp_path)
    clock = Clock()
    try:
        async with make_hub(made, clock) as one, make_hub(made, clock) as two:
            for i in range(30):
                await one.create_session(session_id=f"s{i}")
            clock.now = T0 + 30
            services = [TimerService(h, batch=4) for h in (one, two, one, two)]
            results = await asyncio.gather(*(s.run_once(now=T0 + 30) for s in services))
            assert sum(r.delivered for r in results) == 30
            assert sum(r.delivered for r in results[1::2]) > 0  # both hubs took part
            for i in range(30):
                assert (await types(one, f"s{i}")).count("timeout_fired") == 1
    finally:
        await cleanup()


async def test_hub_runs_the_service_when_asked() -> None:
    clock = Clock()
    hub = make_hub("memory://", clock, timers=True)
    async with hub:
        service = hub._timer_service
        assert isinstance(service, TimerService)
        await hub.create_session(session_id="p1")
        clock.now = T0 + 30
        assert (await service.run_once()).delivered == 1  # the Hub's clock by default
    assert hub._timer_service is None


async def test_the_service_purges_expired_idempotency_records_on_its_own() -> None:
    clock = Clock()
    hub = make_hub("memory://", clock, idempotency_retention=3600.0)
    async with hub:
        await hub.create_session(session_id="p1")
        first = await hub.process_text("p1", "a large pizza", idempotency_key="k")
        clock.now = T0 + 7200  # past the retention: nothing has purged it yet
        assert await hub.process_text("p1", "a large pizza", idempotency_key="k") == first
        purged = asyncio.Event()
        real = hub.purge_idempotency

        async def watched(**kw: object) -> int:
            count = await real(**kw)  # type: ignore[arg-type]
            if count:
                purged.set()
            return count

        hub.purge_idempotency = watched  # type: ignore[method-assign]
        service = TimerService(hub, interval=0.01)
        service.start()
        try:
            await asyncio.wait_for(purged.wait(), 10)
        finally:
            await service.stop()
        # The key is free again: the same text is a new update, not the first answer.
        again = await hub.process_text("p1", "a large pizza", idempotency_key="k")
        assert again.session.version > first.session.version
