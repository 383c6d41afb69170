"""The Python client against a real server on a socket (uvicorn in a thread)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from dialoghub.client import APIError, Client, SyncClient
from dialoghub.server import Settings, create_app
from dialoghub.server.keystore import MemoryKeyStore
from dialoghub.server.routes_messages import AgentConfig, install
from tests.agent.conftest import make_planner, make_plugins
from tests.server.conftest import Keys, make_keys


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Keys]]:
    keystore = MemoryKeyStore()
    keys = make_keys(keystore)
    settings = Settings(
        store=f"sqlite:///{tmp_path}/s.db",
        rate_limit=0,
        timers=False,
        token_keys=("k1:0123456789abcdef0123456789abcdef",),
    )
    app = create_app(settings, keystore=keystore)
    install(
        app,
        AgentConfig(planner=make_planner(), plugins=make_plugins(), workspace=str(tmp_path / "ws")),
    )
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not srv.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}", keys
    finally:
        srv.should_exit = True
        thread.join(10)
        sock.close()


async def test_the_async_client_runs_a_round_and_follows_it(
    server: tuple[str, Keys], tmp_path: Path
) -> None:
    url, keys = server
    upload = tmp_path / "data.csv"
    upload.write_text("1,2")
    async with Client(url, api_key=keys.write) as client:
        rnd = await client.run_message("c1", "weather in Paris")
        assert rnd["status"] == "finished" and rnd["reply"] == "Paris: sunny (lookup 1)"
        assert rnd["events"][0]["type"] == "round_start"
        assert rnd["events"][-1]["type"] == "round_end"
        files = await client.run_message(
            "c1",
            "files?",
            files=[
                {"name": "data.csv", "path": str(upload)},
                {"name": "b.bin", "content": b"\x00"},
            ],
        )
        assert files["reply"] == "files: data.csv, b.bin"
        assert [r["id"] for r in await client.list_rounds("c1")] == [rnd["id"], files["id"]]
        # resuming the stream from a seq gets exactly what came after it
        cut = rnd["events"][3]["seq"]
        again = []
        async for event in client.round_events("c1", after=cut, until_round_end=rnd["id"]):
            again.append(event)
        assert again == rnd["events"][4:]
        assert await client.cancel_round("c1", rnd["id"]) is False
        with pytest.raises(APIError) as err:
            await client.send_message("c1", "")
        assert err.value.status == 422
        with pytest.raises(APIError) as err:
            await client.get_round("c1", "nope")
        assert err.value.code == "round_not_found"
        with pytest.raises(APIError):
            async for _ in client.round_events("nobody"):
                pass


def test_the_sync_client(server: tuple[str, Keys]) -> None:
    url, keys = server
    with SyncClient(url, api_key=keys.write) as client:
        accepted = client.send_message("c2", "weather in Rome")
        assert accepted["created"] is True
        rnd: Any = client.run_message("c2", "last")
        assert rnd["reply"] == "last city: Rome"
        assert len(client.list_rounds("c2")) == 2
        events = list(client.round_events("c2", until_round_end=rnd["id"]))
        assert (
            events[-1]["type"] == "round_end" and events[-1]["data"]["reply"] == "last city: Rome"
        )
