"""``python -m benchmarks.http``: the weather dialog over HTTP, dialoghub beside the peers' servers.

Each server runs alone on a loopback port, one process, one worker, durable on SQLite where
it can be:

- ``dialoghub``: ``dialoghub serve`` (SQLite store, WAL, synchronous=full with group commit,
  API keys on, rate limit off); a W1 turn posts the text, then the weather command's result;
- ``adk``: Google ADK's ``adk api_server`` FastAPI app (:mod:`benchmarks.servers.adk_server`)
  on its SQLite session service (``sqlite://``: ``SqliteSessionService``) and, as
  ``adk-database``, on ``DatabaseSessionService`` (``sqlite+aiosqlite://``); the agent is a
  custom ``BaseAgent``, no LLM (:mod:`benchmarks.servers.adk_agents`); a turn is ``POST /run``;
- ``langgraph``: the weather graph behind FastAPI with ``AsyncSqliteSaver``
  (:mod:`benchmarks.servers.langgraph_fastapi`); a turn is one ``POST``;
- ``langgraph-dev``: ``langgraph dev`` (langgraph-cli[inmem], in-memory, not durable) when
  ``--langgraph-cli`` finds it; a turn is ``POST /threads/{id}/runs/wait``.

All the servers are started first (an idle one costs next to nothing). The load generator
(:mod:`benchmarks.http_load`, a separate process) then runs, for each server after an
unreported warm-up, the trivial endpoint closed loop (the framework's ceiling; under Debian's
``wrk`` too when installed, a check on the load generator); then the dialog closed loop (the
server's maximum turns/s, for the ratio) in ``--rounds`` rounds interleaved across the
servers, so a change in what else runs on this shared machine hits all of them alike; then
each server's W1 open loop at each ``--rates`` offered load (latency from each turn's
scheduled send time; a server whose maximum is below every rate is first offered half its
maximum; once a rate saturates the server, higher ones are skipped). Every reply is checked.
Prints a table, the ratios (in turns/s and in server CPU per turn) and the loads at which
p99 passes 25 and 50 ms, or ``--json`` rows.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchmarks.http_load import stop_group, tree_cpu

ROOT = Path(__file__).resolve().parent.parent
WEATHER = ROOT / "examples" / "weather"
SERVERS = ROOT / "benchmarks" / "servers"
#: Rows whose achieved rate is under this share of the offered one saturated the server.
SATURATED = 0.95

CONFIGS = {
    "dialoghub": "dialoghub serve, SQLite WAL sync=full, group commit, 1 worker",
    "adk": "adk api_server app, SqliteSessionService (rollback journal, sync=full)",
    "adk-database": "adk api_server app, DatabaseSessionService sqlite+aiosqlite",
    "langgraph": "FastAPI + AsyncSqliteSaver (WAL, sync=full), 1 worker",
    "langgraph-dev": "langgraph dev (in-memory runtime, not durable)",
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_ready(port: int, path: str, server: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the server on port {port} did not start")
        time.sleep(0.2)


def w1_models(tmp: Path) -> Path:
    """A copy of ``examples/weather`` in ``tmp`` as W1 plays it: the city does not carry over.

    W1's fourth message (``what is the weather like``) must be answered "Which city?" by every
    system; with the example's ``carry: true`` dialoghub would answer with the previous city.
    Nothing else changes (the same edit as ``benchmarks.systems.dialoghub_runner`` makes).
    """
    models = tmp / "models"
    shutil.copytree(WEATHER, models)
    text = (models / "weather.yaml").read_text(encoding="utf-8")
    carried = 'prompt: "Which city?", carry: true}'
    if carried not in text:
        raise RuntimeError("examples/weather changed: update benchmarks.http.w1_models")
    (models / "weather.yaml").write_text(text.replace(carried, 'prompt: "Which city?"}'))
    return models


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-c", "from dialoghub.cli import main; main()", *args]


@contextlib.contextmanager
def serve(name: str, tmp: Path, args: argparse.Namespace) -> Iterator[dict[str, Any]]:
    """Start server ``name`` in ``tmp``; yield the load generator's spec fields for it."""
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    spec: dict[str, Any] = {"host": "127.0.0.1", "port": port}
    cwd = tmp
    if name == "dialoghub":
        env["DIALOGHUB_STORE"] = f"sqlite:///{tmp}/dialoghub.db"
        made = subprocess.run(_cli("keys", "create", "--tenant", "bench", "--scope", "write"),
                              env=env, capture_output=True, text=True, check=True)
        spec.update(api="dialoghub", key=made.stdout.strip().splitlines()[-1])
        command = _cli("serve", "--models", str(w1_models(tmp)), "--host", "127.0.0.1", "--port",
                       str(port), "--rate-limit", "0", "--log-level", "warning")
    elif name in ("adk", "adk-database"):
        scheme = "sqlite" if name == "adk" else "sqlite+aiosqlite"
        spec.update(api="adk")
        command = [sys.executable, "-m", "benchmarks.servers.adk_server",
                   str(SERVERS / "adk_agents"), f"{scheme}:///{tmp}/adk.db", str(port)]
    elif name == "langgraph":
        env["LANGGRAPH_DB"] = str(tmp / "langgraph.db")
        spec.update(api="langgraph-fastapi")
        command = [sys.executable, "-m", "uvicorn", "benchmarks.servers.langgraph_fastapi:app",
                   "--host", "127.0.0.1", "--port", str(port), "--no-access-log",
                   "--log-level", "warning"]
    elif name == "langgraph-dev":
        (tmp / "langgraph.json").write_text(json.dumps({
            "dependencies": [str(ROOT)],
            "graphs": {"weather": f"{SERVERS / 'langgraph_graph.py'}:graph"}}))
        env.update(LANGSMITH_TRACING="false", LANGGRAPH_CLI_NO_ANALYTICS="1")
        spec.update(api="langgraph-dev")
        command = [args.langgraph_cli, "dev", "--no-browser", "--no-reload", "--port", str(port),
                   "--config", str(tmp / "langgraph.json"), "--server-log-level", "warning",
                   "--n-jobs-per-worker", str(args.langgraph_jobs)]
    else:
        raise ValueError(name)
    log = open(tmp / f"{name}.log", "wb")  # noqa: SIM115 (closed below)
    server = subprocess.Popen(command, env=env, cwd=cwd, stdout=log, stderr=log,
                              start_new_session=True)
    profiler = None
    try:
        try:
            _wait_ready(port, "/ok" if name == "langgraph-dev" else "/health", server, 90)
        except RuntimeError:
            log.flush()
            raise RuntimeError(f"{name} did not start:\n"
                               + (tmp / f"{name}.log").read_text()[-3000:]) from None
        spec["pid"] = server.pid
        if args.profile and name == "dialoghub":
            profiler = subprocess.Popen(
                [str(Path(sys.executable).parent / "py-spy"), "record", "--format", "raw",
                 "--rate", "200", "--nonblocking", "--gil", "--pid", str(server.pid),
                 "--output", args.profile], stdout=subprocess.DEVNULL)
            time.sleep(1)  # let py-spy attach
        yield spec
    finally:
        if profiler is not None:
            profiler.send_signal(signal.SIGINT)
            profiler.wait(timeout=60)
        stop_group(server)
        log.close()
        if args.verbose:
            print(f"--- {name} log (tail)", (tmp / f"{name}.log").read_text()[-3000:],
                  sep="\n", file=sys.stderr)


