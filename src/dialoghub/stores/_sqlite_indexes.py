"""The SQLite store's timer, snapshot and retention indexes: tables and the SQL on them.

Created by migration step 3 (:mod:`dialoghub.stores.migrations.sqlite`, statements in
:data:`INDEX_SCHEMA`, frozen: change them through a new step):

``timers``
    ``sid -> (due_at, name, version)``: the session's next timer (a prompt timeout or its
    expiry), one per session, replaced or removed by every write; indexed by ``due_at``.
``snapshots``
    ``(sid, seq) -> (version, body)``: the snapshot kept every
    :data:`~dialoghub.stores.base.SNAPSHOT_EVERY` versions, for time travel.
``sessions_closed``
    a partial index of ended and expired sessions by last update, for retention.

Every function here runs on the writer's connection inside its transaction (claims and purges
are writes: with one writer per file and ``BEGIN IMMEDIATE`` across processes, a timer is
claimed by one claimer only) except :func:`rewind`, which runs on a reader.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Final

from dialoghub.engine.records import Event, Session
from dialoghub.stores import codec
from dialoghub.stores._states import extra_keys
from dialoghub.stores.base import DueTimer, Rewind, keeps_snapshot

__all__ = [
    "INDEX_SCHEMA",
    "STATE_SCHEMA",
    "backfill_states",
    "claim",
    "drop",
    "forget",
    "index",
    "purge",
    "rewind",
]

INDEX_SCHEMA: Final = (
    "CREATE TABLE IF NOT EXISTS timers (sid INTEGER PRIMARY KEY, due_at REAL NOT NULL,"
    " name TEXT NOT NULL, version INTEGER NOT NULL)",
    "CREATE INDEX IF NOT EXISTS timers_due ON timers (due_at)",
    "CREATE TABLE IF NOT EXISTS snapshots (sid INTEGER NOT NULL, seq INTEGER NOT NULL,"
    " version INTEGER NOT NULL, body BLOB NOT NULL, PRIMARY KEY (sid, seq)) WITHOUT ROWID",
    "CREATE INDEX IF NOT EXISTS sessions_closed ON sessions (updated_at) WHERE status <> 'active'",
)

#: Migration step 5: the state keys of statechart sessions beyond their ``state`` column
#: (ancestors and node ids, :mod:`dialoghub.stores._states`), one row per key; a listing by
#: state walks ``sessions_by_state`` and this table's primary key, both in sid order.
STATE_SCHEMA: Final = (
    "CREATE TABLE IF NOT EXISTS session_states (tenant TEXT NOT NULL, state TEXT NOT NULL,"
    " sid INTEGER NOT NULL, PRIMARY KEY (tenant, state, sid)) WITHOUT ROWID",
    "CREATE INDEX IF NOT EXISTS session_states_by_sid ON session_states (sid)",
)

_CLOSED: Final = "status <> 'active'"  # must match the partial index's WHERE to use it


def index(
    conn: sqlite3.Connection, rows: Sequence[tuple[int | None, Session, bytes, bool]]
) -> None:
    """Bring the indexes up to date after writes ``(sid, session, body, created)``."""
    timed = []
    untimed = []
    kept = []
    charts: list[tuple[int | None]] = []
    keys: list[tuple[str, str, int | None]] = []
    for sid, s, body, created in rows:
        if s.configuration:  # a statechart session: its other state keys (a dialog has none)
            if not created:
                charts.append((sid,))
            keys.extend((s.tenant, k, sid) for k in extra_keys(s))
        timer = s.timer
        if timer is not None:
            timed.append((sid, timer.due_at, timer.name, s.version))
        elif not created:
            untimed.append((sid,))
        if keeps_snapshot(s):
            kept.append((sid, s.seq, s.version, body))
    if timed:
        conn.executemany(
            "INSERT INTO timers (sid, due_at, name, version) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (sid) DO UPDATE SET due_at = excluded.due_at, name = excluded.name,"
            " version = excluded.version",
            timed,
        )
    if untimed:
        conn.executemany("DELETE FROM timers WHERE sid = ?", untimed)
    if kept:
        conn.executemany(
            "INSERT INTO snapshots (sid, seq, version, body) VALUES (?, ?, ?, ?)", kept
        )
    if charts:
        conn.executemany("DELETE FROM session_states WHERE sid = ?", charts)
    if keys:
        conn.executemany("INSERT INTO session_states (tenant, state, sid) VALUES (?, ?, ?)", keys)


def backfill_states(conn: sqlite3.Connection) -> None:
    """Migration step 5 for data already stored: the state keys of every statechart session.
    Only rows whose ``state`` can be a chart's (a dotted path or a parallel value's JSON) are
    decoded, and only those with a configuration get rows."""
    found = conn.execute(
        "SELECT sid, body FROM sessions WHERE state LIKE '%.%' OR state LIKE '{%'"
    ).fetchall()
    keys: list[tuple[str, str, int]] = []
    for sid, body in found:
        s = codec.decode_session(body)
        keys.extend((s.tenant, k, sid) for k in extra_keys(s))
    conn.executemany(
        "INSERT OR IGNORE INTO session_states (tenant, state, sid) VALUES (?, ?, ?)", keys
    )


def forget(conn: sqlite3.Connection, sids: Sequence[tuple[int]]) -> None:
    """Delete everything the sessions ``sids`` own, the session rows last."""
    for table in ("events", "idempotency", "timers", "snapshots", "session_states", "sessions"):
        conn.executemany(f"DELETE FROM {table} WHERE sid = ?", sids)  # fixed table names


def claim(conn: sqlite3.Connection, now: float, limit: int, lease: float) -> list[DueTimer]:
    """Take up to ``limit`` due timers, earliest first, moving each to ``now + lease``."""
    rows = conn.execute(
        "SELECT t.sid, s.tenant, s.id, t.version, t.name, t.due_at FROM timers AS t"
        " JOIN sessions AS s ON s.sid = t.sid WHERE t.due_at <= ? ORDER BY t.due_at LIMIT ?",
        (now, limit),
    ).fetchall()
    conn.executemany(
        "UPDATE timers SET due_at = ? WHERE sid = ?", [(now + lease, r[0]) for r in rows]
    )
    return [DueTimer(tenant, sid_text, v, name, due) for _, tenant, sid_text, v, name, due in rows]


def drop(conn: sqlite3.Connection, timer: DueTimer) -> None:
    """Remove a claimed timer if the session is still at the timer's version."""
    conn.execute(
        "DELETE FROM timers WHERE version = ? AND sid = (SELECT sid FROM sessions"
        " WHERE tenant = ? AND id = ?)",
        (timer.version, timer.tenant, timer.session_id),
    )


