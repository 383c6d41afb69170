"""The measuring harness every system runner shares, and the subprocess entry point.

A runner module implements :class:`Driver` for one system (open a store in a directory, create
a session, play one turn, close) and calls :func:`main`. The harness runs one workload in the
current process, on a fresh temporary directory, checks every reply against
:mod:`benchmarks.workload`, and prints one JSON row on stdout:

- **W1**: ``sessions`` sessions created first (not timed), then all of them in flight at once as
  asyncio tasks, each playing ``turns`` turns one after the other;
- **W2**: one session playing ``turns`` turns; ``last_first_ratio`` is the mean latency of the
  last 100 turns divided by that of the first 100.

``python -m benchmarks.turns`` starts one subprocess per (system, configuration, workload), so
peak RSS (``ru_maxrss``) is that system's own.

For W1 split over several processes on one store (``benchmarks.stores --processes N``), three
options make one process play its share: ``--session-range A:B`` plays sessions ``A`` to
``B - 1`` (``s{A:06d}`` ...) instead of ``--sessions``; ``--barrier`` creates them, prints the
line ``ready``, and starts the timed phase only when a line arrives on stdin, so every process
starts its turns together; ``--latencies`` adds every turn's latency (``latencies_ns``) and the
timed phase's start and end (``t_start``/``t_end``, ``time.monotonic``, the same clock in every
process on one machine) to the row, for the parent to aggregate. ``--done-line`` prints the
line ``done`` as soon as the timed turns are over, before the store is closed (``benchmarks.turns``
counts the fsyncs between ``ready`` and ``done`` under strace).

A row also carries ``cpu_ms_per_turn`` (the process's CPU, every thread, over the timed
phase), ``config`` and ``durability`` (from the driver, when it has them) and ``journal_mode``
(read back from the SQLite files the run left, :func:`journal_modes`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import resource
import sqlite3
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol

from benchmarks.workload import expected_reply, message

__all__ = [
    "Driver",
    "WrongReply",
    "database_bytes",
    "journal_modes",
    "main",
    "run_w1",
    "run_w2",
]

#: Turns at each end of W2 whose mean latencies are compared.
W2_WINDOW = 100
#: Sessions created concurrently at a time before W1 starts (creation is not timed).
CREATE_BATCH = 100


class WrongReply(AssertionError):
    """A system answered a turn with something other than the expected reply."""

    def __init__(self, system: str, session_id: str, turn: int, got: str, want: str) -> None:
        super().__init__(f"{system}: session {session_id} turn {turn}: got {got!r}, want {want!r}")
        self.system = system
        self.session_id = session_id
        self.turn = turn
        self.got = got
        self.want = want


class Driver(Protocol):
    """One system playing the weather dialog, durably, in one directory."""

    #: The name in the table: ``dialoghub``, ``langgraph`` or ``adk``.
    name: str

    async def open(self, directory: Path) -> None:
        """Open (create) the system's store in ``directory``."""

    async def create(self, session_id: str) -> None:
        """Create session ``session_id`` (not timed)."""

    async def turn(self, session_id: str, text: str) -> str:
        """Play one turn: ``text`` in, until the reply is ready; return the reply's text."""

    async def close(self) -> None:
        """Flush and close the store."""

    def store(self) -> str:
        """Describe the store as configured, e.g. ``sqlite WAL sync=FULL``."""

    def version(self) -> str:
        """The version of the system's library."""


# A driver may also have ``config() -> str`` (the configuration's name in the table, e.g.
# ``SqliteSaver durability=exit``; default: ``store()``), ``durability() -> str`` (how a turn is
# made durable, e.g. ``sync=FULL, commit per event``) and ``stored_bytes() -> int | None``.


async def _timed_turns(driver: Driver, session_id: str, turns: int, latencies: list[float]) -> None:
    """Play ``turns`` turns of one session in order, appending each turn's latency (s)."""
    for i in range(turns):
        text = message(i)
        start = time.perf_counter()
        reply = await driver.turn(session_id, text)
        latencies.append(time.perf_counter() - start)
        want = expected_reply(i)
        if reply != want:
            raise WrongReply(driver.name, session_id, i, reply, want)


