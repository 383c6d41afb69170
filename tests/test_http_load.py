"""The parts of ``benchmarks.http`` that decide what its table says: the load generator's
response parser and percentiles, the open loop's schedule, and the summary's crossings and
ratios."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from benchmarks.http import crossing, summary
from benchmarks.http_load import Pool, Tally, _parse, percentile, run_open
from benchmarks.workload import expected_reply


def test_parse_waits_for_the_whole_body_then_leaves_the_next_response() -> None:
    head = b"HTTP/1.1 201 Created\r\nContent-Length: 5\r\n\r\n"
    assert _parse(bytearray(head + b"abc")) is None
    buf = bytearray(head + b"abcde" + b"HTTP/1.1 200 OK\r\n")
    status, body, used = _parse(buf)  # type: ignore[misc]
    assert (status, body) == (201, b"abcde")
    assert buf[used:] == b"HTTP/1.1 200 OK\r\n"


def test_parse_joins_chunks_and_needs_the_last_one() -> None:
    head = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
    chunks = b"3\r\nabc\r\n2;x=y\r\nde\r\n"
    assert _parse(bytearray(head + chunks)) is None
    status, body, used = _parse(bytearray(head + chunks + b"0\r\n\r\n"))  # type: ignore[misc]
    assert (status, body, used) == (200, b"abcde", len(head + chunks) + 5)


def test_percentile_is_the_nearest_rank_in_ms() -> None:
    ordered = [i / 1000 for i in range(1, 1001)]  # 1 .. 1000 ms
    assert percentile(ordered, 0.5) == 500.0
    assert percentile(ordered, 0.99) == 990.0
    assert percentile(ordered, 0.999) == 999.0
    assert percentile([], 0.5) is None


class _Stalling:
    """A fake system whose first turn takes 0.3 s and the others nothing: one stall."""

    def __init__(self) -> None:
        self.calls = 0

    def sid(self, n: int) -> str:
        return f"s{n}"

    async def turn(self, conn: Any, sid: str, text: str) -> tuple[str, int]:
        self.calls += 1
        if self.calls == 1:
            await asyncio.sleep(0.3)
        return expected_reply(int(text)), 1


class _FreePool(Pool):
    def __init__(self) -> None:
        super().__init__("127.0.0.1", 0)

    async def use(self, job: Any) -> Any:
        return await job(None)


def test_the_open_loop_charges_a_stall_to_every_turn_scheduled_behind_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import benchmarks.http_load as load

    monkeypatch.setattr(load, "message", str)  # turn i says "i", answered expected_reply(i)
    system, tally = _Stalling(), Tally()
    spec = {"rate": 100.0, "seconds": 0.5, "turns": 50, "active": 1, "drain": 2.0}
    asyncio.run(run_open(spec, _FreePool(), system, tally))
    assert system.calls == 50 and tally.errors == 0
    # one slot: the 0.3 s stall delays the ~30 turns due during it; timed from their
    # schedule (not from when they were sent), they are late by 0.3 s down to ~0
    late = sorted(tally.latencies, reverse=True)
    assert late[0] >= 0.29
    assert sum(1 for x in late if x > 0.1) >= 15


def _rows() -> list[dict[str, Any]]:
    def row(system: str, run: str, offered: float | None = None, **kw: Any) -> dict[str, Any]:
        return {"system": system, "run": run, "offered_per_s": offered, "errors": 0, **kw}

    return [
        row("dialoghub", "open", 250, p99_ms=10.0, turns_per_s=250),
        row("dialoghub", "open", 500, p99_ms=30.0, turns_per_s=500),
        row("dialoghub", "open", 1000, p99_ms=70.0, turns_per_s=990),
        row("dialoghub", "closed", turns_per_s=2000.0, server_us_per_turn=400.0),
        row("dialoghub", "closed", turns_per_s=1000.0, server_us_per_turn=600.0),
        row("adk", "open", 50, p99_ms=20.0, turns_per_s=50),
        row("adk", "closed", turns_per_s=100.0, server_us_per_turn=6000.0),
    ]


def test_crossing_names_the_first_load_past_the_limit_or_says_none_was() -> None:
    rows = _rows()
    assert crossing(rows, "dialoghub", 25) == "500/s"
    assert crossing(rows, "dialoghub", 50) == "1000/s"
    assert crossing(rows, "adk", 25) == "> 50/s"


def test_summary_ratios_use_the_mean_of_the_rounds() -> None:
    lines = summary(_rows())
    assert lines[0].startswith("dialoghub: max 1500 turns/s, server CPU 500 us/turn")
    assert "max 100 turns/s (dialoghub x15.0)" in lines[1]
    assert "6000 us/turn (dialoghub x12.0)" in lines[1]
