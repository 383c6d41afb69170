"""The parts of the benchmarks that decide what a table says: the median W2 row and the grid."""

from __future__ import annotations

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