def load(spec: dict[str, Any]) -> dict[str, Any]:
    """Run the load generator process on ``spec``; its result row."""
    done = subprocess.run([sys.executable, "-m", "benchmarks.http_load", json.dumps(spec)],
                          capture_output=True, text=True, env={**os.environ,
                                                               "PYTHONPATH": str(ROOT)})
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr else "failed",
                "turns_per_s": None, "p50_ms": None, "p99_ms": None, "p999_ms": None,
                "server_us_per_req": None, "load_us_per_req": None, "errors": None}
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def wrk_health(spec: dict[str, Any], path: str, args: argparse.Namespace,
               clients: int) -> dict[str, Any]:
    """The trivial endpoint under Debian's ``wrk`` (closed loop, C and LuaJIT): a check that
    :mod:`benchmarks.http_load` is not what limits the ceiling."""
    url = f"http://{spec['host']}:{spec['port']}{path}"
    server0 = tree_cpu(spec["pid"])
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(["wrk", "-t1", f"-c{clients}", f"-d{args.health_seconds:g}s",
                           "--latency", url], capture_output=True, text=True, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    server_s = tree_cpu(spec["pid"]) - server0
    out = done.stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    total = max(1, int(re.search(r"(\d+) requests in", out).group(1)))  # type: ignore[union-attr]

    def pct(label: str) -> float | None:
        found = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.MULTILINE)
        if not found:
            return None
        return round(float(found.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[found.group(2)], 2)

    load_s = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"seconds": args.health_seconds, "turns": None, "requests": total, "turns_per_s": None,
            "requests_per_s": round(rate, 1), "p50_ms": pct("50"), "p99_ms": pct("99"),
            "p999_ms": None, "server_cpu_share": round(server_s / args.health_seconds, 2),
            "server_us_per_req": round(server_s / total * 1e6, 1),
            "load_us_per_req": round(load_s / total * 1e6, 1),
            "errors": int(errors.group(1)) if errors else 0, "error": None}


