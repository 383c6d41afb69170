"""CPU per W1 turn, per thread: what to compare between two versions of the hub and stores.

Wall-clock turns/s on a shared machine moves by ±25% from run to run; the CPU time the
event loop's thread spends per turn moves by a few percent. This runs W1 as
``benchmarks.systems.dialoghub_runner`` does (same driver, same replies checked) and prints,
for the timed phase only: turns/s, the event-loop thread's CPU per turn
(``time.thread_time``) and the part of it spent in the cyclic garbage collector
(``gc.callbacks``), each store thread's CPU per turn (``/proc/self/task/TID/stat``, Linux)
and the whole process's; with several runs, the minimum and median of each column.

Run: ``python -m benchmarks.turn_cpu [--store memory://] [--sessions N] [--turns T]
[--runs R] [--profile FILE]``. ``--profile`` writes a cProfile of the timed phase of the last
run (``python -m pstats FILE``).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

from benchmarks.systems.dialoghub_runner import DialoghubDriver
from benchmarks.systems.harness import CREATE_BATCH, _timed_turns

__all__ = ["main", "measure"]


class _GCTimer:
    """CPU seconds the event loop's thread spends in the cyclic garbage collector."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.collections = 0
        self._start = 0.0
        self._main = threading.main_thread()

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if threading.current_thread() is not self._main:
            return
        if phase == "start":
            self._start = time.thread_time()
        else:
            self.seconds += time.thread_time() - self._start
            self.collections += 1


def _thread_cpu() -> dict[str, float]:
    """CPU seconds (user + system) of each named thread of this process (Linux only)."""
    ticks = os.sysconf("SC_CLK_TCK")
    out: dict[str, float] = {}
    for thread in threading.enumerate():
        tid = thread.native_id
        try:
            stat = Path(f"/proc/self/task/{tid}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        name = thread.name.rsplit("_", 1)[0] if "reader" in thread.name else thread.name
        out[name] = out.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / ticks
    return out


async def measure(
    store: str | None, sessions: int, turns: int, profile: str | None = None
) -> dict[str, float]:
    """One W1 run; the figures of its timed phase."""
    driver = DialoghubDriver(store)
    with tempfile.TemporaryDirectory(prefix="bench-cpu-") as tmp:
        await driver.open(Path(tmp))
        try:
            ids = [f"s{n:06d}" for n in range(sessions)]
            for chunk in range(0, sessions, CREATE_BATCH):  # not timed, as in run_w1
                await asyncio.gather(*(driver.create(i) for i in ids[chunk : chunk + CREATE_BATCH]))
            latencies: list[float] = []
            before_threads = _thread_cpu()
            gc_timer = _GCTimer()
            gc.callbacks.append(gc_timer)
            loop0, proc0 = time.thread_time(), time.process_time()
            prof = cProfile.Profile() if profile else None
            if prof is not None:
                prof.enable()
            start = time.perf_counter()
            async with asyncio.TaskGroup() as group:
                for session_id in ids:
                    group.create_task(_timed_turns(driver, session_id, turns, latencies))
            seconds = time.perf_counter() - start
            if prof is not None:
                prof.disable()
                prof.dump_stats(profile)  # type: ignore[arg-type]
            loop1, proc1 = time.thread_time(), time.process_time()
            gc.callbacks.remove(gc_timer)
            after_threads = _thread_cpu()
        finally:
            await driver.close()
    n = len(latencies)
    row = {
        "turns_per_s": n / seconds,
        "loop_us": 1e6 * (loop1 - loop0) / n,
        "loop_gc_us": 1e6 * gc_timer.seconds / n,
        "gc_runs": gc_timer.collections,
        "process_us": 1e6 * (proc1 - proc0) / n,
    }
    for name, cpu in after_threads.items():
        if name != threading.main_thread().name:
            row[f"{name}_us"] = 1e6 * (cpu - before_threads.get(name, 0.0)) / n
    return row


def main(argv: list[str] | None = None) -> None:
    """Run W1 ``--runs`` times; print one line of figures per run."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--store", default=None, help="store URL (default: SQLite)")
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument("--turns", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--profile", default=None, help="cProfile the last run into FILE")
    args = parser.parse_args(argv)
    rows = []
    for i in range(args.runs):
        profile = args.profile if i == args.runs - 1 else None
        rows.append(asyncio.run(measure(args.store, args.sessions, args.turns, profile)))
        sys.stdout.write("  ".join(f"{k} {v:,.1f}" for k, v in rows[-1].items()) + "\n")
        sys.stdout.flush()
    if len(rows) > 1:
        for what, pick in (("min", min), ("median", lambda v: sorted(v)[len(v) // 2])):
            summary = {k: pick([r.get(k, 0.0) for r in rows]) for k in rows[0]}
            sys.stdout.write(what + ": " + "  ".join(f"{k} {v:,.1f}" for k, v in summary.items()))
            sys.stdout.write("\n")


if __name__ == "__main__":
    main()
