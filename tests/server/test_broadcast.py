"""Pushing updates: lazily rendered messages, the backlog bound, gap filling, and the Redis
relay between two app instances (two server processes' worth) sharing one Redis."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from dialoghub.engine.records import Event
from dialoghub.errors import StoreConfigError
from dialoghub.server import Settings, create_app
from dialoghub.server.broadcast import Broadcaster, Message, RedisRelay, follow, open_relay
from dialoghub.server.keystore import MemoryKeyStore
from tests.server.conftest import WEATHER, Keys, make_keys
from tests.services import REDIS, require

PARIS = {"type": "text", "text": "what's the weather in Paris"}


def test_message_renders_once_per_audience() -> None:
    calls: list[str | None] = []

    def render(request_id: str | None) -> bytes:
        calls.append(request_id)
        return f"body {request_id}".encode()

    m = Message(3, 4, render, origin=7, request_id="r1")
    assert m.body_for(7) == b"body r1"  # the sender alone: the shared body is never built
    assert calls == ["r1"]
    assert m.body_for(8) == b"body None" and m.body == b"body None"
    assert calls == ["r1", None]
    assert Message(1, 1, b"x").body_for(1) == b"x"


def _events(first: int, last: int) -> list[Event]:
    return [Event(seq=n, version=n, time=0.0, type="t") for n in range(first, last + 1)]


async def test_follow_reads_the_backlog_up_to_until_then_fills_gaps() -> None:
    reads: list[tuple[int, int]] = []
    stored = _events(1, 9)

    async def read(after: int, limit: int) -> list[Event]:
        reads.append((after, limit))
        return [e for e in stored if e.seq > after][:limit]

    def encode(events: list[Event]) -> bytes:
        return f"{events[0].seq}-{events[-1].seq}".encode()

    b = Broadcaster()
    sub = b.subscribe(("t", "s"))
    got = follow(sub, 2, read, encode, until=5)
    assert await anext(got) == (5, b"3-5")
    assert await anext(got) == (5, b"")  # live; the store was read once, up to 5
    assert reads == [(2, 3)]
    b.publish(("t", "s"), Message(4, 5, b"old"))  # already sent: skipped
    b.publish(("t", "s"), Message(8, 9, b"live 8-9"))  # 6 and 7 missing: read them first
    assert await anext(got) == (7, b"6-7")
    assert await anext(got) == (9, b"live 8-9")
    await got.aclose()


def test_open_relay() -> None:
    assert open_relay("") is None and open_relay("memory://") is None
    relay = open_relay("redis://127.0.0.1:6379/0?prefix=x:")
    assert isinstance(relay, RedisRelay) and relay.prefix == "x:"
    assert relay.url == "redis://127.0.0.1:6379/0"
    assert relay.channel(("acme", "a:b")) == "x:acme/a:b"
    with pytest.raises(StoreConfigError):
        open_relay("nats://x")


@pytest.fixture
def two_apps(tmp_path: Path) -> Iterator[tuple[TestClient, TestClient, Keys]]:
    """Two apps on one SQLite file and one key store, relaying through one Redis."""
    require(*REDIS)
    keystore = MemoryKeyStore()
    keys = make_keys(keystore)
    prefix = f"t_{uuid.uuid4().hex[:8]}:"
    settings = Settings(
        store=f"sqlite:///{tmp_path / 'shared.db'}", models=(WEATHER,), rate_limit=0,
        token_keys=("k1:0123456789abcdef0123456789abcdef",),
        broadcast=f"redis://127.0.0.1:6379/0?prefix={prefix}",
    )
    with TestClient(create_app(settings, keystore=keystore)) as one, \
            TestClient(create_app(settings, keystore=keystore)) as two:
        yield one, two, keys


def _attach(ws: Any) -> dict[str, Any]:
    while True:
        m = ws.receive_json()
        if m["type"] == "attached":
            return m  # type: ignore[no-any-return]


def test_updates_made_by_another_process_are_pushed(
    two_apps: tuple[TestClient, TestClient, Keys],
) -> None:
    one, two, keys = two_apps
    r = one.post("/v1/sessions", json={"model_id": "weather", "session_id": "x"},
                 headers=keys.h())
    assert r.status_code == 201
    with one.websocket_connect("/v1/sessions/x/ws", headers=keys.h()) as ws:
        attached = _attach(ws)
        # Through the other app: it has no subscriber, so only Redis brings it here.
        view = two.post("/v1/sessions/x/inputs", json={"input": PARIS}, headers=keys.h()).json()
        update = ws.receive_json()
        assert update["type"] == "update"
        assert update["events"][0]["seq"] == attached["last_seq"] + 1
        assert update["session"]["version"] == view["session"]["version"]
        assert "request_id" not in update or update["request_id"] is None
        # Its own input on the socket still comes back once, with its request id.
        ws.send_json({"type": "input", "request_id": "mine", "input": {
            "type": "command_result", "id": "lookup_weather",
            "outputs": {"forecast": "sunny", "temperature": 21}}})
        mine = ws.receive_json()
        assert mine["request_id"] == "mine" and mine["type"] == "update", mine
        assert mine["events"][0]["seq"] == update["events"][-1]["seq"] + 1
        # And an SSE client on the other app sees the whole history, then live updates.
        view = one.post("/v1/sessions/x/inputs", json={"input": {"type": "text",
                        "text": "thanks"}}, headers=keys.h()).json()
        pushed = ws.receive_json()
        assert pushed["session"]["version"] == view["session"]["version"]


async def test_relay_delivers_only_other_nodes_and_watched_channels() -> None:
    relay = RedisRelay("redis://unused")
    b = Broadcaster(relay)
    sub = b.subscribe(("t", "s"))
    wire = __import__("msgspec").msgpack.encode
    relay.deliver(b"dialoghub:push:t/s", wire(("other", 1, 2, b"from other")))
    relay.deliver(b"dialoghub:push:t/s", wire((relay.node, 3, 3, b"echo")))
    relay.deliver(b"dialoghub:push:t/zz", wire(("other", 1, 1, b"not watched")))
    relay.deliver(b"dialoghub:push:t/s", b"\xc1garbage")
    assert sub.queue.qsize() == 1
    assert (await sub.queue.get()).body == b"from other"
    b.unsubscribe(sub)
    relay.deliver(b"dialoghub:push:t/s", wire(("other", 3, 3, b"late")))
    assert sub.queue.empty()
    assert [relay._control.get_nowait() for _ in range(2)] == [
        (True, "dialoghub:push:t/s"), (False, "dialoghub:push:t/s")]
    await asyncio.sleep(0)
