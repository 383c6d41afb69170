"""Moving sessions between stores: ``Store.import_session`` on every backend, and
``Hub.export_sessions`` -> ``Hub.import_session`` between every pair of backends.

Sessions come from a real model (so their logs fold), in several states: just created,
mid-conversation, ended, expired; with timers (an idle lifetime), with more than one page of
events, and with kept time-travel snapshots (SNAPSHOT_EVERY is lowered for the test).
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from pathlib import Path

import msgspec
import pytest

from dialoghub import Hub
from dialoghub.engine.records import Event, Session, Status
from dialoghub.errors import InvalidInput, SessionExists
from dialoghub.hub.transfer import decode_line, encode_line
from dialoghub.stores import Store, base, open_store
from tests.conftest import EXAMPLES
from tests.stores.conftest import BACKENDS
from tests.stores.helpers import create, events, session

WEATHER = EXAMPLES / "weather"
T0 = 1_700_000_000.0
FAR = T0 + 10**9


@pytest.fixture(autouse=True)
def small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    """Snapshots kept every 5 versions and events exported 7 at a time: a few turns then
    cover kept snapshots and several pages of events."""
    monkeypatch.setattr(base, "SNAPSHOT_EVERY", 5)
    monkeypatch.setattr("dialoghub.hub.transfer.EVENTS_PAGE", 7)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        self.now += 1.5
        return self.now


async def populate(hub: Hub) -> None:
    """Sessions in every state; ``long`` has more than one page of events."""
    await hub.create_session("weather", session_id="fresh", metadata={"channel": "web"})
    await hub.create_session("weather", session_id="mid")
    await hub.process_text("mid", "what's the weather in Paris")
    await hub.create_session("weather", session_id="done")
    await hub.process_text("done", "hello")
    await hub.end_session("done", reason="bye")
    await hub.create_session("weather", session_id="long", params={"n": 1.5})
    for i in range(12):
        await hub.process_text("long", "hello" if i % 2 else "thanks")
    await hub.create_session("weather", session_id="other", tenant="acme")
    await hub.create_session("weather", session_id="gone")
    from dialoghub.engine.records import Expire

    await hub.update("gone", Expire())


async def snapshot_of(hub: Hub, tenant: str = "default") -> dict[str, tuple[Session, list[Event]]]:
    return {s.id: (s, ev) async for s, ev in hub.export_sessions(tenant=tenant, page_size=2)}


async def move(source: Hub, target: Hub) -> int:
    """Export every tenant's sessions of ``source`` through the JSON line format into target."""
    n = 0
    for tenant in ("default", "acme"):
        async for s, ev in source.export_sessions(tenant=tenant, page_size=2):
            line = decode_line(encode_line(s, ev))
            await target.import_session(line.session, line.events)
            n += 1
    return n


