"""``python -m benchmarks.report``: every figure of the performance issue (17) in one table.

Runs the two benchmarks the issue's targets are measured by, each as its own documented
command in a subprocess, one after the other (the machine has 2 CPUs):

- ``python -m benchmarks.turns --json``: durable turns in process, dialoghub against every
  durable SQLite configuration of LangGraph and Google ADK (and dialoghub's memory store);
- ``python -m benchmarks.http --json``: the same dialog over HTTP, ``dialoghub serve`` beside
  the peers' servers, open loop at fixed offered loads and closed loop.

Prints one table of both (a row per system, configuration and run), then each target of the
issue with the figure that decides it; ``--json`` prints the same as one JSON object
(``rows``, ``targets``, and the benchmarks' own rows under ``turns`` and ``http``).
``--readme`` also rewrites the rows these benchmarks own in README.md's summary table, between
``<!-- bench:begin -->`` and ``<!-- bench:end -->`` (every other row there is kept as it is).
``--from-json FILE`` renders a saved ``--json`` output instead of running anything.

HTTP rows are rendered from whatever keys ``benchmarks.http`` gives (``system``, ``config``,
``run``, ``offered_per_s``, ``turns_per_s``, ``requests_per_s``, ``p50_ms``, ``p99_ms``,
``p999_ms``, ``server_us_per_turn``...); a missing key is shown as ``-``.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.table import durability_cell, grid, number

__all__ = ["collect", "format_report", "main", "readme_rows", "replace_region", "targets"]

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"
#: The README's multiplication sign and range dash (escaped: ruff warns of look-alikes).
TIMES, DASH = "\u00d7", "\u2013"
#: Names in prose, for the README.
PEERS = {"langgraph": "LangGraph", "adk": "Google ADK"}


def _run_json(module: str, extra: Sequence[str], timeout: float) -> tuple[Any, str | None]:
    """Run ``python -m module --json EXTRA``; return (its JSON output, None) or (None, error)."""
    command = [sys.executable, "-m", module, "--json", *extra]
    print(f"running {shlex.join(command[1:])} ...", file=sys.stderr, flush=True)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    try:  # stderr (progress) goes straight through
        done = subprocess.run(
            command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        return None, f"timed out after {timeout:.0f} s"
    start = min((i for i in (done.stdout.find("["), done.stdout.find("{")) if i >= 0), default=-1)
    if start < 0:
        return None, f"exit {done.returncode}, no JSON"
    try:
        return json.loads(done.stdout[start:]), None
    except json.JSONDecodeError as error:
        return None, f"exit {done.returncode}, unreadable JSON ({error})"


def collect(args: argparse.Namespace) -> dict[str, Any]:
    """Run the benchmarks (or read ``--from-json``); return the report object."""
    if args.from_json:
        saved: dict[str, Any] = json.loads(Path(args.from_json).read_text())
        return saved
    report: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "cpus": os.cpu_count(),
        "turns": [],
        "http": [],
        "errors": {},
    }
    for name, module, extra, skip in (
        ("turns", "benchmarks.turns", args.turns_args, args.skip_turns),
        ("http", "benchmarks.http", args.http_args, args.skip_http),
    ):
        if skip:
            continue
        rows, error = _run_json(module, shlex.split(extra), args.timeout)
        if error is not None:
            report["errors"][name] = error
        report[name] = rows if isinstance(rows, list) else []
    report["load_average"] = round(os.getloadavg()[0], 1)
    report["rows"] = table_rows(report["turns"], report["http"])
    report["targets"] = targets(report["turns"], report["http"])
    return report


def _dialoghub_w1(turns: list[dict[str, Any]], durable: bool = True) -> dict[str, Any] | None:
    """dialoghub's W1 row on SQLite (``durable``) or on the memory store."""
    return next(
        (
            r
            for r in turns
            if r.get("system") == "dialoghub"
            and r.get("workload") == "W1"
            and bool(r.get("durable", True)) == durable
            and not r.get("error")
        ),
        None,
    )


def _open_at_1000(http: list[dict[str, Any]]) -> dict[str, Any] | None:
    """dialoghub's open-loop row at 1,000 turns/s offered (the p99 target's), if it ran."""
    return next(
        (
            r
            for r in http
            if r.get("system") == "dialoghub"
            and r.get("run") == "open"
            and r.get("offered_per_s") == 1000
        ),
        None,
    )


