"""``python -m benchmarks.workers``: W1 over HTTP against ``dialoghub serve --workers N`` on one
SQLite file (issue 17, item 4).

For each ``--workers`` count (default ``1,2``), one ``dialoghub serve`` runs on a fresh SQLite
file with the weather model as W1 plays it (:func:`benchmarks.http.w1_models`), API keys on,
rate limit off. Each worker process is a uvicorn worker with its own Hub, its own snapshot
cache and its own SQLite writer thread (its own group commit); the two writers share the
file's one write lock (WAL, ``busy_timeout``), and a session whose turns land on both
workers is kept right by the store's compare-and-set: a worker whose cached snapshot is
stale loses the write, re-reads and re-runs the step.

The load is :mod:`benchmarks.http_load`'s closed loop (a separate process; ``--connections``
keep-alive connections, each turn on whichever connection is free, so one session's turns
are spread over both workers as a load balancer without affinity would), every reply
checked. Runs alternate between the worker counts for ``--rounds`` rounds, so a change in
what else runs on this shared machine hits both alike. Per run: turns/s, p50/p99, the CPU
of the server's whole process tree (supervisor and workers) per turn and as a share of one
CPU, the load generator's share, errors. ``--json`` prints the rows as JSON.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchmarks.http import ROOT, _cli, _free_port, _wait_ready, load, w1_models
from benchmarks.http_load import stop_group

__all__ = ["main", "serve_workers"]


@contextlib.contextmanager
def serve_workers(workers: int, tmp: Path) -> Iterator[dict[str, Any]]:
    """``dialoghub serve --workers N`` on ``tmp``'s SQLite file; the load generator's spec."""
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT),
           "DIALOGHUB_STORE": f"sqlite:///{tmp}/dialoghub.db"}
    made = subprocess.run(_cli("keys", "create", "--tenant", "bench", "--scope", "write"),
                          env=env, capture_output=True, text=True, check=True)
    key = made.stdout.strip().splitlines()[-1]
    command = _cli("serve", "--models", str(w1_models(tmp)), "--host", "127.0.0.1",
                   "--port", str(port), "--rate-limit", "0", "--log-level", "warning",
                   "--workers", str(workers))
    log = open(tmp / "server.log", "wb")  # noqa: SIM115 (closed below)
    server = subprocess.Popen(command, env=env, cwd=tmp, stdout=log, stderr=log,
                              start_new_session=True)
    try:
        try:
            _wait_ready(port, "/health", server, 90)
        except RuntimeError:
            log.flush()
            raise RuntimeError("dialoghub serve did not start:\n"
                               + (tmp / "server.log").read_text()[-3000:]) from None
        yield {"host": "127.0.0.1", "port": port, "api": "dialoghub", "key": key,
               "pid": server.pid}
    finally:
        stop_group(server)
        log.close()


def main(argv: list[str] | None = None) -> None:
    """Run the closed loop against each worker count, alternating; print the rows."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", default="1,2", help="worker counts to compare")
    parser.add_argument("--seconds", type=float, default=8.0, help="per closed-loop run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--turns", type=int, default=12, help="turns per session")
    parser.add_argument("--rate", type=float, default=3000.0,
                        help="turns/s to size each run's sessions for (not a limit)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    counts = [int(n) for n in args.workers.split(",")]
    rows: list[dict[str, Any]] = []
    with contextlib.ExitStack() as stack:
        specs = {}
        for n in counts:  # all servers up first: an idle one costs next to nothing
            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix=f"bench-w{n}-")))
            specs[n] = stack.enter_context(serve_workers(n, tmp))
        base = {n: 0 for n in counts}  # sessions used so far: every run plays fresh ones
        sessions = args.connections * math.ceil(
            args.rate * args.seconds / (args.connections * args.turns))
        for n in counts:  # warm-up, not reported
            load({**specs[n], "mode": "closed", "turns": args.turns, "drain": 4.0,
                  "base": base[n], "seconds": 2.0, "sessions": 64, "connections": 8})
            base[n] += 64
        for round_ in range(args.rounds):
            for n in counts:
                row = load({**specs[n], "mode": "closed", "turns": args.turns, "drain": 4.0,
                            "base": base[n], "seconds": args.seconds, "sessions": sessions,
                            "connections": args.connections})
                base[n] += sessions
                rows.append({"workers": n, "round": round_, **row})
                if not args.json:
                    print(_line(rows[-1]), flush=True)
    if args.json:
        print(json.dumps(rows, indent=1))
        return
    for n in counts:
        mine = [r for r in rows if r["workers"] == n and r.get("turns_per_s")]
        if mine:
            best = max(r["turns_per_s"] for r in mine)
            median = sorted(r["turns_per_s"] for r in mine)[len(mine) // 2]
            print(f"workers {n}: turns/s best {best:,.0f}, median {median:,.0f}")


def _line(row: dict[str, Any]) -> str:
    def f(key: str, spec: str = ",.0f") -> str:
        value = row.get(key)
        return "-" if value is None else format(value, spec)

    return (f"workers {row['workers']}  round {row['round']}  turns/s {f('turns_per_s')}  "
            f"p50 {f('p50_ms', '.1f')} ms  p99 {f('p99_ms', '.1f')} ms  "
            f"server CPU {f('server_cpu_share', '.2f')}  load CPU {f('load_cpu_share', '.2f')}  "
            f"server us/turn {f('server_us_per_turn')}  errors {f('errors')}"
            + (f"  ({row['error']})" if row.get("error") else ""))


if __name__ == "__main__":
    main()
