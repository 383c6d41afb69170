"""The public async API end to end, on the embedded SQLite default and in memory."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from dialoghub import CommandAction, Hub, Reply, SyncHub, WaitForUser, errors
from dialoghub.agent.runner import Runner, load_plugins
from dialoghub.engine.fold import replay

from .conftest import EXAMPLES

WEATHER = EXAMPLES / "weather"


@pytest.fixture(params=["memory", "sqlite"])
async def hub(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Hub]:
    url = "memory://" if request.param == "memory" else f"sqlite:///{tmp_path / 'hub.db'}"
    async with Hub(url) as h:
        h.load_models(WEATHER)
        yield h


async def test_a_whole_conversation(hub: Hub) -> None:
    view = await hub.create_session("weather", session_id="u1", metadata={"channel": "web"})
    assert view.id == "u1" and view.version == 1
    assert isinstance(view.actions[-1], WaitForUser)
    view = await hub.process_text("u1", "what's the weather in Paris")
    assert view.command == CommandAction(id="lookup_weather", params={"city": "Paris", "day": None})
    view = await hub.process_command_result(
        "u1", "lookup_weather", {"forecast": "sunny", "temperature": 21}
    )
    assert view.replies == ["In Paris it is sunny and 21 degrees."]
    assert view.version == 3
    session = await hub.get_session("u1")
    assert session.metadata == {"channel": "web"}
    assert (
        session.last_request is not None
        and session.last_request["text"] == "what's the weather in Paris"
    )
    assert session.variables["main"]["forecast"] == "sunny"
    events = await hub.events("u1", limit=1000)
    assert replay(events) == session


async def test_generated_ids_are_unique(hub: Hub) -> None:
    ids = {(await hub.create_session("weather")).id for _ in range(20)}
    assert len(ids) == 20


async def test_events_are_paged(hub: Hub) -> None:
    await hub.create_session("weather", session_id="p")
    for text in ["hello", "thanks", "hello"]:
        await hub.process_text("p", text)
    every = await hub.events("p", limit=1000)
    pages, after = [], 0
    while True:
        page = await hub.events("p", after=after, limit=4)
        if not page:
            break
        pages += page
        after = page[-1].seq
    assert pages == every
    assert [e.seq for e in every] == list(range(1, len(every) + 1))


async def test_listing_filters_and_cursor(hub: Hub) -> None:
    for i in range(7):
        await hub.create_session("weather", session_id=f"l{i}")
    await hub.process_text("l3", "bye")
    page = await hub.list_sessions(model="weather", limit=3)
    seen = [s.id for s in page.sessions]
    while page.next_cursor:
        page = await hub.list_sessions(model="weather", limit=3, cursor=page.next_cursor)
        seen += [s.id for s in page.sessions]
    assert seen == [f"l{i}" for i in range(7)]
    ended = await hub.list_sessions(status="ended")
    assert [s.id for s in ended.sessions] == ["l3"]
    in_bye = await hub.list_sessions(state="bye")
    assert [s.id for s in in_bye.sessions] == ["l3"]
    assert (await hub.list_sessions(model="nope")).sessions == []


async def test_stale_expected_version_is_a_conflict_and_changes_nothing(hub: Hub) -> None:
    await hub.create_session("weather", session_id="v")
    await hub.process_text("v", "hello", expected_version=1)
    before = await hub.get_session("v")
    with pytest.raises(errors.VersionConflict) as info:
        await hub.process_text("v", "thanks", expected_version=1)
    assert info.value.expected == 1 and info.value.actual == 2
    assert await hub.get_session("v") == before


async def test_idempotency_key_returns_the_first_answer(hub: Hub) -> None:
    await hub.create_session("weather", session_id="i")
    first = await hub.process_text("i", "hello", idempotency_key="k1")
    again = await hub.process_text("i", "hello", idempotency_key="k1")
    assert again == first
    assert (await hub.get_session("i")).version == 2  # applied once
    with pytest.raises(errors.IdempotencyKeyReused, match="k1"):
        await hub.process_text("i", "thanks", idempotency_key="k1")
    assert (await hub.get_session("i")).version == 2


async def test_a_retry_is_answered_after_the_session_moved_on_or_ended(hub: Hub) -> None:
    # The hub reads no record before a keyed update runs: a retry is answered when it is
    # refused, by the store's write or by the step on the session as it is now.
    await hub.create_session("weather", session_id="r")
    first = await hub.process_text("r", "hello", idempotency_key="k1", expected_version=1)
    await hub.process_text("r", "thanks")
    # the version moved on: without the record this would be a VersionConflict
    assert await hub.process_text("r", "hello", idempotency_key="k1", expected_version=1) == first
    bye = await hub.process_text("r", "bye", idempotency_key="k2")
    assert (await hub.get_session("r")).status == "ended"
    assert await hub.process_text("r", "bye", idempotency_key="k2") == bye  # not SessionClosed
    with pytest.raises(errors.IdempotencyKeyReused, match="k2"):
        await hub.process_text("r", "hello again", idempotency_key="k2")
    with pytest.raises(errors.SessionClosed):
        await hub.process_text("r", "hello", idempotency_key="k3")
    with pytest.raises(errors.VersionConflict):
        await hub.process_text("r", "hello", idempotency_key="k4", expected_version=1)
    assert (await hub.get_session("r")).version == 4
    with pytest.raises(errors.InvalidInput, match="idempotency_key"):
        await hub.process_text("r", "hello", idempotency_key="")


async def test_a_first_keyed_update_reads_no_record(hub: Hub) -> None:
    reads: list[str] = []
    lookup = hub.store.idempotent

    async def counted(session_id: str, key: str, *, tenant: str = "default") -> object:
        reads.append(key)
        return await lookup(session_id, key, tenant=tenant)

    await hub.create_session("weather", session_id="n")
    hub.store.idempotent = counted  # type: ignore[method-assign,assignment]
    first = await hub.process_text("n", "hello", idempotency_key="k1")
    assert reads == []
    assert await hub.process_text("n", "hello", idempotency_key="k1") == first
    assert reads == ["k1"]  # the retry's write was refused: its answer is read once


async def test_create_with_idempotency_key_is_safe_to_retry(hub: Hub) -> None:
    a = await hub.create_session("weather", session_id="c", idempotency_key="make-c")
    b = await hub.create_session("weather", session_id="c", idempotency_key="make-c")
    assert a == b
    with pytest.raises(errors.SessionExists):
        await hub.create_session("weather", session_id="c")


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda h: h.process_text("ghost", "hi"), errors.SessionNotFound, "'ghost' not found"),
        (lambda h: h.create_session("nope"), errors.UnknownModel, "unknown model 'nope'"),
        (
            lambda h: h.create_session("weather", session_id="a/b"),
            errors.InvalidInput,
            "invalid session id",
        ),
        (
            lambda h: h.create_session("weather", session_id=""),
            errors.InvalidInput,
            "invalid session id",
        ),
        (
            lambda h: h.create_session("weather", metadata=[1]),
            errors.InvalidInput,
            "metadata must be a mapping",
        ),
        (lambda h: h.process_text("x", 42), errors.InvalidInput, "Expected `str`"),
        (lambda h: h.set_variables("x", {"big": 2**70}), errors.InvalidInput, "64 bits"),
        (lambda h: h.process_text("x", "hi", expected_version="1"), errors.InvalidInput, "integer"),
        (lambda h: h.list_sessions(limit=0), errors.InvalidInput, "limit"),
        (lambda h: h.list_sessions(status="gone"), errors.InvalidInput, "status"),
        (lambda h: h.events("x", after=-1), errors.InvalidInput, "after"),
        (lambda h: h.get_session("ghost"), errors.SessionNotFound, "not found"),
    ],
)
async def test_bad_calls_get_specific_errors(hub: Hub, call, error, message) -> None:  # type: ignore[no-untyped-def]
    await hub.create_session("weather", session_id="x")
    before = await hub.get_session("x")
    with pytest.raises(error, match=message):
        await call(hub)
    assert await hub.get_session("x") == before
    assert issubclass(error, errors.DialoghubError)


async def test_updates_to_an_ended_session_are_refused(hub: Hub) -> None:
    await hub.create_session("weather", session_id="e")
    view = await hub.end_session("e", reason="done")
    assert view.ended
    with pytest.raises(errors.SessionClosed, match="ended"):
        await hub.process_text("e", "hello")
    assert (await hub.get_session("e")).version == 2


async def test_delete(hub: Hub) -> None:
    await hub.create_session("weather", session_id="d")
    assert await hub.delete_session("d") is True
    assert await hub.delete_session("d") is False
    with pytest.raises(errors.SessionNotFound):
        await hub.process_text("d", "hello")


async def test_request_creates_on_first_mention(hub: Hub) -> None:
    view = await hub.request("Giorgio Robino", "hello")
    assert view.replies == [
        "Hi! I'm the weather assistant. Ask me about the weather in any city.",
        "Hello! Ask me about the weather in any city.",
    ]
    view = await hub.request("Giorgio Robino", "thanks")
    assert view.replies == ["You're welcome!"]


async def test_updates_of_one_session_are_serialized(hub: Hub) -> None:
    await hub.create_session("weather", session_id="busy")
    await asyncio.gather(*(hub.set_variables("busy", {f"v{i}": i}) for i in range(50)))
    session = await hub.get_session("busy")
    assert session.version == 51
    assert all(session.variables["main"][f"v{i}"] == i for i in range(50))
    events = await hub.events("busy", limit=10_000)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert len(hub._locks) == 0  # per-session locks are dropped once nobody holds them


async def test_many_sessions_concurrently(hub: Hub) -> None:
    runner = Runner(hub, load_plugins(str(WEATHER / "plugins.py")))
    await asyncio.gather(*(runner.start("weather", session_id=f"m{i}") for i in range(100)))
    views = await asyncio.gather(
        *(runner.send(f"m{i}", "what's the weather in Tokyo") for i in range(100))
    )
    assert {tuple(v.replies) for v in views} == {("In Tokyo it is cloudy and 18 degrees.",)}


async def test_sessions_survive_a_restart(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'restart.db'}"
    async with Hub(url) as hub:
        hub.load_models(WEATHER)
        await hub.create_session("weather", session_id="r")
        await hub.process_text("r", "what is the weather like")
    async with Hub(url) as hub:
        hub.load_models(WEATHER)
        view = await hub.process_text("r", "Madrid")  # answers the question asked before
        assert view.command is not None and view.command.params["city"] == "Madrid"


async def test_two_hubs_on_one_database_never_lose_an_update(tmp_path: Path) -> None:
    """Like two processes: each has its own cache; the store's compare-and-set arbitrates."""
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    async with Hub(url) as a, Hub(url) as b:
        a.load_models(WEATHER)
        b.load_models(WEATHER)
        await a.create_session("weather", session_id="s")
        await b.get_session("s")

        async def bump(h: Hub, name: str) -> None:
            for i in range(15):
                await h.set_variables("s", {f"{name}{i}": i})

        await asyncio.gather(bump(a, "a"), bump(b, "b"))
        session = await a.get_session("s")
        assert session.version == 31
        assert len(session.variables["main"]) == 30
        events = await a.events("s", limit=10_000)
        assert [e.seq for e in events] == list(range(1, len(events) + 1))
        assert replay(events) == session