def _closed(http: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each system's closed-loop dialog row (its maximum turns/s), by system.

    When ``benchmarks.http`` runs the closed loop in several rounds, a system's best round
    is its maximum.
    """
    best: dict[str, dict[str, Any]] = {}
    for r in http:
        if r.get("run") != "closed" or not r.get("turns_per_s") or r.get("error"):
            continue
        name = str(r.get("system"))
        if name not in best or r["turns_per_s"] > best[name]["turns_per_s"]:
            best[name] = r
    return best


def _http_ratios(http: list[dict[str, Any]]) -> dict[str, float]:
    """dialoghub's closed-loop turns/s ÷ each peer server's, by peer."""
    closed = _closed(http)
    ours = closed.get("dialoghub")
    if ours is None:
        return {}
    return {
        name: round(ours["turns_per_s"] / row["turns_per_s"], 2)
        for name, row in closed.items()
        if name != "dialoghub"
    }


def table_rows(turns: list[dict[str, Any]], http: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Both benchmarks' rows in one shape (missing figures None)."""
    out = []
    for r in turns:
        cpu = r.get("cpu_ms_per_turn")
        if "vs_fastest_peer" in r:
            best = r["fastest_peer"]
            versus = f"x{r['vs_fastest_peer']:,.1f} vs {best['system']} {best['config']}"
        elif r.get("dialoghub_speedup") is not None:
            versus = f"x{r['dialoghub_speedup']:,.1f}" + (" (fastest)" if r.get("fastest") else "")
        else:
            versus = ""
        out.append(
            {
                "bench": "turns",
                "system": r.get("system"),
                "config": r.get("config"),
                "durability": durability_cell(r),
                "run": f"{r.get('workload')} {r.get('sessions') or 0:,}x{r.get('turns') or 0:,}",
                "offered_per_s": None,
                "turns_per_s": r.get("turns_per_s"),
                "requests_per_s": None,
                "p50_ms": r.get("p50_ms"),
                "p99_ms": r.get("p99_ms"),
                "p999_ms": r.get("p999_ms"),
                "cpu_us_per_turn": None if cpu is None else round(1000 * cpu, 1),
                "vs": versus,
                "error": r.get("error"),
            }
        )
    ratios = _http_ratios(http)
    maxima = {id(r) for r in _closed(http).values()}
    for r in http:
        system = str(r.get("system"))
        versus = ""
        if id(r) in maxima and system in ratios:
            versus = f"x{ratios[system]:,.1f}"
        elif id(r) in maxima and system == "dialoghub" and ratios:
            peer = min(ratios, key=lambda name: ratios[name])  # the fastest peer server
            versus = f"x{ratios[peer]:,.1f} vs {peer}"
        if r.get("errors"):
            versus = " ".join(filter(None, [versus, f"({r['errors']:,} errors)"]))
        run = str(r.get("run") or "")
        if r.get("round") is not None:
            run += f" #{r['round']}"
        out.append(
            {
                "bench": "http",
                "system": system,
                "config": r.get("config"),
                "durability": None,
                "run": run,
                "offered_per_s": r.get("offered_per_s"),
                "turns_per_s": r.get("turns_per_s"),
                "requests_per_s": r.get("requests_per_s"),
                "p50_ms": r.get("p50_ms"),
                "p99_ms": r.get("p99_ms"),
                "p999_ms": r.get("p999_ms"),
                "cpu_us_per_turn": r.get("server_us_per_turn") or r.get("server_us_per_req"),
                "vs": versus,
                "error": r.get("error"),
            }
        )
    return out


def _target(key: str, name: str, value: str, met: bool | None) -> dict[str, Any]:
    return {"id": key, "target": name, "value": value, "met": met}


def targets(turns: list[dict[str, Any]], http: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each target of issue 17 with its figure from these runs; ``met`` None if not measured."""
    out = []
    ours = _dialoghub_w1(turns)
    rate = ours.get("turns_per_s") if ours else None
    out.append(
        _target(
            "w1_rate",
            "W1 durable on SQLite, one process: >= 10,000 turns/s",
            f"{number(rate)} turns/s",
            None if rate is None else rate >= 10_000,
        )
    )
    ratio = ours.get("vs_fastest_peer") if ours else None
    best = ours.get("fastest_peer", {}) if ours else {}
    out.append(
        _target(
            "w1_vs_peer",
            "W1: >= 10x the fastest peer configuration in the same run",
            "-"
            if ratio is None
            else f"x{ratio:,.1f} vs {best.get('system')} {best.get('config')} "
            f"({number(best.get('turns_per_s'))} turns/s)",
            None if ratio is None else ratio >= 10,
        )
    )
    memory = _dialoghub_w1(turns, durable=False)
    rate = memory.get("turns_per_s") if memory else None
    out.append(
        _target(
            "memory",
            "memory store, one process: >= 20,000 turns/s",
            f"{number(rate)} turns/s",
            None if rate is None else rate >= 20_000,
        )
    )
    ratios = _http_ratios(http)
    out.append(
        _target(
            "http_vs_peers",
            "HTTP: >= 10x each peer server's turns/s (closed loop, same dialog and machine)",
            ", ".join(f"x{v:,.1f} vs {k}" for k, v in ratios.items()) or "-",
            min(ratios.values()) >= 10 if ratios else None,
        )
    )
    at = _open_at_1000(http)
    p99 = at.get("p99_ms") if at else None
    if at is None or p99 is None:
        value, met = "-", None
    else:  # an open loop that fell behind its schedule did not carry 1,000 turns/s
        kept_up = not at.get("errors") and (at.get("turns_per_s") or 0) >= 950
        value = f"p99 {p99:,.1f} ms at {number(at.get('turns_per_s'))} turns/s achieved"
        met = p99 < 25 and kept_up
    out.append(
        _target(
            "http_p99", "HTTP: p99 < 25 ms at 1,000 turns/s offered, one worker", value, met
        )
    )
    return out


_COLUMNS = (
    "bench",
    "system",
    "configuration",
    "durability",
    "run",
    "offered/s",
    "turns/s",
    "req/s",
    "p50 ms",
    "p99 ms",
    "p99.9 ms",
    "CPU us/turn",
    "dialoghub x",
)


def _cells(row: dict[str, Any]) -> list[str]:
    if row.get("error") and row.get("turns_per_s") is None and row.get("requests_per_s") is None:
        return [row["bench"], str(row["system"]), f"{row.get('config')}: FAILED: {row['error']}"]
    return [
        row["bench"],
        str(row["system"]),
        str(row.get("config") or ""),
        str(row.get("durability") or ""),
        str(row.get("run") or ""),
        number(row.get("offered_per_s")),
        number(row.get("turns_per_s")),
        number(row.get("requests_per_s")),
        number(row.get("p50_ms"), 1),
        number(row.get("p99_ms"), 1),
        number(row.get("p999_ms"), 1),
        number(row.get("cpu_us_per_turn")),
        str(row.get("vs") or ""),
    ]


def format_report(report: dict[str, Any]) -> str:
    """The one table, the targets, and any benchmark that failed, as text."""
    cells = [_cells(r) for r in report.get("rows", [])]
    widths = [len(h) for h in _COLUMNS]
    for line in cells:
        if len(line) == len(_COLUMNS):
            widths = [max(w, len(c)) for w, c in zip(widths, line, strict=True)]
    lines = [
        f"# {report.get('date')} · {report.get('cpus')} CPUs · load average "
        f"{report.get('load_average')} at the end · python -m benchmarks.report"
    ]
    lines += grid(list(zip(_COLUMNS, widths, strict=True)), cells, left=(0, 1, 2, 3, 4, 12))
    lines.append("")
    for t in report.get("targets", []):
        verdict = {True: "met", False: "NOT met", None: "not measured"}[t["met"]]
        lines.append(f"target: {t['target']}: {t['value']} ({verdict})")
    for name, error in report.get("errors", {}).items():
        lines.append(f"benchmarks.{name} failed: {error}")
    return "\n".join(lines)


def _peer_best(turns: list[dict[str, Any]], peer: str, workload: str) -> dict[str, Any] | None:
    rows = [
        r
        for r in turns
        if r.get("system") == peer and r.get("workload") == workload and r.get("turns_per_s")
    ]
    return max(rows, key=lambda r: r["turns_per_s"]) if rows else None


def readme_rows(report: dict[str, Any]) -> dict[str, str]:
    """The README summary rows these benchmarks own, by slot (see :func:`_slot`)."""
    turns, http = report.get("turns", []), report.get("http", [])
    verdicts = {t.get("id"): t["met"] for t in report.get("targets", [])}

    def said(*names: str) -> str:
        marks = [verdicts.get(n) for n in names]
        if None in marks:
            return "not all measured"
        return "met" if all(marks) else "not met"

    rows: dict[str, str] = {}
    ours = _dialoghub_w1(turns)
    memory = _dialoghub_w1(turns, durable=False)
    if ours is not None:
        bests = [(name, _peer_best(turns, peer, "W1")) for peer, name in PEERS.items()]
        ranked = sorted(
            ((n, b) for n, b in bests if b is not None and b.get("dialoghub_speedup")),
            key=lambda pair: -pair[1]["turns_per_s"],
        )
        peers = [
            f"{'fastest ' if i else ''}{name} {best['config']} {number(best['turns_per_s'])} "
            f"({TIMES}{best['dialoghub_speedup']:,.1f}{_cpu_ratio(ours, best)})"
            for i, (name, best) in enumerate(ranked)
        ]
        count = len(
            {
                (r.get("system"), r.get("config_key") or r.get("config"))
                for r in turns
                if r.get("system") != "dialoghub" and r.get("durable", True)
            }
        )
        mem = f"; memory store {number(memory['turns_per_s'])} turns/s" if memory else ""
        rows["w1"] = (
            f"| W1: {ours['sessions']:,} sessions {TIMES} {ours['turns']} turns of the weather "
            f"dialog, durable on SQLite (`python -m benchmarks.turns`) | "
            f"{number(ours['turns_per_s'])} turns/s, p99 {number(ours.get('p99_ms'))} ms, "
            f"{number(1000 * (ours.get('cpu_ms_per_turn') or 0))} µs CPU per turn{mem} | "
            f"fastest of {count} durable peer configurations: " + "; ".join(peers) + " | "
            f"≥ 10,000 and ≥ 10{TIMES} the fastest peer configuration; memory ≥ 20,000 "
            f"({said('w1_rate', 'w1_vs_peer', 'memory')}) |"
        )
        w2 = next(
            (r for r in turns if r.get("system") == "dialoghub" and r.get("workload") == "W2"),
            None,
        )
        if w2 is not None and w2.get("last_first_ratio") is not None:
            others = []
            for peer, name in PEERS.items():
                best = _peer_best(turns, peer, "W2")
                if best is not None:
                    others.append(
                        f"{name} ({best['config']}) {number(best.get('last_first_ratio'), 2)}"
                    )
            rows["w2"] = (
                f"| W2: one session, {w2['turns']:,} turns, cost of the last 100 ÷ the first 100 "
                f"| {number(w2['last_first_ratio'], 2)} | " + ", ".join(others) + " | ≤ 1.10 |"
            )
        spans = []
        for peer, name in PEERS.items():
            sizes = [
                r["bytes_per_turn"]
                for r in turns
                if r.get("system") == peer and r.get("workload") == "W1" and r.get("bytes_per_turn")
            ]
            if sizes:
                low, high = number(min(sizes)), number(max(sizes))
                spans.append(f"{name} {low}" + (f"{DASH}{high}" if high != low else ""))
        rows["bytes"] = (
            f"| database bytes per turn on SQLite | {number(ours.get('bytes_per_turn'))} | "
            + ", ".join(spans)
            + " | ≤ 400 |"
        )
    closed = _closed(http)
    if "dialoghub" in closed:
        ratios = _http_ratios(http)
        ours_http = closed["dialoghub"]
        at = _open_at_1000(http)
        p99 = f"; p99 {number(at.get('p99_ms'), 1)} ms at 1,000 turns/s offered" if at else ""
        peers = [
            f"{PEERS.get(name, name)} {number(closed[name]['turns_per_s'])} ({TIMES}{ratio:,.1f})"
            for name, ratio in ratios.items()
        ]
        rows["http"] = (
            "| W1 over HTTP, one server process each, open-loop and closed-loop load "
            "(`python -m benchmarks.http`) | "
            f"{number(ours_http['turns_per_s'])} turns/s closed loop{p99} | "
            + ", ".join(peers)
            + f" | ≥ 10{TIMES} each peer server; p99 < 25 ms at 1,000 turns/s "
            f"({said('http_vs_peers', 'http_p99')}) |"
        )
    return rows


#: The README rows this report owns, in table order.
_SLOTS = ("w1", "w2", "bytes", "http")


def _cpu_ratio(ours: dict[str, Any], peer: dict[str, Any]) -> str:
    """``, N times less CPU per turn`` when both rows measured it (steadier than turns/s)."""
    mine, theirs = ours.get("cpu_ms_per_turn"), peer.get("cpu_ms_per_turn")
    if not mine or not theirs:
        return ""
    return f", {theirs / mine:,.1f}{TIMES} less CPU per turn"


def _slot(row: str) -> str | None:
    """Which owned row a README table row is (by its first cell), or None."""
    first = row.split("|")[1] if row.count("|") > 1 else ""
    if "`python -m benchmarks.turns`" in first:
        return "w1"
    if first.strip().startswith("W2: one session"):
        return "w2"
    if first.strip().startswith("database bytes per turn on SQLite"):
        return "bytes"
    if "`python -m benchmarks.http`" in first:
        return "http"
    return None


def replace_region(text: str, rows: dict[str, str], stamp: str) -> str:
    """``text`` (README.md) with the owned rows of the table between the markers replaced.

    A row is replaced in place; a row not there yet goes after the owned row before it (or
    under the table's header); every other line of the region is kept, but the line saying
    when the rows were regenerated, which is written anew.
    """
    try:
        head, rest = text.split(BEGIN + "\n", 1)
        region, tail = rest.split(END, 1)
    except ValueError:
        raise SystemExit(f"README.md has no {BEGIN} ... {END} region") from None
    out = [line for line in region.splitlines() if not line.startswith("_Rows from")]
    for slot in _SLOTS:  # in order, so a new row finds the one before it in place already
        if slot not in rows:
            continue
        where = [i for i, line in enumerate(out) if _slot(line) == slot]
        if where:
            out[where[0]] = rows[slot]
            continue
        before = [i for i, line in enumerate(out) if _slot(line) in _SLOTS[: _SLOTS.index(slot)]]
        table = [i for i, line in enumerate(out) if line.startswith("|")]
        at = before[-1] + 1 if before else (table[1] + 1 if len(table) > 1 else len(out))
        out.insert(at, rows[slot])
    while out and not out[-1].strip():
        out.pop()
    out += ["", f"_Rows from `benchmarks.turns` and `benchmarks.http`: {stamp}._"]
    return head + BEGIN + "\n" + "\n".join(out) + "\n" + END + tail


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.report",
        description="Every figure of the performance issue in one table: benchmarks.turns "
        "and benchmarks.http, run one after the other.",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--readme", action="store_true", help="rewrite the README summary rows these own"
    )
    parser.add_argument("--from-json", metavar="FILE", help="render a saved --json report")
    parser.add_argument("--skip-turns", action="store_true", help="do not run benchmarks.turns")
    parser.add_argument("--skip-http", action="store_true", help="do not run benchmarks.http")
    parser.add_argument("--turns-args", default="", help="extra arguments for benchmarks.turns")
    parser.add_argument("--http-args", default="", help="extra arguments for benchmarks.http")
    parser.add_argument(
        "--timeout", type=float, default=7200, help="seconds allowed to each benchmark"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run (or load) the report; print it; with ``--readme`` rewrite README.md's rows."""
    args = _parse(argv)
    report = collect(args)
    if args.from_json:  # derived figures: recomputed, so a saved run renders as this code does
        report["rows"] = table_rows(report.get("turns", []), report.get("http", []))
        report["targets"] = targets(report.get("turns", []), report.get("http", []))
    print(json.dumps(report, indent=1) if args.json else format_report(report))
    if args.readme:
        stamp = (
            f"`python -m benchmarks.report --readme`, {report.get('date')}, load average "
            f"{report.get('load_average')} on {report.get('cpus')} CPUs at the end"
        )
        README.write_text(replace_region(README.read_text(), readme_rows(report), stamp))
        print(f"README.md: {len(readme_rows(report))} summary rows rewritten", file=sys.stderr)
    return 1 if report.get("errors") else 0


if __name__ == "__main__":
    sys.exit(main())
