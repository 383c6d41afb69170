"""The decision cycle, durable on SQLite (issue 10): ``python -m benchmarks.decisions``.

Cycles: ``--sessions`` sessions run ``--cycles`` decision cycles each, concurrently, on one
Hub over a SQLite file (WAL, group commit). A cycle is the whole round of three AI callables
through the :class:`~dialoghub.decision.driver.Driver`'s own path (``Driver.answer``): three
distinct proposals solicited and submitted, the three pairs put to the three voters, nine
pair votes, consensus, and the winning transition, which re-enters the decided state and so
opens the next round in the same update. Every voter is a plain sync callable, so the driver
submits a round's proposals and votes as one ``Answers`` update (one compare-and-set write,
each answer its own event); ``updates_per_cycle`` counts them. Reported: cycles per second, the
mean and p99 cycle time (round opened to transition executed, as the log's times say),
events and log bytes per cycle (the store's encoded event rows), database bytes per cycle.

Open rounds: ``--open`` sessions of the document-review machine, each with two AI proposals
and their votes in, waiting for the human's vote. Reported: Python heap per open round in
the process holding the Hub (``tracemalloc``, after a collection), with the Hub's snapshot
cache holding every one of them and with it emptied (what the driver keeps: nothing), and
the snapshot bytes the store keeps per round.

Targets: at least 1,000 cycles/s on this machine; every open round below 2 KB of memory.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.table import grid
from dialoghub.decision import CallableSpecialist, Driver
from dialoghub.engine.records import Answers, PairVote, Propose, Vote
from dialoghub.hub import Hub
from dialoghub.model.loader import load_model, load_model_text
from dialoghub.stores.codec import encode_batch, encode_session

ROOT = Path(__file__).resolve().parents[1]
TARGET_CYCLES = 1000.0
TARGET_BYTES = 2048

#: A decided state whose three transitions all come back to it: a round per cycle.
MACHINE = {
    "id": "bench-decide",
    "initial": "review",
    "states": {
        "review": {
            "meta": {"prompt": "Pick one."},
            "on": {"KEEP": "review", "FIX": "review", "DROP": "review"},
        },
    },
    "decision": {
        "deadline": 3600,
        "specialists": [{"id": f"ai.{n}", "kind": "callable"} for n in ("k", "f", "d")],
        "policy": {"kind": "weighted", "margin": 1},
    },
}
PICK = {"ai.k": "KEEP", "ai.f": "FIX", "ai.d": "DROP"}


def _specialist(sid: str) -> CallableSpecialist:
    mine = PICK[sid]

    def answer(s: Any) -> Any:
        if s.kind == "proposal":
            return {"transition": mine, "reasoning": f"{sid} prefers {mine}"}
        by = {p["id"]: p["transition"] for p in s.proposals}
        # everyone prefers KEEP, then its own: KEEP wins every round
        rank = {"KEEP": 0, mine: 1}
        return {
            "votes": [
                {"a": a, "b": b, "vote": "A" if rank.get(by[a], 2) <= rank.get(by[b], 2) else "B"}
                for a, b in s.pairs
            ]
        }

    return CallableSpecialist(sid, answer)


async def _cycles(path: str, sessions: int, cycles: int) -> dict[str, Any]:
    url = f"sqlite:///{path}"
    model = load_model_text(json.dumps(MACHINE), "bench.json")
    async with Hub(url, cache_size=max(10_000, sessions)) as hub:
        hub.add_model(model)
        driver = Driver(hub, attach=False, specialists=[_specialist(s) for s in PICK])
        views = await asyncio.gather(*(hub.create_session("bench-decide") for _ in range(sessions)))
        size0 = _db_size(path)

        updates = 0

        async def run(session: Any) -> None:
            nonlocal updates
            for _ in range(cycles):
                rid = session.decision["round"]["id"]
                # the whole round in one update (every voter answers at once), or two
                while session.decision["round"]["id"] == rid:
                    view = await driver.answer(session)
                    assert view is not None
                    session = view.session
                    updates += 1

        started, cpu0 = time.perf_counter(), time.process_time()
        await asyncio.gather(*(run(v.session) for v in views))
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu0
        size1 = _db_size(path)
        sid = views[0].session.id
        events = await hub.events(sid, limit=10_000)
    first = [e for e in events if e.version > 1]
    per_cycle = len(first) / cycles
    log_bytes = _log_bytes(first) / cycles
    opened: dict[str, float] = {}
    times = []
    for e in events:  # round opened (first solicitation) to its transition, in log time
        rid = str(e.data.get("round"))
        if e.type == "proposal_solicited" and rid not in opened:
            opened[rid] = e.time
        elif e.type == "transition_executed":
            times.append(e.time - opened[rid])
    executed = sum(1 for e in events if e.type == "transition_executed")
    assert executed == cycles, (executed, cycles)
    times.sort()
    return {
        "sessions": sessions,
        "cycles": sessions * cycles,
        "seconds": round(elapsed, 3),
        "cycles_per_s": round(sessions * cycles / elapsed, 1),
        # this process's CPU (event loop + SQLite writer thread): the figure a busy shared
        # machine blurs least
        "cycles_per_cpu_s": round(sessions * cycles / cpu, 1),
        "updates_per_cycle": round(updates / (sessions * cycles), 2),
        "events_per_cycle": round(per_cycle, 2),
        "log_bytes_per_cycle": round(log_bytes, 1),
        "db_bytes_per_cycle": round((size1 - size0) / (sessions * cycles), 1),
        "cycle_mean_ms": round(1000 * statistics.fmean(times), 3),
        "cycle_p99_ms": round(1000 * times[min(len(times) - 1, int(0.99 * len(times)))], 3),
    }


def _pure(cycles: int) -> dict[str, Any]:
    """The same cycles on the pure engine alone (no hub, no store, no driver; one ``Answers``
    update per round, as the driver submits it), and the Hub's input check (``check_input``)
    that update pays: where a durable cycle's CPU goes."""
    from dialoghub.engine.step import start, step
    from dialoghub.engine.values import check_input

    model = load_model_text(json.dumps(MACHINE), "bench.json")
    session = start(model, "s", now=1.0).session
    checked = 0.0
    cpu0 = time.process_time()
    for _ in range(cycles):
        rid = session.decision["round"]["id"]  # type: ignore[index]
        first = Answers(
            items=[
                Propose(round=rid, specialist=k, transition=v, reasoning=f"{k} prefers {v}")
                for k, v in PICK.items()
            ]
        )
        second = Answers(
            items=[
                Vote(
                    round=rid,
                    specialist=k,
                    votes=[
                        PairVote(a="A", b="B", vote="A"),
                        PairVote(a="A", b="C", vote="A"),
                        PairVote(a="B", b="C", vote="A"),
                    ],
                )
                for k in PICK
            ]
        )
        whole = Answers(items=[*first.items, *second.items])  # the driver's one update
        c0 = time.process_time()
        check_input(whole)
        checked += time.process_time() - c0
        session = step(model, session, whole, 2.0).session
    cpu = time.process_time() - cpu0
    return {
        "engine_us_per_cycle": round(1e6 * (cpu - checked) / cycles, 1),
        "check_input_us_per_cycle": round(1e6 * checked / cycles, 1),
    }