def purge(conn: sqlite3.Connection, before: float, limit: int) -> int:
    """Delete up to ``limit`` closed sessions last updated before ``before``, oldest first."""
    sids = conn.execute(
        f"SELECT sid FROM sessions WHERE {_CLOSED} AND updated_at < ? ORDER BY updated_at LIMIT ?",
        (before, limit),
    ).fetchall()
    forget(conn, sids)
    return len(sids)


def rewind(conn: sqlite3.Connection, tenant: str, session_id: str, at: int) -> Rewind:
    """The kept snapshot nearest before event ``at`` and the events after it, read in one
    transaction (one consistent view). ``events_read`` is ``len(result.events)``."""
    conn.execute("BEGIN")
    try:
        row = conn.execute(
            "SELECT sid FROM sessions WHERE tenant = ? AND id = ?", (tenant, session_id)
        ).fetchone()
        if row is None:
            return Rewind(None, [])
        sid = row[0]
        kept = conn.execute(
            "SELECT seq, body FROM snapshots WHERE sid = ? AND seq <= ? ORDER BY seq DESC LIMIT 1",
            (sid, at),
        ).fetchone()
        since = kept[0] if kept is not None else 0
        events: list[Event] = []
        for first_seq, version, time, batch in conn.execute(
            "SELECT first_seq, version, time, batch FROM events WHERE sid = ?"
            " AND first_seq > ? AND first_seq <= ? ORDER BY first_seq",
            (sid, since, at),
        ):
            events.extend(codec.decode_batch(first_seq, version, time, batch))
    finally:
        conn.execute("COMMIT")
    return Rewind(codec.decode_session(kept[1]) if kept is not None else None, events)
