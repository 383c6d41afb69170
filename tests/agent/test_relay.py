"""A round played by one server process, followed from another: its live events (statuses
and chunks, which the store never keeps) cross through the Redis relay
(server/agent_relay.py), and the follower sees exactly what a follower of the playing
process sees."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from dialoghub.agent import Plugins, RulePlanner, Turn
from dialoghub.server import Settings, create_app
from dialoghub.server.keystore import MemoryKeyStore
from dialoghub.server.routes_messages import AgentConfig, install
from tests.agent.conftest import make_planner, make_plugins
from tests.agent.test_http import _events
from tests.server.conftest import Keys, make_keys
from tests.services import REDIS, require

GATE = threading.Event()


def _plugins() -> Plugins:
    plugins = make_plugins()

    @plugins.register()
    def hold(ctx: Any) -> str:
        ctx.status("holding")
        ctx.stream("still ")
        ctx.stream("here")
        assert GATE.wait(10), "the test never opened the gate"
        return "let go"

    return plugins


def _planner() -> RulePlanner:
    planner = make_planner()

    async def held(turn: Turn, m: Any) -> str:
        await turn.call("hold")
        return "done"

    planner.add("held", held)
    return planner


@pytest.fixture
def two(tmp_path: Path) -> Iterator[tuple[TestClient, TestClient, Keys, str]]:
    """Two apps (two server processes' worth) on one SQLite file, relaying through Redis."""
    require(*REDIS)
    GATE.clear()
    keystore = MemoryKeyStore()
    keys = make_keys(keystore)
    prefix = f"t_{uuid.uuid4().hex[:8]}:"
    settings = Settings(
        store=f"sqlite:///{tmp_path / 'shared.db'}", rate_limit=0,
        token_keys=("k1:0123456789abcdef0123456789abcdef",),
        broadcast=f"redis://127.0.0.1:6379/0?prefix={prefix}",
    )  # fmt: skip
    apps = []
    for _ in range(2):
        app = create_app(settings, keystore=keystore)
        install(app, AgentConfig(planner=_planner(), plugins=_plugins(), keepalive=0.05))
        apps.append(app)
    with TestClient(apps[0]) as one, TestClient(apps[1]) as other:
        yield one, other, keys, prefix
    GATE.set()


def _subscribed(channel: str) -> None:
    """Return once some process listens on ``channel`` (Redis says so), within 10 s."""
    import redis

    client = redis.Redis.from_url("redis://127.0.0.1:6379/0")
    try:
        deadline = time.monotonic() + 10
        while dict(client.pubsub_numsub(channel)).get(channel.encode(), 0) < 1:
            assert time.monotonic() < deadline, f"nobody subscribed to {channel}"
            time.sleep(0.01)
    finally:
        client.close()


def _frame(ws: Any, seconds: float = 20.0) -> dict[str, Any]:
    """The socket's next JSON frame, failing after ``seconds`` (starlette's receive waits for
    ever, and without the relay nothing would ever come)."""
    import anyio

    async def receive() -> Any:
        with anyio.fail_after(seconds):
            return await ws._send_rx.receive()

    message = ws.portal.call(receive)
    assert message["type"] == "websocket.send", message
    return json.loads(message["text"])  # type: ignore[no-any-return]


def test_a_round_played_by_one_process_streams_live_to_another(
    two: tuple[TestClient, TestClient, Keys, str],
) -> None:
    one, other, keys, prefix = two
    acme = "acme"
    one.post("/v1/sessions/s/messages", headers=keys.h(), json={"message": "last"})
    last = _events(one, keys, "s")[-1]["seq"]
    seen: list[dict[str, Any]] = []
    with other.websocket_connect(f"/v1/sessions/s/ws?round_after={last}",
                                 headers=keys.h()) as ws:  # fmt: skip
        _subscribed(f"{prefix}{acme}//agent/s")
        rid = one.post(
            "/v1/sessions/s/messages", headers=keys.h(), json={"message": "held"}
        ).json()["round_id"]
        while not seen or (seen[-1]["type"], seen[-1]["message"]) != ("post_message", "here"):
            frame = _frame(ws)
            if frame["type"] == "round_event":
                seen.append(frame["event"])
        # the round is held inside its plugin: what came so far came only through Redis
        assert {"post_status", "post_message"} <= {e["type"] for e in seen}
        assert any(e["type"] == "post_status" and e["message"] == "holding" for e in seen)
        GATE.set()
        while seen[-1]["type"] != "round_end":
            frame = _frame(ws)
            if frame["type"] == "round_event":
                seen.append(frame["event"])
    everything = _events(one, keys, "s", after=last)  # the playing process's own log
    assert [e["seq"] for e in seen] == [e["seq"] for e in everything]
    assert seen == everything
    assert all(e["round_id"] == rid for e in seen)
