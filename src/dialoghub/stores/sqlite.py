"""The embedded default store: one SQLite file in WAL mode, with group commit.

``sqlite:///relative/path.db`` or ``sqlite:////absolute/path.db``; the option
``?synchronous=normal`` trades durability on power loss for fewer fsyncs (the default,
``full``, means an acknowledged write is on disk); ``?migrate=true`` upgrades an older schema
on open instead of refusing it.

How it is put together:

* **One writer thread** owns the only write connection. :meth:`SQLiteStore.write` encodes the
  update on the caller's loop, puts it on a queue and awaits a future. The writer takes
  *everything* pending (up to ``max_batch``) and applies it in ONE transaction: one fsync
  for hundreds of updates is what makes thousands of durable updates per second possible.
  Each update runs inside its own SAVEPOINT, so one that fails its compare-and-set (or
  anything else) is rolled back alone and leaves nothing behind, while the others commit.
  Futures are resolved only after COMMIT returns: acknowledged means committed.
* **Reads** run on a few reader threads, each with its own read-only connection; WAL lets
  them read the last committed state while the writer works.
* **Schema** (versioned in ``PRAGMA user_version``, built and upgraded by the steps of
  :mod:`dialoghub.stores.migrations.sqlite`): ``sessions`` holds the encoded
  snapshot plus the columns listings filter on; ``events`` holds ONE row per update (all its
  events in one msgpack batch, they share version and time); ``idempotency`` holds keyed
  answers. Sessions are keyed internally by an integer ``sid`` so the other tables repeat
  8 bytes, not the tenant and session id. The timer, snapshot and retention indexes are in
  :mod:`dialoghub.stores._sqlite_indexes`, kept up to date in the same transaction.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Final, TypeVar
from urllib.parse import unquote, urlsplit

from dialoghub.engine.records import Event, Session
from dialoghub.errors import (
    DialoghubError,
    StoreConfigError,
    StoreCorrupt,
    StoreError,
)
from dialoghub.stores import _sqlite_indexes as _idx
from dialoghub.stores import codec
from dialoghub.stores._across import list_across
from dialoghub.stores._common import (
    bool_option,
    check_batch,
    decode_cursor,
    encode_cursor,
    import_rows,
    page_events,
    query_options,
)
from dialoghub.stores._search import check_text, search_page
from dialoghub.stores._sqlite_ops import (
    STOP,
    DeleteOp,
    ImportOp,
    Op,
    Outcome,
    TimerOp,
    WriteOp,
    commit_batch,
    purge_idempotency,
    settle,
)
from dialoghub.stores.base import (
    DueTimer,
    Idempotency,
    Page,
    Rewind,
    SessionFilter,
    Write,
)
from dialoghub.stores.migrations import Step, too_new, too_old
from dialoghub.stores.migrations import sqlite as migrations

__all__ = [
    "LOAD_SQL",
    "SCHEMA_VERSION",
    "TENANTS_FIRST_SQL",
    "TENANTS_SQL",
    "SQLiteStore",
    "listing_sql",
]

#: The schema this code writes; a database with a higher ``user_version`` is refused, an
#: older one is migrated (see :mod:`dialoghub.stores.migrations.sqlite`).
SCHEMA_VERSION: Final = migrations.LATEST

_SYNCHRONOUS: Final = ("full", "normal", "extra")

# The schema lives in migrations.sqlite.STEPS: a new table or index is a new step there.

# The batch holding seq after+1 is the last row starting at or before it (seqs have no gaps),
# so paging from inside a batch reads that row and filters it. One statement: one snapshot.
_EVENTS_SQL: Final = """
    WITH s(sid) AS (SELECT sid FROM sessions WHERE tenant = ? AND id = ?)
    SELECT first_seq, version, time, batch FROM events
    WHERE sid = (SELECT sid FROM s)
      AND first_seq >= (SELECT coalesce(max(first_seq), 0) FROM events
                        WHERE sid = (SELECT sid FROM s) AND first_seq <= ?)
    ORDER BY first_seq
