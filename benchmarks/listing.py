"""Listing and reading at scale: ``python -m benchmarks.listing [--sessions N] [--json]``.

Loads N sessions (default 1,000,000) into a fresh SQLite file and a fresh PostgreSQL schema,
then measures through the :class:`~dialoghub.hub.Hub`:

* a filtered listing (``model`` + ``status``, 50 per page): the first page, and page 1,000
  reached by walking the cursor; page 1,000 is timed as that one page fetch, repeated with
  the same cursor. Keyset cursors should make both cost the same;
* the same listing on a rare combination (a small model's expired sessions), whose index
  walk has to skip many rows that do not match;
* ``Hub.get_session`` on random ids, each read once (nothing cached).

Each figure is the mean and the 99th percentile of ``--repeat`` calls (default 200; 2,000
for get_session). Targets (issue 4): every listing page under 20 ms, get_session under 1 ms on
SQLite.

**The load is a fast path**, not the store's write path (that would take an hour per million
and is what ``benchmarks.turns`` measures): the store creates its own schema (it is opened
once, so its migrations run), then the benchmark inserts the ``sessions`` rows directly:
snapshots encoded by the store's own codec (:func:`dialoghub.stores.codec.encode_session`),
one ``executemany`` per 50,000 rows in one SQLite transaction, ``COPY`` for PostgreSQL; then
``ANALYZE``. Only session rows are loaded: listing and get_session read nothing else.

The sessions are spread over 2 tenants (75% / 25%), 10 models (``m0`` 30%, the other nine
7.8% each), 20 states (uniform) and 3 statuses (active 70%, ended 25%, expired 5%), so the
measured filter (tenant ``default``, model ``m0``, status ``active``) matches about 157,000
sessions (3,150 pages): page 1,000 is deep inside it.

Options: ``--sessions``, ``--repeat``, ``--stores sqlite,postgresql``, ``--pg URL`` (default
the test database), ``--dir`` (where the SQLite file goes; default a temporary directory),
``--json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from dialoghub import Hub
from dialoghub.engine.records import Session, Status
from dialoghub.stores import SessionFilter, open_store
from dialoghub.stores import postgres as pg_store
from dialoghub.stores import sqlite as sqlite_store
from dialoghub.stores.codec import encode_session

PG_DSN = "postgresql://postgres@127.0.0.1:5432/test"
PG_SCHEMA = "bench_listing"
T0 = 1_700_000_000.0
PAGE = 50
DEEP = 1000
TARGET_PAGE_MS = 20.0
TARGET_GET_MS = 1.0
CHUNK = 50_000

MODELS = [f"m{i}" for i in range(10)]
MODEL_WEIGHTS = [0.30] + [0.70 / 9] * 9
STATES = [f"s{i:02d}" for i in range(20)]
STATUSES = [Status.ACTIVE, Status.ENDED, Status.EXPIRED]
STATUS_WEIGHTS = [0.70, 0.25, 0.05]
TENANTS = ["default", "acme"]
TENANT_WEIGHTS = [0.75, 0.25]

COMMON = SessionFilter(tenant="default", model_id="m0", status="active")
RARE = SessionFilter(tenant="default", model_id="m9", status="expired")


@dataclass
class Row:
    """One line of the result table."""

    store: str
    what: str
    mean_ms: float
    p99_ms: float
    target_ms: float | None
    note: str = ""

    @property
    def met(self) -> bool | None:
        """Whether the mean is under the target (None: no target)."""
        return None if self.target_ms is None else self.mean_ms < self.target_ms

    @property
    def verdict(self) -> str:
        if self.target_ms is None:
            return ""
        if self.p99_ms < self.target_ms:
            return f"< {self.target_ms:g} ms: met (mean and p99)"
        return f"< {self.target_ms:g} ms: " + ("met on mean, p99 over" if self.met else "NOT MET")


def sessions(n: int, seed: int = 7) -> Iterator[Session]:
    """``n`` realistic snapshots in creation order (ids random hex, like the Hub's)."""
    rng = random.Random(seed)
    picks = zip(
        rng.choices(TENANTS, TENANT_WEIGHTS, k=n),
        rng.choices(MODELS, MODEL_WEIGHTS, k=n),
        rng.choices(STATUSES, STATUS_WEIGHTS, k=n),
        strict=True,
    )
    for i, (tenant, model, status) in enumerate(picks):
        version = 1 + i % 9
        created = T0 + i * 0.01
        updated = created + 30.0 * version
        yield Session(
            id=f"{rng.getrandbits(128):032x}",
            tenant=tenant,
            model_id=model,
            model_version="3",
            unit="main",
            state=STATES[i % len(STATES)],
            status=status,
            active=status is Status.ACTIVE,
            version=version,
            seq=version * 4,
            created_at=created,
            updated_at=updated,
            metadata={"channel": "web"},
            variables={"main": {"city": "Paris", "day": "tomorrow", "turn": version}},
            last_request={"type": "text", "text": "what's the weather in Paris", "time": updated},
            last_response={"text": "In Paris it is sunny and 21 degrees.", "time": updated},
            awaiting={"kind": "user", "prompt": "Anything else?"}
            if status is Status.ACTIVE
            else None,
        )


def chunks(n: int) -> Iterator[list[Session]]:
    batch: list[Session] = []
    for s in sessions(n):
        batch.append(s)
        if len(batch) == CHUNK:
            yield batch
            batch = []
    if batch:
        yield batch


def progress(label: str, done: int, total: int, started: float) -> None:
    rate = done / max(time.perf_counter() - started, 1e-9)
    print(f"\r  {label}: {done:,}/{total:,} ({rate:,.0f}/s)", end="", file=sys.stderr, flush=True)


# --- loading --------------------------------------------------------------------------------


async def load_sqlite(path: Path, n: int) -> float:
    """Create the schema through the store, then bulk-insert; sessions per second."""
    url = f"sqlite:///{path}"
    store = open_store(url)
    await store.open()  # the store's own migrations build the schema
    await store.close()
    started = time.perf_counter()
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA synchronous = OFF")  # a throwaway file: the load need not be durable
        conn.execute("BEGIN")
        done = 0
        for batch in chunks(n):
            conn.executemany(
                "INSERT INTO sessions (tenant, id, model_id, state, status, version, seq,"
                " created_at, updated_at, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (s.tenant, s.id, s.model_id, s.state, str(s.status), s.version, s.seq,
                     s.created_at, s.updated_at, encode_session(s))
                    for s in batch
                ],
            )  # fmt: skip
            done += len(batch)
            progress("sqlite load", done, n, started)
        conn.execute("COMMIT")
        conn.execute("ANALYZE")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    print(file=sys.stderr)
    return n / (time.perf_counter() - started)


