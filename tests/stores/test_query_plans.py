"""Every filtered listing and every session read walks an index, on SQLite and PostgreSQL.

The queries checked are the stores' own (``listing_sql``, ``LOAD_SQL``), for every combination
of the filters (model, state, status; the tenant is always given), on a small database with
planner statistics: no full scan, and the cursor is always part of an index condition, so
page 1,000 reads no more than page 1. ``benchmarks/listing.py`` measures the same queries on a
million sessions.
"""

from __future__ import annotations

import itertools
import random
import sqlite3
from collections.abc import Iterator

import pytest

from dialoghub.engine.records import Session, Status
from dialoghub.stores import SessionFilter, open_store
from dialoghub.stores import postgres as pg_store
from dialoghub.stores import sqlite as sqlite_store
from dialoghub.stores.codec import encode_session
from tests.services import POSTGRES, require
from tests.stores.conftest import PG_DSN, unique

N = 5000
COLUMNS = {"model_id": "model", "state": "state", "status": "status"}
FILTERS = [
    SessionFilter(tenant="default", **{c: v for c, v in zip(COLUMNS, values, strict=True) if v})
    for values in itertools.product(["m1", None], ["s3", None], ["ended", None])
]


def rows(n: int = N) -> list[Session]:
    rng = random.Random(1)
    return [
        Session(
            id=f"id{i}",
            tenant=rng.choice(["default", "other"]),
            model_id=f"m{i % 10}",
            model_version="1",
            unit="main",
            state=f"s{rng.randrange(20)}",
            status=rng.choice(list(Status)),
            version=1,
            seq=1,
            created_at=float(i),
            updated_at=float(i),
        )
        for i in range(n)
    ]


def label(flt: SessionFilter) -> str:
    given = [c for c in COLUMNS if getattr(flt, c) is not None]
    return "+".join(given) or "tenant only"


def allowed_indexes(flt: SessionFilter, names: dict[str, str]) -> set[str]:
    """The indexes a listing with this filter may walk: one per given filter column."""
    given = {names[c] for c in COLUMNS if getattr(flt, c) is not None}
    return given or {names["tenant"]}


# --- SQLite ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sqlite_db(tmp_path_factory: pytest.TempPathFactory) -> sqlite3.Connection:
    path = tmp_path_factory.mktemp("plans") / "plans.db"

    async def schema() -> None:
        store = open_store(f"sqlite:///{path}")
        await store.open()  # the migrations build the schema
        await store.close()

    import asyncio

    asyncio.run(schema())
    conn = sqlite3.connect(path)
    conn.executemany(
        "INSERT INTO sessions (tenant, id, model_id, state, status, version, seq, created_at,"
        " updated_at, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (s.tenant, s.id, s.model_id, s.state, str(s.status), s.version, s.seq,
             s.created_at, s.updated_at, encode_session(s))
            for s in rows()
        ],
    )  # fmt: skip
    conn.commit()
    conn.execute("ANALYZE")
    return conn


SQLITE_INDEXES = {
    "tenant": "sessions_by_tenant",
    "model_id": "sessions_by_model",
    "state": "sessions_by_state",
    "status": "sessions_by_status",
}


def sqlite_plan(conn: sqlite3.Connection, sql: str, params: list[object]) -> list[str]:
    return [row[-1] for row in conn.execute("EXPLAIN QUERY PLAN " + sql, params)]


@pytest.mark.parametrize("flt", FILTERS, ids=label)
@pytest.mark.parametrize("after", [0, 2500])
def test_sqlite_listing_walks_a_filter_index(
    sqlite_db: sqlite3.Connection, flt: SessionFilter, after: int
) -> None:
    sql, params = sqlite_store.listing_sql(flt, after, 51)
    plan = sqlite_plan(sqlite_db, sql, params)
    if flt.state is not None:
        # two keyset walks merged (sessions' own state, then statechart ancestors in
        # session_states), each bounded by the page: the sorts are of at most 51 rows each
        searches = [p for p in plan if p.startswith("SEARCH")]
        assert not [p for p in plan if p.startswith("SCAN") and "subquery" not in p], plan
        assert any("USING PRIMARY KEY (tenant=? AND state=? AND sid>?)" in p for p in searches)
        plan = [p for p in searches if p.startswith("SEARCH sessions USING INDEX")]
    assert len(plan) == 1, plan  # one step: no temp b-tree for ORDER BY, no second scan
    (step,) = plan
    assert step.startswith("SEARCH sessions USING INDEX "), step
    index = step.split("USING INDEX ")[1].split(" ")[0]
    assert index in allowed_indexes(flt, SQLITE_INDEXES), step
    assert "sid>?" in step  # the cursor is part of the index search, not a filter