"""

T = TypeVar("T")


def _wrap(exc: sqlite3.Error, path: str, doing: str) -> StoreError:
    """Translate a driver error into a StoreError that says what to do; ``exc`` is its cause."""
    error = _translate(exc, path, doing)
    error.__cause__ = exc
    return error


# SQLite primary result code -> (error class, what to tell the user).
_ADVICE: Final[dict[int, tuple[type[StoreError], str]]] = {
    26: (
        StoreCorrupt,
        "{path} is not a SQLite database (or is encrypted); point the store "
        "URL at a dialoghub database or at a new file",
    ),  # SQLITE_NOTADB
    11: (
        StoreCorrupt,
        "SQLite database {path} is corrupt ({exc}); restore it from a backup",
    ),  # SQLITE_CORRUPT
    5: (
        StoreError,
        "SQLite database {path} stayed locked by another connection while "
        "{doing}; make sure only one dialoghub process writes to it, or raise the "
        "timeout",
    ),  # SQLITE_BUSY
    13: (StoreError, "disk full while {doing} in {path}; free some space"),  # SQLITE_FULL
    8: (
        StoreError,
        "SQLite database {path} is read-only; check the permissions of the file "
        "and of its directory (WAL mode creates files next to it)",
    ),  # SQLITE_READONLY
    14: (
        StoreConfigError,
        "cannot open SQLite database {path}; check that its directory exists and is writable",
    ),  # SQLITE_CANTOPEN
}
_ADVICE[6] = _ADVICE[5]  # SQLITE_LOCKED


def _translate(exc: sqlite3.Error, path: str, doing: str) -> StoreError:
    code = getattr(exc, "sqlite_errorcode", 0) & 0xFF  # the primary result code
    cls, advice = _ADVICE.get(code, (StoreError, "SQLite failed while {doing} in {path}: {exc}"))
    return cls(advice.format(path=path, doing=doing, exc=exc), path=path)


def enable_wal(conn: sqlite3.Connection, timeout: float) -> str:
    """Switch ``conn``'s database to WAL; the journal mode it has afterwards.

    The switch needs an exclusive lock, and SQLite answers SQLITE_BUSY at once, without its
    busy handler, while another process holds the file for a moment (opening it, or
    checkpointing it as its last connection closes: two servers starting together). So
    retry for up to ``timeout`` seconds. Called from worker threads, never the event loop.
    """
    deadline = time.monotonic() + timeout
    pause = 0.005
    while True:
        try:
            return str(conn.execute("PRAGMA journal_mode = WAL").fetchone()[0])
        except sqlite3.OperationalError as exc:
            busy = getattr(exc, "sqlite_errorcode", 0) & 0xFF in (5, 6)  # BUSY, LOCKED
            if not busy or time.monotonic() + pause > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.1)


#: The query of :meth:`SQLiteStore.load` (a lookup in the unique (tenant, id) index).
LOAD_SQL: Final = "SELECT body FROM sessions WHERE tenant = ? AND id = ?"


def listing_sql(filter: SessionFilter, after: int, limit: int) -> tuple[str, list[Any]]:
    """The query of one listing page: ``limit`` sessions matching ``filter`` after sid
    ``after``, in sid order. Each filter combination is a keyset walk of one index (the
    query-plan tests check it on every combination)."""
    where = ["tenant = ?", "sid > ?"]
    params: list[Any] = [filter.tenant, after]
    for column, value in (
        ("model_id", filter.model_id),
        ("state", filter.state),
        ("status", filter.status),
    ):
        if value is not None:
            where.append(f"{column} = ?")  # column names come from this tuple only
            params.append(str(value))
    params.append(limit)
    sql = (
        f"SELECT sid, body FROM sessions WHERE {' AND '.join(where)} "
        f"ORDER BY {_listing_order(filter)} LIMIT ?"
    )
    if filter.state is None:
        return sql, params
    # A statechart session is also listed by its ancestors and node ids, kept apart in
    # session_states (migration 5): the page is the first ``limit`` sids of two keyset walks,
    # each bounded by ``limit``, merged (a sort of at most 2 x limit rows). A session's own
    # state is never in session_states, so no session comes twice.
    extra = ["k.tenant = ?", "k.state = ?", "k.sid > ?"]
    extra_params: list[Any] = [filter.tenant, str(filter.state), after]
    for column, value in (("model_id", filter.model_id), ("status", filter.status)):
        if value is not None:
            extra.append(f"s.{column} = ?")  # column names come from this tuple only
            extra_params.append(str(value))
    merged = (
        f"SELECT sid, body FROM ({sql}) UNION ALL SELECT sid, body FROM ("
        "SELECT s.sid AS sid, s.body AS body FROM session_states k"
        f" JOIN sessions s ON s.sid = k.sid WHERE {' AND '.join(extra)}"
        " ORDER BY k.tenant, k.state, k.sid LIMIT ?) ORDER BY sid LIMIT ?"
    )
    return merged, [*params, *extra_params, limit, limit]


#: Tenants after ``?``, at most ``?``: a recursive loose index scan, each step one
#: ``min(tenant)`` probe of ``sessions_by_tenant`` (O(log n)), never a scan of sessions.
TENANTS_SQL: Final = (
    "WITH RECURSIVE t(tenant) AS (SELECT (SELECT min(tenant) FROM sessions WHERE tenant > ?)"
    " UNION ALL SELECT (SELECT min(s.tenant) FROM sessions s WHERE s.tenant > t.tenant)"
    " FROM t WHERE t.tenant IS NOT NULL) SELECT tenant FROM t WHERE tenant IS NOT NULL LIMIT ?"
)
#: :data:`TENANTS_SQL` from the first tenant.
TENANTS_FIRST_SQL: Final = TENANTS_SQL.replace(" WHERE tenant > ?", "", 1)


def _listing_order(filter: SessionFilter) -> str:
    """``ORDER BY`` of a listing: sid order, spelled as the columns of the index to walk.

    Tenant and the lead filter are fixed by equality, so ``tenant, state, sid`` is sid order;
    but only the index ``(tenant, state, sid)`` yields it without sorting, so the planner
    walks that index from the cursor (O(page)) instead of, say, the sid index with the
    filters applied on the fly (O(rows skipped)). The lead is the most selective filter
    given: state (20 per model, typically), then model, then status.
    """
    for column, value in (
        ("state", filter.state),
        ("model_id", filter.model_id),
        ("status", filter.status),
    ):
        if value is not None:
            return f"tenant, {column}, sid"
    return "tenant, sid"


# --- the store ----------------------------------------------------------------------------


class SQLiteStore:
    """Sessions in one SQLite file; see the module docstring for the design.

    ``commits`` counts the transactions the writer committed: with many concurrent writers
    it grows much more slowly than the number of writes (group commit).
    """

    def __init__(
        self,
        path: str,
        *,
        synchronous: str = "full",
        max_batch: int = 512,
        readers: int = 4,
        timeout: float = 5.0,
        url: str | None = None,
        migrate: bool = False,
    ) -> None:
        if synchronous.lower() not in _SYNCHRONOUS:
            raise StoreConfigError(
                f"synchronous={synchronous!r} is not supported; use one of "
                + ", ".join(_SYNCHRONOUS)
            )
        self.path = path
        self.url = url if url is not None else f"sqlite:///{path}"
        self.synchronous = synchronous.lower()
        self.max_batch = max_batch
        self.timeout = timeout
        #: Upgrade an older schema on open instead of refusing it (URL ``?migrate=true``).
        self.migrate_on_open = migrate
        self.commits = 0
        self._readers_count = readers
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._readers: concurrent.futures.ThreadPoolExecutor | None = None
        self._local = threading.local()
        self._reader_conns: list[sqlite3.Connection] = []
        self._conns_lock = threading.Lock()
        self._open = False
        self.events_read = 0
        #: A write failed with SQLITE_FULL and the WAL was not truncated since (writer thread).
        self._disk_was_full = False

    @classmethod
    def from_url(cls, url: str) -> SQLiteStore:
        """Build a store from ``sqlite:///path.db[?synchronous=full|normal|extra]``."""
        parts = urlsplit(url)
        usage = "use sqlite:///relative/path.db or sqlite:////absolute/path.db"
        if parts.netloc:
            raise StoreConfigError(f"SQLite URL {url!r} names a host ({parts.netloc!r}); {usage}")
        # The first slash separates the (empty) host from the path, as in SQLAlchemy.
        path = unquote(parts.path[1:] if parts.path.startswith("/") else parts.path)
        if not path:
            raise StoreConfigError(f"SQLite URL {url!r} names no file; {usage}")
        if path == ":memory:" or path.startswith("file:"):
            raise StoreConfigError(
                f"SQLite URL {url!r} is not a file path: the writer and the readers need a "
                "shared file; use memory:// for a store that lives in memory"
            )
        options = query_options(url, parts.query, {"synchronous": "full", "migrate": "false"})
        return cls(
            path,
            synchronous=options["synchronous"],
            url=url,
            migrate=bool_option(url, options, "migrate"),
        )

    # --- lifecycle ------------------------------------------------------------------------

    async def open(self) -> None:
        """Open (creating if needed) the database, check its schema, start the threads."""
        if self._open:
            raise StoreError(f"store {self.url!r} is already open")
        self._check_path()
        ready: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._queue = queue.SimpleQueue()
        self._writer = threading.Thread(
            target=self._run_writer, args=(ready,), name="dialoghub-sqlite-writer", daemon=True
        )
        self._writer.start()
        await asyncio.wrap_future(ready)
        self._readers = concurrent.futures.ThreadPoolExecutor(
            max_workers=self._readers_count, thread_name_prefix="dialoghub-sqlite-reader"
        )
        self._open = True

    async def close(self) -> None:
        """Commit everything queued, stop the writer and close every connection."""
        if not self._open:
            return
        self._open = False  # refuse new work; what is queued still gets written
        self._queue.put(STOP)
        writer, readers = self._writer, self._readers
        if writer is not None:
            await asyncio.to_thread(writer.join)
        if readers is not None:
            await asyncio.to_thread(readers.shutdown, True)
        with self._conns_lock:
            for conn in self._reader_conns:
                conn.close()
            self._reader_conns.clear()
        self._local = threading.local()

    def _check_path(self) -> None:
        # sqlite3 says only "unable to open database file"; say which part is wrong.
        directory = os.path.dirname(os.path.abspath(self.path))
        if not os.path.isdir(directory):
            raise StoreConfigError(
                f"cannot open SQLite database {self.path}: directory {directory} does not "
                "exist; create it first or fix the store URL",
                path=self.path,
            )
        if os.path.isdir(self.path):
            raise StoreConfigError(
                f"cannot open SQLite database {self.path}: it is a directory; name a file",
                path=self.path,
            )

    def _connect(self) -> sqlite3.Connection:
        # isolation_level=None: we issue BEGIN/COMMIT ourselves (the writer batches).
        return sqlite3.connect(
            self.path, timeout=self.timeout, isolation_level=None, check_same_thread=False
        )

    def _setup(self, conn: sqlite3.Connection, *, migrate: bool = False) -> list[Step]:
        """Check the schema version, switch to WAL, create or upgrade the schema if allowed.

        A new file gets every migration step; an older schema is upgraded only with
        ``migrate`` (else :class:`~dialoghub.stores.migrations.SchemaTooOld`); a newer one is
        refused. Returns the steps applied. Nothing is written when it raises.
        """
        # The first read of the file: a non-database fails here with SQLITE_NOTADB.
        version = migrations.current_version(conn)
        where = f"SQLite database {self.path}"
        if version > SCHEMA_VERSION:
            newer = too_new(where, version, SCHEMA_VERSION)
            newer.details["path"] = self.path
            raise newer
        if 0 < version < SCHEMA_VERSION and not (migrate or self.migrate_on_open):
            older = too_old(where, version, SCHEMA_VERSION, self.url)
            older.details["path"] = self.path
            raise older
        mode = enable_wal(conn, self.timeout)
        if str(mode).lower() != "wal":
            raise StoreError(
                f"SQLite database {self.path} cannot use WAL mode (got {mode!r}); put it on a "
                "local file system",
                path=self.path,
            )
        conn.execute(f"PRAGMA synchronous = {self.synchronous}")
        if version == SCHEMA_VERSION:
            return []
        return migrations.apply(conn, self.path)

    async def migrate(self) -> list[Step]:
        """Upgrade the database's schema in place (the store need not be open); the steps run.

        Safe to run while other processes use an older schema only if every step is
        backwards compatible; stop them first when in doubt.
        """
        self._check_path()

        def run() -> list[Step]:
            try:
                conn = self._connect()
            except sqlite3.Error as exc:
                raise _wrap(exc, self.path, "opening the database") from exc
            try:
                return self._setup(conn, migrate=True)
            except sqlite3.Error as exc:
                raise _wrap(exc, self.path, "migrating the schema") from exc
            finally:
                conn.close()

        return await asyncio.to_thread(run)

    # --- the writer thread ----------------------------------------------------------------

    def _run_writer(self, ready: concurrent.futures.Future[None]) -> None:
        try:
            conn = self._connect()
        except sqlite3.Error as exc:
            ready.set_exception(_wrap(exc, self.path, "opening the database"))
            return
        try:
            self._setup(conn)
        except BaseException as exc:
            conn.close()
            if isinstance(exc, sqlite3.Error):
                exc = _wrap(exc, self.path, "opening the database")
            ready.set_exception(exc)
            return
        ready.set_result(None)
        try:
            stop = False
            while not stop:
                item = self._queue.get()
                items = [item]
                # Group commit: take whatever else is already waiting, up to the cap.
                while len(items) < self.max_batch:
                    try:
                        items.append(self._queue.get_nowait())
                    except queue.Empty:
                        break
                stop = any(i is STOP for i in items)
                ops = [i for i in items if isinstance(i, Op)]
                if ops:
                    try:
                        self._commit(conn, ops)
                    except Exception as exc:  # a bug here must not leave callers hanging
                        self._resolve(
                            [(op, None, StoreError(f"writer failed: {exc!r}")) for op in ops]
                        )
        finally:
            conn.close()
            # A write that raced close() behind the stop marker must not hang forever.
            leftover: list[Outcome] = []
            while True:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if isinstance(item, Op):
                    leftover.append((item, None, StoreError(f"store {self.url!r} is closed")))
            self._resolve(leftover)

    def _note_error(self, exc: BaseException) -> None:
        """Remember a full disk: the WAL grown up to it must be truncated once writes work."""
        if isinstance(exc, sqlite3.Error) and getattr(exc, "sqlite_errorcode", 0) & 0xFF == 13:
            self._disk_was_full = True

    def _committed(self, conn: sqlite3.Connection) -> None:
        """Count a commit; after a full disk, truncate the WAL before the callers are told
        (so that whoever awaited the write sees the log already cut)."""
        self.commits += 1
        if self._disk_was_full:
            self._truncate_wal(conn)

    def _truncate_wal(self, conn: sqlite3.Connection) -> None:
        """After a disk-full error, the first commit that works checkpoints the WAL and cuts
        it to zero bytes: a WAL only ever reuses its space, so the log grown while the disk
        filled would otherwise stay (and fill the freed disk again). A reader holding an old
        snapshot makes the checkpoint busy; the next commit tries again."""
        with contextlib.suppress(sqlite3.Error):
            busy = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
            if not busy:
                self._disk_was_full = False

    def _commit(self, conn: sqlite3.Connection, ops: list[Op]) -> None:
        """Apply ``ops`` in one transaction; each op succeeds or fails on its own."""
        writes = [op for op in ops if isinstance(op, WriteOp)]
        if len(writes) == len(ops) and len(ops) > 1:
            try:
                outcomes = commit_batch(conn, writes)
            except sqlite3.Error as exc:
                self._note_error(exc)
                # Something failed below the checks (a full disk, a value SQLite cannot
                # bind): nothing of the batch stayed. Redo it op by op, so only the op at
                # fault fails and the others land.
                with contextlib.suppress(sqlite3.Error):
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
            else:
                self._committed(conn)
                self._resolve(outcomes)
                return
        self._commit_each(conn, ops)

    def _commit_each(self, conn: sqlite3.Connection, ops: list[Op]) -> None:
        """The careful path: one SAVEPOINT per op, so a failing op is undone alone."""
        outcomes: list[Outcome] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for op in ops:
                conn.execute("SAVEPOINT op")
                try:
                    result = op.apply(conn)
                except Exception as exc:
                    self._note_error(exc)
                    # Undo this op only. If SQLite already aborted the whole transaction,
                    # ROLLBACK TO fails and the outer handler fails the whole batch.
                    conn.execute("ROLLBACK TO op")
                    conn.execute("RELEASE op")
                    error: BaseException = exc
                    if isinstance(exc, sqlite3.Error):
                        error = _wrap(exc, self.path, "writing a session")
                    elif not isinstance(exc, DialoghubError | ValueError):
                        error = StoreError(f"cannot store the update: {exc}")
                        error.__cause__ = exc
                    outcomes.append((op, None, error))
                else:
                    conn.execute("RELEASE op")
                    outcomes.append((op, result, None))
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            self._note_error(exc)
            if conn.in_transaction:
                # If even that fails the connection is beyond use; the next BEGIN says so.
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            # One fresh exception per caller: they are raised in different tasks.
            outcomes = [(op, None, _wrap(exc, self.path, "committing updates")) for op in ops]
        else:
            self._committed(conn)
        self._resolve(outcomes)

    @staticmethod
    def _resolve(outcomes: list[Outcome]) -> None:
        # One wake-up per event loop, not per write: a batch can hold hundreds.
        by_loop: dict[asyncio.AbstractEventLoop, list[Outcome]] = {}
        for outcome in outcomes:
            by_loop.setdefault(outcome[0].loop, []).append(outcome)
        for loop, items in by_loop.items():
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody is waiting
                loop.call_soon_threadsafe(settle, items)

    async def _submit(self, op: Op) -> Any:
        self._check_open()
        self._queue.put(op)
        return await op.future

    # --- reads ----------------------------------------------------------------------------

    def _check_open(self) -> None:
        if not self._open:
            raise StoreError(f"store {self.url!r} is not open; call 'await store.open()' first")

    def _reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            conn.execute("PRAGMA query_only = 1")  # reads only: the writer thread owns writes
            with self._conns_lock:
                self._reader_conns.append(conn)
            self._local.conn = conn
        return conn

    def _run_read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        try:
            return fn(self._reader())
        except sqlite3.Error as exc:
            raise _wrap(exc, self.path, "reading") from exc

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        self._check_open()
        assert self._readers is not None
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._readers, self._run_read, fn)

    # --- the Store protocol ---------------------------------------------------------------

    async def write(self, write: Write) -> None:
        """Apply one update atomically; returns once it is committed (see :meth:`Store.write`)."""
        self._check_open()
        check_batch(write)
        op = WriteOp(asyncio.get_running_loop(), write)
        self._queue.put(op)  # what _submit does, without one more coroutine per write
        await op.future

    async def import_session(
        self, session: Session, events: Sequence[Event], *, snapshots: Sequence[Session] = ()
    ) -> None:
        """Store a whole session with its log in one transaction (see
        :meth:`Store.import_session`)."""
        self._check_open()
        rows, kept = import_rows(session, events, snapshots)
        await self._submit(ImportOp(asyncio.get_running_loop(), session, rows, kept))

    async def delete(self, session_id: str, *, tenant: str = "default") -> bool:
        """Remove a session with its events and idempotency records; False if absent."""
        result: bool = await self._submit(DeleteOp(asyncio.get_running_loop(), session_id, tenant))
        return result

    async def load(self, session_id: str, *, tenant: str = "default") -> Session | None:
        """The latest committed snapshot, or None."""

        def run(conn: sqlite3.Connection) -> Session | None:
            row = conn.execute(LOAD_SQL, (tenant, session_id)).fetchone()
            return codec.decode_session(row[0]) if row is not None else None

        return await self._read(run)

    async def idempotent(
        self, session_id: str, key: str, *, tenant: str = "default"
    ) -> Idempotency | None:
        """The stored answer to a keyed update of this session, or None."""

        def run(conn: sqlite3.Connection) -> Idempotency | None:
            row = conn.execute(
                "SELECT i.fingerprint, i.response FROM idempotency AS i"
                " JOIN sessions AS s ON s.sid = i.sid"
                " WHERE s.tenant = ? AND s.id = ? AND i.key = ?",
                (tenant, session_id, key),
            ).fetchone()
            return Idempotency(key, row[0], bytes(row[1])) if row is not None else None

        return await self._read(run)

    async def events(
        self, session_id: str, *, tenant: str = "default", after: int = 0, limit: int = 100
    ) -> list[Event]:
        """Events with ``seq > after``, in order, at most ``limit``."""
        if limit <= 0:
            return []

        def run(conn: sqlite3.Connection) -> list[Event]:
            # The cursor is read lazily: rows stop being read once ``limit`` events are in.
            rows = conn.execute(_EVENTS_SQL, (tenant, session_id, after + 1))
            return page_events(self, rows, after, limit)

        return await self._read(run)

    async def list_sessions(
        self, filter: SessionFilter, *, limit: int = 50, cursor: str | None = None
    ) -> Page:
        """Sessions matching ``filter`` in creation order (keyset pagination on sid)."""
        if filter.tenant is None:
            return await list_across(self, filter, limit=limit, cursor=cursor)
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        after = decode_cursor("s1", cursor) if cursor is not None else 0
        if filter.text is not None:
            needle = check_text(filter.text)

            async def fetch(last: int, n: int) -> list[tuple[int, Session]]:
                sql, params = listing_sql(filter, last, n)
                found = await self._read(lambda conn: conn.execute(sql, params).fetchall())
                return [(sid, codec.decode_session(body)) for sid, body in found]

            return await search_page(fetch, needle, after=after, limit=limit, tag="s1")
        # One row more than asked tells whether there is a next page without another query.
        sql, params = listing_sql(filter, after, limit + 1)

        def run(conn: sqlite3.Connection) -> list[tuple[int, bytes]]:
            return conn.execute(sql, params).fetchall()

        rows = await self._read(run)
        more = len(rows) > limit
        rows = rows[:limit]
        sessions = [codec.decode_session(body) for _, body in rows]
        return Page(sessions, encode_cursor("s1", rows[-1][0]) if more else None)

    async def list_tenants(self, *, after: str | None = None, limit: int = 100) -> list[str]:
        """Tenants with sessions after ``after`` (byte order), at most ``limit``: a loose
        index scan of ``sessions_by_tenant``, one ``min(tenant)`` probe per tenant."""
        if limit < 1:
            return []
        sql = TENANTS_SQL if after is not None else TENANTS_FIRST_SQL
        params = (after, limit) if after is not None else (limit,)

        def run(conn: sqlite3.Connection) -> list[str]:
            return [row[0] for row in conn.execute(sql, params)]

        return await self._read(run)

    # --- time travel, timers, retention ---------------------------------------------------

    async def rewind(self, session_id: str, *, at: int, tenant: str = "default") -> Rewind:
        """The nearest kept snapshot at or before event ``at`` and the events after it."""
        found = await self._read(lambda conn: _idx.rewind(conn, tenant, session_id, at))
        self.events_read += len(found.events)
        return found

    async def claim_timers(
        self, now: float, *, limit: int = 100, lease: float = 60.0
    ) -> list[DueTimer]:
        """Take up to ``limit`` due timers; each is due again at ``now + lease``."""
        loop = asyncio.get_running_loop()
        op = TimerOp(loop, lambda conn: _idx.claim(conn, now, limit, lease))
        claimed: list[DueTimer] = await self._submit(op)
        return claimed

    async def drop_timer(self, timer: DueTimer) -> None:
        """Remove a claimed timer if its session is still at ``timer.version``."""
        await self._submit(TimerOp(asyncio.get_running_loop(), lambda c: _idx.drop(c, timer)))

    async def purge(self, before: float, *, limit: int = 1000) -> int:
        """Delete up to ``limit`` closed sessions last updated before ``before``."""
        op = TimerOp(asyncio.get_running_loop(), lambda c: _idx.purge(c, before, limit))
        deleted: int = await self._submit(op)
        return deleted

    async def purge_idempotency(self, before: float, *, limit: int = 1000) -> int:
        """Delete up to ``limit`` idempotency records written before ``before``."""
        op = TimerOp(asyncio.get_running_loop(), lambda c: purge_idempotency(c, before, limit))
        deleted: int = await self._submit(op)
        return deleted
