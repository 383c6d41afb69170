"""The parts of the benchmarks that decide what a table says: the median W2 row, the grid,
the turns comparison, the fsync count, and the report's targets and README rows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmarks.stores import median_w2
from benchmarks.table import grid


def _row(ratio: float, turns_per_s: float) -> dict[str, object]:
    return {"workload": "W2", "last_first_ratio": ratio, "turns_per_s": turns_per_s}


def test_median_w2_takes_the_median_run_and_keeps_every_ratio() -> None:
    row = median_w2([_row(1.25, 100.0), _row(0.95, 200.0), _row(0.70, 300.0)])
    assert row["last_first_ratio"] == 0.95
    assert row["turns_per_s"] == 200.0  # the whole row of that run, not a mix of runs
    assert row["last_first_ratios"] == [1.25, 0.95, 0.70]  # in the order they ran
    assert row["repeats"] == 3


def test_median_w2_of_an_even_count_takes_the_lower_middle() -> None:
    row = median_w2([_row(1.4, 1.0), _row(0.8, 2.0), _row(1.0, 3.0), _row(0.9, 4.0)])
    assert row["last_first_ratio"] == 0.9


def test_median_w2_reports_a_failed_run_instead_of_hiding_it() -> None:
    failed = {"workload": "W2", "error": "timed out"}
    assert median_w2([_row(0.9, 1.0), failed, _row(1.0, 2.0)]) is failed


def test_grid_aligns_columns_and_gives_a_failed_row_the_rest_of_the_line() -> None:
    columns = [("system", 6), ("work", 4), ("store", 5), ("n", 3), ("rate", 6)]
    lines = grid(columns, [["dh", "W1", "mem", "1", "9,496"], ["dh", "W2", "boom: no db"]])
    assert lines[0] == "system  work  store  n      rate"
    assert lines[1] == "------  ----  -----  ---  ------"
    assert lines[2] == "dh      W1    mem    1     9,496"
    assert lines[3] == "dh          W2    boom: no db"


def _turns_row(
    system: str, config: str, workload: str, rate: float | None, **more: object
) -> dict[str, object]:
    row: dict[str, object] = {
        "system": system,
        "config": config,
        "workload": workload,
        "turns_per_s": rate,
        "sessions": 10,
        "turns": 20,
        "durable": True,
    }
    row.update(more)
    return row


def test_add_ratios_names_the_fastest_durable_peer_configuration_of_each_workload() -> None:
    from benchmarks.turns import add_ratios

    rows = [
        _turns_row("dialoghub", "SQLiteStore", "W1", 5000.0),
        _turns_row("dialoghub", "MemoryStore", "W1", 9000.0, durable=False),
        _turns_row("langgraph", "SqliteSaver durability=exit", "W1", 500.0),
        _turns_row("langgraph", "AsyncSqliteSaver durability=sync", "W1", 100.0),
        _turns_row("adk", "SqliteSessionService cached", "W1", 400.0),
        _turns_row("adk", "SqliteSessionService reload", "W1", None, error="database is locked"),
        _turns_row("dialoghub", "SQLiteStore", "W2", 1000.0, last_first_ratio=0.7),
        _turns_row("adk", "SqliteSessionService cached", "W2", 250.0, last_first_ratio=1.2),
    ]
    add_ratios(rows)
    ours_w1, memory, lg_exit, lg_sync, adk_cached, failed, ours_w2, adk_w2 = rows
    assert ours_w1["vs_fastest_peer"] == 10.0  # against 500, not the memory store's figure
    assert ours_w1["fastest_peer"] == {
        "system": "langgraph",
        "config": "SqliteSaver durability=exit",
        "turns_per_s": 500.0,
    }
    assert lg_exit["fastest"] and "fastest" not in adk_cached
    assert (lg_sync["dialoghub_speedup"], adk_cached["dialoghub_speedup"]) == (50.0, 12.5)
    assert "dialoghub_speedup" not in memory and "dialoghub_speedup" not in failed
    assert ours_w2["vs_fastest_peer"] == 4.0  # each workload against its own rows
    assert adk_w2["dialoghub_last_first_ratio"] == 0.7


def test_the_turns_table_names_the_fastest_peer_and_says_each_rows_durability() -> None:
    from benchmarks.turns import SYSTEMS, add_ratios, format_table

    rows = [
        _turns_row("dialoghub", "SQLiteStore", "W1", 5000.0, journal_mode="wal",
                   durability="sync=FULL, group commit"),
        _turns_row("adk", "SqliteSessionService cached", "W1", 400.0, journal_mode="delete",
                   durability="sync=FULL, commit per event", fsyncs_per_turn=4.0,
                   fsyncs_sessions=10),
    ]
    add_ratios(rows)
    text = format_table(rows)
    assert SYSTEMS[0] == "dialoghub"
    ours = next(line for line in text.splitlines() if line.startswith("dialoghub"))
    assert ours.endswith("x12.5 vs adk SqliteSessionService cached")
    assert "WAL sync=FULL, group commit" in ours
    peer = next(line for line in text.splitlines() if line.startswith("adk"))
    assert "rollback sync=FULL, commit per event" in peer
    assert "4.00" in peer and peer.endswith("this one")
    assert "x12.5 the fastest durable peer configuration (adk SqliteSessionService cached)" in text


def test_parse_strace_log_counts_fsyncs_between_ready_and_done_only() -> None:
    from benchmarks.turns import parse_strace_log

    log = "\n".join(
        [
            '101 fdatasync(3) = 0',  # creation: not counted
            '101 write(1, "ready\\n", 6) = 6',
            '102 fdatasync(4 <unfinished ...>',
            '101 write(2, "x", 1) = 1',
            '102 <... fdatasync resumed>) = 0',  # the same call
            '103 fsync(5) = 0',
            '101 write(1, "done\\n", 5) = 5',
            '101 fdatasync(3) = 0',  # closing: not counted
        ]
    )
    assert parse_strace_log(log) == 2
    assert parse_strace_log('101 fsync(3) = 0\n') is None  # no markers: no figure


_README = """intro

