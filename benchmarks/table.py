"""The fixed-width tables the benchmarks print (so their outputs line up the same way).

:func:`grid` is the layout every benchmark shares; :func:`format_turns` renders the rows of
``benchmarks.turns`` (one per system, configuration and workload) with the comparisons under
them.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

__all__ = ["W1_LATENCY_NOTE", "durability_cell", "format_turns", "grid", "number"]

#: Under every table with W1 rows: why their latencies only compare within one size.
W1_LATENCY_NOTE = (
    "W1 latencies include waiting behind the other sessions in flight: compare them "
    "only between rows with the same sessions x turns."
)


def grid(
    columns: Sequence[tuple[str, int]],
    rows: Sequence[Sequence[str]],
    *,
    left: int | Collection[int] = 4,
) -> list[str]:
    """Header, rule and one line per row; the first ``left`` columns left-aligned, the rest right.

    ``left`` may instead be the indexes of the left-aligned columns. A row with fewer cells
    than columns is a failed run: its third cell (the error) takes the rest of the line.
    """
    lefts = set(range(left)) if isinstance(left, int) else set(left)

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            c.ljust(w) if i in lefts else c.rjust(w)
            for i, (c, (_, w)) in enumerate(zip(cells, columns, strict=True))
        ).rstrip()

    lines = [line([h for h, _ in columns]), "  ".join("-" * w for _, w in columns)]
    for cells in rows:
        if len(cells) < len(columns):
            lines.append("  ".join([cells[0].ljust(10), cells[1].ljust(4), cells[2]]))
            continue
        lines.append(line(cells))
    return lines


def number(value: Any, digits: int = 0) -> str:
    """``value`` with thousands separators and ``digits`` decimals; ``-`` for None."""
    return "-" if value is None else f"{value:,.{digits}f}"


_TURNS_COLUMNS = (
    ("system", 9),
    ("work", 4),
    ("configuration", 33),
    ("durability", 36),
    ("sessions x turns", 16),
    ("turns/s", 8),
    ("CPU ms/turn", 11),
    ("mean ms", 9),
    ("p99 ms", 9),
    ("RSS MB", 6),
    ("B/turn", 9),
    ("fsyncs/turn", 11),
    ("last/first", 10),
    ("dialoghub x", 11),
    ("fastest peer", 12),
)
_TURNS_LEFT = (0, 1, 2, 3, 4, 14)
#: How each SQLite journal mode is shown (``journal_mode`` as the harness read it back).
_JOURNALS = {"wal": "WAL", "delete": "rollback", "truncate": "rollback", "persist": "rollback"}


def durability_cell(row: dict[str, Any]) -> str:
    """The durability cell: journal mode as measured, then what the system says it does."""
    journal = _JOURNALS.get(str(row.get("journal_mode")), row.get("journal_mode") or "")
    return " ".join(filter(None, [journal, row.get("durability") or ""]))


def _turns_cells(row: dict[str, Any]) -> list[str]:
    """The table cells of one ``benchmarks.turns`` row."""
    if row.get("error"):
        return [row["system"], row["workload"], f"{row.get('config')}: FAILED: {row['error']}"]
    if "vs_fastest_peer" in row:
        best = row["fastest_peer"]
        versus = f"x{row['vs_fastest_peer']:,.1f} vs {best['system']} {best['config']}"
    elif row.get("fastest"):
        versus = "this one"
    else:
        versus = ""
    speedup = row.get("dialoghub_speedup")
    return [
        row["system"],
        row["workload"],
        str(row.get("config") or row.get("store")),
        durability_cell(row),
        f"{row['sessions']:,} x {row['turns']:,}",
        number(row.get("turns_per_s")),
        number(row.get("cpu_ms_per_turn"), 2),
        number(row.get("mean_ms"), 2),
        number(row.get("p99_ms"), 2),
        number(row.get("peak_rss_mb")),
        number(row.get("bytes_per_turn")),
        number(row.get("fsyncs_per_turn"), 2),
        number(row.get("last_first_ratio"), 2),
        "-" if speedup is None else f"x{speedup:,.1f}",
        versus,
    ]


def format_turns(rows: Sequence[dict[str, Any]], systems: Sequence[str]) -> str:
    """The rows of ``benchmarks.turns`` (W1 first), then comparisons and notes, as text."""
    order = {name: i for i, name in enumerate(systems)}
    ordered = sorted(rows, key=lambda r: (r["workload"], order.get(r["system"], len(order))))
    lines = grid(_TURNS_COLUMNS, [_turns_cells(r) for r in ordered], left=_TURNS_LEFT)
    lines.append("")
    lines.extend(_comparisons(ordered, systems))
    lines.extend(_notes(ordered))
    return "\n".join(lines)


def _comparisons(rows: Sequence[dict[str, Any]], systems: Sequence[str]) -> list[str]:
    """Per workload: dialoghub against the fastest configuration overall and of each peer."""
    out = []
    for ours in rows:
        if "vs_fastest_peer" not in ours:
            continue
        workload = ours["workload"]
        parts = []
        for peer in systems[1:]:
            mine = [
                r
                for r in rows
                if r["system"] == peer and r["workload"] == workload and "dialoghub_speedup" in r
            ]
            if mine:
                best = max(mine, key=lambda r: r["turns_per_s"])
                parts.append(
                    f"{peer} {best['config']} {number(best['turns_per_s'])} "
                    f"(x{best['dialoghub_speedup']:,.1f})"
                )
        best_all = ours["fastest_peer"]
        out.append(
            f"{workload}: dialoghub {number(ours['turns_per_s'])} turns/s = "
            f"x{ours['vs_fastest_peer']:,.1f} the fastest durable peer configuration "
            f"({best_all['system']} {best_all['config']}); fastest of each: " + "; ".join(parts)
        )
        if workload == "W2":
            ratios = [
                f"{r['system']} {r['config']} {number(r.get('last_first_ratio'), 2)}"
                for r in rows
                if r["workload"] == "W2" and r.get("fastest")
            ]
            out.append(
                f"W2 last/first: dialoghub {number(ours.get('last_first_ratio'), 2)}; "
                + "; ".join(ratios)
            )
    return out


def _notes(rows: Sequence[dict[str, Any]]) -> list[str]:
    """What a reader must know to read the rows: sizes, durability, latencies."""
    out = []
    ours = {
        r["workload"]: r
        for r in rows
        if r["system"] == "dialoghub" and r.get("durable", True) and not r.get("error")
    }
    scaled = set()
    for row in rows:
        mine = ours.get(row["workload"])
        if row["system"] == "dialoghub" or row.get("error") or mine is None:
            continue
        if (row["sessions"], row["turns"]) != (mine["sessions"], mine["turns"]):
            scaled.add((row["workload"], row["sessions"], row["turns"]))
    for workload, sessions, turns in sorted(scaled):
        mine = ours[workload]
        out.append(
            f"note: the peers ran {workload} scaled down to {sessions:,} x {turns:,} turns "
            f"(dialoghub: {mine['sessions']:,} x {mine['turns']:,}); --full runs them in full."
        )
    probed = [r["fsyncs_sessions"] for r in rows if r.get("fsyncs_sessions")]
    out.append(
        "durability: every row but the memory store has committed the turn when it answers;"
        " sync=FULL: every commit fsyncs."
    )
    if probed:
        out.append(
            "fsyncs/turn: fsync+fdatasync calls of all threads during a W1 of "
            f"{max(probed)} sessions in flight, counted under strace (not the timed run); "
            "dialoghub's group commit puts more sessions in one fsync when more are in flight."
        )
    if any(str(r.get("config")).startswith("SqliteSaver ") for r in rows):
        out.append(
            "SqliteSaver is synchronous: its turns run one at a time on the event loop's "
            "thread, so its W1 latencies hold no waiting behind other sessions."
        )
    if any(r["workload"] == "W1" for r in rows):
        out.append(W1_LATENCY_NOTE)
    return out