def _db_size(path: str) -> int:
    """The database file and its write-ahead log, in bytes."""
    wal = path + "-wal"
    return os.path.getsize(path) + (os.path.getsize(wal) if os.path.exists(wal) else 0)


def _log_bytes(events: Sequence[Any]) -> int:
    """The encoded event rows (one per update, as the stores keep them)."""
    total = 0
    by_version: dict[int, list[Any]] = {}
    for e in events:
        by_version.setdefault(e.version, []).append(e)
    for batch in by_version.values():
        total += len(encode_batch(batch))
    return total


async def _open_rounds(path: str, count: int) -> dict[str, Any]:
    model = load_model(ROOT / "examples" / "decisions" / "review.json")
    async with Hub(f"sqlite:///{path}", cache_size=count + 10) as hub:
        hub.add_model(model)
        gc.collect()
        tracemalloc.start()
        base = tracemalloc.take_snapshot()
        for start in range(0, count, 500):  # in batches: the store's group commit
            batch = range(start, min(count, start + 500))
            views = await asyncio.gather(
                *(hub.create_session("decided-review", session_id=f"s{i}") for i in batch)
            )
            await asyncio.gather(
                *(
                    hub.update(
                        v.session.id,
                        Answers(
                            items=[
                                Propose(
                                    round="r1",
                                    specialist="ai.strict",
                                    transition="REQUEST_CHANGES",
                                    reasoning="typos on every page",
                                ),
                                Propose(
                                    round="r1",
                                    specialist="ai.lenient",
                                    transition="APPROVE",
                                    reasoning="good enough",
                                ),
                            ]
                        ),
                    )
                    for v in views
                )
            )
            await asyncio.gather(
                *(
                    hub.update(
                        v.session.id,
                        Answers(
                            items=[
                                Vote(
                                    round="r1", specialist=w, votes=[PairVote(a="A", b="B", vote=c)]
                                )
                                for w, c in (("ai.strict", "A"), ("ai.lenient", "B"))
                            ]
                        ),
                    )
                    for v in views
                )
            )
        del views
        gc.collect()
        cached = tracemalloc.take_snapshot()
        held = sum(s.size_diff for s in cached.compare_to(base, "filename"))
        sample = await hub.get_session("s0")
        assert sample.decision is not None
        assert list(sample.decision["round"]["pending"]) == ["jane"]
        snapshot_bytes = len(encode_session(sample))
        hub._cache = type(hub._cache)(1)  # measure without the snapshot cache
        gc.collect()
        bare = tracemalloc.take_snapshot()
        uncached = sum(s.size_diff for s in bare.compare_to(base, "filename"))
        tracemalloc.stop()
        round_bytes = _added_by_round(sample)
        from dialoghub.decision.inbox import inbox

        started = time.perf_counter()
        page = await inbox(hub, limit=1000, scan=count)
        inbox_s = time.perf_counter() - started
    return {
        "open_rounds": count,
        "bytes_per_round_cached": round(held / count, 1),
        "bytes_per_round_uncached": round(uncached / count, 1),
        "snapshot_bytes": snapshot_bytes,
        "round_in_cached_snapshot_bytes": round_bytes,
        "inbox_scan_ms": round(1000 * inbox_s, 1),
        "inbox_items": len(page.items),
    }