<!-- bench:begin -->
| what | dialoghub | compared with | target |
|---|---|---|---|
| W1: old (`python -m benchmarks.turns`) | 1 | 2 | 3 |
| W1 on Redis | kept | | |
| W1 over HTTP (`python -m benchmarks.http`) | old | | |
<!-- bench:end -->

after
"""


def test_replace_region_rewrites_only_the_owned_rows_in_place_and_is_idempotent() -> None:
    from benchmarks.report import replace_region

    rows = {
        "w1": "| W1: new (`python -m benchmarks.turns`) | 9 | 9 | 9 |",
        "w2": "| W2: one session | 0.5 | | |",
    }
    once = replace_region(_README, rows, "today")
    lines = once.splitlines()
    at = lines.index(rows["w1"])
    assert lines[at + 1] == rows["w2"]  # a new slot goes after the last owned row replaced
    assert lines[at + 2] == "| W1 on Redis | kept | | |"
    assert "| W1 over HTTP (`python -m benchmarks.http`) | old | | |" in lines  # no new figure
    assert "old (`python" not in once and once.startswith("intro") and once.endswith("after\n")
    assert replace_region(once, rows, "today") == once


def test_report_targets_tolerate_missing_http_keys_and_judge_the_open_loop_at_1000() -> None:
    from benchmarks.report import table_rows, targets

    http: list[dict[str, Any]] = [
        {"system": "dialoghub", "run": "closed", "turns_per_s": 3000.0},
        {"system": "dialoghub", "run": "open", "offered_per_s": 1000, "turns_per_s": 700.0,
         "p99_ms": 12.0},
        {"system": "adk", "run": "closed", "turns_per_s": 200.0},
        {"system": "adk", "run": "health"},
    ]
    found = {t["id"]: t for t in targets([], http)}
    assert found["http_vs_peers"]["met"] is True  # x15
    assert found["http_p99"]["met"] is False  # a low p99, but it fell behind the schedule
    assert found["w1_rate"]["met"] is None  # benchmarks.turns did not run
    rows = table_rows([], http)
    assert rows[0]["vs"] == "x15.0 vs adk" and rows[3]["p99_ms"] is None


def test_a_failed_run_reports_the_exception_inside_an_exception_group() -> None:
    from benchmarks.turns import _error_line

    stderr = "\n".join(
        [
            "  + Exception Group Traceback (most recent call last):",
            "  | ExceptionGroup: unhandled errors in a TaskGroup (1 sub-exception)",
            "  +-+---------------- 1 ----------------",
            "    | Traceback (most recent call last):",
            "    | sqlite3.OperationalError: database is locked",
            "    +------------------------------------",
        ]
    )
    assert _error_line(stderr, 1) == "sqlite3.OperationalError: database is locked"
    assert _error_line("", 3) == "exit 3"


def test_journal_modes_reads_back_what_the_file_was_left_in(tmp_path: Path) -> None:
    import sqlite3

    from benchmarks.systems.harness import journal_modes

    for name, mode in (("a.db", "wal"), ("b.sqlite", "delete")):
        conn = sqlite3.connect(tmp_path / name)
        conn.execute(f"PRAGMA journal_mode={mode}")
        conn.execute("CREATE TABLE t (x)")
        conn.commit()
        conn.close()
    assert journal_modes(tmp_path) == "delete+wal"
    empty = tmp_path / "empty"
    empty.mkdir()
    assert journal_modes(empty) is None  # no SQLite file: nothing to say
