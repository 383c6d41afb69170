"""The PostgreSQL store's timer, snapshot and retention indexes: tables, functions, SQL.

Created in the store's schema by migration step 3 (:mod:`dialoghub.stores.migrations.postgres`,
statements in :data:`SCHEMA`):

``timers``
    ``sid -> (due_at, name, version)``: the session's next timer (a prompt timeout or its
    expiry), one per session, indexed by ``due_at``.
``snapshots``
    ``(sid, seq) -> (version, snapshot)``: the snapshot kept every
    :data:`~dialoghub.stores.base.SNAPSHOT_EVERY` versions, for time travel.
``sessions_closed``
    a partial index of ended and expired sessions by last update, for retention.
``dialoghub_write_indexed``
    the batch write: calls ``dialoghub_write`` (unchanged) and, in the same statement and
    transaction, brings ``timers`` and ``snapshots`` up to date for every write it applied.

Timers are claimed with ``SELECT ... FOR UPDATE SKIP LOCKED`` in one statement that moves
each claimed timer's due time to the end of its lease: concurrent claimers (in any number of
processes) skip each other's rows, so each due timer goes to exactly one of them.
"""

from __future__ import annotations

from typing import Any, Final

from dialoghub.engine.records import Event
from dialoghub.stores import codec
from dialoghub.stores._states import extra_keys
from dialoghub.stores.base import DueTimer, Rewind

__all__ = [
    "CLAIM",
    "DROP",
    "OWNED",
    "PURGE",
    "REWIND",
    "SCHEMA",
    "STATES_ADD",
    "STATES_CLEAR",
    "STATE_SCHEMA",
    "WRITE",
    "backfill_states",
    "claimed",
    "decode_rewind",
]

_TABLES: Final = (
    """
    CREATE TABLE IF NOT EXISTS timers (
        sid bigint PRIMARY KEY,
        due_at double precision NOT NULL,
        name text NOT NULL,
        version bigint NOT NULL
    )
    """,
    "CREATE INDEX IF NOT EXISTS timers_due ON timers (due_at)",
    """
    CREATE TABLE IF NOT EXISTS snapshots (
        sid bigint NOT NULL,
        seq bigint NOT NULL,
        version bigint NOT NULL,
        snapshot bytea NOT NULL,
        PRIMARY KEY (sid, seq)
    )
    """,
    "CREATE INDEX IF NOT EXISTS sessions_closed ON sessions (updated_at) WHERE status <> 'active'",
)

_WRITE_INDEXED: Final = """
CREATE OR REPLACE FUNCTION dialoghub_write_indexed(
    p_tenant text[], p_id text[], p_expected bigint[], p_model text[], p_state text[],
    p_status text[], p_version bigint[], p_seq bigint[], p_updated float8[],
    p_snapshot bytea[], p_first_seq bigint[], p_ev_version bigint[], p_ts float8[],
    p_batch bytea[], p_key text[], p_fingerprint text[], p_response bytea[],
    p_due float8[], p_timer text[], p_keep boolean[])
RETURNS TABLE (outcome text, actual bigint)
LANGUAGE plpgsql AS $fn$
DECLARE
    r record;
    i integer := 0;
    s_sid bigint;
BEGIN
    FOR r IN SELECT * FROM dialoghub_write(p_tenant, p_id, p_expected, p_model, p_state,
            p_status, p_version, p_seq, p_updated, p_snapshot, p_first_seq, p_ev_version,
            p_ts, p_batch, p_key, p_fingerprint, p_response) LOOP
        i := i + 1;
        IF r.outcome = 'ok' AND (p_due[i] IS NOT NULL OR p_keep[i] OR p_expected[i] <> 0) THEN
            SELECT s.sid INTO s_sid FROM sessions s
            WHERE s.tenant = p_tenant[i] AND s.id = p_id[i];
            IF p_due[i] IS NOT NULL THEN
                INSERT INTO timers (sid, due_at, name, version)
                VALUES (s_sid, p_due[i], p_timer[i], p_version[i])
                ON CONFLICT (sid) DO UPDATE SET due_at = EXCLUDED.due_at,
                    name = EXCLUDED.name, version = EXCLUDED.version;
            ELSE
                DELETE FROM timers WHERE sid = s_sid;
            END IF;
            IF p_keep[i] THEN
                INSERT INTO snapshots (sid, seq, version, snapshot)
                VALUES (s_sid, p_seq[i], p_version[i], p_snapshot[i]);
            END IF;
        END IF;
        outcome := r.outcome;
        actual := r.actual;
        RETURN NEXT;
    END LOOP;
END
$fn$
"""

#: The batch write statement: 17 arrays of ``dialoghub_write`` plus due, timer name, keep.
WRITE: Final = (
    "SELECT outcome, actual FROM dialoghub_write_indexed("
    + ", ".join(f"${i}" for i in range(1, 21))
    + ")"
)

