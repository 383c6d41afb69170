"""The fixed-width table every benchmark prints (so their outputs line up the same way)."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["W1_LATENCY_NOTE", "grid"]

#: Under every table with W1 rows: why their latencies only compare within one size.
W1_LATENCY_NOTE = (
    "W1 latencies include waiting behind the other sessions in flight: compare them "
    "only between rows with the same sessions x turns."
)


def grid(columns: Sequence[tuple[str, int]], rows: Sequence[Sequence[str]]) -> list[str]:
    """Header, rule and one line per row; the first 4 columns left-aligned, the rest right.

    A row with fewer cells than columns is a failed run: its third cell (the error) takes the
    rest of the line.
    """
    lines = ["  ".join(h.ljust(w) if i < 4 else h.rjust(w) for i, (h, w) in enumerate(columns))]
    lines.append("  ".join("-" * w for _, w in columns))
    for cells in rows:
        if len(cells) < len(columns):
            lines.append("  ".join([cells[0].ljust(10), cells[1].ljust(4), cells[2]]))
            continue
        lines.append(
            "  ".join(
                c.ljust(w) if i < 4 else c.rjust(w)
                for i, (c, (_, w)) in enumerate(zip(cells, columns, strict=True))
            )
        )
    return lines
