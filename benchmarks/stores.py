"""``python -m benchmarks.stores``: dialoghub on every store, beside the machine's own ceiling.

One run measures, through the :class:`dialoghub.Hub` (``benchmarks.systems.dialoghub_runner
--store URL``, one subprocess per (store, workload), exactly what ``benchmarks.turns`` does for
SQLite):

- **W1** (N sessions x T turns, all in flight) on the memory store (the Hub's own ceiling: no
  I/O), SQLite, PostgreSQL and Redis. Right after the PostgreSQL run, ``pgbench`` runs a custom
  script of one ``INSERT`` into an ``events`` table plus one ``UPDATE`` of a ``sessions`` row by
  primary key per transaction, on tables built by dialoghub's own migrations, with rows of the
  sizes dialoghub writes, at the store's write concurrency (its ``writers``: each writer holds
  one connection and runs one transaction at a time). Right after the Redis run,
  ``redis-benchmark`` runs ``HSET`` of a snapshot-sized hash and ``XADD`` of an event-batch-
  sized entry, with the store's client count (``writers``) and pipeline depth (``max_batch``).
- **W1 over several processes** (``--processes``, default ``1,2``): on PostgreSQL and Redis,
  W1 is also run with its N sessions split evenly over P runner subprocesses, each a ``Hub``
  on the same schema or key prefix (created here before, measured and dropped here after), as
  dialoghub scales out (DESIGN.md, principle 6). Each process creates its sessions, says
  ``ready`` and waits; all are then told to go at once. The row: total turns ÷ (latest end -
  earliest start of the timed phases), mean and p99 over every turn of every process, the
  largest peak RSS of one process, the store's bytes per turn measured once. Its ceiling is
  measured right after it at P times the store's client count. P = 1 is the single-process
  run above, unchanged.
- **W2** (one session, K turns) on memory, SQLite, JSON, PostgreSQL and Redis.
- **Bytes per turn** of every run: SQLite and JSON file sizes; PostgreSQL
  ``pg_total_relation_size`` of the run's schema's tables after ``VACUUM``; Redis
  ``MEMORY USAGE`` summed over the run's key prefix (memory, not disk).

The PostgreSQL and Redis runs work in a schema or key prefix of their own, dropped after; so do
the ceilings. Prints one table in the format of ``benchmarks.turns`` (its last columns are the
ceiling and the ratio to it), or with ``--json`` the rows: the keys of ``benchmarks.turns`` plus
``ceiling_*``. Exit status 1 if a run failed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from benchmarks.systems.dialoghub_runner import scratch_url, stored_bytes
from benchmarks.table import W1_LATENCY_NOTE, grid
from benchmarks.workload import EXPECTED

__all__ = [
    "STORES",
    "format_table",
    "main",
    "pgbench_ceiling",
    "redis_ceiling",
    "run_store",
    "run_store_processes",
    "writes_per_turn",
]

ROOT = Path(__file__).resolve().parent.parent
#: Store name -> the ``--store`` URL given to the runner (``{pg}``/``{redis}``: the servers).
STORES: dict[str, str] = {
    "memory": "memory://",
    "sqlite": "sqlite:///{dir}/sessions.db",
    "json": "json:///{dir}/sessions.json",
    "postgresql": "{pg}",
    "redis": "{redis}",
}
#: The stores W1 runs on (JSON rewrites its one file per group commit: W2 only).
W1_STORES = ("memory", "sqlite", "postgresql", "redis")
#: The stores W1 is also run on from several processes sharing one schema / key prefix.
SHARED_STORES = ("postgresql", "redis")
PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
REDIS_URL = "redis://127.0.0.1:6379/0"
#: Bytes of one session snapshot and one update's event batch on the weather dialog, as
#: dialoghub stores them (``avg(length(snapshot))`` = 482, ``avg(length(batch))`` = 154 in a
#: W1 schema): the ceilings write values of these sizes.
SNAPSHOT_BYTES = 480
BATCH_BYTES = 160
#: Targets of issue 4.
PG_TARGET = 0.80  # store writes/s >= 80% of pgbench's transactions/s
REDIS_TARGET = 8000.0  # turns/s
W2_TARGET = 1.10  # last/first
BYTES_TARGET = 400.0  # per turn
#: Keys every row has (None when not measured), as in ``benchmarks.turns`` plus the ceiling.
ROW_KEYS = (
    "system",
    "workload",
    "store",
    "turns_per_s",
    "mean_ms",
    "p99_ms",
    "peak_rss_mb",
    "bytes_per_turn",
)
CEILING_KEYS = (
    "ceiling_tool",
    "ceiling_command",
    "ceiling_clients",
    "ceiling_pipeline",
    "ceiling_seconds",
    "ceiling_tps",
    "ceiling_hset_per_s",
    "ceiling_xadd_per_s",
    "ceiling_writes_per_s",
    "ceiling_turns_per_s",
    "ceiling_compared",
    "ceiling_ratio",
    "ceiling_error",
)


def writes_per_turn() -> float:
    """Store writes per turn of the weather dialog: 1, plus 1 on a turn that runs the weather
    command (its reply reports the weather), whose result is a second durable update."""
    commands = sum(1 for reply in EXPECTED if "degrees" in reply)
    return (len(EXPECTED) + commands) / len(EXPECTED)


def _env() -> dict[str, str]:
    """The environment of a runner subprocess (the repository on ``PYTHONPATH``)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def run_store(
    name: str, url: str, workload: str, sessions: int, turns: int, timeout: float
) -> dict[str, Any]:
    """Run one workload on one store in a runner subprocess; its row (``error`` if failed)."""
    command = [
        sys.executable,
        "-m",
        "benchmarks.systems.dialoghub_runner",
        f"--workload={workload}",
        f"--sessions={sessions}",
        f"--turns={turns}",
        f"--store={url}",
    ]
    row: dict[str, Any]
    try:
        done = subprocess.run(
            command,
            cwd=ROOT,
            env=_env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        row = _failed(workload, f"timed out after {timeout:.0f} s")
    else:
        lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
        if done.returncode != 0 or not lines:
            tail = [line for line in done.stderr.strip().splitlines() if line.strip()]
            row = _failed(workload, tail[-1] if tail else f"exit {done.returncode}")
        else:
            row = json.loads(lines[-1])
    row["store_name"] = name
    row["processes"] = 1
    if name == "memory" and not row.get("error"):
        row["db_bytes"] = row["bytes_per_turn"] = None  # nothing is stored outside the process
    for key in CEILING_KEYS:
        row.setdefault(key, None)
    return row


def median_w2(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Of repeated W2 runs of one store, the run with the median last/first ratio.

    Every run's ratio is kept in ``last_first_ratios`` (and printed), so a reader sees the
    spread; a failed run makes the whole row failed.
    """
    failed = [r for r in rows if r.get("error")]
    if failed:
        return failed[0]
    ordered = sorted(rows, key=lambda r: float(r["last_first_ratio"]))
    row = dict(ordered[(len(ordered) - 1) // 2])
    row["last_first_ratios"] = [r["last_first_ratio"] for r in rows]
    row["repeats"] = len(rows)
    return row


def _failed(workload: str, error: str) -> dict[str, Any]:
    """The row of a run that produced no result."""
    row: dict[str, Any] = dict.fromkeys(ROW_KEYS)
    row.update(system="dialoghub", workload=workload, error=error)
    return row


async def _create_namespace(url: str) -> None:
    """Open and close the store at ``url`` once: a PostgreSQL schema gets its tables (so the
    processes do not race to migrate it), a Redis prefix needs nothing but a reachable server."""
    from dialoghub.stores import open_store

    store = open_store(url)
    await store.open()
    await store.close()


def _child_row(child: subprocess.Popen[str], stderr: Any) -> dict[str, Any] | str:
    """A finished child's JSON row, or what went wrong."""
    out = child.stdout.read() if child.stdout is not None else ""
    code = child.wait()
    lines = [line for line in out.splitlines() if line.startswith("{")]
    if code == 0 and lines:
        row: dict[str, Any] = json.loads(lines[-1])
        return row
    stderr.seek(0)
    tail = [line for line in stderr.read().strip().splitlines() if line.strip()]
    return tail[-1] if tail else f"exit {code}"


def run_store_processes(
    name: str, url: str, sessions: int, turns: int, processes: int, timeout: float
) -> dict[str, Any]:
    """W1 with its sessions split evenly over ``processes`` runners sharing one store.

    The schema or key prefix is created here, given to every runner (``--namespace``), and
    measured and dropped here after. Each runner creates its sessions, prints ``ready`` and
    waits; once all are ready, each gets a line on stdin and runs its timed phase. The row
    aggregates theirs (see the module's docstring); ``process_turns_per_s`` keeps each one's
    own rate and ``start_spread_ms`` how far apart their timed phases began.
    """
    namespace = f"bench_{os.getpid()}_{secrets.token_hex(3)}"
    shared = scratch_url(url, namespace)
    bounds = [sessions * i // processes for i in range(processes + 1)]
    children: list[tuple[subprocess.Popen[str], Any]] = []
    killed = threading.Event()

    def kill_all() -> None:
        killed.set()
        for child, _ in children:
            child.kill()

    timer = threading.Timer(timeout, kill_all)
    row: dict[str, Any]
    results: list[dict[str, Any] | str] = []
    files = contextlib.ExitStack()
    try:
        asyncio.run(_create_namespace(shared))
        timer.start()
        for i in range(processes):
            command = [
                sys.executable,
                "-m",
                "benchmarks.systems.dialoghub_runner",
                "--workload=W1",
                f"--session-range={bounds[i]}:{bounds[i + 1]}",
                f"--turns={turns}",
                f"--store={url}",
                f"--namespace={namespace}",
                "--barrier",
                "--latencies",
            ]
            stderr = files.enter_context(tempfile.TemporaryFile("w+"))  # noqa: SIM115
            child = subprocess.Popen(
                command,
                cwd=ROOT,
                env=_env(),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
            )
            children.append((child, stderr))
        ready = 0
        for child, _ in children:  # each has created its sessions once it says ready
            assert child.stdout is not None
            line = child.stdout.readline()
            while line and line.strip() != "ready":
                line = child.stdout.readline()
            ready += bool(line)
        if ready == processes:
            for child, _ in children:  # go: as close together as one loop of writes gets
                assert child.stdin is not None
                child.stdin.write("go\n")
                child.stdin.flush()
        for child, _ in children:
            assert child.stdin is not None
            child.stdin.close()
        results = [_child_row(child, stderr) for child, stderr in children]
    except Exception as exc:  # the shared store could not be created, or a child not started
        results = [f"{type(exc).__name__}: {exc}"]
    finally:
        timer.cancel()
        for child, _ in children:
            if child.poll() is None:
                child.kill()
                child.wait()
        files.close()
        try:
            db_bytes: int | None = asyncio.run(stored_bytes(shared, drop=True))
        except Exception as exc:  # a failed drop is reported, not raised
            db_bytes = None
            results.append(f"measuring/dropping {namespace}: {exc}")
    errors = [r for r in results if isinstance(r, str)]
    parts = [r for r in results if isinstance(r, dict)]
    if errors or len(parts) != processes:
        error = f"timed out after {timeout:.0f} s" if killed.is_set() else "; ".join(errors)
        row = _failed("W1", error or "a process gave no row")
    else:
        latencies = [ns / 1e9 for part in parts for ns in part["latencies_ns"]]
        start = min(part["t_start"] for part in parts)
        seconds = max(part["t_end"] for part in parts) - start
        total = sum(part["total_turns"] for part in parts)
        ordered = sorted(latencies)
        p99 = ordered[max(0, -(-99 * len(ordered) // 100) - 1)]
        row = {key: parts[0][key] for key in ("system", "version", "workload")}
        row.update(
            store=f"{parts[0]['store']} x{processes} procs",
            sessions=sessions,
            turns=turns,
            total_turns=total,
            seconds=round(seconds, 3),
            turns_per_s=round(total / seconds, 1),
            mean_ms=round(1000 * sum(latencies) / len(latencies), 3),
            p99_ms=round(1000 * p99, 3),
            peak_rss_mb=max(part["peak_rss_mb"] for part in parts),
            db_bytes=db_bytes,
            bytes_per_turn=None if db_bytes is None else round(db_bytes / total, 1),
            process_turns_per_s=[part["turns_per_s"] for part in parts],
            start_spread_ms=round(1000 * (max(p["t_start"] for p in parts) - start), 3),
        )
    row["store_name"] = name
    row["processes"] = processes
    for key in CEILING_KEYS:
        row.setdefault(key, None)
    return row


# --- ceilings ---------------------------------------------------------------------------------


def _store_sizes(url: str) -> tuple[int, int]:
    """(writers, max_batch) the store at ``url`` is configured with (its URL or defaults)."""
    from dialoghub.stores import open_store

    store: Any = open_store(url)  # built, not opened: nothing is connected
    group = store._group
    return int(group._writers), int(group._max_batch)


def _pg_script(schema: str, sessions: int) -> str:
    """The pgbench script: one transaction = one event row inserted + one session row updated."""
    batch = secrets.token_hex(BATCH_BYTES)
    snapshot = secrets.token_hex(SNAPSHOT_BYTES)
    return (
        f"\\set n random(1, {sessions})\n"
        "BEGIN;\n"
        f'INSERT INTO "{schema}".events (sid, first_seq, version, ts, batch) '
        f"VALUES (:n, nextval('\"{schema}\".bench_seq'), 2, "
        f"extract(epoch from clock_timestamp()), '\\x{batch}'::bytea);\n"
        f"UPDATE \"{schema}\".sessions SET model_id = 'weather', state = 'start', "
        "status = 'active', version = version + 1, seq = seq + 1, "
        f"updated_at = extract(epoch from clock_timestamp()), snapshot = '\\x{snapshot}'::bytea "
        "WHERE tenant = 'default' AND id = 's' || lpad(:n::text, 6, '0');\n"
        "END;\n"
    )


async def _pg_prepare(url: str, schema: str, sessions: int) -> None:
    """Build dialoghub's tables in ``schema`` (its own migrations) and ``sessions`` rows."""
    import asyncpg

    from dialoghub.stores.postgres import PostgresStore

    store = PostgresStore.from_url(f"{url}{'&' if '?' in url else '?'}schema={schema}")
    await store.open()
    await store.close()
    conn = await asyncpg.connect(_pg_dsn(url))
    try:
        await conn.execute(f'CREATE SEQUENCE "{schema}".bench_seq')
        await conn.execute(
            f'INSERT INTO "{schema}".sessions (tenant, id, model_id, state, status, version, '
            "seq, updated_at, snapshot) SELECT 'default', 's' || lpad(n::text, 6, '0'), "
            "'weather', 'start', 'active', 1, 1, 0, $1 FROM generate_series(1, $2) n",
            secrets.token_bytes(SNAPSHOT_BYTES),
            sessions,
        )
        await conn.execute(f'VACUUM ANALYZE "{schema}".sessions')
    finally:
        await conn.close()


async def _pg_drop(url: str, schema: str) -> None:
    """Drop the ceiling's schema, then flush what pgbench left to the server's next checkpoint.

    pgbench writes at full speed for ``-T`` seconds; without the CHECKPOINT, PostgreSQL
    flushes that WAL and those dirty buffers during whatever runs next (here: W2, whose
    100-turn windows then catch the stall). Every measurement starts from a settled server.
    """
    import asyncpg

    conn = await asyncpg.connect(_pg_dsn(url))
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await conn.execute("CHECKPOINT")
    finally:
        await conn.close()


def _pg_dsn(url: str) -> str:
    """``url`` without its query (dialoghub's options), as libpq and asyncpg take it."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(scheme="postgresql", query=""))


def pgbench_ceiling(url: str, sessions: int, seconds: float, processes: int = 1) -> dict[str, Any]:
    """Run pgbench's INSERT + UPDATE transaction at the store's write concurrency (its
    ``writers``, times ``processes`` for that many store processes).

    Returns the ``ceiling_*`` fields (``ceiling_error`` if pgbench is missing or failed).
    """
    writers, _ = _store_sizes(url)
    writers *= processes
    fields: dict[str, Any] = {"ceiling_tool": "pgbench", "ceiling_clients": writers}
    if shutil.which("pgbench") is None:
        return {**fields, "ceiling_error": "pgbench not found on PATH"}
    schema = f"ceil_{os.getpid()}_{secrets.token_hex(3)}"
    jobs = min(writers, os.cpu_count() or 1)
    asyncio.run(_pg_prepare(url, schema, sessions))
    try:
        with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as script:
            script.write(_pg_script(schema, sessions))
        command = ["pgbench", "-n", "-M", "prepared", "-f", script.name, "-c", str(writers)]
        command += ["-j", str(jobs), "-T", str(round(seconds)), _pg_dsn(url)]
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=seconds + 120, check=False
        )
    finally:
        Path(script.name).unlink(missing_ok=True)
        asyncio.run(_pg_drop(url, schema))
    fields["ceiling_command"] = " ".join([*command[:-1], "DSN"]).replace(
        script.name, "insert_update.sql"
    )
    fields["ceiling_seconds"] = round(seconds)
    found = re.search(r"tps = ([\d.]+) \(without initial connection time\)", done.stdout)
    if done.returncode != 0 or found is None:
        tail = (done.stderr.strip() or done.stdout.strip()).splitlines()
        return {**fields, "ceiling_error": tail[-1] if tail else f"exit {done.returncode}"}
    tps = float(found.group(1))
    fields.update(
        ceiling_tps=round(tps, 1),
        ceiling_writes_per_s=round(tps, 1),
        ceiling_turns_per_s=round(tps / writes_per_turn(), 1),
        ceiling_compared="dialoghub store writes/s ÷ pgbench transactions/s",
    )
    return fields


def _redis_benchmark(
    url: str, clients: int, pipeline: int, requests: int, sessions: int, args: list[str]
) -> float:
    """Requests per second of one ``redis-benchmark`` command (``--csv``)."""
    parts = urlsplit(url)
    command = ["redis-benchmark", "-h", parts.hostname or "127.0.0.1"]
    command += ["-p", str(parts.port or 6379), "-c", str(clients), "-P", str(pipeline)]
    command += ["-n", str(requests), "-r", str(sessions), "--csv"]
    db = parts.path.strip("/")
    if db:
        command += ["--dbnum", db]
    done = subprocess.run(
        [*command, *args], capture_output=True, text=True, timeout=600, check=True
    )
    line = [x for x in done.stdout.splitlines() if x.startswith('"') and '"rps"' not in x][-1]
    return float(line.split('","')[1])


async def _redis_delete(url: str, prefix: str) -> None:
    """Delete the keys under ``prefix``."""
    import redis.asyncio as aioredis

    client = aioredis.from_url(urlunsplit(urlsplit(url)._replace(query="")))
    try:
        keys = [k async for k in client.scan_iter(match=prefix + "*", count=1000)]
        for i in range(0, len(keys), 500):
            await client.delete(*keys[i : i + 500])
    finally:
        await client.aclose()


def redis_ceiling(url: str, sessions: int, requests: int, processes: int = 1) -> dict[str, Any]:
    """Run redis-benchmark's HSET and XADD with the store's clients (times ``processes``) and
    pipeline depth.

    A store write (one Lua script) sets the snapshot hash and appends one stream entry, so the
    ceiling of writes/s is ``1 / (1/HSET_rps + 1/XADD_rps)``. Returns the ``ceiling_*`` fields.
    """
    writers, max_batch = _store_sizes(url)
    writers *= processes
    fields: dict[str, Any] = {
        "ceiling_tool": "redis-benchmark",
        "ceiling_clients": writers,
        "ceiling_pipeline": max_batch,
    }
    if shutil.which("redis-benchmark") is None:
        return {**fields, "ceiling_error": "redis-benchmark not found on PATH"}
    prefix = f"ceil_{os.getpid()}_{secrets.token_hex(3)}:"
    hset = ["HSET", f"{prefix}s:__rand_int__", "v", "2", "q", "2", "s", "s" * SNAPSHOT_BYTES]
    xadd = ["XADD", f"{prefix}e:__rand_int__", "*", "b", "b" * BATCH_BYTES]
    try:
        hset_rps = _redis_benchmark(url, writers, max_batch, requests, sessions, hset)
        # Each XADD grows a stream: fewer of them keep the server's memory in bounds.
        xadd_rps = _redis_benchmark(url, writers, max_batch, requests // 2, sessions, xadd)
    except (subprocess.SubprocessError, IndexError, ValueError) as exc:
        return {**fields, "ceiling_error": f"redis-benchmark failed: {exc}"}
    finally:
        asyncio.run(_redis_delete(url, prefix))
    writes = 1 / (1 / hset_rps + 1 / xadd_rps)
    fields.update(
        ceiling_command=(
            f"redis-benchmark -c {writers} -P {max_batch} -n {requests} -r {sessions} "
            f"HSET KEY v 2 q 2 s <{SNAPSHOT_BYTES} B>; same with -n {requests // 2} "
            f"XADD KEY * b <{BATCH_BYTES} B>"
        ),
        ceiling_hset_per_s=round(hset_rps, 1),
        ceiling_xadd_per_s=round(xadd_rps, 1),
        ceiling_writes_per_s=round(writes, 1),
        ceiling_turns_per_s=round(writes / writes_per_turn(), 1),
        ceiling_compared="dialoghub turns/s ÷ (HSET+XADD writes/s ÷ writes per turn)",
    )
    return fields


def add_ceiling(row: dict[str, Any], fields: dict[str, Any]) -> None:
    """Put the ceiling's fields into the W1 row and compute the ratio it is compared by.

    PostgreSQL: the store's writes/s (turns/s x writes per turn) ÷ pgbench's transactions/s.
    Redis: turns/s ÷ the ceiling's turns/s.
    """
    row.update(fields)
    row["writes_per_turn"] = writes_per_turn()
    if row.get("error") or not row.get("turns_per_s"):
        return
    row["store_writes_per_s"] = round(row["turns_per_s"] * writes_per_turn(), 1)
    if row.get("ceiling_tps"):
        row["ceiling_ratio"] = round(row["store_writes_per_s"] / row["ceiling_tps"], 3)
    elif row.get("ceiling_turns_per_s"):
        row["ceiling_ratio"] = round(row["turns_per_s"] / row["ceiling_turns_per_s"], 4)


# --- table ------------------------------------------------------------------------------------

_COLUMNS = (
    # (header, width): the first four columns are left-aligned, the numbers right-aligned
    ("system", 10),
    ("work", 4),
    ("store", 42),
    ("sessions x turns", 16),
    ("turns/s", 9),
    ("mean ms", 9),
    ("p99 ms", 9),
    ("RSS MB", 7),
    ("B/turn", 9),
    ("last/first", 10),
    ("ceiling", 15),
    ("÷ ceiling", 9),
)


def _num(row: dict[str, Any], key: str, digits: int) -> str:
    value = row.get(key)
    return "-" if value is None else f"{value:,.{digits}f}"


def _cells(row: dict[str, Any]) -> list[str]:
    """The table cells of one row."""
    if row.get("error"):
        return [row["system"], row["workload"], f"FAILED ({row['store_name']}): {row['error']}"]
    ceiling = "-"
    if row.get("ceiling_tps"):
        ceiling = f"{row['ceiling_tps']:,.0f} tx/s"
    elif row.get("ceiling_turns_per_s"):
        ceiling = f"{row['ceiling_turns_per_s']:,.0f} turns/s"
    elif row.get("ceiling_error"):
        ceiling = "failed"
    ratio = "-" if row.get("ceiling_ratio") is None else f"{row['ceiling_ratio']:.1%}"
    return [
        row["system"],
        row["workload"],
        row["store"],
        f"{row['sessions']:,} x {row['turns']:,}",
        _num(row, "turns_per_s", 0),
        _num(row, "mean_ms", 2),
        _num(row, "p99_ms", 2),
        _num(row, "peak_rss_mb", 0),
        _num(row, "bytes_per_turn", 0),
        _num(row, "last_first_ratio", 2),
        ceiling,
        ratio,
    ]


def format_table(rows: Sequence[dict[str, Any]]) -> str:
    """The rows as fixed-width text, then the comparisons and targets, one line each."""
    lines = grid(_COLUMNS, [_cells(row) for row in rows])
    lines.append("")
    lines.extend(_summary(rows))
    return "\n".join(lines)


def _met(ok: bool) -> str:
    return "met" if ok else "MISSED"


def _label(row: dict[str, Any]) -> str:
    """The store's name, with ``xP procs`` for a run over several processes."""
    procs = row.get("processes", 1)
    return str(row["store_name"]) + (f" x{procs} procs" if procs > 1 else "")


def _summary(rows: Sequence[dict[str, Any]]) -> list[str]:
    """The ceilings as measured, each target with its figure, and bytes per turn."""
    out: list[str] = []
    good = [r for r in rows if not r.get("error")]
    for row in good:
        if row["workload"] != "W1" or not row.get("ceiling_tool"):
            continue
        name = _label(row)
        if row.get("ceiling_error"):
            out.append(f"{name} ceiling ({row['ceiling_tool']}) failed: {row['ceiling_error']}")
            continue
        out.append(f"{name} ceiling: {row['ceiling_command']}")
        if row["store_name"] == "postgresql":
            out.append(
                f"  pgbench {row['ceiling_tps']:,.0f} tx/s (1 INSERT + 1 UPDATE each) = "
                f"{row['ceiling_turns_per_s']:,.0f} turns/s at {row['writes_per_turn']} writes "
                f"per turn; dialoghub {row['turns_per_s']:,.0f} turns/s = "
                f"{row['store_writes_per_s']:,.0f} store writes/s = "
                f"{row['ceiling_ratio']:.0%} of pgbench's tx/s (target >= {PG_TARGET:.0%}: "
                f"{_met(row['ceiling_ratio'] >= PG_TARGET)})"
            )
        else:
            out.append(
                f"  HSET {row['ceiling_hset_per_s']:,.0f}/s, XADD {row['ceiling_xadd_per_s']:,.0f}"
                f"/s -> {row['ceiling_writes_per_s']:,.0f} writes/s = "
                f"{row['ceiling_turns_per_s']:,.0f} turns/s; dialoghub {row['turns_per_s']:,.0f} "
                f"turns/s = {row['ceiling_ratio']:.1%} of it (target >= {REDIS_TARGET:,.0f} "
                f"turns/s: {_met(row['turns_per_s'] >= REDIS_TARGET)})"
            )
    redis = [r for r in good if r["workload"] == "W1" and r["store_name"] == "redis"]
    if redis:
        best = max(redis, key=lambda r: r["turns_per_s"])
        out.append(
            f"redis target >= {REDIS_TARGET:,.0f} turns/s: best W1 row {best['turns_per_s']:,.0f} "
            f"turns/s with {best['processes']} process{'es' if best['processes'] > 1 else ''} "
            f"on one Redis: {_met(best['turns_per_s'] >= REDIS_TARGET)} ("
            + ", ".join(f"{r['processes']} proc {r['turns_per_s']:,.0f}" for r in redis)
            + ")"
        )
    multi = [r for r in good if r.get("processes", 1) > 1]
    for row in multi:
        out.append(
            f"{_label(row)}: each process's own turns/s "
            + " + ".join(f"{x:,.0f}" for x in row["process_turns_per_s"])
            + f"; timed phases began within {row['start_spread_ms']:.1f} ms of each other"
        )
    hub = next((r for r in good if r["workload"] == "W1" and r["store_name"] == "memory"), None)
    if hub is not None:
        out.append(
            f"the Hub alone (memory store, no I/O): {hub['turns_per_s']:,.0f} turns/s on W1, "
            "the most any store can give in one process"
        )
    w2 = [r for r in good if r["workload"] == "W2"]
    if w2:
        out.append(
            f"W2 last/first (target <= {W2_TARGET:.2f}): "
            + ", ".join(
                f"{r['store_name']} {r['last_first_ratio']:.2f} "
                f"{_met(r['last_first_ratio'] <= W2_TARGET)}"
                for r in w2
            )
        )
        repeated = [r for r in w2 if r.get("repeats", 1) > 1]
        if repeated:
            out.append(
                "  each W2 row is the median of "
                f"{repeated[0]['repeats']} runs; every run's last/first: "
                + "; ".join(
                    f"{r['store_name']} " + " ".join(f"{x:.2f}" for x in r["last_first_ratios"])
                    for r in repeated
                )
            )
    sized = [r for r in good if r.get("bytes_per_turn") is not None]
    if sized:
        out.append(
            f"bytes per turn (target <= {BYTES_TARGET:.0f}): "
            + ", ".join(
                f"{_label(r)} {r['workload']} {r['bytes_per_turn']:,.0f} "
                f"{_met(r['bytes_per_turn'] <= BYTES_TARGET)}"
                for r in sized
            )
        )
        out.append(
            "  sqlite: file after a WAL checkpoint; json: the file; postgresql: "
            "pg_total_relation_size (heap, TOAST, indexes) of the run's tables after VACUUM; "
            "redis: MEMORY USAGE of the run's keys, i.e. memory (no persistence configured), "
            "not disk. All include session creation; W1 has 1 session per "
            "turns-per-session turns, W2 one session."
        )
    out.append(W1_LATENCY_NOTE)
    return out


# --- command line -----------------------------------------------------------------------------


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.stores",
        description="W1 and W2 of the weather dialog on every store, beside pgbench and "
        "redis-benchmark ceilings measured in the same run.",
    )
    parser.add_argument("--sessions", type=int, default=1000, help="W1 sessions (default 1000)")
    parser.add_argument("--turns", type=int, default=20, help="W1 turns per session (default 20)")
    parser.add_argument(
        "--w2-turns", type=int, default=2000, help="W2 turns of the one session (default 2000)"
    )
    parser.add_argument(
        "--only", default=",".join(STORES), help=f"comma-separated subset of {','.join(STORES)}"
    )
    parser.add_argument("--pg", default=PG_URL, help=f"PostgreSQL server (default {PG_URL})")
    parser.add_argument("--redis", default=REDIS_URL, help=f"Redis server (default {REDIS_URL})")
    parser.add_argument("--pgbench-seconds", type=float, default=10, help="pgbench -T (default 10)")
    parser.add_argument(
        "--redis-requests",
        type=int,
        default=1_000_000,
        help="redis-benchmark -n for HSET (XADD gets half; default 1000000)",
    )
    parser.add_argument(
        "--timeout", type=float, default=1800, help="seconds allowed to one run (default 1800)"
    )
    parser.add_argument(
        "--processes",
        default="1,2",
        help="comma-separated process counts for W1 on PostgreSQL and Redis, sessions split "
        "evenly over one shared store (default 1,2)",
    )
    parser.add_argument(
        "--w2-repeats",
        type=int,
        default=3,
        help="W2 runs per store; the row is the run with the median last/first ratio, and "
        "every run's ratio is listed (default 3; one slow fsync in a 100-turn window moves a "
        "single run's ratio by more than the target allows)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON list of rows")
    args = parser.parse_args(argv)
    if args.w2_repeats < 1:
        parser.error("--w2-repeats: at least 1")
    try:
        args.process_counts = sorted({int(p) for p in args.processes.split(",") if p.strip()})
    except ValueError:
        parser.error(f"--processes {args.processes!r}: want comma-separated integers")
    if not args.process_counts or not 1 <= args.process_counts[0] <= args.process_counts[-1]:
        parser.error("--processes: at least one count, each at least 1")
    if args.process_counts[-1] > args.sessions:
        parser.error("--processes: more processes than W1 sessions")
    args.stores = [s.strip() for s in args.only.split(",") if s.strip()]
    if unknown := set(args.stores) - set(STORES):
        parser.error(f"unknown store(s) {sorted(unknown)}; choose from {', '.join(STORES)}")
    if args.sessions < 1 or args.turns < 2 or args.w2_turns < 2:
        parser.error("need at least 1 session and 2 turns")
    return args


def plan(args: argparse.Namespace) -> list[tuple[str, str, str, int, int, int]]:
    """The runs, in order: (store name, URL, workload, sessions, turns per session, processes)."""
    runs: list[tuple[str, str, str, int, int, int]] = []
    chosen = [s for s in STORES if s in args.stores]
    for workload in ("W1", "W2"):
        for name in chosen:
            if workload == "W1" and name not in W1_STORES:
                continue
            url = STORES[name].format(pg=args.pg, redis=args.redis, dir="{dir}")
            if workload == "W1" and name in SHARED_STORES:
                for procs in args.process_counts:
                    runs.append((name, url, workload, args.sessions, args.turns, procs))
            elif workload == "W1":
                runs.append((name, url, workload, args.sessions, args.turns, 1))
            else:
                runs.append((name, url, workload, 1, args.w2_turns, 1))
    return runs


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; print the table (or JSON); return the exit status."""
    args = _parse(argv)
    rows = []
    for name, url, workload, sessions, turns, procs in plan(args):
        what = f"{name} {workload}" + (f" x{procs} procs" if procs > 1 else "")
        print(f"running {what} ...", file=sys.stderr, flush=True, end=" ")
        start = time.perf_counter()
        if procs > 1:
            row = run_store_processes(name, url, sessions, turns, procs, args.timeout)
        elif workload == "W2":
            row = median_w2(
                [
                    run_store(name, url, workload, sessions, turns, args.timeout)
                    for _ in range(args.w2_repeats)
                ]
            )
        else:
            row = run_store(name, url, workload, sessions, turns, args.timeout)
        print(f"{time.perf_counter() - start:.1f} s", file=sys.stderr, flush=True)
        if workload == "W1" and name in SHARED_STORES:
            print(f"running {what} ceiling ...", file=sys.stderr, flush=True, end=" ")
            start = time.perf_counter()
            if name == "postgresql":
                fields = pgbench_ceiling(url, sessions, args.pgbench_seconds, procs)
            else:
                fields = redis_ceiling(url, sessions, args.redis_requests, procs)
            print(f"{time.perf_counter() - start:.1f} s", file=sys.stderr, flush=True)
            add_ceiling(row, fields)
        rows.append(row)
    if args.json:
        print(json.dumps(rows, indent=1))
    else:
        print(
            f"# {time.strftime('%Y-%m-%d %H:%M')} · Python {platform.python_version()} · "
            f"{platform.system()} {platform.machine()} · {os.cpu_count()} CPUs"
        )
        print(format_table(rows))
    return 1 if any(row.get("error") for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
