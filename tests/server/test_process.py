"""The real thing once: ``dialoghub serve`` in a subprocess on a free port, over a socket,
with a key made by ``dialoghub keys create``, driven by the Python client (HTTP and WS)."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from dialoghub.client import APIError, Client, SyncClient
from dialoghub.engine.records import Text
from tests.server.conftest import WEATHER

CLI = [sys.executable, "-c", "from dialoghub.cli import main; main()"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, str]]:
    store = f"sqlite:///{tmp_path / 'server.db'}"
    env = {**os.environ, "DIALOGHUB_STORE": store}
    made = subprocess.run([*CLI, "keys", "create", "--tenant", "t1", "--scope", "admin"],
                          env=env, capture_output=True, text=True, check=True, timeout=60)
    key = made.stdout.strip().splitlines()[-1]
    port = free_port()
    proc = subprocess.Popen([*CLI, "serve", "--models", WEATHER, "--port", str(port)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                out = proc.stdout.read().decode() if proc.stdout else ""
                raise AssertionError(f"server did not start:\n{out}")
            time.sleep(0.1)
        yield url, key
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_real_server_http_and_websocket(server: tuple[str, str]) -> None:
    url, key = server

    async def run() -> None:
        async with Client(url, api_key=key) as c:
            assert [m.id for m in await c.list_models()] == ["weather"]
            view = await c.create_session("weather", session_id="real")
            att = await c.attach("real")
            while (await att.receive())["type"] != "attached":
                pass
            pushed = await att.request(Text(text="what's the weather in Paris"))
            assert pushed["actions"][-1]["type"] == "command"
            view = await c.process_command_result("real", "lookup_weather",
                                                  {"forecast": "sunny", "temperature": 21})
            assert view.replies == ["In Paris it is sunny and 21 degrees."]
            update = await att.receive()  # the HTTP update, pushed to the socket
            assert update["session"]["version"] == view.version
            await att.close()
            with pytest.raises(APIError) as info:
                await c.get_session("nope")
            assert info.value.status == 404 and info.value.code == "session_not_found"

    asyncio.run(run())
    with SyncClient(url, api_key=key) as sc:
        assert sc.get_session("real").state == "listen"
        assert sc.events("real", limit=1)[0].type == "session_started"
    assert httpx.get(f"{url}/v1/models").status_code == 401
    assert "dialoghub_turns_total" in httpx.get(f"{url}/metrics").text


def test_remote_chat_runs_plugins(server: tuple[str, str]) -> None:
    """``dialoghub chat MODEL --server URL --plugins FILE``: the plugin answers the command."""
    from click.testing import CliRunner

    from dialoghub.cli import main

    url, key = server
    plugins = str(Path(WEATHER) / "plugins.py")
    result = CliRunner().invoke(
        main, ["chat", "weather", "--server", url, "--api-key", key, "--plugins", plugins],
        input="what's the weather in Paris\nwhat's the weather in Atlantis\nbye\n",
    )
    assert result.exit_code == 0, result.output
    assert "In Paris it is sunny and 21 degrees." in result.output
    assert "forecast" not in result.output.split("Paris")[0]  # nobody was asked for outputs
