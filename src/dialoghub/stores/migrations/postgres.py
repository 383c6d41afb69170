"""Schema migrations of the PostgreSQL store (:mod:`dialoghub.stores.postgres`).

The version is ``max(version)`` of ``dialoghub_schema``, which gets one row per step applied,
inserted in the step's own transaction. Every step runs under a transaction-scoped advisory
lock on the schema name, so processes migrating (or creating) the same schema at once apply
each step exactly once. See :mod:`dialoghub.stores.migrations` for the rules of adding a step.
"""

from __future__ import annotations

from typing import Any, Final

from dialoghub.stores._pg_indexes import SCHEMA as INDEX_SCHEMA
from dialoghub.stores._pg_indexes import STATE_SCHEMA, backfill_states
from dialoghub.stores._pg_schema import IDEMPOTENCY_AGES, V1_STATEMENTS
from dialoghub.stores.migrations import Step, check_steps

__all__ = ["LATEST", "STEPS", "apply", "current_version"]

STEPS: Final[tuple[Step, ...]] = (
    Step(
        1,
        "sessions, one event row per update, idempotency records, listing indexes, "
        "the batch write function",
        V1_STATEMENTS,
    ),
    Step(
        2,
        "record when each schema step was applied and what it did",
        (
            "ALTER TABLE dialoghub_schema"
            " ADD COLUMN IF NOT EXISTS applied_at timestamptz NOT NULL DEFAULT now(),"
            " ADD COLUMN IF NOT EXISTS description text",
        ),
    ),
    Step(
        3,
        "timers (one per session, by due time), snapshots kept for time travel, closed "
        "sessions by last update for retention; dialoghub_write_indexed keeps them in step",
        INDEX_SCHEMA,
    ),
    Step(4, "idempotency records: when each was written, for retention", IDEMPOTENCY_AGES),
    Step(
        5,
        "statechart sessions listed by every state they are in (ancestors, node ids)",
        STATE_SCHEMA,
        backfill_states,
    ),
)

#: The schema version this code reads and writes.
LATEST: Final = check_steps(STEPS)


async def current_version(conn: Any, schema: str) -> int:
    """The schema version of ``schema`` (0: no dialoghub tables there yet)."""
    exists = await conn.fetchval(
        "SELECT to_regclass($1) IS NOT NULL", f'"{schema}".dialoghub_schema'
    )
    if not exists:
        return 0
    version = await conn.fetchval(f'SELECT max(version) FROM "{schema}".dialoghub_schema')
    return int(version or 0)


async def apply(conn: Any, schema: str) -> list[Step]:
    """Apply every missing step to ``schema`` (a validated identifier); the steps applied.

    A new schema gets all steps in ONE transaction, so a process opening it meanwhile sees
    either nothing or the latest version, never a half-built schema it would take for an old
    one. An existing schema gets each missing step in its own transaction.
    """
    done: list[Step] = []
    async with conn.transaction():
        if await _lock(conn, schema) == 0:
            for step in STEPS:
                await _run(conn, step)
            return list(STEPS)
    for step in STEPS:
        async with conn.transaction():
            if await _lock(conn, schema) >= step.version:
                continue
            await _run(conn, step)
        done.append(step)
    return done


async def _lock(conn: Any, schema: str) -> int:
    """Take the schema's migration lock (until the transaction ends); its version."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", "dialoghub:" + schema)
    await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    await conn.execute(f'SET LOCAL search_path TO "{schema}"')
    await conn.execute("CREATE TABLE IF NOT EXISTS dialoghub_schema (version integer NOT NULL)")
    return await current_version(conn, schema)


async def _run(conn: Any, step: Step) -> None:
    """The step's statements and its record, inside the caller's transaction."""
    for statement in step.statements:
        await conn.execute(statement)
    if step.backfill is not None:
        await step.backfill(conn)
    await conn.execute("INSERT INTO dialoghub_schema (version) VALUES ($1)", step.version)
    if step.version >= 2:  # the description column exists from step 2 on
        await conn.execute(
            "UPDATE dialoghub_schema SET description = $2 WHERE version = $1",
            step.version,
            step.description,
        )