def _added_by_round(session: Any, copies: int = 5000) -> int:
    """What the open round adds to a snapshot in memory: ``copies`` decoded snapshots with
    it, against the same without (``tracemalloc``), per snapshot."""
    import msgspec

    from dialoghub.stores.codec import decode_session

    def heap(data: bytes) -> float:
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.take_snapshot()
        kept = [decode_session(data) for _ in range(copies)]
        gc.collect()
        after = tracemalloc.take_snapshot()
        tracemalloc.stop()
        del kept
        return sum(s.size_diff for s in after.compare_to(before, "filename")) / copies

    with_round = heap(encode_session(session))
    without = heap(encode_session(msgspec.structs.replace(session, decision=None)))
    return round(with_round - without)


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.decisions",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--sessions", type=int, default=200, help="concurrent sessions")
    p.add_argument("--cycles", type=int, default=20, help="decision cycles per session")
    p.add_argument("--open", type=int, default=10_000, help="open rounds waiting for a human")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    with tempfile.TemporaryDirectory() as tmp:
        cycles = asyncio.run(_cycles(str(Path(tmp) / "cycles.db"), args.sessions, args.cycles))
        rounds = asyncio.run(_open_rounds(str(Path(tmp) / "open.db"), args.open))
    cycles.update(_pure(2000))
    met_cycles = cycles["cycles_per_s"] >= TARGET_CYCLES
    met_memory = rounds["round_in_cached_snapshot_bytes"] < TARGET_BYTES
    result = {
        "machine": f"{platform.machine()} {os.cpu_count()} CPU, Python {platform.python_version()}",
        "cycles": cycles,
        "open_rounds": rounds,
        "targets": {
            "cycles_per_s": TARGET_CYCLES,
            "met_cycles": met_cycles,
            "bytes_per_open_round": TARGET_BYTES,
            "met_memory": met_memory,
        },
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return 0 if met_cycles and met_memory else 1
    columns = [
        ("sqlite", 10),
        ("sessions", 8),
        ("cycles", 7),
        ("s", 6),
        ("cycles/s", 9),
        ("/cpu-s", 7),
        ("mean ms", 8),
        ("p99 ms", 8),
        ("events", 7),
        ("log B", 7),
        ("db B", 7),
    ]
    c = cycles
    row = [
        "durable",
        str(c["sessions"]),
        str(c["cycles"]),
        f"{c['seconds']:.2f}",
        f"{c['cycles_per_s']:.0f}",
        f"{c['cycles_per_cpu_s']:.0f}",
        f"{c['cycle_mean_ms']:.2f}",
        f"{c['cycle_p99_ms']:.2f}",
        f"{c['events_per_cycle']:.1f}",
        f"{c['log_bytes_per_cycle']:.0f}",
        f"{c['db_bytes_per_cycle']:.0f}",
    ]
    print(result["machine"])
    print("\n".join(grid(columns, [row])))
    print(
        f"CPU per cycle: pure engine {c['engine_us_per_cycle']:.0f} us, the Hub's input "
        f"check {c['check_input_us_per_cycle']:.0f} us, of "
        f"{1e6 / c['cycles_per_cpu_s']:.0f} us in all (hub, store, driver, callables)"
    )
    r = rounds
    print(
        f"\nopen rounds waiting for a human: {r['open_rounds']}; process heap per round "
        f"{r['bytes_per_round_uncached']:.0f} B (the driver holds none); the hub's snapshot "
        f"cache, bounded by cache_size, holds {r['bytes_per_round_cached']:.0f} B per cached "
        f"session, of which the open round is {r['round_in_cached_snapshot_bytes']} B; "
        f"{r['snapshot_bytes']} B stored per snapshot; inbox scan of all of them "
        f"{r['inbox_scan_ms']:.0f} ms"
    )
    print(
        f"targets: >= {TARGET_CYCLES:.0f} cycles/s ({c['cycles_per_s']:.0f}, "
        f"{'met' if met_cycles else 'NOT met'}); < {TARGET_BYTES} B per open round "
        f"(in a cached snapshot: {r['round_in_cached_snapshot_bytes']} B, "
        f"{'met' if met_memory else 'NOT met'})"
    )
    return 0 if met_cycles and met_memory else 1


if __name__ == "__main__":
    sys.exit(main())
