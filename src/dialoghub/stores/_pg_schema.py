"""The PostgreSQL schema of :mod:`dialoghub.stores.postgres`, as first released, and its write
function. The migration steps of :mod:`dialoghub.stores.migrations.postgres` build on it.

Tables live in the schema the URL names (``?schema=``, default ``dialoghub``):

``sessions``
    one row per session: the msgpack snapshot plus the columns listings filter on. ``sid``
    (a bigserial) is the creation order, the listing's keyset, and the compact key the other
    tables use instead of repeating (tenant, id) on every event row.
``events``
    one row per *update*: ``(sid, first_seq, version, ts, batch)``, the update's events
    encoded together by :func:`dialoghub.stores.codec.encode_batch`.
``idempotency``
    ``(sid, key) -> (fingerprint, response)``.
``dialoghub_schema``
    one row with the schema version, so an older dialoghub refuses a newer database.

``dialoghub_write`` applies a whole batch of writes (of distinct sessions) in one statement,
hence one round trip and one commit: the group commit of the store. Per write it locks the
session row (``FOR UPDATE``; a create is ``INSERT ... ON CONFLICT DO NOTHING``), checks the
idempotency key, then the version, then the sequence, and reports an outcome per write
instead of raising, so one refused write never rolls back the others.
"""

from __future__ import annotations

__all__ = ["IDEMPOTENCY_AGES", "V1_STATEMENTS", "WRITE_FUNCTION_V1"]


def _v1() -> tuple[str, ...]:
    """DDL of schema version 1, run with ``search_path`` set to the store's schema. Frozen:
    databases in the field ran it; change the schema with a new migration step."""
    return (
        """
        CREATE TABLE IF NOT EXISTS sessions (
            sid bigserial NOT NULL UNIQUE,
            tenant text NOT NULL,
            id text NOT NULL,
            model_id text NOT NULL,
            state text NOT NULL,
            status text NOT NULL,
            version bigint NOT NULL,
            seq bigint NOT NULL,
            updated_at double precision NOT NULL,
            snapshot bytea NOT NULL,
            PRIMARY KEY (tenant, id)
        )
        """,
        # Listings walk one of these in sid order from the cursor: O(page) at any depth.
        "CREATE INDEX IF NOT EXISTS sessions_tenant ON sessions (tenant, sid)",
        "CREATE INDEX IF NOT EXISTS sessions_model ON sessions (tenant, model_id, sid)",
        "CREATE INDEX IF NOT EXISTS sessions_state ON sessions (tenant, state, sid)",
        "CREATE INDEX IF NOT EXISTS sessions_status ON sessions (tenant, status, sid)",
        # For retention and idle expiry sweeps.
        "CREATE INDEX IF NOT EXISTS sessions_updated ON sessions (updated_at)",
        """
        CREATE TABLE IF NOT EXISTS events (
            sid bigint NOT NULL,
            first_seq bigint NOT NULL,
            version bigint NOT NULL,
            ts double precision NOT NULL,
            batch bytea NOT NULL,
            PRIMARY KEY (sid, first_seq)
        )
        """,
        """
        CREATE TABLE IF NOT EXISTS idempotency (
            sid bigint NOT NULL,
            key text NOT NULL,
            fingerprint text NOT NULL,
            response bytea NOT NULL,
            PRIMARY KEY (sid, key)
        )
        """,
        WRITE_FUNCTION_V1,
    )