def test_sqlite_get_session_is_a_unique_lookup(sqlite_db: sqlite3.Connection) -> None:
    (step,) = sqlite_plan(sqlite_db, sqlite_store.LOAD_SQL, ["default", "id7"])
    assert step.startswith("SEARCH sessions USING INDEX sqlite_autoindex_sessions"), step
    assert "tenant=? AND id=?" in step


# --- PostgreSQL -----------------------------------------------------------------------------


PG_INDEXES = {
    "tenant": "sessions_tenant",
    "model_id": "sessions_model",
    "state": "sessions_state",
    "status": "sessions_status",
}


@pytest.fixture(scope="module")
def pg_schema() -> Iterator[str]:
    require(*POSTGRES)
    import asyncio

    import asyncpg

    schema = unique("plans_")

    async def build() -> None:
        store = open_store(f"{PG_DSN}?schema={schema}")
        await store.open()
        await store.close()
        conn = await asyncpg.connect(PG_DSN)
        try:
            await conn.copy_records_to_table(
                "sessions",
                schema_name=schema,
                columns=["tenant", "id", "model_id", "state", "status", "version", "seq",
                         "updated_at", "snapshot"],
                records=[
                    (s.tenant, s.id, s.model_id, s.state, str(s.status), s.version, s.seq,
                     s.updated_at, encode_session(s))
                    for s in rows()
                ],
            )  # fmt: skip
            await conn.execute(f'ANALYZE "{schema}".sessions')
        finally:
            await conn.close()

    async def drop() -> None:
        conn = await asyncpg.connect(PG_DSN)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await conn.close()

    asyncio.run(build())
    yield schema
    asyncio.run(drop())


async def pg_plan(schema: object, sql: str, args: list[object], *, generic: bool) -> str:
    import asyncpg

    conn = await asyncpg.connect(PG_DSN, server_settings={"search_path": str(schema)})
    try:
        # The store's statements are prepared: after five runs PostgreSQL may switch to a
        # generic plan, so both kinds must walk an index.
        mode = "force_generic_plan" if generic else "force_custom_plan"
        await conn.execute(f"SET plan_cache_mode = {mode}")
        found = await conn.fetch("EXPLAIN " + sql, *args)
    finally:
        await conn.close()
    return "\n".join(r[0] for r in found)


@pytest.mark.parametrize("generic", [False, True], ids=["custom", "generic"])
@pytest.mark.parametrize("flt", FILTERS, ids=label)
async def test_postgres_listing_walks_an_index(
    pg_schema: object, flt: SessionFilter, generic: bool
) -> None:
    """PostgreSQL picks by cost between two index plans, both fine at any depth: walk an
    index in sid order from the cursor, checking the other filters on the fly (when they
    match many rows), or take the matches after the cursor from a filter's index and sort
    those few. Either way the cursor is an index condition: rows before it are never read."""
    sql, args = pg_store.listing_sql(flt, 2500, 51)
    plan = await pg_plan(pg_schema, sql, args, generic=generic)
    assert "Seq Scan" not in plan, plan
    conds = [line for line in plan.splitlines() if "Index Cond" in line]
    assert any("sid > " in line for line in conds), plan
    if "Sort" in plan:  # only after a bitmap scan of a filter's own index
        used = {name for name in PG_INDEXES.values() if f"Bitmap Index Scan on {name} " in plan}
        assert used and used <= allowed_indexes(flt, PG_INDEXES), plan


async def test_postgres_get_session_is_a_primary_key_lookup(pg_schema: object) -> None:
    for generic in (False, True):
        plan = await pg_plan(pg_schema, pg_store.LOAD_SQL, ["default", "id7"], generic=generic)
        assert "Index Scan using sessions_pkey" in plan, plan


def test_filters_cover_every_combination() -> None:
    assert len({label(f) for f in FILTERS}) == 8
