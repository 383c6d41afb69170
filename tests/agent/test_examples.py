"""The shipped agents (examples/agent): the offline one in process and as `make run` serves
it (a real `dialoghub serve --agent ... --workspace ...`), the LLM one against the stub."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from dialoghub.agent import AgentApp, RoundStatus
from dialoghub.agent.loader import load_agent
from dialoghub.errors import InvalidInput
from dialoghub.hub import Hub
from tests.agent.conftest import Collect
from tests.agent.llm_stub import StubLLM, serve

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "agent"
SALES = EXAMPLES / "sales.csv"


async def test_the_offline_agent_with_two_plugins_and_a_file(tmp_path: Path) -> None:
    agent = load_agent(str(EXAMPLES / "rules.py"))
    async with (
        Hub("memory://") as hub,
        AgentApp(hub, planner=agent.planner, plugins=agent.plugins, workspace=tmp_path) as app,
    ):
        session = await app.get_session()
        weather = await session.send_message("weather in Paris please")
        assert weather.reply == "Paris: sunny, 21 °C"
        seen = Collect()
        summary = await session.send_message(
            "summarize this", seen, files=[{"name": "sales.csv", "path": str(SALES)}]
        )
        assert summary.status is RoundStatus.FINISHED
        assert summary.reply == ("sales.csv: 4 rows (totals: units 38, revenue 4600)")
        assert "post_attachment" in seen.types() and "post_status" in seen.types()
        recall = await session.send_message("what did I ask?")
        assert recall.reply == "Last city: Paris; files summarized: sales.csv."
        failed = await session.send_message("weather in Atlantis")
        assert failed.status is RoundStatus.FAILED and "Atlantis" in (failed.error or "")


async def test_the_llm_agent_against_a_local_endpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stub = StubLLM([{"tool": "forecast", "args": {"city": "Tokyo"}}, {"text": "Cloudy in Tokyo."}])
    async with serve(stub):
        monkeypatch.setenv("OPENAI_BASE_URL", stub.url)
        monkeypatch.setenv("OPENAI_MODEL", "stub")
        agent = load_agent(str(EXAMPLES / "llm.py"))
        async with (
            Hub("memory://") as hub,
            AgentApp(hub, planner=agent.planner, plugins=agent.plugins) as app,
        ):
            rnd = await (await app.get_session()).send_message("weather in Tokyo?")
            await agent.planner.aclose()
    assert rnd.reply == "Cloudy in Tokyo. "
    assert rnd.posts[0].result["forecast"] == "cloudy"


def test_bad_agent_modules_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput):
        load_agent(str(tmp_path / "missing.py"))
    with pytest.raises(InvalidInput):
        load_agent("no_such_module_here")
    bad = tmp_path / "bad.py"
    bad.write_text("PLANNER = 42\n")
    with pytest.raises(InvalidInput, match="run"):
        load_agent(str(bad))


def test_make_run_serves_the_example_agent(tmp_path: Path) -> None:
    """`dialoghub serve --agent examples/agent/rules.py --workspace DIR`, as `make run`."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ws = tmp_path / "workspace"
    root = EXAMPLES.parents[1]
    env = {**os.environ, "PYTHONPATH": str(root / "src")}
    env.pop("DIALOGHUB_AGENT", None)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dialoghub.cli",
            "serve",
            "--store",
            f"sqlite:///{tmp_path}/s.db",
            "--no-auth",
            "--port",
            str(port),
            "--agent",
            str(EXAMPLES / "rules.py"),
            "--workspace",
            str(ws),
            "--log-level",
            "warning",
        ],
        env=env,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            try:
                if httpx.get(f"{url}/health").status_code == 200:
                    break
            except httpx.HTTPError:
                assert time.monotonic() < deadline
                time.sleep(0.1)
        r = httpx.post(
            f"{url}/v1/sessions/demo/messages",
            data={"message": "summarize"},
            files=[("files", ("sales.csv", SALES.read_bytes(), "text/csv"))],
        )
        assert r.status_code == 202, r.text
        events = []
        with httpx.stream("GET", f"{url}/v1/sessions/demo/messages/stream", timeout=30) as s:
            for line in s.iter_lines():
                if line.startswith("data: "):
                    events.append(json.loads(line[6:]))
                    if events[-1]["type"] == "round_end":
                        break
        assert events[-1]["data"]["reply"].startswith("sales.csv: 4 rows")
        assert (ws / "default" / "demo" / "sales.csv").is_file()
    finally:
        proc.terminate()
        proc.wait(10)