async def run_w1(
    driver: Driver,
    sessions: int,
    turns: int,
    *,
    first: int = 0,
    ready: Callable[[], Awaitable[None]] | None = None,
    span: list[float] | None = None,
    cpu: list[float] | None = None,
) -> tuple[float, list[float]]:
    """Run W1; return (wall seconds of the turns, every turn's latency in seconds).

    The sessions are ``s{first:06d}`` onwards. ``ready`` is awaited once they are created,
    before the timed phase (a start barrier); ``span`` gets the timed phase's start and end on
    ``time.monotonic``; ``cpu`` gets the CPU seconds the process (all its threads) spent in it.
    """
    ids = [f"s{n:06d}" for n in range(first, first + sessions)]
    for chunk in range(0, sessions, CREATE_BATCH):
        await asyncio.gather(*(driver.create(i) for i in ids[chunk : chunk + CREATE_BATCH]))
    if ready is not None:
        await ready()
    latencies: list[float] = []
    wall = time.monotonic()
    cpu_start = time.process_time()
    start = time.perf_counter()
    async with asyncio.TaskGroup() as group:
        for session_id in ids:
            group.create_task(_timed_turns(driver, session_id, turns, latencies))
    seconds = time.perf_counter() - start
    if cpu is not None:
        cpu.append(time.process_time() - cpu_start)
    if span is not None:
        span.extend([wall, wall + seconds])
    return seconds, latencies


async def _barrier() -> None:
    """Say ``ready`` on stdout, then wait for a line on stdin (the parent's go)."""
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    if not await asyncio.to_thread(sys.stdin.readline):
        raise SystemExit("stdin closed before the go line")


async def run_w2(
    driver: Driver, turns: int, *, cpu: list[float] | None = None
) -> tuple[float, list[float]]:
    """Run W2; return (wall seconds, every turn's latency in seconds, in turn order).

    ``cpu`` gets the CPU seconds the process (all its threads) spent in the turns.
    """
    await driver.create("w2")
    latencies: list[float] = []
    cpu_start = time.process_time()
    start = time.perf_counter()
    await _timed_turns(driver, "w2", turns, latencies)
    seconds = time.perf_counter() - start
    if cpu is not None:
        cpu.append(time.process_time() - cpu_start)
    return seconds, latencies


def database_bytes(directory: Path) -> int:
    """Bytes the databases in ``directory`` take once their WAL is checkpointed.

    Every SQLite file gets ``PRAGMA wal_checkpoint(TRUNCATE)``; then the sizes of all files but
    the shared-memory index (``-shm``) are added up (main file plus any ``-wal``/``-journal``).
    """
    for path in directory.iterdir():
        if path.is_file() and path.suffix in {".db", ".sqlite", ".sqlite3"}:
            with sqlite3.connect(path) as conn:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            conn.close()
    return sum(
        p.stat().st_size for p in directory.iterdir() if p.is_file() and not p.name.endswith("-shm")
    )


def journal_modes(directory: Path) -> str | None:
    """The journal mode of the SQLite files in ``directory`` (``wal``, ``delete``...), or None.

    WAL mode is a property of the file, so a fresh connection reads back what the system set;
    several files with different modes are joined with ``+``.
    """
    modes = set()
    for path in sorted(directory.iterdir()):
        if path.is_file() and path.suffix in {".db", ".sqlite", ".sqlite3"}:
            conn = sqlite3.connect(path)
            try:
                modes.add(str(conn.execute("PRAGMA journal_mode").fetchone()[0]))
            finally:
                conn.close()
    return "+".join(sorted(modes)) or None


