"""Concurrency through the Hub: 50 writers on one session on every backend, and two Hub
*processes* on one PostgreSQL and on one Redis updating the same sessions.

Each update sets a variable with a unique name, so the log tells exactly which updates
landed: every name must be there exactly once (nothing lost, nothing doubled), the sequence
numbers must be contiguous, and replaying the log must give the snapshot.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from dialoghub import Hub
from dialoghub.errors import VersionConflict
from tests.stores.conftest import BACKENDS
from tests.stores.history import check_history, variables_set
from tests.stores.worker import WEATHER

ROOT = Path(__file__).parents[2]
WRITERS = 50
EACH = 3


async def writer(hub: Hub, name: str, conflicts: Counter[str]) -> None:
    """``EACH`` updates pinned to the version just read; a VersionConflict is retried."""
    done = 0
    while done < EACH:
        current = await hub.get_session("hot")
        await asyncio.sleep(0)  # a client's round trip: let the others read the same version
        try:
            await hub.set_variables(
                "hot", {f"{name}_{done}": done}, expected_version=current.version
            )
        except VersionConflict as exc:
            assert exc.details["actual"] is None or exc.details["actual"] > current.version
            conflicts[name] += 1
            continue
        done += 1


async def test_fifty_writers_on_one_session(store_url: str) -> None:
    async with Hub(store_url) as hub:
        hub.load_models(WEATHER)
        start = await hub.create_session("weather", session_id="hot")
        conflicts: Counter[str] = Counter()
        names = [f"w{i}" for i in range(WRITERS)]
        await asyncio.gather(*(writer(hub, n, conflicts) for n in names))
        assert sum(conflicts.values()) > 0  # they really raced, and the losers retried
        snapshot, events = await check_history(hub.store, "hot")
        assert variables_set(events) == Counter({f"{n}_{i}": 1 for n in names for i in range(EACH)})
        assert snapshot.version == start.session.version + WRITERS * EACH


def spawn(*args: str) -> subprocess.Popen[str]:
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    )
    return subprocess.Popen(
        [sys.executable, "-m", "tests.stores.worker", *args],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def run_two_processes(url: str, sessions: int, updates: int) -> list[int]:
    """Start two worker processes on ``url``, release them together; their conflict counts."""
    procs = [spawn("race", url, tag, str(sessions), str(updates)) for tag in ("a", "b")]
    try:
        for p in procs:
            assert p.stdout is not None and p.stdout.readline().strip() == "ready"
        for p in procs:
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
        out = [p.communicate(timeout=120)[0] for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert all(p.returncode == 0 for p in procs), out
    return [int(o.strip().split()[-1]) for o in out]


@pytest.mark.parametrize("backend", ["postgres", "redis"])
async def test_two_hub_processes_on_the_same_sessions(backend: str, tmp_path: Path) -> None:
    url, cleanup = BACKENDS[backend](tmp_path)
    sessions, updates = 3, 40
    try:
        conflicts = await asyncio.to_thread(run_two_processes, url, sessions, updates)
        assert sum(conflicts) > 0  # pinned updates really lost races across processes
        async with Hub(url) as hub:
            hub.load_models(WEATHER)
            for i in range(sessions):
                _, events = await check_history(hub.store, f"r{i}")
                want = Counter({f"{t}_{n}": 1 for t in "ab" for n in range(updates)})
                assert variables_set(events) == want
    finally:
        await cleanup()
