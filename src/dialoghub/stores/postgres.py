"""The PostgreSQL store, ``postgresql://user:password@host:port/db?schema=dialoghub``.

The production store: every server process talks to the same database, and the
compare-and-set on the session row is what keeps their updates from overwriting each other.

* **One transaction per batch of updates.** Writes go through a
  :class:`~dialoghub.stores._common.GroupCommit`: ``writers`` tasks (URL option
  ``writers``, default 4) each take every queued write of distinct sessions and apply them with
  one call of the ``dialoghub_write`` function (see :mod:`dialoghub.stores._pg_schema`): one
  round trip, one commit, one fsync for the lot. A lone write is sent at once, so nobody waits
  for a timer; under load the batches grow by themselves. Each write still gets its own
  outcome (applied, exists, missing, conflict, key reused).
* **Prepared statements.** asyncpg prepares every statement on first use per connection and
  keeps it in its statement cache, so a turn is a bind + execute of a cached plan.
* **Compact history.** One ``events`` row per update, keyed by the session's integer ``sid``.
* **Deadlock-free batches.** Each batch locks its sessions in (tenant, id) order, the same in
  every process, so two stores racing on the same sessions wait for each other, never cycle.

URL options: ``schema`` (default ``dialoghub``), ``writers`` (4), ``pool_size`` (10),
``max_batch`` (500), ``migrate`` (``false``: an older schema is refused until
``dialoghub store migrate`` upgrades it; ``true``: upgrade it on open); any other query
option is passed to asyncpg (e.g. ``sslmode``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Final
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from dialoghub.engine.records import Event, Session
from dialoghub.errors import (
    IdempotencyKeyReused,
    SessionExists,
    SessionNotFound,
    StoreConfigError,
    StoreError,
    VersionConflict,
)
from dialoghub.stores import _pg_indexes as _idx
from dialoghub.stores import codec
from dialoghub.stores._across import list_across
from dialoghub.stores._common import (
    GroupCommit,
    batch_key,
    bool_option,
    check_batch,
    decode_cursor,
    encode_cursor,
    import_rows,
    int_option,
    page_events,
)
from dialoghub.stores._pg_schema import PURGE_IDEMPOTENCY
from dialoghub.stores._search import check_text, search_page
from dialoghub.stores._states import extra_keys
from dialoghub.stores.base import (
    DueTimer,
    Idempotency,
    Page,
    Rewind,
    SessionFilter,
    Write,
    check_events,
    keeps_snapshot,
)
from dialoghub.stores.migrations import Step, too_new, too_old
from dialoghub.stores.migrations import postgres as migrations

__all__ = ["LOAD_SQL", "TENANTS_FIRST_SQL", "TENANTS_SQL", "PostgresStore", "listing_sql"]

_OPTIONS = {
    "schema": "dialoghub",
    "writers": "4",
    "pool_size": "10",
    "max_batch": "500",
    "migrate": "false",
}
#: The schema version this code reads and writes (see :mod:`dialoghub.stores.migrations`).
SCHEMA_VERSION = migrations.LATEST
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}\Z")
_CURSOR_TAG = "p1"
_RETRIES = 5  # deadlocks or serialization failures of a batch are retried this often

_WRITE = _idx.WRITE  # dialoghub_write plus the timer and snapshot indexes


class PostgresStore:
    """Sessions in PostgreSQL through an asyncpg pool; see the module docstring."""

    def __init__(
        self,
        url: str,
        *,
        dsn: str | None = None,
        schema: str = "dialoghub",
        writers: int = 4,
        pool_size: int = 10,
        max_batch: int = 500,
        migrate: bool = False,
    ) -> None:
        self.url = url
        #: Upgrade an older schema on open instead of refusing it (URL ``?migrate=true``).
        self.migrate_on_open = migrate
        self._dsn = dsn if dsn is not None else url
        self._schema = schema
        self._pool_size = max(pool_size, writers + 1)
        self._group: GroupCommit[Write] = GroupCommit(
            self._run_batch, key=batch_key, writers=writers, max_batch=max_batch
        )
        self._pool: Any = None
        self._asyncpg: Any = None
        parts = urlsplit(self._dsn)
        self._where = f"{parts.hostname or 'localhost'}:{parts.port or 5432}"
        self._user = parts.username or "(default user)"
        self.events_read = 0

    @classmethod
    def from_url(cls, url: str) -> PostgresStore:
        """Build a store from its URL; our options are taken out of the DSN asyncpg gets."""
        parts = urlsplit(url)
        options = dict(_OPTIONS)
        passthrough: list[tuple[str, str]] = []
        for name, value in parse_qsl(parts.query, keep_blank_values=True):
            if name in options:
                options[name] = value
            else:
                passthrough.append((name, value))
        if not _IDENT.match(options["schema"]):
            raise StoreConfigError(
                f"schema {options['schema']!r} in {url!r} is not a plain identifier "
                "(letters, digits, underscore)"
            )
        dsn = urlunsplit(parts._replace(scheme="postgresql", query=urlencode(passthrough)))
        return cls(
            url,
            dsn=dsn,
            schema=options["schema"],
            writers=int_option(url, options, "writers"),
            pool_size=int_option(url, options, "pool_size"),
            max_batch=int_option(url, options, "max_batch"),
            migrate=bool_option(url, options, "migrate"),
        )

    # --- lifecycle --------------------------------------------------------------------------

    async def open(self) -> None:
        """Connect, create the schema if needed and check its version."""
        try:
            import asyncpg
        except ImportError as exc:
            raise StoreConfigError(
                "the PostgreSQL store needs the asyncpg driver: pip install 'dialoghub[postgres]'"
            ) from exc
        self._asyncpg = asyncpg
        try:
            self._pool = await asyncpg.create_pool(
                self._dsn,
                min_size=1,
                max_size=self._pool_size,
                server_settings={
                    "search_path": self._schema,
                    "application_name": "dialoghub",
                    # Plans here are tiny; JIT compilation would only add latency.
                    "jit": "off",
                },
            )
            async with self._pool.acquire() as conn:
                await self._check_schema(conn, migrate=self.migrate_on_open)
        except BaseException as exc:
            if self._pool is not None:
                self._pool.terminate()
                self._pool = None
            if isinstance(exc, StoreError) or not isinstance(exc, Exception):
                raise
            raise self._wrap(exc, "connecting") from exc
        self._group.start()

    async def _check_schema(self, conn: Any, *, migrate: bool) -> list[Step]:
        """Refuse a newer schema; create a new one; upgrade an older one only if ``migrate``."""
        version = await migrations.current_version(conn, self._schema)
        where = f"the database schema {self._schema!r} at {self._where}"
        if version > SCHEMA_VERSION:
            raise too_new(where, version, SCHEMA_VERSION, ", or point the URL at another schema")
        if version == SCHEMA_VERSION:
            return []
        if version > 0 and not migrate:
            raise too_old(where, version, SCHEMA_VERSION, self.url)
        return await migrations.apply(conn, self._schema)

    async def migrate(self) -> list[Step]:
        """Upgrade the schema in place (the store need not be open); the steps applied."""
        try:
            import asyncpg
        except ImportError as exc:
            raise StoreConfigError(
                "the PostgreSQL store needs the asyncpg driver: pip install 'dialoghub[postgres]'"
            ) from exc
        self._asyncpg = asyncpg
        try:
            conn = await asyncpg.connect(
                self._dsn, server_settings={"application_name": "dialoghub migrate"}
            )
        except Exception as exc:
            raise self._wrap(exc, "connecting") from exc
        try:
            return await self._check_schema(conn, migrate=True)
        except StoreError:
            raise
        except Exception as exc:
            raise self._wrap(exc, "migrating the schema") from exc
        finally:
            await conn.close()

    async def close(self) -> None:
        """Finish queued writes, then close the pool."""
        await self._group.close()
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()

    # --- errors -----------------------------------------------------------------------------

    def _wrap(self, exc: BaseException, doing: str) -> StoreError:
        """The StoreError that says what went wrong with the driver and what to do."""
        pg = self._asyncpg
        if pg is not None and isinstance(exc, pg.InvalidPasswordError):
            return StoreConfigError(
                f"PostgreSQL at {self._where}: authentication failed for user "
                f"{self._user!r}; check the user and password in the store URL"
            )
        if pg is not None and isinstance(exc, pg.InvalidAuthorizationSpecificationError):
            return StoreConfigError(
                f"PostgreSQL at {self._where} refused user {self._user!r}: {exc}; "
                "check the user in the store URL"
            )
        if pg is not None and isinstance(exc, pg.InvalidCatalogNameError):
            return StoreConfigError(
                f"PostgreSQL at {self._where}: {exc}; create the database or fix the URL"
            )
        if isinstance(exc, OSError | TimeoutError):
            return StoreError(
                f"cannot reach PostgreSQL at {self._where} while {doing}: {exc}; "
                "is the server running and the host and port in the URL right?"
            )
        return StoreError(f"PostgreSQL at {self._where} failed while {doing}: {exc}")

    def _conn(self) -> Any:
        if self._pool is None:
            raise StoreError(f"store {self.url!r} is not open; call 'await store.open()' first")
        return self._pool.acquire()

    async def _fetch(self, doing: str, sql: str, *args: Any) -> list[Any]:
        try:
            async with self._conn() as conn:
                rows: list[Any] = await conn.fetch(sql, *args)
                return rows
        except StoreError:
            raise
        except Exception as exc:
            raise self._wrap(exc, doing) from exc

    # --- writes -----------------------------------------------------------------------------

    async def write(self, write: Write) -> None:
        """Apply one update atomically; answered once its batch is committed."""
        check_batch(write)
        if write.expected_version == 0:
            check_events(write, 0)
        await self._group.submit(write)

    async def _run_batch(self, writes: list[Write]) -> list[BaseException | None]:
        # Same lock order in every process: see the module docstring.
        order = sorted(range(len(writes)), key=lambda i: batch_key(writes[i]))
        ordered = [writes[i] for i in order]
        try:
            outcomes = await self._execute(ordered)
        except Exception as exc:
            if _connection_lost(exc, self._asyncpg):
                # The batch may have committed before the connection dropped: running its
                # writes again would answer "conflict" for writes that landed (and a Hub
                # would then apply its input twice). The outcome is unknown: say so.
                raise StoreError(
                    f"the connection to PostgreSQL at {self._where} was lost while writing "
                    f"({exc.__class__.__name__}: {exc}); each update was applied whole or not "
                    "at all, but which is unknown: read the session before retrying, or retry "
                    "with the same idempotency key"
                ) from exc
            if len(ordered) == 1 or not isinstance(exc, self._asyncpg.PostgresError):
                raise self._wrap(exc, "writing") from exc
            # The statement failed on some write's data: run each write alone so one bad
            # write cannot fail the others, and each gets its own answer.
            outcomes = []
            for w in ordered:
                try:
                    outcomes += await self._execute([w])
                except Exception as one:
                    error = self._wrap(one, "writing")
                    error.__cause__ = one
                    outcomes.append(error)
        results: list[BaseException | None] = [None] * len(writes)
        for i, outcome in zip(order, outcomes, strict=True):
            results[i] = outcome
        return results

    async def _execute(self, writes: list[Write]) -> list[BaseException | None]:
        """Run one batch in one statement; per-write outcomes. Driver errors propagate."""
        args = _batch_args(writes)
        pg = self._asyncpg
        attempt = 0
        charts = [w for w in writes if w.session.configuration]
        while True:
            try:
                async with self._conn() as conn:
                    if not charts:  # a flat dialog's batch: one statement, as always
                        rows = await conn.fetch(_WRITE, *args)
                    else:
                        async with conn.transaction():
                            rows = await conn.fetch(_WRITE, *args)
                            await self._rekey(conn, writes, rows)
                break
            except (pg.DeadlockDetectedError, pg.SerializationError):
                # Cannot happen between dialoghub stores (sorted locks), but a foreign
                # transaction might lock rows in another order; the batch is safe to rerun.
                attempt += 1
                if attempt == _RETRIES:
                    raise
        return [
            _outcome(w, row["outcome"], row["actual"]) for w, row in zip(writes, rows, strict=True)
        ]

    async def _rekey(self, conn: Any, writes: list[Write], rows: list[Any]) -> None:
        """The state keys of the statechart sessions the batch wrote (its transaction)."""
        done = [
            w.session
            for w, row in zip(writes, rows, strict=True)
            if w.session.configuration and row["outcome"] == "ok"
        ]
        if not done:
            return
        await conn.execute(_idx.STATES_CLEAR, [s.tenant for s in done], [s.id for s in done])
        keyed = [(s.tenant, s.id, k) for s in done for k in extra_keys(s)]
        if keyed:
            await conn.execute(_idx.STATES_ADD, *(list(c) for c in zip(*keyed, strict=True)))

    async def import_session(
        self, session: Session, events: Sequence[Event], *, snapshots: Sequence[Session] = ()
    ) -> None:
        """Store a whole session with its log in one transaction (see
        :meth:`Store.import_session`)."""
        rows, kept = import_rows(session, events, snapshots)
        s = session
        body = codec.encode_session(s)
        event_rows = [(r.first_seq, r.version, r.time, codec.encode_batch(r.events)) for r in rows]
        kept_rows = [
            (k.seq, k.version, body if k.seq == s.seq else codec.encode_session(k)) for k in kept
        ]
        timer = s.timer
        try:
            async with self._conn() as conn, conn.transaction():
                sid = await conn.fetchval(
                    "INSERT INTO sessions (tenant, id, model_id, state, status, version, seq,"
                    " updated_at, snapshot) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
                    " ON CONFLICT DO NOTHING RETURNING sid",
                    s.tenant,
                    s.id,
                    s.model_id,
                    s.state,
                    str(s.status),
                    s.version,
                    s.seq,
                    s.updated_at,
                    body,
                )
                if sid is None:
                    raise SessionExists(s.id)  # rolls the (empty) transaction back
                if event_rows:
                    await conn.executemany(
                        "INSERT INTO events (sid, first_seq, version, ts, batch)"
                        " VALUES ($1, $2, $3, $4, $5)",
                        [(sid, *row) for row in event_rows],
                    )
                if timer is not None:
                    await conn.execute(
                        "INSERT INTO timers (sid, due_at, name, version) VALUES ($1, $2, $3, $4)",
                        sid,
                        timer.due_at,
                        timer.name,
                        s.version,
                    )
                if kept_rows:
                    await conn.executemany(
                        "INSERT INTO snapshots (sid, seq, version, snapshot)"
                        " VALUES ($1, $2, $3, $4)",
                        [(sid, *row) for row in kept_rows],
                    )
                if extra_keys(s):
                    await conn.executemany(
                        "INSERT INTO session_states (tenant, state, sid) VALUES ($1, $2, $3)",
                        [(s.tenant, k, sid) for k in extra_keys(s)],
                    )
        except (StoreError, SessionExists):
            raise
        except Exception as exc:
            raise self._wrap(exc, "importing a session") from exc

    # --- reads ------------------------------------------------------------------------------

    async def load(self, session_id: str, *, tenant: str = "default") -> Session | None:
        """The latest snapshot, or None."""
        rows = await self._fetch("loading a session", LOAD_SQL, tenant, session_id)
        return codec.decode_session(rows[0]["snapshot"]) if rows else None

    async def idempotent(
        self, session_id: str, key: str, *, tenant: str = "default"
    ) -> Idempotency | None:
        """The stored answer to a keyed update of this session, or None."""
        rows = await self._fetch(
            "reading an idempotency record",
            "SELECT k.fingerprint, k.response FROM idempotency k JOIN sessions s "
            "ON s.sid = k.sid WHERE s.tenant = $1 AND s.id = $2 AND k.key = $3",
            tenant,
            session_id,
            key,
        )
        if not rows:
            return None
        return Idempotency(
            key=key, fingerprint=rows[0]["fingerprint"], response=rows[0]["response"]
        )

    async def events(
        self, session_id: str, *, tenant: str = "default", after: int = 0, limit: int = 100
    ) -> list[Event]:
        """Events with ``seq > after``, in order, at most ``limit``."""
        if limit <= 0:
            return []
        # Start at the row holding seq after+1 (the last one starting at or before it); each
        # row holds at least one event, so ``limit`` rows are always enough.
        rows = await self._fetch(
            "reading events",
            """
            WITH s AS (SELECT sid FROM sessions WHERE tenant = $1 AND id = $2)
            SELECT e.first_seq, e.version, e.ts, e.batch FROM events e, s
            WHERE e.sid = s.sid AND e.first_seq >= coalesce((
                SELECT max(x.first_seq) FROM events x
                WHERE x.sid = s.sid AND x.first_seq <= $3 + 1), 0)
            ORDER BY e.first_seq LIMIT $4
            """,
            tenant,
            session_id,
            after,
            limit,
        )
        batches = ((r["first_seq"], r["version"], r["ts"], r["batch"]) for r in rows)
        return page_events(self, batches, after, limit)

    async def list_sessions(
        self, filter: SessionFilter, *, limit: int = 50, cursor: str | None = None
    ) -> Page:
        """Sessions matching ``filter`` in creation order (keyset on ``sid``)."""
        if filter.tenant is None:
            return await list_across(self, filter, limit=limit, cursor=cursor)
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        after = decode_cursor(_CURSOR_TAG, cursor) if cursor is not None else 0
        if filter.text is not None:
            needle = check_text(filter.text)

            async def fetch(last: int, n: int) -> list[tuple[int, Session]]:
                sql, args = listing_sql(filter, last, n)
                found = await self._fetch("searching sessions", sql, *args)
                return [(r["sid"], codec.decode_session(r["snapshot"])) for r in found]

            return await search_page(fetch, needle, after=after, limit=limit, tag=_CURSOR_TAG)
        sql, args = listing_sql(filter, after, limit + 1)
        rows = await self._fetch("listing sessions", sql, *args)
        more = len(rows) > limit
        rows = rows[:limit]
        sessions = [codec.decode_session(row["snapshot"]) for row in rows]
        return Page(sessions, encode_cursor(_CURSOR_TAG, rows[-1]["sid"]) if more else None)

    async def list_tenants(self, *, after: str | None = None, limit: int = 100) -> list[str]:
        """Tenants with sessions after ``after`` (the column's collation), at most ``limit``:
        a loose index scan of ``sessions_tenant``, one ``min(tenant)`` probe per tenant."""
        if limit < 1:
            return []
        if after is None:
            rows = await self._fetch("listing tenants", TENANTS_FIRST_SQL, limit)
        else:
            rows = await self._fetch("listing tenants", TENANTS_SQL, after, limit)
        return [row["tenant"] for row in rows]

    async def delete(self, session_id: str, *, tenant: str = "default") -> bool:
        """Remove a session, its events and idempotency records in one transaction."""
        try:
            async with self._conn() as conn, conn.transaction():
                # Separate statements on purpose: after waiting for the row lock, the later
                # statements take a fresh snapshot and so also see events a racing write
                # committed meanwhile (a CTE would share the stale one and leave orphans).
                sid = await conn.fetchval(
                    "DELETE FROM sessions WHERE tenant = $1 AND id = $2 RETURNING sid",
                    tenant,
                    session_id,
                )
                if sid is None:
                    return False
                for table in _idx.OWNED:
                    await conn.execute(f"DELETE FROM {table} WHERE sid = $1", sid)
                return True
        except StoreError:
            raise
        except Exception as exc:
            raise self._wrap(exc, "deleting a session") from exc

    # --- time travel, timers, retention -----------------------------------------------------

    async def rewind(self, session_id: str, *, at: int, tenant: str = "default") -> Rewind:
        """The nearest kept snapshot at or before event ``at`` and the events after it."""
        rows = await self._fetch("reading a session's past", _idx.REWIND, tenant, session_id, at)
        found = _idx.decode_rewind(rows)
        self.events_read += len(found.events)
        return found

    async def claim_timers(
        self, now: float, *, limit: int = 100, lease: float = 60.0
    ) -> list[DueTimer]:
        """Take up to ``limit`` due timers (``FOR UPDATE SKIP LOCKED``); each is due again at
        ``now + lease``."""
        rows = await self._fetch("claiming timers", _idx.CLAIM, now, limit, now + lease)
        return _idx.claimed(rows)

    async def drop_timer(self, timer: DueTimer) -> None:
        """Remove a claimed timer if its session is still at ``timer.version``."""
        await self._fetch(
            "dropping a timer", _idx.DROP, timer.tenant, timer.session_id, timer.version
        )

    async def purge(self, before: float, *, limit: int = 1000) -> int:
        """Delete up to ``limit`` closed sessions last updated before ``before``, in one
        transaction."""
        try:
            async with self._conn() as conn, conn.transaction():
                sids = [r["sid"] for r in await conn.fetch(_idx.PURGE, before, limit)]
                if sids:
                    for table in _idx.OWNED:
                        await conn.execute(f"DELETE FROM {table} WHERE sid = ANY($1)", sids)
                return len(sids)
        except StoreError:
            raise
        except Exception as exc:
            raise self._wrap(exc, "purging sessions") from exc

    async def purge_idempotency(self, before: float, *, limit: int = 1000) -> int:
        """Delete up to ``limit`` idempotency records written before ``before``, in one
        statement."""
        rows = await self._fetch("purging idempotency records", PURGE_IDEMPOTENCY, before, limit)
        return int(rows[0][0])


#: The query of :meth:`PostgresStore.load` (a lookup in the primary key).
LOAD_SQL = "SELECT snapshot FROM sessions WHERE tenant = $1 AND id = $2"


#: Tenants after ``$1``, at most ``$2``: a recursive loose index scan, each step one
#: ``min(tenant)`` probe of ``sessions_tenant``; PostgreSQL evaluates a recursive query only
#: as far as the LIMIT reads it.
TENANTS_SQL: Final = (
    "WITH RECURSIVE t(tenant) AS ("
    "SELECT (SELECT min(tenant) FROM sessions WHERE tenant > $1::text)"
    " UNION ALL SELECT (SELECT min(s.tenant) FROM sessions s WHERE s.tenant > t.tenant)"
    " FROM t WHERE t.tenant IS NOT NULL) SELECT tenant FROM t WHERE tenant IS NOT NULL LIMIT $2"
)
#: :data:`TENANTS_SQL` from the first tenant (``$1`` is the limit).
TENANTS_FIRST_SQL: Final = TENANTS_SQL.replace(" WHERE tenant > $1::text", "", 1).replace(
    "LIMIT $2", "LIMIT $1"
)


def listing_sql(filter: SessionFilter, after: int, limit: int) -> tuple[str, list[Any]]:
    """The query of one listing page: ``limit`` sessions matching ``filter`` after sid
    ``after``, in sid order (the query-plan tests check each combination uses an index).

    Only the filters given appear in the SQL, so each combination gets its own prepared plan
    that uses its index (a generic "$2 IS NULL OR ..." plan would not).
    """
    where = ["tenant = $1", "sid > $2"]
    args: list[Any] = [filter.tenant, after]
    for column, value in (
        ("model_id", filter.model_id),
        ("state", filter.state),
        ("status", filter.status),
    ):
        if value is not None:
            args.append(value)
            where.append(f"{column} = ${len(args)}")  # column names come from this tuple only
    args.append(limit)
    sql = (
        f"SELECT sid, snapshot FROM sessions WHERE {' AND '.join(where)} "
        f"ORDER BY sid LIMIT ${len(args)}"
    )
    if filter.state is None:
        return sql, args
    # A statechart session is also listed by its ancestors and node ids (session_states,
    # migration 5): two keyset walks bounded by the page, merged; never the same session twice
    # (its own state is not in session_states).
    extra = ["k.tenant = $1", "k.sid > $2", f"k.state = ${args.index(filter.state) + 1}"]
    for column, value in (("model_id", filter.model_id), ("status", filter.status)):
        if value is not None:
            extra.append(f"s.{column} = ${args.index(value) + 1}")
    merged = (
        f"({sql}) UNION ALL (SELECT s.sid, s.snapshot FROM session_states k"
        f" JOIN sessions s ON s.sid = k.sid WHERE {' AND '.join(extra)}"
        f" ORDER BY k.sid LIMIT ${len(args)}) ORDER BY sid LIMIT ${len(args)}"
    )
    return merged, args


def _batch_args(writes: Sequence[Write]) -> list[list[Any]]:
    """The 20 parallel arrays ``dialoghub_write_indexed`` takes, one element per write."""
    cols: list[list[Any]] = [[] for _ in range(20)]
    for w in writes:
        s = w.session
        row = check_batch(w)
        idem = w.idempotency
        timer = s.timer
        values: tuple[Any, ...] = (
            s.tenant,
            s.id,
            w.expected_version,
            s.model_id,
            s.state,
            str(s.status),
            s.version,
            s.seq,
            s.updated_at,
            codec.encode_session(s),
            row[0] if row else None,
            row[1] if row else None,
            row[2] if row else None,
            codec.encode_batch(w.events) if row else None,
            idem.key if idem else None,
            idem.fingerprint if idem else None,
            idem.response if idem else None,
            timer.due_at if timer else None,
            timer.name if timer else None,
            keeps_snapshot(s),
        )
        for col, value in zip(cols, values, strict=True):
            col.append(value)
    return cols


def _connection_lost(exc: BaseException, pg: Any) -> bool:
    """Whether ``exc`` means the connection broke (not that the server refused the batch)."""
    return isinstance(
        exc, pg.PostgresConnectionError | pg.InterfaceError | OSError | ConnectionError
    )


def _outcome(write: Write, outcome: str, actual: int | None) -> BaseException | None:
    sid = write.session.id
    if outcome == "ok":
        return None
    if outcome == "exists":
        return SessionExists(sid)
    if outcome == "missing":
        return SessionNotFound(sid)
    if outcome == "conflict":
        return VersionConflict(sid, write.expected_version, actual)
    if outcome == "reused":
        assert write.idempotency is not None
        return IdempotencyKeyReused(sid, write.idempotency.key)
    if outcome == "gap":
        first = write.events[0].seq if write.events else None
        return ValueError(f"event seq {first} does not follow {actual}")
    return StoreError(f"unexpected outcome {outcome!r} from dialoghub_write")
