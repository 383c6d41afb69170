"""Sessions as the message hub has them, over /v1/clients/ws on one server: Default
session, creation on mention, every lock flag and the permanent flag, new_session and
set_session, session memory from 50 clients at once, the session id following a provider's
nested sends, builtins called by the model, deadlines, bad frames."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from dialoghub.errors import APIError
from dialoghub.provider import Call, RoutedClient, current_session
from dialoghub.routing.frames import LockSpec
from tests.routing.conftest import serving


async def _reply(ui: RoutedClient, wait: float = 10) -> str:
    while True:
        update = await ui.updates(wait=wait)
        texts = [a["text"] for a in update["actions"] if a["type"] == "reply"]
        if texts:
            return texts[0]


def _answerer(url: str, name: str = "answerer", **kw: object) -> RoutedClient:
    provider = RoutedClient(url, name=name, role="provider", **kw)  # type: ignore[arg-type]

    @provider.command("answer")
    async def answer(call: Call) -> dict[str, str]:
        return {"reply": f"{name}:{call.params['tag']}"}

    return provider


async def test_a_message_without_a_session_goes_to_default_created_on_mention() -> None:
    async with serving() as served:
        ui = await RoutedClient(served.url, name="ui", role="ui").connect()
        answer = await ui.send("hello")
        assert answer["session_id"] == "Default"
        session = await served.router.hub.get_session("Default")
        assert session.model_id == "relay"
        answer = await ui.send("hello", session_id="fresh-one")  # a mention creates it
        assert (await served.router.hub.get_session("fresh-one")).model_id == "relay"
        await ui.close()


async def test_a_client_leaving_does_not_end_its_session() -> None:
    async with serving() as served:
        provider = await _answerer(served.url).connect()
        ui = await RoutedClient(
            served.url, name="ui", role="ui", session_id="S", lock=LockSpec(read=True)
        ).connect()
        await ui.send("ask one")
        assert await _reply(ui) == "answerer:one"
        await ui.close()
        assert not (await served.router.hub.get_session("S")).ended
        other = await RoutedClient(
            served.url, name="gui", role="ui", session_id="S", lock=LockSpec(read=True)
        ).connect()
        await other.send("ask two")  # the user continues from another interface
        assert await _reply(other) == "answerer:two"
        await other.close()
        await provider.close()


async def test_a_read_lock_keeps_a_provider_to_its_session() -> None:
    async with serving(dispatch_timeout=0.5) as served:
        p1 = await _answerer(served.url, "p1", session_id="A", lock=LockSpec(read=True)).connect()
        ui_b = await RoutedClient(
            served.url, name="ub", role="ui", session_id="B", lock=LockSpec(read=True)
        ).connect()
        await ui_b.send("ask x")
        # p1 reads only session A: B's command finds no provider and fails at its deadline
        assert (await _reply(ui_b)).startswith("failed: no provider of command 'answer'")
        p2 = await _answerer(served.url, "p2").connect()
        await ui_b.send("ask y")
        assert await _reply(ui_b) == "p2:y"
        for c in (p1, p2, ui_b):
            await c.close()


async def test_a_write_lock_sends_a_sessions_messages_only_to_its_client() -> None:
    async with serving() as served:
        providers = [await _answerer(served.url, f"p{n}").connect() for n in range(3)]
        ui = await RoutedClient(
            served.url, name="ui", role="ui", session_id="W", lock=LockSpec(read=True)
        ).connect()
        await providers[2].set_session("W", lock=LockSpec(write=True))
        for i in range(20):
            await ui.send(f"ask {i}")
            assert await _reply(ui) == f"p2:{i}"
        session = await served.router.hub.get_session("W")
        assert session.locks["p2"] == {"write": True, "fence": 0}
        with pytest.raises(APIError) as refused:  # a session writes to one client only
            await providers[0].set_session("W", lock=LockSpec(write=True))
        assert refused.value.code == "invalid_input"
        for c in (*providers, ui):
            await c.close()


async def test_without_a_write_lock_commands_spread_over_providers() -> None:
    async with serving() as served:
        providers = [await _answerer(served.url, f"p{n}").connect() for n in range(3)]
        ui = await RoutedClient(
            served.url, name="ui", role="ui", session_id="R", lock=LockSpec(read=True)
        ).connect()
        seen = set()
        for i in range(40):
            await ui.send(f"ask {i}")
            seen.add((await _reply(ui)).split(":")[0])
        assert seen == {"p0", "p1", "p2"}
        for c in (*providers, ui):
            await c.close()


async def test_an_assign_lock_puts_a_clients_messages_in_its_session() -> None:
    async with serving() as served:
        ui = await RoutedClient(
            served.url, name="ui", role="ui", session_id="Mine", lock=LockSpec(assign=True)
        ).connect()
        answer = await ui.send("hello", session_id="Elsewhere")
        assert answer["session_id"] == "Mine"
        await ui.close()


async def test_locks_go_with_the_session_end_but_permanent_ones_stay() -> None:
    async with serving() as served:
        ui = await RoutedClient(
            served.url,
            name="ui",
            role="ui",
            session_id="P",
            lock=LockSpec(read=True, permanent=True),
        ).connect()
        other = await RoutedClient(
            served.url, name="ux", role="ui", session_id="Q", lock=LockSpec(read=True)
        ).connect()
        await ui.end_session("P")
        await other.end_session("Q")
        await served.router.idle()
        p = await served.router.hub.get_session("P")
        q = await served.router.hub.get_session("Q")
        assert p.locks["ui"]["permanent"] and q.locks == {}
        assert ("default", "ux") not in served.router.locks.read
        # a permanent read lock keeps the client from moving until it is released
        with pytest.raises(APIError) as held:
            await ui.set_session("Other", lock=LockSpec(read=True))
        assert held.value.code == "lock_held"
        await ui.set_session("P", release=True)
        assert (await served.router.hub.get_session("P")).locks == {}
        await ui.set_session("Other", lock=LockSpec(read=True))
        assert (await served.router.hub.get_session("Other")).locks["ui"]["read"]
        for c in (ui, other):
            await c.close()


async def test_set_session_moves_a_read_lock_and_records_each_change() -> None:
    async with serving() as served:
        ui = await RoutedClient(
            served.url, name="ui", role="ui", session_id="One", lock=LockSpec(read=True)
        ).connect()
        await ui.set_session("Two", lock=LockSpec(read=True))
        one = await served.router.hub.get_session("One")
        two = await served.router.hub.get_session("Two")
        assert "ui" not in one.locks and two.locks["ui"]["read"]
        assert two.locks["ui"]["fence"] > 0  # the client-wide record's fencing token
        events = await served.router.hub.events("One")
        assert [e.type for e in events if e.type.startswith("lock_")] == [
            "lock_set",
            "lock_released",
        ]
        assert ui.session_id == "Two"
        await ui.close()


async def test_new_session_starts_over() -> None:
    async with serving() as served:
        ui = await RoutedClient(served.url, name="ui", role="ui", session_id="Old").connect()
        await ui.send("hello")
        new = await ui.new_session()
        assert new != "Old" and ui.session_id == new
        assert (await served.router.hub.get_session("Old")).ended
        assert not (await served.router.hub.get_session(new)).ended
        await ui.close()


async def test_session_memory_increments_from_50_clients_lose_nothing() -> None:
    async with serving() as served:
        clients = [
            await RoutedClient(served.url, name=f"c{n}", role="ui", session_id="Counter").connect()
            for n in range(50)
        ]

        async def bump(c: RoutedClient) -> None:
            for _ in range(10):
                await c.memory("increment", "hits")

        await asyncio.gather(*(bump(c) for c in clients))
        assert await clients[0].memory("get", "hits") == 500
        await clients[1].memory("set", "lang", "fr")
        with pytest.raises(APIError):  # compare-and-set on the key's value
            await clients[2].memory("set", "lang", "de", expected="en", check=True)
        await clients[2].memory("set", "lang", "de", expected="fr", check=True)
        await clients[3].memory("delete", "lang")
        assert await clients[4].memory("get", "lang") is None
        async with httpx.AsyncClient(base_url=served.http) as http:  # and over HTTP
            r = await http.post(
                "/v1/sessions/Counter/memory", json={"op": "increment", "key": "hits", "value": 5}
            )
            assert r.status_code == 200 and r.json()["value"] == 505
            r = await http.get("/v1/sessions/Counter/memory")
            assert r.json()["memory"] == {"hits": 505}
            r = await http.post("/v1/sessions/Counter/memory", json={"op": "explode", "key": "x"})
            assert r.status_code == 422 and r.json()["code"] == "invalid_input"
            r = await http.post("/v1/sessions/Counter/memory", json={"op": "set"})
            assert r.status_code == 400
        for c in clients:
            await c.close()


async def test_the_session_id_follows_a_providers_nested_sends() -> None:
    async with serving() as served:
        seen: list[str | None] = []
        provider = RoutedClient(served.url, name="p", role="provider", concurrency=4)

        @provider.command("answer")
        async def answer(call: Call) -> dict[str, str]:
            async def deeper() -> None:
                await asyncio.sleep(0)
                seen.append(current_session.get())
                # a new message naming no session: it belongs to the one being served
                await provider.memory("increment", "nested")

            await asyncio.create_task(deeper())  # a task it starts inherits the session
            await deeper()  # and across awaits
            return {"reply": "done"}

        await provider.connect()
        uis = [
            await RoutedClient(
                served.url, name=f"u{n}", role="ui", session_id=f"N{n}", lock=LockSpec(read=True)
            ).connect()
            for n in range(2)
        ]
        for ui in uis:
            await ui.send("ask it")
        for ui in uis:
            assert await _reply(ui) == "done"
        assert sorted(seen) == ["N0", "N0", "N1", "N1"]
        for n in range(2):
            assert (await served.router.hub.get_session(f"N{n}")).memory == {"nested": 2}
        assert current_session.get() is None
        for c in (provider, *uis):
            await c.close()


async def test_bad_frames_are_refused_and_change_nothing() -> None:
    async with serving() as served:
        ui = await RoutedClient(served.url, name="ui", role="ui", session_id="Z").connect()
        for frame in (
            {"type": "nonsense"},
            {"type": "message"},
            {"type": "message", "input": {"type": "text"}},
            {"type": "memory", "op": "increment", "name": ""},
            {"type": "result"},
            {"type": "message", "extra": 1},
        ):
            with pytest.raises(APIError) as refused:
                await ui.request(frame)
            assert refused.value.code in ("bad_request", "invalid_input")
        assert await served.router.hub.incarnation("Z") is None
        await ui.close()
        with pytest.raises(APIError):  # a hello with a role nobody has
            await RoutedClient(served.url, name="x", role="king").connect()
