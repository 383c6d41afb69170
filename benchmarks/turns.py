"""``python -m benchmarks.turns``: dialoghub and every durable configuration of its peers.

Each (system, configuration, workload) runs in its own subprocess (``python -m
benchmarks.systems.NAME_runner ARGS``) on a fresh temporary directory, so peak RSS and the
database are that run's alone. The configurations (:data:`CONFIGS`) are every SQLite setup
the peers document that is durable per turn: LangGraph's ``SqliteSaver`` and
``AsyncSqliteSaver``, each with durability ``sync``, ``async`` and ``exit``; ADK's
``SqliteSessionService`` and ``DatabaseSessionService``, each appending to a cached session or
reloading it every turn as its ``Runner`` does. dialoghub runs on SQLite and, for scale only
(not durable), on its memory store.

The rows are gathered, each durable peer row gets dialoghub's speed-up over it
(``dialoghub_speedup``), and dialoghub's SQLite row names the fastest peer configuration of
its workload and its ratio to it (``fastest_peer``, ``vs_fastest_peer``). With ``--fsyncs``
(the default) every durable configuration also plays a small W1 under ``strace`` to count its
fsyncs per turn (``fsyncs_per_turn``; :func:`count_fsyncs`). Prints a fixed-width table,
or with ``--json`` one JSON list of rows. Progress goes to stderr. Exit status 1 if any run
failed (its row then carries ``error``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.table import format_turns

__all__ = [
    "CONFIGS",
    "SYSTEMS",
    "Config",
    "add_ratios",
    "count_fsyncs",
    "format_table",
    "main",
    "parse_strace_log",
    "plan",
    "run_one",
]

#: Systems in table order; each is ``benchmarks.systems.<name>_runner``.
SYSTEMS = ("dialoghub", "langgraph", "adk")
#: Default W1 sessions and W2 turns of the peers: their full workloads take them many minutes
#: per configuration (see README.md); ``--full`` runs them in full.
PEER_SESSIONS = 100
PEER_W2_TURNS = 300
ROOT = Path(__file__).resolve().parent.parent
#: The keys every row has (None when the run failed).
ROW_KEYS = (
    "system",
    "config",
    "workload",
    "store",
    "turns_per_s",
    "cpu_ms_per_turn",
    "mean_ms",
    "p99_ms",
    "peak_rss_mb",
    "bytes_per_turn",
)
#: The fsync probe: W1 with this many sessions of this many turns, under strace. Few sessions,
#: because ``SqliteSessionService`` (rollback journal, SQLite's 5 s busy timeout, which it does
#: not let an app raise) fails with "database is locked" at 20 sessions once strace slows it.
PROBE_SESSIONS = 10
PROBE_TURNS = 8

@dataclass(frozen=True)
class Config:
    """One configuration of one system: the runner's extra arguments."""

    system: str
    key: str  # short name for --configs, e.g. ``SqliteSaver/exit``
    args: tuple[str, ...] = ()
    workloads: tuple[str, ...] = ("W1", "W2")
    durable: bool = True  # a durable row is compared; the memory store is shown for scale


def _configs() -> tuple[Config, ...]:
    """Every configuration, in table order."""
    out = [
        Config("dialoghub", "sqlite"),
        Config("dialoghub", "memory", ("--store", "memory://"), ("W1",), durable=False),
    ]
    for saver, name in (("sync", "SqliteSaver"), ("async", "AsyncSqliteSaver")):
        for durability in ("sync", "async", "exit"):
            args = ("--saver", saver, "--durability", durability)
            out.append(Config("langgraph", f"{name}/{durability}", args))
    services = (("sqlite", "SqliteSessionService"), ("database", "DatabaseSessionService"))
    for service, name in services:
        for session in ("cached", "reload"):
            args = ("--service", service, "--session", session)
            out.append(Config("adk", f"{name}/{session}", args))
    return tuple(out)


CONFIGS = _configs()


