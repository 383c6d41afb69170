"""A round whose process is killed mid-way is marked failed when its session is next
opened, never left running; the session then goes on (a real process, killed with -9)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from dialoghub.agent import AgentApp, RoundStatus
from tests.agent.conftest import Collect, make_planner, make_plugins

ROOT = Path(__file__).resolve().parents[2]
CHILD = textwrap.dedent("""
    import asyncio, sys
    from pathlib import Path
    from dialoghub.agent import AgentApp, Plugins, RulePlanner

    url, marker = sys.argv[1], Path(sys.argv[2])
    plugins = Plugins()

    @plugins.register()
    async def slow(ctx):
        ctx.set_session_var("touched", True)
        marker.write_text("in plugin")
        await asyncio.sleep(3600)

    planner = RulePlanner()

    async def go(turn, m):
        await turn.call("slow")
        return "never"

    planner.add("go", go)

    async def main():
        async with AgentApp(url, planner=planner, plugins=plugins) as app:
            session = await app.get_session("victim")
            await session.send_message("go")

    asyncio.run(main())
""")


def _wait_for(path: Path, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        assert time.monotonic() < deadline, "the child never reached its plugin"
        time.sleep(0.05)


def _run_and_kill(tmp_path: Path, url: str) -> None:
    """Run the child until its round is inside its plugin, then kill it with -9."""
    marker = tmp_path / "marker"
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.Popen(
        [sys.executable, str(script), url, str(marker)], env=env, stderr=subprocess.PIPE
    )
    try:
        _wait_for(marker, proc)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()


async def test_a_round_killed_mid_way_is_marked_failed_on_restart(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/agent.db"
    _run_and_kill(tmp_path, url)
    async with AgentApp(url, planner=make_planner(), plugins=make_plugins()) as app:
        stored = await app.hub.get_session("victim")
        assert stored.agent is not None and stored.agent["status"] == "running"  # as left
        session = await app.get_session("victim")
        rounds = await session.rounds()
        assert [r.status for r in rounds] == [RoundStatus.FAILED]
        assert "interrupted" in (rounds[0].error or "")
        assert (await app.hub.get_session("victim")).agent["status"] == "failed"
        # the session goes on, numbering its events past anything the dead process gave out
        seen = Collect()
        rnd = await session.send_message("weather in Paris", seen)
        assert rnd.status is RoundStatus.FINISHED
        assert seen.events[0].seq > 1_000_000


async def test_recover_marks_every_abandoned_round_failed(tmp_path: Path) -> None:
    from dialoghub.engine.records import AgentRecord

    url = f"sqlite:///{tmp_path}/agent.db"
    async with AgentApp(url, planner=make_planner()) as app:
        for sid in ("a", "b"):
            await app.get_session(sid)
            await app.hub.update(
                sid,
                AgentRecord(
                    kind="round_started",
                    data={"round": f"r-{sid}", "message": "hi", "seq": 1, "owner": "dead"},
                ),
            )
    async with AgentApp(url, planner=make_planner()) as app:
        assert await app.recover() == 2
        for sid in ("a", "b"):
            assert (await app.hub.get_session(sid)).agent["status"] == "failed"
        assert await app.recover() == 0