class Bench:
    """One running server and the runs of the load generator against it."""

    def __init__(self, name: str, spec: dict[str, Any], args: argparse.Namespace) -> None:
        self.name, self.spec, self.args = name, spec, args
        self.clients = {"dialoghub": args.connections,
                        "langgraph-dev": args.langgraph_jobs}.get(name, args.peer_connections)
        self.base = 0  # sessions used so far: every run plays fresh ones
        self.guess = 30.0  # turns/s, for sizing the closed loop's sessions

    def run(self, kind: str, offered: float | None, **fields: Any) -> dict[str, Any]:
        """One load generator run; its row."""
        result = load({**self.spec, "mode": kind, "turns": self.args.turns,
                       "drain": self.args.drain, "base": self.base, **fields})
        self.base += fields.get("sessions", 0)
        return {"system": self.name, "config": CONFIGS[self.name], "run": kind,
                "offered_per_s": offered, **result}

    def ceiling(self) -> list[dict[str, Any]]:
        """Warm-up (not reported), then the trivial endpoint (and under wrk)."""
        warm = self.run("closed", None, seconds=self.args.warmup, sessions=64, connections=8)
        self.guess = 3 * max(warm["turns_per_s"] or 0.0, 10.0)  # more connections, warm
        rows = [self.run("health", None, seconds=self.args.health_seconds,
                         connections=self.clients)]
        if self.args.wrk:
            path = "/ok" if self.name == "langgraph-dev" else "/health"
            rows.append({"system": self.name, "config": CONFIGS[self.name], "run": "health-wrk",
                         "offered_per_s": None,
                         **wrk_health(self.spec, path, self.args, self.clients)})
        return rows

    def closed(self, round_: int) -> dict[str, Any]:
        """The dialog back to back on every connection: the maximum turns/s. Sessions are
        sized from the warm-up; if they run out, the run ends early (still turns / seconds)."""
        args = self.args
        sessions = self.clients * math.ceil(
            self.guess * args.closed_seconds / (self.clients * args.turns))
        row = self.run("closed", None, seconds=args.closed_seconds, sessions=sessions,
                       connections=self.clients)
        row["round"] = round_
        self.guess = max(self.guess, 1.5 * (row["turns_per_s"] or 0.0))
        return row

    def open_loop(self, top: float, say: Any) -> list[dict[str, Any]]:
        """The dialog at each offered rate, ascending, until one saturates the server; first
        at half the closed-loop maximum ``top`` when every rate is beyond it."""
        rates = list(self.args.rates)
        if top and min(rates) > 0.8 * top:
            rates.insert(0, float(max(1, round(top / 2))))
        rows = []
        for rate in rates:
            slots = max(16, int(rate * 0.25))  # a session's turns come ~250 ms apart
            sessions = slots * math.ceil(rate * self.args.seconds / (slots * self.args.turns))
            row = self.run("open", rate, rate=rate, seconds=self.args.seconds, active=slots,
                           sessions=sessions, connections=self.clients)
            rows.append(row)
            say(row)
            if (row["turns_per_s"] or 0) < SATURATED * rate or (row["errors"] or 0) > 0:
                break  # saturated: higher offered loads only queue longer
        return rows