def _command(config: Config, workload: str, sessions: int, turns: int) -> list[str]:
    """The runner's command line for one run."""
    return [
        sys.executable,
        "-m",
        f"benchmarks.systems.{config.system}_runner",
        *config.args,
        f"--workload={workload}",
        f"--sessions={sessions}",
        f"--turns={turns}",
    ]


def _env() -> dict[str, str]:
    """The runners' environment: this repository first on the import path."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def run_one(
    config: Config, workload: str, sessions: int, turns: int, timeout: float
) -> dict[str, Any]:
    """Run one workload of one configuration in a subprocess; return its row.

    A run that fails or times out gives a row with ``error``.
    """
    command = _command(config, workload, sessions, turns)
    try:
        done = subprocess.run(
            command, cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        return _failed(config, workload, f"timed out after {timeout:.0f} s")
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        return _failed(config, workload, _error_line(done.stderr, done.returncode))
    row: dict[str, Any] = json.loads(lines[-1])
    row["config_key"] = config.key
    row["durable"] = config.durable
    if config.system == "dialoghub":  # its runner (not ours) names only the store
        row["config"] = str(row["store"]).split(" ")[0]
        row["durability"] = "sync=FULL, group commit" if config.durable else "not durable"
    return row


_ERROR_LINE = re.compile(r"^\W*(?:[\w.]+(?:Error|Exception|Exit|Group)\b|AssertionError)")


def _error_line(stderr: str, returncode: int) -> str:
    """What a failed runner died of: its traceback's last exception line, else its last line.

    An exception group (a W1 task failed inside the TaskGroup) ends with box-drawing lines,
    so the last line alone says nothing.
    """
    lines = [line.strip(" |") for line in stderr.splitlines() if line.strip(" |+-")]
    found = [line for line in lines if _ERROR_LINE.match(line)]
    return (found or lines or [f"exit {returncode}"])[-1]


def _failed(config: Config, workload: str, error: str) -> dict[str, Any]:
    """The row of a run that produced no result."""
    row: dict[str, Any] = dict.fromkeys(ROW_KEYS)
    row.update(
        system=config.system,
        config=config.key,
        config_key=config.key,
        durable=config.durable,
        workload=workload,
        error=error,
    )
    return row


_FSYNC_CALL = re.compile(r"\b(?:fsync|fdatasync)\(")


def parse_strace_log(text: str) -> int | None:
    """Fsync calls in an ``strace -f`` log between the runner's ``ready`` and ``done`` lines.

    ``ready`` is the harness's barrier line (sessions created, turns about to start), ``done``
    its line once the turns are over (``--done-line``), so start-up, session creation and
    closing are not counted. A call split by another thread's (``<unfinished ...>``, then
    ``<... resumed>``) is counted once, at its start. None if a marker is missing.
    """
    count = None
    for line in text.splitlines():
        if 'write(1, "ready\\n"' in line:
            count = 0
        elif count is not None and 'write(1, "done\\n"' in line:
            return count
        elif count is not None and _FSYNC_CALL.search(line) and "resumed>" not in line:
            count += 1
    return None


def count_fsyncs(config: Config, timeout: float) -> float | str:
    """Fsyncs (``fsync`` + ``fdatasync``, every thread) per W1 turn of ``config``.

    Runs W1 with :data:`PROBE_SESSIONS` sessions of :data:`PROBE_TURNS` turns under ``strace
    -f`` with the harness's start barrier, and counts the calls made during the turns (see
    :func:`parse_strace_log`). Not timed: strace stops the process at every traced call.
    Group commit makes dialoghub's figure depend on how many sessions are in flight (here
    only :data:`PROBE_SESSIONS`); the peers commit per write whatever the concurrency. A
    string says why there is no figure (no strace, a failed run).
    """
    strace = shutil.which("strace")
    if strace is None:
        return "strace not installed"
    with tempfile.NamedTemporaryFile(prefix="strace-", suffix=".log") as log:
        command = [strace, "-f", "-qq", "--seccomp-bpf", "-o", log.name]
        command += ["-e", "trace=fsync,fdatasync,write"]
        command += _command(config, "W1", PROBE_SESSIONS, PROBE_TURNS)
        command += ["--barrier", "--done-line"]
        try:
            done = subprocess.run(
                command,
                cwd=ROOT,
                env=_env(),
                input="go\n",
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            return f"timed out after {timeout:.0f} s"
        if done.returncode != 0:
            return _error_line(done.stderr, done.returncode)
        calls = parse_strace_log(Path(log.name).read_text(errors="replace"))
    if calls is None:
        return "no ready/done lines in the strace log"
    return round(calls / (PROBE_SESSIONS * PROBE_TURNS), 2)


def add_ratios(rows: list[dict[str, Any]]) -> None:
    """Compare dialoghub's durable row of each workload with every durable peer row.

    Each durable peer row gets ``dialoghub_speedup`` (dialoghub's turns/s ÷ the row's); the
    dialoghub row gets ``fastest_peer`` (system, config, turns/s of the fastest durable peer
    row of its workload) and ``vs_fastest_peer`` (its turns/s ÷ that row's). W2 peer rows also
    get ``dialoghub_last_first_ratio`` to set beside their own.
    """
    for workload in sorted({row["workload"] for row in rows}):
        same = [r for r in rows if r["workload"] == workload and not r.get("error")]
        ours = next(
            (r for r in same if r["system"] == "dialoghub" and r.get("durable", True)), None
        )
        peers = [r for r in same if r["system"] != "dialoghub" and r.get("durable", True)]
        peers = [r for r in peers if r.get("turns_per_s")]
        if ours is None or not ours.get("turns_per_s") or not peers:
            continue
        for row in peers:
            row["dialoghub_speedup"] = round(ours["turns_per_s"] / row["turns_per_s"], 2)
            if workload == "W2":
                row["dialoghub_last_first_ratio"] = ours.get("last_first_ratio")
        best = max(peers, key=lambda r: r["turns_per_s"])
        best["fastest"] = True
        ours["fastest_peer"] = {
            "system": best["system"],
            "config": best["config"],
            "turns_per_s": best["turns_per_s"],
        }
        ours["vs_fastest_peer"] = best["dialoghub_speedup"]


def format_table(rows: Sequence[dict[str, Any]]) -> str:
    """The rows as fixed-width text, then the comparisons and notes (see ``table.py``)."""
    return format_turns(rows, SYSTEMS)


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.turns",
        description="Durable turns of the weather dialog: dialoghub vs every durable "
        "SQLite configuration of LangGraph and Google ADK.",
    )
    parser.add_argument("--sessions", type=int, default=1000, help="W1 sessions (default 1000)")
    parser.add_argument("--turns", type=int, default=20, help="W1 turns per session (default 20)")
    parser.add_argument(
        "--w2-turns", type=int, default=2000, help="W2 turns of the one session (default 2000)"
    )
    parser.add_argument(
        "--peer-sessions",
        type=int,
        default=PEER_SESSIONS,
        help=f"W1 sessions of the peers (default {PEER_SESSIONS}; 0: same as --sessions)",
    )
    parser.add_argument(
        "--peer-w2-turns",
        type=int,
        default=PEER_W2_TURNS,
        help=f"W2 turns of the peers (default {PEER_W2_TURNS}; 0: same as --w2-turns)",
    )
    parser.add_argument(
        "--full", action="store_true", help="the peers run the same workloads as dialoghub"
    )
    parser.add_argument(
        "--only", default=",".join(SYSTEMS), help=f"comma-separated subset of {','.join(SYSTEMS)}"
    )
    parser.add_argument(
        "--configs",
        default="",
        help="comma-separated configuration keys to run (default all: "
        + ", ".join(c.key for c in CONFIGS)
        + ")",
    )
    parser.add_argument(
        "--workloads", default="W1,W2", help="comma-separated subset of W1,W2 (default both)"
    )
    parser.add_argument(
        "--no-fsyncs",
        dest="fsyncs",
        action="store_false",
        help="skip counting each configuration's fsyncs per turn under strace",
    )
    parser.add_argument(
        "--timeout", type=float, default=1800, help="seconds allowed to one run (default 1800)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON list of rows")
    args = parser.parse_args(argv)
    args.systems = [s.strip() for s in args.only.split(",") if s.strip()]
    args.config_keys = [c.strip() for c in args.configs.split(",") if c.strip()]
    args.workload_list = [w.strip().upper() for w in args.workloads.split(",") if w.strip()]
    if unknown := set(args.systems) - set(SYSTEMS):
        parser.error(f"unknown system(s) {sorted(unknown)}; choose from {', '.join(SYSTEMS)}")
    if unknown := set(args.config_keys) - {c.key for c in CONFIGS}:
        parser.error(f"unknown configuration(s) {sorted(unknown)}; see --help")
    if unknown := set(args.workload_list) - {"W1", "W2"}:
        parser.error(f"unknown workload(s) {sorted(unknown)}; choose from W1, W2")
    if args.sessions < 1 or args.turns < 2 or args.w2_turns < 2:
        parser.error("need at least 1 session and 2 turns")
    if args.full or args.peer_sessions <= 0:
        args.peer_sessions = args.sessions
    if args.full or args.peer_w2_turns <= 0:
        args.peer_w2_turns = args.w2_turns
    return args


def _chosen(args: argparse.Namespace) -> list[Config]:
    """The configurations the command line selects, in table order."""
    return [
        c
        for c in CONFIGS
        if c.system in args.systems and (not args.config_keys or c.key in args.config_keys)
    ]


def plan(args: argparse.Namespace) -> list[tuple[Config, str, int, int]]:
    """The runs to make, in order: (configuration, workload, W1 sessions, turns per session).

    Every W1 run comes first, then every W2 run, so the rows compared with each other ran
    minutes apart at most.
    """
    runs: list[tuple[Config, str, int, int]] = []
    for workload in (w for w in ("W1", "W2") if w in args.workload_list):
        for config in _chosen(args):
            if workload not in config.workloads:
                continue
            peer = config.system != "dialoghub"
            if workload == "W1":
                sessions = args.peer_sessions if peer else args.sessions
                runs.append((config, workload, sessions, args.turns))
            else:
                runs.append((config, workload, 1, args.peer_w2_turns if peer else args.w2_turns))
    return runs


def _progress(text: str, *, end: str = "\n") -> None:
    """A progress line on stderr."""
    print(text, file=sys.stderr, flush=True, end=end)


def collect(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Make every run of the plan (and the fsync probes); return the rows with their ratios."""
    rows = []
    for config, workload, sessions, turns in plan(args):
        _progress(f"running {config.system} {config.key} {workload} ...", end=" ")
        start = time.perf_counter()
        rows.append(run_one(config, workload, sessions, turns, args.timeout))
        _progress(f"{time.perf_counter() - start:.1f} s")
    if args.fsyncs:
        for config in _chosen(args):
            if not config.durable:
                continue
            _progress(f"counting fsyncs of {config.system} {config.key} ...", end=" ")
            start = time.perf_counter()
            fsyncs = count_fsyncs(config, args.timeout)
            _progress(f"{fsyncs} per turn, {time.perf_counter() - start:.1f} s")
            for row in rows:
                if (row["system"], row.get("config_key")) != (config.system, config.key):
                    continue
                if row["workload"] != "W1":
                    continue  # the probe plays W1; W2's one session cannot group-commit
                if isinstance(fsyncs, str):
                    row["fsyncs_error"] = fsyncs
                else:
                    row["fsyncs_per_turn"] = fsyncs
                    row["fsyncs_sessions"] = PROBE_SESSIONS
    add_ratios(rows)
    return rows


def header() -> str:
    """The line above the table: when, and on what."""
    return (
        f"# {time.strftime('%Y-%m-%d %H:%M')} · Python {platform.python_version()} · "
        f"{platform.system()} {platform.machine()} · {os.cpu_count()} CPUs · "
        f"load average {os.getloadavg()[0]:.1f} at the end"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; print the table (or JSON); return the exit status."""
    args = _parse(argv)
    rows = collect(args)
    if args.json:
        print(json.dumps(rows, indent=1))
    else:
        print(header())
        print(format_table(rows))
    return 1 if any(row.get("error") for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