async def check_same(source: Hub, target: Hub) -> None:
    """Everything a store derives from a session is equal in both stores."""
    for tenant in ("default", "acme"):
        before, after = await snapshot_of(source, tenant), await snapshot_of(target, tenant)
        assert list(before) == list(after)  # same sessions, same (creation) order
        assert before == after
    assert (await snapshot_of(target))["long"][1][-1].seq > 7  # more than one page
    # Time travel reads the kept snapshots: same answers, O(events since the snapshot).
    long, log = (await snapshot_of(target))["long"]
    for at in (1, 3, len(log) // 2, len(log) - 1):
        assert await target.get_session("long", at=at) == await source.get_session("long", at=at)
    kept = await target.store.rewind("long", at=long.seq)
    assert kept.snapshot is not None and kept.snapshot.version % 5 == 0
    # Listing indexes: by status, state and model.
    for status in ("active", "ended", "expired"):
        a = await source.list_sessions(status=status)
        b = await target.list_sessions(status=status)
        assert [s.id for s in a.sessions] == [s.id for s in b.sessions]
    b = await target.list_sessions(model="weather", state=long.state)
    assert "long" in [s.id for s in b.sessions]
    # Timers (idle lifetime) as the writes left them.
    due = {
        (t.tenant, t.session_id, t.version, t.name) for t in await source.store.claim_timers(FAR)
    }
    moved = {
        (t.tenant, t.session_id, t.version, t.name) for t in await target.store.claim_timers(FAR)
    }
    assert due == moved and len(due) == 4  # every active session
    # Retention: the ended and the expired session, as closed sessions.
    assert await target.store.purge(FAR) == 2


@pytest.fixture
async def urls(tmp_path: Path) -> AsyncIterator[dict[str, str]]:
    """A fresh URL per backend, cleaned up after the test; built on first use."""
    cleanups = []

    class Lazy(dict[str, str]):
        def __missing__(self, name: str) -> str:
            url, cleanup = BACKENDS[name](tmp_path / name)
            (tmp_path / name).mkdir(exist_ok=True)
            cleanups.append(cleanup)
            self[name] = url
            return url

    lazy = Lazy()
    try:
        yield lazy
    finally:
        for cleanup in cleanups:
            await cleanup()


def hub_for(url: str) -> Hub:
    hub = Hub(url, clock=Clock(), lifetime={"idle": 3600})
    hub.load_models(WEATHER)
    return hub


PAIRS = list(itertools.permutations(sorted(BACKENDS), 2))


@pytest.mark.parametrize(("src", "dst"), PAIRS, ids=[f"{a}-to-{b}" for a, b in PAIRS])
async def test_round_trip_between_backends(src: str, dst: str, urls: dict[str, str]) -> None:
    async with hub_for(urls[src]) as source, hub_for(urls[dst]) as target:
        await populate(source)
        assert await move(source, target) == 6
        await check_same(source, target)


async def test_chain_through_every_backend(urls: dict[str, str]) -> None:
    """memory -> sqlite -> postgres -> redis -> json -> memory: the last equals the first."""
    chain = ["memory", "sqlite", "postgres", "redis", "json"]
    first = hub_for(urls["memory"])
    await first.open()
    try:
        await populate(first)
        original = await snapshot_of(first)
        current = first
        for name in [*chain[1:], "memory"]:
            nxt = hub_for("memory://" if name == "memory" else urls[name])
            await nxt.open()
            assert await move(current, nxt) == 6
            if current is not first:
                await current.close()
            current = nxt
        assert await snapshot_of(current) == original
        await check_same(first, current)
        await current.close()
    finally:
        await first.close()


# --- the store protocol, on each backend ------------------------------------------------


async def test_import_refuses_an_existing_id_and_writes_nothing(store: Store) -> None:
    await create(store, "a", n=2)
    before = await store.events("a")
    snap = session("a", version=1, seq=3)
    with pytest.raises(SessionExists):
        await store.import_session(snap, events(1, 3, version=1))
    assert await store.events("a") == before
    assert (await store.load("a")) == session("a", version=1, seq=2)


async def test_import_groups_events_by_version(store: Store) -> None:
    log = [*events(1, 2, version=1), *events(3, 1, version=2), *events(4, 3, version=3)]
    snap = session("b", version=3, seq=6, status=Status.ENDED)
    await store.import_session(snap, log)
    assert await store.load("b") == snap
    assert await store.events("b", limit=100) == log
    assert await store.events("b", after=3, limit=2) == log[3:5]
    page = await store.list_sessions(base.SessionFilter(status="ended"))
    assert [s.id for s in page.sessions] == ["b"]
    assert await store.purge(FAR) == 1


@pytest.mark.parametrize(
    ("log", "why"),
    [
        (events(2, 2, version=1), "seq"),  # does not start at 1
        ([*events(1, 1, version=2), *events(2, 1, version=1)], "version"),  # goes back
        ([*events(1, 1, version=1), *events(2, 1, version=1, time=T0 + 9)], "times"),
        (events(1, 2, version=1), "log ends"),  # shorter than the snapshot's seq
    ],
)
async def test_import_refuses_a_log_a_store_cannot_hold(
    store: Store, log: list[Event], why: str
) -> None:
    with pytest.raises(InvalidInput, match=why):
        await store.import_session(session("c", version=2, seq=3), log)
    assert await store.load("c") is None
    assert await store.events("c") == []


# --- the hub's check: the log must fold into the snapshot -------------------------------


async def test_hub_refuses_a_log_that_does_not_reproduce_its_snapshot(tmp_path: Path) -> None:
    async with hub_for("memory://") as source, hub_for(f"sqlite:///{tmp_path / 't.db'}") as dst:
        await populate(source)
        s, log = (await snapshot_of(source))["mid"]
        lied = msgspec.structs.replace(s, state="somewhere_else")
        with pytest.raises(InvalidInput, match=r"do not reproduce its snapshot.*state"):
            await dst.import_session(lied, log)
        with pytest.raises(InvalidInput, match="cannot be applied"):
            await dst.import_session(s, [msgspec.structs.replace(log[0], data={}), *log[1:]])
        with pytest.raises(InvalidInput, match="no events"):
            await dst.import_session(s, [])
        assert await dst.store.load("mid") is None
        await dst.import_session(s, log)
        with pytest.raises(SessionExists):
            await dst.import_session(s, log)
        # The imported session goes on like any other.
        view = await dst.process_command_result(
            "mid", "lookup_weather", {"forecast": "sunny", "temperature": 21}
        )
        assert view.version == s.version + 1 and view.replies


async def test_export_is_streamed_page_by_page(urls: dict[str, str]) -> None:
    async with hub_for(urls["sqlite"]) as hub:
        for i in range(7):
            await hub.create_session("weather", session_id=f"s{i}")
        calls = 0
        real = hub.store.list_sessions

        async def counting(*args: object, **kw: object) -> base.Page:
            nonlocal calls
            calls += 1
            return await real(*args, **kw)  # type: ignore[arg-type]

        hub.store.list_sessions = counting  # type: ignore[method-assign]
        ids = [s.id async for s, _ in hub.export_sessions(page_size=3)]
        assert ids == [f"s{i}" for i in range(7)] and calls == 3
        ended = [s.id async for s, _ in hub.export_sessions(status="ended")]
        assert ended == []


async def test_open_store_import_is_on_the_protocol(tmp_path: Path) -> None:
    s = open_store("memory://")
    assert isinstance(s, Store) and hasattr(s, "import_session")