async def load_postgres(dsn: str, n: int) -> float:
    """Create the schema through the store, then COPY; sessions per second."""
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE")
    finally:
        await conn.close()
    store = open_store(f"{dsn}?schema={PG_SCHEMA}")
    await store.open()
    await store.close()
    started = time.perf_counter()
    conn = await asyncpg.connect(dsn)
    try:
        done = 0
        for batch in chunks(n):
            await conn.copy_records_to_table(
                "sessions",
                schema_name=PG_SCHEMA,
                columns=["tenant", "id", "model_id", "state", "status", "version", "seq",
                         "updated_at", "snapshot"],
                records=[
                    (s.tenant, s.id, s.model_id, s.state, str(s.status), s.version, s.seq,
                     s.updated_at, encode_session(s))
                    for s in batch
                ],
            )  # fmt: skip
            done += len(batch)
            progress("postgresql load", done, n, started)
        await conn.execute(f"ANALYZE {PG_SCHEMA}.sessions")
    finally:
        await conn.close()
    print(file=sys.stderr)
    return n / (time.perf_counter() - started)


async def drop_postgres(dsn: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE")
    finally:
        await conn.close()


# --- measuring ------------------------------------------------------------------------------


async def timed(call: Callable[[], Awaitable[Any]], repeat: int) -> tuple[float, float]:
    """(mean, p99) in ms of ``repeat`` calls, after one untimed warm-up call."""
    await call()
    times: list[float] = []
    for _ in range(repeat):
        t = time.perf_counter()
        await call()
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    return statistics.fmean(times), times[min(len(times) - 1, int(len(times) * 0.99))]


def plan_of(store_name: str, url_or_path: str) -> str:
    """The SQLite query plan of the measured listing (one line)."""
    if store_name != "sqlite":
        return ""
    sql, params = sqlite_store.listing_sql(COMMON, 0, PAGE + 1)
    conn = sqlite3.connect(url_or_path)
    try:
        rows = conn.execute("EXPLAIN QUERY PLAN " + sql, params).fetchall()
    finally:
        conn.close()
    return "; ".join(r[-1] for r in rows)


async def pg_plan(dsn: str) -> str:
    import asyncpg

    sql, args = pg_store.listing_sql(COMMON, 0, PAGE + 1)
    conn = await asyncpg.connect(dsn, server_settings={"search_path": PG_SCHEMA})
    try:
        rows = await conn.fetch("EXPLAIN " + sql, *args)
    finally:
        await conn.close()
    scans = [r[0].strip().lstrip("-> ").split("  (")[0] for r in rows if "Scan" in r[0]]
    return "; ".join(scans)


async def measure(
    name: str, url: str, ids: list[str], repeat: int, plan: str, deep: int = DEEP
) -> list[Row]:
    """Listing pages and get_session through a Hub on ``url``."""
    out: list[Row] = []
    async with Hub(url) as hub:

        async def page(flt: SessionFilter, cursor: str | None) -> Any:
            return await hub.list_sessions(
                model=flt.model_id, status=flt.status, tenant=flt.tenant, limit=PAGE,
                cursor=cursor,
            )  # fmt: skip

        first = await timed(lambda: page(COMMON, None), repeat)
        out.append(Row(name, "list model+status, page 1", *first, TARGET_PAGE_MS, plan))
        cursor: str | None = None
        walk = time.perf_counter()
        for _ in range(deep - 1):
            result = await page(COMMON, cursor)
            cursor = result.next_cursor
            if cursor is None:
                raise SystemExit(f"fewer than {deep} pages match; use more --sessions")
        walked = (time.perf_counter() - walk) * 1000 / (deep - 1)
        deep_ms = await timed(lambda: page(COMMON, cursor), repeat)
        out.append(
            Row(name, f"list model+status, page {deep:,}", *deep_ms, TARGET_PAGE_MS,
                f"walk to it: {walked:.2f} ms per page")
        )  # fmt: skip
        rare = await timed(lambda: page(RARE, None), repeat)
        out.append(Row(name, "list rare model+status, page 1", *rare, TARGET_PAGE_MS))
        picks = iter(ids)
        get = await timed(lambda: hub.get_session(next(picks)), len(ids) - 1)
        out.append(
            Row(name, "get_session (random ids)", *get, TARGET_GET_MS if name == "sqlite" else None)
        )
    return out


def sample_ids(n: int, k: int) -> list[str]:
    """``k`` distinct ids of the default tenant among the ``n`` loaded, in random order."""
    wanted = set(random.Random(3).sample(range(n), min(n, k * 2)))
    ids = [s.id for i, s in enumerate(sessions(n)) if i in wanted and s.tenant == "default"]
    random.Random(5).shuffle(ids)
    return ids[:k]


# --- main -----------------------------------------------------------------------------------


def table(n: int, rows: list[Row], loads: dict[str, float]) -> str:
    lines = [
        f"dialoghub listing benchmark: {n:,} sessions (2 tenants, 10 models, 20 states, "
        f"3 statuses), {PAGE} per page",
        f"{'store':<11} {'measurement':<32} {'mean ms':>8} {'p99 ms':>8}  target",
        "-" * 78,
    ]
    for r in rows:
        lines.append(f"{r.store:<11} {r.what:<32} {r.mean_ms:>8.3f} {r.p99_ms:>8.3f}  {r.verdict}")
    lines.append("")
    for name, rate in loads.items():
        lines.append(f"{name} bulk load: {rate:,.0f} sessions/s")
    for r in rows:
        if r.note:
            lines.append(f"{r.store} {r.what}: {r.note}")
    for name in loads:
        mine = [r for r in rows if r.store == name]
        if len(mine) >= 2:
            ratio = mine[1].mean_ms / mine[0].mean_ms
            lines.append(f"{name}: {mine[1].what.split(', ')[1]} / page 1 = {ratio:.2f} (mean)")
    return "\n".join(lines)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    n = args.sessions
    stores = [s.strip() for s in args.stores.split(",") if s.strip()]
    ids = sample_ids(n, args.gets)
    rows: list[Row] = []
    loads: dict[str, float] = {}
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        if "sqlite" in stores:
            path = Path(tmp) / "listing.db"
            loads["sqlite"] = await load_sqlite(path, n)
            plan = plan_of("sqlite", str(path))
            rows += await measure("sqlite", f"sqlite:///{path}", ids, args.repeat, plan, args.deep)
        if "postgresql" in stores:
            loads["postgresql"] = await load_postgres(args.pg, n)
            try:
                plan = await pg_plan(args.pg)
                url = f"{args.pg}?schema={PG_SCHEMA}"
                rows += await measure("postgresql", url, ids, args.repeat, plan, args.deep)
            finally:
                await drop_postgres(args.pg)
    return {"sessions": n, "rows": rows, "loads": loads}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.listing", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--sessions", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=200, help="calls per listing figure")
    parser.add_argument("--gets", type=int, default=2000, help="get_session calls")
    parser.add_argument("--deep", type=int, default=DEEP, help="the deep page measured")
    parser.add_argument("--stores", default="sqlite,postgresql")
    parser.add_argument(
        "--pg", default=PG_DSN, help="PostgreSQL URL (a schema is created and dropped)"
    )
    parser.add_argument("--dir", default=None, help="directory for the SQLite file")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    result = asyncio.run(run(args))
    if args.json:
        print(json.dumps({
            "sessions": result["sessions"],
            "loads": result["loads"],
            "rows": [{**asdict(r), "met": r.met} for r in result["rows"]],
        }, indent=2))  # fmt: skip
    else:
        print(table(result["sessions"], result["rows"], result["loads"]))


if __name__ == "__main__":
    main()
