"""``python -m benchmarks.turns``: dialoghub and its peers, turn for turn, in one table.

Each (system, workload) runs in its own subprocess (``python -m benchmarks.systems.NAME_runner``)
on a fresh temporary directory, so peak RSS and the database are that run's alone. The
subprocess prints one JSON row; this module gathers the rows, adds dialoghub's speed-up over
each peer (``dialoghub_speedup``: dialoghub's turns/s divided by the peer's, same workload) and
prints a fixed-width table, or with ``--json`` one JSON list of rows. Progress goes to stderr.
Exit status 1 if any run failed (its row then carries ``error``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.table import W1_LATENCY_NOTE, grid

__all__ = ["SYSTEMS", "add_ratios", "format_table", "main", "plan", "run_one"]

#: Systems in table order; each is ``benchmarks.systems.<name>_runner``.
SYSTEMS = ("dialoghub", "langgraph", "adk")
#: Default W1 sessions and W2 turns of the peers: the full workloads take them many minutes
#: (see README.md); ``--full`` runs them in full.
PEER_SESSIONS = 100
PEER_W2_TURNS = 1000
ROOT = Path(__file__).resolve().parent.parent
#: The keys every row has (None when the run failed).
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


def run_one(
    system: str, workload: str, sessions: int, turns: int, timeout: float
) -> dict[str, Any]:
    """Run one workload of one system in a subprocess; return its row (with ``error`` if failed)."""
    command = [
        sys.executable,
        "-m",
        f"benchmarks.systems.{system}_runner",
        f"--workload={workload}",
        f"--sessions={sessions}",
        f"--turns={turns}",
    ]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    try:
        done = subprocess.run(
            command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return _failed(system, workload, f"timed out after {timeout:.0f} s")
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = [line for line in done.stderr.strip().splitlines() if line.strip()]
        return _failed(system, workload, tail[-1] if tail else f"exit {done.returncode}")
    row: dict[str, Any] = json.loads(lines[-1])
    return row


def _failed(system: str, workload: str, error: str) -> dict[str, Any]:
    """The row of a run that produced no result."""
    row: dict[str, Any] = dict.fromkeys(ROW_KEYS)
    row.update(system=system, workload=workload, error=error)
    return row


def add_ratios(rows: list[dict[str, Any]]) -> None:
    """Give each peer row ``dialoghub_speedup``: dialoghub's turns/s ÷ the peer's (same workload).

    W2 rows of peers also get ``dialoghub_last_first_ratio`` to set beside their own.
    """
    ours = {r["workload"]: r for r in rows if r["system"] == "dialoghub" and r["turns_per_s"]}
    for row in rows:
        mine = ours.get(row["workload"])
        if row["system"] == "dialoghub" or mine is None or not row["turns_per_s"]:
            continue
        row["dialoghub_speedup"] = round(mine["turns_per_s"] / row["turns_per_s"], 2)
        if row["workload"] == "W2":
            row["dialoghub_last_first_ratio"] = mine.get("last_first_ratio")


_COLUMNS = (
    # (header, width): the first four columns are left-aligned, the numbers right-aligned
    ("system", 10),
    ("work", 4),
    ("store", 32),
    ("sessions x turns", 16),
    ("turns/s", 9),
    ("mean ms", 9),
    ("p99 ms", 9),
    ("RSS MB", 7),
    ("B/turn", 9),
    ("last/first", 10),
    ("dialoghub x", 11),
)


def _cells(row: dict[str, Any]) -> list[str]:
    """The table cells of one row."""
    if row.get("error"):
        return [row["system"], row["workload"], f"FAILED: {row['error']}"]

    def num(key: str, digits: int) -> str:
        value = row.get(key)
        return "-" if value is None else f"{value:,.{digits}f}"

    return [
        row["system"],
        row["workload"],
        row["store"],
        f"{row['sessions']:,} x {row['turns']:,}",
        num("turns_per_s", 0),
        num("mean_ms", 2),
        num("p99_ms", 2),
        num("peak_rss_mb", 0),
        num("bytes_per_turn", 0),
        num("last_first_ratio", 2),
        num("dialoghub_speedup", 1),
    ]


def format_table(rows: Sequence[dict[str, Any]]) -> str:
    """The rows as fixed-width text, then one line of ratios per peer."""
    lines = grid(_COLUMNS, [_cells(row) for row in rows])
    lines.append("")
    lines.extend(_ratio_lines(rows))
    return "\n".join(lines)


def _ratio_lines(rows: Sequence[dict[str, Any]]) -> list[str]:
    """One sentence per peer: dialoghub's turns/s ratio on W1 and W2, and both W2 ratios."""
    out = []
    for peer in SYSTEMS[1:]:
        parts = []
        for row in rows:
            if row["system"] != peer or "dialoghub_speedup" not in row:
                continue
            parts.append(f"{row['workload']} turns/s x{row['dialoghub_speedup']:.1f}")
            if row["workload"] == "W2":
                parts.append(
                    f"W2 last/first {row['dialoghub_last_first_ratio']:.2f} "
                    f"vs {row['last_first_ratio']:.2f}"
                )
        if parts:
            out.append(f"dialoghub vs {peer}: " + ", ".join(parts))
    ours = {r["workload"]: r for r in rows if r["system"] == "dialoghub" and not r.get("error")}
    for row in rows:
        mine = ours.get(row["workload"])
        if row["system"] == "dialoghub" or row.get("error") or mine is None:
            continue
        if (row["sessions"], row["turns"]) != (mine["sessions"], mine["turns"]):
            out.append(
                f"note: {row['system']} ran {row['workload']} scaled down to "
                f"{row['sessions']:,} x {row['turns']:,} turns (dialoghub: "
                f"{mine['sessions']:,} x {mine['turns']:,}); --full runs the peers in full."
            )
    if any(r["workload"] == "W1" for r in rows):
        out.append(W1_LATENCY_NOTE)
    return out


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.turns",
        description="Durable turns of the weather dialog: dialoghub vs LangGraph vs Google ADK.",
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
        "--workloads", default="W1,W2", help="comma-separated subset of W1,W2 (default both)"
    )
    parser.add_argument(
        "--timeout", type=float, default=1800, help="seconds allowed to one run (default 1800)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON list of rows")
    args = parser.parse_args(argv)
    args.systems = [s.strip() for s in args.only.split(",") if s.strip()]
    args.workload_list = [w.strip().upper() for w in args.workloads.split(",") if w.strip()]
    if unknown := set(args.systems) - set(SYSTEMS):
        parser.error(f"unknown system(s) {sorted(unknown)}; choose from {', '.join(SYSTEMS)}")
    if unknown := set(args.workload_list) - {"W1", "W2"}:
        parser.error(f"unknown workload(s) {sorted(unknown)}; choose from W1, W2")
    if args.sessions < 1 or args.turns < 2 or args.w2_turns < 2:
        parser.error("need at least 1 session and 2 turns")
    if args.full or args.peer_sessions <= 0:
        args.peer_sessions = args.sessions
    if args.full or args.peer_w2_turns <= 0:
        args.peer_w2_turns = args.w2_turns
    return args


def plan(args: argparse.Namespace) -> list[tuple[str, str, int, int]]:
    """The runs to make, in order: (system, workload, W1 sessions, turns per session)."""
    runs: list[tuple[str, str, int, int]] = []
    for system in (s for s in SYSTEMS if s in args.systems):
        peer = system != "dialoghub"
        for workload in (w for w in ("W1", "W2") if w in args.workload_list):
            if workload == "W1":
                sessions = args.peer_sessions if peer else args.sessions
                runs.append((system, workload, sessions, args.turns))
            else:
                runs.append((system, workload, 1, args.peer_w2_turns if peer else args.w2_turns))
    return runs


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; print the table (or JSON); return the exit status."""
    args = _parse(argv)
    rows = []
    for system, workload, sessions, turns in plan(args):
        print(f"running {system} {workload} ...", file=sys.stderr, flush=True, end=" ")
        start = time.perf_counter()
        rows.append(run_one(system, workload, sessions, turns, args.timeout))
        print(f"{time.perf_counter() - start:.1f} s", file=sys.stderr, flush=True)
    add_ratios(rows)
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
