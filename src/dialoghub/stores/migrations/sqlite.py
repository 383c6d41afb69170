"""Schema migrations of the SQLite store (:mod:`dialoghub.stores.sqlite`).

The version is ``PRAGMA user_version``; it is written in the same transaction as the step's
statements (the pragma lives in the database header, which SQLite journals like any page),
so a step is applied and recorded together or not at all. See :mod:`dialoghub.stores.migrations`
for the rules of adding a step.
"""

from __future__ import annotations

import sqlite3
from typing import Final

from dialoghub.errors import StoreConfigError
from dialoghub.stores._sqlite_indexes import INDEX_SCHEMA, STATE_SCHEMA, backfill_states
from dialoghub.stores._sqlite_ops import IDEMPOTENCY_AGES
from dialoghub.stores.migrations import Step, check_steps

__all__ = ["LATEST", "STEPS", "apply", "current_version"]

STEPS: Final[tuple[Step, ...]] = (
    Step(
        1,
        "sessions, one event row per update, idempotency records; one listing index per filter",
        (
            # AUTOINCREMENT: a sid is never reused after a delete, so a listing cursor (the last
            # sid seen) can never skip a session created later under a recycled sid.
            "CREATE TABLE IF NOT EXISTS sessions (sid INTEGER PRIMARY KEY AUTOINCREMENT,"
            " tenant TEXT NOT NULL, id TEXT NOT NULL, model_id TEXT NOT NULL,"
            " state TEXT NOT NULL, status TEXT NOT NULL, version INTEGER NOT NULL,"
            " seq INTEGER NOT NULL, created_at REAL NOT NULL, updated_at REAL NOT NULL,"
            " body BLOB NOT NULL, UNIQUE (tenant, id))",
            # One index per listing filter, ending in sid: each is a keyset walk in creation
            # order.
            "CREATE INDEX IF NOT EXISTS sessions_by_tenant ON sessions (tenant, sid)",
            "CREATE INDEX IF NOT EXISTS sessions_by_model ON sessions (tenant, model_id, sid)",
            "CREATE INDEX IF NOT EXISTS sessions_by_state ON sessions (tenant, state, sid)",
            "CREATE INDEX IF NOT EXISTS sessions_by_status ON sessions (tenant, status, sid)",
            # WITHOUT ROWID: the primary key is the row's only copy of (sid, first_seq).
            "CREATE TABLE IF NOT EXISTS events (sid INTEGER NOT NULL,"
            " first_seq INTEGER NOT NULL, version INTEGER NOT NULL, time REAL NOT NULL,"
            " batch BLOB NOT NULL, PRIMARY KEY (sid, first_seq)) WITHOUT ROWID",
            "CREATE TABLE IF NOT EXISTS idempotency (sid INTEGER NOT NULL, key TEXT NOT NULL,"
            " fingerprint TEXT NOT NULL, response BLOB NOT NULL, PRIMARY KEY (sid, key))"
            " WITHOUT ROWID",
        ),
    ),
    Step(
        2,
        "index on update time, for retention and idle-expiry sweeps",
        ("CREATE INDEX IF NOT EXISTS sessions_by_updated ON sessions (updated_at)",),
    ),
    Step(
        3,
        "timers (one per session, by due time), snapshots kept for time travel, "
        "closed sessions by last update for retention",
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


def current_version(conn: sqlite3.Connection) -> int:
    """The schema version recorded in the database (0 for a new file)."""
    version: int = conn.execute("PRAGMA user_version").fetchone()[0]
    return version


def apply(conn: sqlite3.Connection, path: str) -> list[Step]:
    """Apply every missing step; return the steps applied.

    A new database gets all steps in ONE transaction, so another process opening it at the
    same time sees either nothing or the latest schema, never a half-built one it would take
    for an old database. An existing database gets each missing step in its own transaction.
    ``conn`` must be in autocommit mode (``isolation_level=None``). ``BEGIN IMMEDIATE`` takes
    the write lock before the version is read again, so two processes migrating at once apply
    each step once: the second finds it done.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        if current_version(conn) == 0:
            if conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
                raise StoreConfigError(
                    f"{path} is a SQLite database but not a dialoghub one (it has tables and "
                    "no dialoghub schema version); use a new file",
                    path=path,
                )
            for step in STEPS:
                _run(conn, step)
            conn.execute("COMMIT")
            return list(STEPS)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    done: list[Step] = []
    for step in STEPS:
        conn.execute("BEGIN IMMEDIATE")
        try:
            if current_version(conn) < step.version:
                _run(conn, step)
                done.append(step)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return done


def _run(conn: sqlite3.Connection, step: Step) -> None:
    """The step's statements and its record, inside the caller's transaction."""
    for statement in step.statements:
        conn.execute(statement)
    if step.backfill is not None:
        step.backfill(conn)
    conn.execute(f"PRAGMA user_version = {step.version:d}")