async def test_a_refusal_by_a_stale_cache_is_checked_against_the_store(tmp_path: Path) -> None:
    """Hub a caches the session waiting for text; hub b moves it to a command. The command
    result sent through a is valid for the stored session: a re-reads instead of refusing."""
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    async with Hub(url) as a, Hub(url) as b:
        a.load_models(WEATHER)
        b.load_models(WEATHER)
        await a.create_session("weather", session_id="s")
        await b.process_text("s", "what's the weather in Paris")
        view = await a.process_command_result(
            "s", "lookup_weather", {"forecast": "sunny", "temperature": 21}
        )
        assert view.replies == ["In Paris it is sunny and 21 degrees."] and view.version == 3
        with pytest.raises(errors.UnknownCommand):  # refused by the store's snapshot too
            await b.process_command_result("s", "lookup_weather", {"forecast": "x"})

def test_sync_face(tmp_path: Path) -> None:
    with SyncHub(f"sqlite:///{tmp_path / 'sync.db'}") as hub:
        hub.load_models(WEATHER)
        view = hub.create_session("weather", session_id="s")
        assert isinstance(view.actions[0], Reply)
        view = hub.process_text("s", "hello")
        assert view.replies == ["Hello! Ask me about the weather in any city."]
        with pytest.raises(errors.SessionNotFound):
            hub.process_text("ghost", "hello")
        assert "process_text" in dir(hub)