#: $1 now, $2 limit, $3 now + lease -> (tenant, id, version, name, due_at) per claimed timer.
CLAIM: Final = """
    WITH due AS (
        SELECT sid, due_at FROM timers WHERE due_at <= $1
        ORDER BY due_at LIMIT $2 FOR UPDATE SKIP LOCKED
    ), moved AS (
        UPDATE timers t SET due_at = $3 FROM due WHERE t.sid = due.sid
        RETURNING t.sid, t.version, t.name, due.due_at
    )
    SELECT s.tenant, s.id, m.version, m.name, m.due_at
    FROM moved m JOIN sessions s ON s.sid = m.sid ORDER BY m.due_at
"""

#: $1 tenant, $2 id, $3 version.
DROP: Final = """
    DELETE FROM timers t USING sessions s
    WHERE s.sid = t.sid AND s.tenant = $1 AND s.id = $2 AND t.version = $3
"""

#: $1 before, $2 limit -> the sids taken (their rows in ``sessions`` deleted, locked).
PURGE: Final = """
    DELETE FROM sessions WHERE sid IN (
        SELECT sid FROM sessions WHERE status <> 'active' AND updated_at < $1
        ORDER BY updated_at LIMIT $2 FOR UPDATE SKIP LOCKED
    ) RETURNING sid
"""

#: The tables purge and delete clear besides ``sessions``.
OWNED: Final = ("events", "idempotency", "timers", "snapshots", "session_states")

#: Migration step 5: the state keys of statechart sessions beyond their ``state`` column
#: (ancestors and node ids, :mod:`dialoghub.stores._states`); listings by state walk it and
#: ``sessions_state``, both in sid order.
STATE_SCHEMA: Final = (
    "CREATE TABLE IF NOT EXISTS session_states (tenant text NOT NULL, state text NOT NULL,"
    " sid bigint NOT NULL, PRIMARY KEY (tenant, state, sid))",
    "CREATE INDEX IF NOT EXISTS session_states_sid ON session_states (sid)",
)

#: After a batch that applied statechart writes, in its transaction: $1 tenants, $2 ids (the
#: sessions to re-key), then $3 tenants, $4 ids, $5 keys (one row per key).
STATES_CLEAR: Final = """
    DELETE FROM session_states k USING sessions s, unnest($1::text[], $2::text[]) AS w(t, i)
    WHERE s.tenant = w.t AND s.id = w.i AND k.sid = s.sid
"""
STATES_ADD: Final = """
    INSERT INTO session_states (tenant, state, sid)
    SELECT w.t, w.k, s.sid FROM unnest($1::text[], $2::text[], $3::text[]) AS w(t, i, k)
    JOIN sessions s ON s.tenant = w.t AND s.id = w.i
"""


async def backfill_states(conn: Any) -> None:
    """Migration step 5 for data already stored: the state keys of every statechart session
    (only rows whose ``state`` can be a chart's are decoded)."""
    rows = await conn.fetch(
        "SELECT sid, snapshot FROM sessions WHERE state LIKE '%.%' OR state LIKE '{%'"
    )
    keys: list[tuple[str, str, int]] = []
    for row in rows:
        s = codec.decode_session(row["snapshot"])
        keys.extend((s.tenant, k, row["sid"]) for k in extra_keys(s))
    if keys:
        await conn.executemany(
            "INSERT INTO session_states (tenant, state, sid) VALUES ($1, $2, $3)"
            " ON CONFLICT DO NOTHING",
            keys,
        )


#: $1 tenant, $2 id, $3 at -> the kept snapshot (kind 0) then event rows (kind 1), in one
#: statement: one consistent view.
REWIND: Final = """
    WITH s AS (SELECT sid FROM sessions WHERE tenant = $1 AND id = $2),
    p AS (
        SELECT k.seq, k.snapshot FROM snapshots k, s
        WHERE k.sid = s.sid AND k.seq <= $3 ORDER BY k.seq DESC LIMIT 1
    )
    SELECT 0 AS kind, p.seq AS first_seq, 0::bigint AS version, 0::float8 AS ts,
           p.snapshot AS data FROM p
    UNION ALL
    SELECT 1, e.first_seq, e.version, e.ts, e.batch FROM events e, s
    WHERE e.sid = s.sid AND e.first_seq <= $3
      AND e.first_seq > coalesce((SELECT seq FROM p), 0)
    ORDER BY 1, 2
"""


#: Migration step 3 of :mod:`dialoghub.stores.migrations.postgres`. Frozen: databases ran
#: it; change these tables or the function through a new migration step.
SCHEMA: Final = (*_TABLES, _WRITE_INDEXED)


def decode_rewind(rows: list[Any]) -> Rewind:
    """The :class:`Rewind` of :data:`REWIND`'s rows."""
    snapshot = None
    events: list[Event] = []
    for row in rows:
        if row["kind"] == 0:
            snapshot = codec.decode_session(row["data"])
        else:
            events.extend(
                codec.decode_batch(row["first_seq"], row["version"], row["ts"], row["data"])
            )
    return Rewind(snapshot, events)


def claimed(rows: list[Any]) -> list[DueTimer]:
    """The timers :data:`CLAIM` returned."""
    return [DueTimer(r["tenant"], r["id"], r["version"], r["name"], r["due_at"]) for r in rows]