def bench_all(benches: list[Bench], args: argparse.Namespace, say: Any) -> list[dict[str, Any]]:
    """Ceilings, then the closed loops in ``--rounds`` rounds interleaved across the servers
    (so a change in what else runs on the machine hits every server alike), then each
    server's open loop."""
    rows: list[dict[str, Any]] = []
    for bench in benches:
        for row in bench.ceiling():
            say(row)
            rows.append(row)
    closed: dict[str, list[dict[str, Any]]] = {b.name: [] for b in benches}
    for round_ in range(args.rounds):
        for bench in benches:
            closed[bench.name].append(bench.closed(round_))
            say(closed[bench.name][-1])
    for bench in benches:
        runs = closed[bench.name]
        top = sum(r["turns_per_s"] or 0.0 for r in runs) / len(runs)
        rows += bench.open_loop(top, say)
        rows += runs
    return rows


def crossing(rows: list[dict[str, Any]], system: str, limit: float) -> str:
    """The first offered load whose p99 passed ``limit`` ms, for the summary."""
    tried = [r for r in rows if r["system"] == system and r["run"] == "open"]
    for r in tried:
        if r["p99_ms"] is None or r["p99_ms"] > limit or (r["errors"] or 0) > 0:
            return f"{r['offered_per_s']:.0f}/s"
    return f"> {tried[-1]['offered_per_s']:.0f}/s" if tried else "-"


def _fmt(value: Any, spec: str = ".0f") -> str:
    return "-" if value is None else format(value, spec)


def format_table(rows: list[dict[str, Any]]) -> str:
    """A fixed-width table of the rows, then the ratios and crossings."""
    head = (f"{'system':<14}{'run':<11}{'offered':>8}{'turns/s':>9}{'req/s':>8}{'p50 ms':>8}"
            f"{'p99 ms':>8}{'p999 ms':>9}{'srv CPU':>8}{'srv us/req':>11}{'load us/req':>12}"
            f"{'errors':>7}")
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r['system']:<14}{r['run']:<11}{_fmt(r['offered_per_s']):>8}"
            f"{_fmt(r['turns_per_s']):>9}{_fmt(r.get('requests_per_s')):>8}"
            f"{_fmt(r['p50_ms'], '.1f'):>8}{_fmt(r['p99_ms'], '.1f'):>8}"
            f"{_fmt(r['p999_ms'], '.1f'):>9}{_fmt(r.get('server_cpu_share'), '.0%'):>8}"
            f"{_fmt(r['server_us_per_req']):>11}{_fmt(r['load_us_per_req']):>12}"
            f"{_fmt(r.get('errors')):>7}")
    lines.append("")
    lines += summary(rows)
    return "\n".join(lines)


def _mean(rows: list[dict[str, Any]], key: str) -> float | None:
    values = [r[key] for r in rows if r.get(key)]
    return sum(values) / len(values) if values else None


def summary(rows: list[dict[str, Any]]) -> list[str]:
    """Per system: the closed-loop maximum (mean over the rounds) and the ratio dialoghub makes
    of it, in turns/s and in server CPU per turn (the steadier figure on a shared machine),
    and the offered loads at which p99 passed 25 and 50 ms."""
    closed = {s: [r for r in rows if r["system"] == s and r["run"] == "closed"]
              for s in dict.fromkeys(r["system"] for r in rows)}
    mine_tps = _mean(closed.get("dialoghub", []), "turns_per_s")
    mine_cpu = _mean(closed.get("dialoghub", []), "server_us_per_turn")
    out = []
    for system, runs in closed.items():
        tps, cpu = _mean(runs, "turns_per_s"), _mean(runs, "server_us_per_turn")
        ratio = cpu_ratio = ""
        if system != "dialoghub" and tps and mine_tps:
            ratio = f" (dialoghub x{mine_tps / tps:.1f})"
        if system != "dialoghub" and cpu and mine_cpu:
            cpu_ratio = f" (dialoghub x{cpu / mine_cpu:.1f})"
        out.append(f"{system}: max {_fmt(tps)} turns/s{ratio}, server CPU {_fmt(cpu)} us/turn"
                   f"{cpu_ratio}; p99 > 25 ms at {crossing(rows, system, 25)}, "
                   f"> 50 ms at {crossing(rows, system, 50)}")
    return out


