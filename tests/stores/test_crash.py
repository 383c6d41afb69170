"""Crash safety, for real: a child process updates sessions under load through the Hub and
is killed with SIGKILL at a random moment, ten times per backend, on one database.

The child prints ``SID VERSION`` to a pipe only after an update was acknowledged. After each
kill, every acknowledged update must be in the store (its version is in the session's log and
the snapshot is at or past it), nothing half-written may be visible (the snapshot's version
is its last event's, seqs are contiguous), and replaying each log must give its snapshot.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from dialoghub.stores import open_store
from tests.stores.conftest import BACKENDS, PG_DSN, unique
from tests.stores.history import check_history
from tests.stores.worker import CRASH_SESSIONS

ROOT = Path(__file__).parents[2]
KILLS = 10


async def postgres_client_role(url: str) -> tuple[str, str]:
    """A login role made for this test, and ``url`` connecting as it: the killed child's
    backends are then exactly the ones of that role in pg_stat_activity."""
    import asyncpg

    role = unique("crash_")
    conn = await asyncpg.connect(PG_DSN)
    try:
        await conn.execute(f'CREATE ROLE "{role}" LOGIN SUPERUSER')
    finally:
        await conn.close()
    parts = urlsplit(url)
    return role, urlunsplit(parts._replace(netloc=f"{role}@{parts.hostname}:{parts.port}"))


async def wait_for_backends_gone(role: str) -> None:
    """A backend whose client was killed mid-statement still finishes (and may commit) that
    statement before it sees the closed socket: wait until none of ``role``'s is left, so
    the checks read a database nobody writes to any more."""
    import asyncpg

    conn = await asyncpg.connect(PG_DSN)
    try:
        deadline = time.monotonic() + 30
        while await conn.fetchval("SELECT count(*) FROM pg_stat_activity WHERE usename = $1", role):
            assert time.monotonic() < deadline, f"backends of {role} still alive after 30 s"
            await asyncio.sleep(0.01)
    finally:
        await conn.close()


async def drop_role(role: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_DSN)
    try:
        await conn.execute(f'DROP ROLE IF EXISTS "{role}"')
    finally:
        await conn.close()


def run_and_kill(url: str, run: int, rng: random.Random) -> list[tuple[str, int]]:
    """Start the worker, let it write for a random while, SIGKILL it; the acknowledged
    updates it reported (a line cut short by the kill is not an acknowledgement)."""
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.stores.worker", "crash", url, f"k{run}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == b"ready"
        time.sleep(rng.uniform(0.05, 0.6))
        proc.send_signal(signal.SIGKILL)
        out = proc.stdout.read()
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    acked = []
    for line in out.decode().split("\n")[:-1]:  # the part after the last newline is torn
        sid, version = line.split()
        acked.append((sid, int(version)))
    return acked


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_acknowledged_updates_survive_sigkill(backend: str, tmp_path: Path) -> None:
    url, cleanup = BACKENDS[backend](tmp_path)
    rng = random.Random(os.environ.get("CRASH_SEED", str(time.time_ns())))
    total = 0
    role = None
    child_url = url
    if backend == "postgres":
        role, child_url = await postgres_client_role(url)
    try:
        for run in range(KILLS):
            acked = await asyncio.to_thread(run_and_kill, child_url, run, rng)
            total += len(acked)
            if role is not None:
                await wait_for_backends_gone(role)
            store = open_store(url)
            await store.open()  # recovery after the crash (SQLite replays or drops its WAL)
            try:
                for sid in CRASH_SESSIONS:
                    snapshot, events = await check_history(store, sid)
                    stored_versions = {e.version for e in events}
                    for acked_sid, version in acked:
                        if acked_sid == sid:
                            assert version <= snapshot.version, (run, sid, version)
                            assert version in stored_versions, (run, sid, version)
            finally:
                await store.close()
        assert total > 10 * KILLS  # the child really was under load when killed
    finally:
        await cleanup()
        if role is not None:
            await drop_role(role)