def _percentile(ordered: list[float], share: float) -> float:
    """The ``share`` percentile (0.99: p99) of the sorted ``ordered`` (nearest rank)."""
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def _peak_rss_mb() -> float:
    """This process's peak resident set size in MiB (Linux reports ``ru_maxrss`` in KiB)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 if sys.platform != "darwin" else peak / (1024 * 1024)


async def _measure(
    driver: Driver,
    workload: str,
    sessions: int,
    turns: int,
    *,
    first: int = 0,
    barrier: bool = False,
    keep_latencies: bool = False,
    done_line: bool = False,
) -> dict[str, Any]:
    """Run ``workload`` on ``driver`` in a fresh temporary directory; return the result row."""
    span: list[float] = []
    cpu: list[float] = []
    with tempfile.TemporaryDirectory(prefix=f"bench-{driver.name}-") as tmp:
        directory = Path(tmp)
        await driver.open(directory)
        try:
            if workload == "W1":
                seconds, latencies = await run_w1(
                    driver,
                    sessions,
                    turns,
                    first=first,
                    ready=_barrier if barrier else None,
                    span=span,
                    cpu=cpu,
                )
            else:
                sessions = 1
                seconds, latencies = await run_w2(driver, turns, cpu=cpu)
            if done_line:  # the turns are over; closing and measuring come after
                sys.stdout.write("done\n")
                sys.stdout.flush()
        finally:
            await driver.close()
        # A driver on a database server says what it stored (``stored_bytes``, see
        # dialoghub_runner); files in the directory are measured here.
        measured = getattr(driver, "stored_bytes", None)
        db_bytes = measured() if measured is not None else None
        journal = journal_modes(directory)
        if db_bytes is None:
            db_bytes = database_bytes(directory)
    config = getattr(driver, "config", None)
    durability = getattr(driver, "durability", None)
    total = len(latencies)
    ordered = sorted(latencies)
    row: dict[str, Any] = {
        "system": driver.name,
        "version": driver.version(),
        "workload": workload,
        "store": driver.store(),
        "config": config() if config is not None else driver.store(),
        "durability": durability() if durability is not None else None,
        "journal_mode": journal,
        "sessions": sessions,
        "turns": turns,
        "total_turns": total,
        "seconds": round(seconds, 3),
        "turns_per_s": round(total / seconds, 1),
        # CPU of the whole process (every thread) per turn: other work on a shared machine
        # moves it far less than turns/s, which it takes CPU time away from
        "cpu_ms_per_turn": round(1000 * cpu[0] / total, 3),
        "mean_ms": round(1000 * sum(latencies) / total, 3),
        "p50_ms": round(1000 * _percentile(ordered, 0.50), 3),
        "p99_ms": round(1000 * _percentile(ordered, 0.99), 3),
        "p999_ms": round(1000 * _percentile(ordered, 0.999), 3),
        "peak_rss_mb": round(_peak_rss_mb(), 1),
        "db_bytes": db_bytes,
        "bytes_per_turn": round(db_bytes / total, 1),
    }
    if workload == "W2":
        window = min(W2_WINDOW, total // 2)
        first_mean = sum(latencies[:window]) / window
        last = sum(latencies[-window:]) / window
        row["first_mean_ms"] = round(1000 * first_mean, 3)
        row["last_mean_ms"] = round(1000 * last, 3)
        row["last_first_ratio"] = round(last / first_mean, 3)
    if keep_latencies:
        row["first_session"] = first
        if span:
            row["t_start"], row["t_end"] = span
        row["latencies_ns"] = [round(x * 1e9) for x in latencies]
    return row


def main(factory: Callable[[], Driver], argv: list[str] | None = None) -> None:
    """Subprocess entry point: run one workload on the driver ``factory`` makes; print its row."""
    parser = argparse.ArgumentParser(description="Run one workload on one system.")
    parser.add_argument("--workload", choices=["W1", "W2"], required=True)
    parser.add_argument("--sessions", type=int, default=1000, help="W1 sessions")
    parser.add_argument("--turns", type=int, default=20, help="turns per session")
    parser.add_argument(
        "--session-range",
        default=None,
        metavar="A:B",
        help="W1: play sessions A to B-1 (instead of --sessions)",
    )
    parser.add_argument(
        "--barrier",
        action="store_true",
        help="W1: after creating the sessions print 'ready', wait for a line on stdin",
    )
    parser.add_argument(
        "--latencies",
        action="store_true",
        help="add every latency and the timed phase's monotonic start/end to the row",
    )
    parser.add_argument(
        "--done-line",
        action="store_true",
        help="print the line 'done' as soon as the timed turns are over (before closing)",
    )
    args = parser.parse_args(argv)
    first = 0
    if args.session_range is not None:
        try:
            first, end = (int(x) for x in args.session_range.split(":"))
        except ValueError:
            parser.error(f"--session-range {args.session_range!r}: want A:B, two integers")
        args.sessions = end - first
        if first < 0:
            parser.error("--session-range: A must be at least 0")
    if args.sessions < 1 or args.turns < 2:
        parser.error("need at least 1 session and 2 turns")
    if args.workload != "W1" and (args.session_range or args.barrier):
        parser.error("--session-range and --barrier are for W1")
    row = asyncio.run(
        _measure(
            factory(),
            args.workload,
            args.sessions,
            args.turns,
            first=first,
            barrier=args.barrier,
            keep_latencies=args.latencies,
            done_line=args.done_line,
        )
    )
    sys.stdout.write(json.dumps(row) + "\n")
    sys.stdout.flush()