def main(argv: list[str] | None = None) -> None:
    """Run every server's loads, print the table (or ``--json`` rows)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--systems", default="dialoghub,adk,adk-database,langgraph,langgraph-dev",
                        help="comma-separated, from: " + ", ".join(CONFIGS))
    parser.add_argument("--rates", default="250,500,1000,2000",
                        help="offered loads, turns/s, comma-separated")
    parser.add_argument("--seconds", type=float, default=6.0, help="per open-loop rate")
    parser.add_argument("--closed-seconds", type=float, default=6.0)
    parser.add_argument("--health-seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=2,
                        help="closed-loop runs per server, interleaved across the servers")
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--drain", type=float, default=4.0,
                        help="seconds after an open run's last scheduled turn before the "
                             "unanswered ones count as errors")
    parser.add_argument("--turns", type=int, default=12, help="turns per session")
    parser.add_argument("--connections", type=int, default=32,
                        help="keep-alive connections of the load generator to dialoghub")
    parser.add_argument("--peer-connections", type=int, default=8,
                        help="to each peer (with 32, ADK's SqliteSessionService answers 500: "
                             "database is locked)")
    parser.add_argument("--langgraph-cli", default=shutil.which("langgraph") or "",
                        help="the `langgraph` executable of a langgraph-cli[inmem] install")
    parser.add_argument("--langgraph-jobs", type=int, default=32,
                        help="langgraph dev --n-jobs-per-worker, and the connections to it "
                             "(its runs wait on a queue polled every 0.5 s: throughput is "
                             "concurrency-bound, 8 connections give ~8 turns/s)")
    parser.add_argument("--wrk", action=argparse.BooleanOptionalAction,
                        default=bool(shutil.which("wrk")),
                        help="also measure the trivial endpoint with wrk (default: if installed)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--profile", metavar="FILE",
                        help="run dialoghub's server under py-spy, collapsed stacks to FILE")
    args = parser.parse_args(argv)
    args.rates = [float(r) for r in args.rates.split(",")]
    systems = [s for s in args.systems.split(",") if s]
    if "langgraph-dev" in systems and not args.langgraph_cli:
        print("langgraph-dev skipped: no `langgraph` executable (--langgraph-cli)",
              file=sys.stderr)
        systems.remove("langgraph-dev")

    def say(row: dict[str, Any]) -> None:
        if not args.json:
            print(f"  {row['system']} {row['run']} {_fmt(row['offered_per_s'])}: "
                  f"{_fmt(row['turns_per_s'] or row.get('requests_per_s'))}/s "
                  f"p99 {_fmt(row['p99_ms'], '.1f')} ms"
                  + (f" [{row['error']}]" if row.get("error") else ""), file=sys.stderr)

    failed: list[dict[str, Any]] = []
    with contextlib.ExitStack() as stack:
        benches = []
        for name in systems:  # all started first, each idle while another is measured
            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(
                prefix=f"bench-http-{name}-")))
            try:
                benches.append(Bench(name, stack.enter_context(serve(name, tmp, args)), args))
            except (RuntimeError, OSError, subprocess.CalledProcessError) as exc:
                failed.append({"system": name, "config": CONFIGS[name], "run": "start",
                               "offered_per_s": None, "turns_per_s": None, "p50_ms": None,
                               "p99_ms": None, "p999_ms": None, "server_us_per_req": None,
                               "load_us_per_req": None, "errors": None,
                               "error": str(exc)[-300:]})
                print(f"{name} did not start: {str(exc)[-300:]}", file=sys.stderr)
        rows = bench_all(benches, args, say) + failed
    if args.json:
        print(json.dumps(rows))
        return
    print(f"W1 over HTTP, open loop {args.seconds:g} s per rate, closed loop "
          f"{args.closed_seconds:g} s, {args.connections} connections ({args.peer_connections} to "
          f"a peer), {args.turns} turns per "
          f"session, one server process, {os.cpu_count()} CPUs")
    print(format_table(rows))


if __name__ == "__main__":
    main()