# Outcomes: ok | exists (create of a present session) | missing | reused (idempotency key)
# | conflict (actual = stored version) | gap (actual = stored seq; a caller bug).
WRITE_FUNCTION_V1 = """
CREATE OR REPLACE FUNCTION dialoghub_write(
    p_tenant text[], p_id text[], p_expected bigint[], p_model text[], p_state text[],
    p_status text[], p_version bigint[], p_seq bigint[], p_updated float8[],
    p_snapshot bytea[], p_first_seq bigint[], p_ev_version bigint[], p_ts float8[],
    p_batch bytea[], p_key text[], p_fingerprint text[], p_response bytea[])
RETURNS TABLE (outcome text, actual bigint)
LANGUAGE plpgsql AS $fn$
DECLARE
    i integer;
    s_sid bigint;
    s_version bigint;
    s_seq bigint;
BEGIN
    FOR i IN 1 .. coalesce(array_length(p_id, 1), 0) LOOP
        outcome := NULL;
        actual := NULL;
        s_sid := NULL;
        IF p_expected[i] = 0 THEN
            INSERT INTO sessions AS s (tenant, id, model_id, state, status, version, seq,
                                       updated_at, snapshot)
            VALUES (p_tenant[i], p_id[i], p_model[i], p_state[i], p_status[i], p_version[i],
                    p_seq[i], p_updated[i], p_snapshot[i])
            ON CONFLICT DO NOTHING
            RETURNING s.sid INTO s_sid;
            IF s_sid IS NULL THEN
                outcome := 'exists';
                RETURN NEXT;
                CONTINUE;
            END IF;
        ELSE
            SELECT s.sid, s.version, s.seq INTO s_sid, s_version, s_seq
            FROM sessions s WHERE s.tenant = p_tenant[i] AND s.id = p_id[i] FOR UPDATE;
            IF s_sid IS NULL THEN
                outcome := 'missing';
            ELSIF p_key[i] IS NOT NULL AND EXISTS (
                SELECT 1 FROM idempotency k WHERE k.sid = s_sid AND k.key = p_key[i]) THEN
                outcome := 'reused';
            ELSIF s_version <> p_expected[i] THEN
                outcome := 'conflict';
                actual := s_version;
            ELSIF p_first_seq[i] IS NOT NULL AND p_first_seq[i] <> s_seq + 1 THEN
                outcome := 'gap';
                actual := s_seq;
            END IF;
            IF outcome IS NOT NULL THEN
                RETURN NEXT;
                CONTINUE;
            END IF;
            UPDATE sessions SET model_id = p_model[i], state = p_state[i],
                status = p_status[i], version = p_version[i], seq = p_seq[i],
                updated_at = p_updated[i], snapshot = p_snapshot[i]
            WHERE sid = s_sid;
        END IF;
        IF p_batch[i] IS NOT NULL THEN
            INSERT INTO events (sid, first_seq, version, ts, batch)
            VALUES (s_sid, p_first_seq[i], p_ev_version[i], p_ts[i], p_batch[i]);
        END IF;
        IF p_key[i] IS NOT NULL THEN
            INSERT INTO idempotency (sid, key, fingerprint, response)
            VALUES (s_sid, p_key[i], p_fingerprint[i], p_response[i]);
        END IF;
        outcome := 'ok';
        RETURN NEXT;
    END LOOP;
END
$fn$
"""

#: Schema version 1 (the first migration step).
V1_STATEMENTS = _v1()

_V1_INSERT = """
            INSERT INTO idempotency (sid, key, fingerprint, response)
            VALUES (s_sid, p_key[i], p_fingerprint[i], p_response[i]);"""
_AGED_INSERT = """
            INSERT INTO idempotency (sid, key, fingerprint, response, created_at)
            VALUES (s_sid, p_key[i], p_fingerprint[i], p_response[i], p_updated[i]);"""
assert WRITE_FUNCTION_V1.count(_V1_INSERT) == 1

#: Migration step 4 of :mod:`dialoghub.stores.migrations.postgres`: when each idempotency
#: record was written (the ``updated_at`` of its update, which ``dialoghub_write`` now
#: stores), indexed for retention. A record older than the step gets its session's last
#: update: it is kept at least as long as it should be. Frozen: databases ran it.
IDEMPOTENCY_AGES = (
    "ALTER TABLE idempotency"
    " ADD COLUMN IF NOT EXISTS created_at double precision NOT NULL DEFAULT 0",
    "UPDATE idempotency k SET created_at = s.updated_at FROM sessions s"
    " WHERE s.sid = k.sid AND k.created_at = 0",
    "CREATE INDEX IF NOT EXISTS idempotency_by_time ON idempotency (created_at)",
    WRITE_FUNCTION_V1.replace(_V1_INSERT, _AGED_INSERT),
)

#: $1 before, $2 limit -> how many idempotency records written before ``before`` it deleted
#: (oldest first; rows another purge holds are skipped, not waited for).
PURGE_IDEMPOTENCY = """
    WITH gone AS (
        DELETE FROM idempotency WHERE ctid = ANY(ARRAY(
            SELECT ctid FROM idempotency WHERE created_at < $1
            ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED))
        RETURNING 1
    )
    SELECT count(*) FROM gone
"""
