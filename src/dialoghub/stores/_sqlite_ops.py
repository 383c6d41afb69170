"""The SQLite writer's work items: what one queued write, delete, import or timer claim does.

The store (:mod:`dialoghub.stores.sqlite`) owns the writer thread and its queue; this module
is what that thread runs. A batch of writes is checked with one query and applied with
``executemany`` (:func:`commit_batch`); the careful path applies one op at a time inside a
SAVEPOINT, through the same :func:`apply_writes`, so the checks and statements exist once.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from typing import Any, Final, TypeVar

from dialoghub.engine.records import Session
from dialoghub.errors import (
    DialoghubError,
    IdempotencyKeyReused,
    SessionExists,
    SessionNotFound,
    VersionConflict,
)
from dialoghub.stores import _sqlite_indexes as _idx
from dialoghub.stores import codec
from dialoghub.stores._common import (
    ImportRow,
)
from dialoghub.stores._states import extra_keys
from dialoghub.stores.base import (
    Write,
    check_events,
)

__all__ = [
    "IDEMPOTENCY_AGES",
    "STOP",
    "DeleteOp",
    "ImportOp",
    "Op",
    "Outcome",
    "TimerOp",
    "WriteOp",
    "apply_writes",
    "commit_batch",
    "settle",
]

T = TypeVar("T")

# --- the writer's work items --------------------------------------------------------------


class Op:
    """One queued mutation and the future of the task awaiting it."""

    __slots__ = ("future", "loop")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.future: asyncio.Future[Any] = loop.create_future()

    def apply(self, conn: sqlite3.Connection) -> Any:
        raise NotImplementedError


class WriteOp(Op):
    __slots__ = ("_batch", "body", "raw_batch", "write")

    def __init__(self, loop: asyncio.AbstractEventLoop, write: Write) -> None:
        super().__init__(loop)
        self.write = write
        # Encoded on the caller's side: errors surface there, and the stored bytes cannot
        # change if the caller mutates its session after the call.
        # (or by the hub, once, for its cache: ``write.body``)
        self.body = write.body or codec.encode_session(write.session)
        # The events are packed to msgpack here too, but deflated on the writer thread
        # (``batch``): deflate releases the GIL there, off the event loop's thread.
        self.raw_batch = codec.encode_batch_raw(write.events) if write.events else None
        self._batch: bytes | None = None

    @property
    def batch(self) -> bytes | None:
        """The deflated event row (computed once, on the writer thread)."""
        if self._batch is None and self.raw_batch is not None:
            self._batch = codec.pack_batch(self.raw_batch)
        return self._batch

    def apply(self, conn: sqlite3.Connection) -> None:
        # The careful path (inside the caller's SAVEPOINT): the same checks and statements
        # as a batch, for a batch of one.
        (error,) = apply_writes(conn, [self])
        if error is not None:
            raise error


class DeleteOp(Op):
    __slots__ = ("session_id", "tenant")

    def __init__(self, loop: asyncio.AbstractEventLoop, session_id: str, tenant: str) -> None:
        super().__init__(loop)
        self.session_id = session_id
        self.tenant = tenant

    def apply(self, conn: sqlite3.Connection) -> bool:
        row = conn.execute(
            "SELECT sid FROM sessions WHERE tenant = ? AND id = ?", (self.tenant, self.session_id)
        ).fetchone()
        if row is None:
            return False
        _idx.forget(conn, [row])
        return True


class ImportOp(Op):
    """A whole session with its log (:meth:`SQLiteStore.import_session`), in its SAVEPOINT."""

    __slots__ = ("body", "kept", "rows", "session")

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        session: Session,
        rows: list[ImportRow],
        kept: list[Session],
    ) -> None:
        super().__init__(loop)
        self.session = session
        # Encoded on the caller's side, like a write.
        self.body = codec.encode_session(session)
        self.rows = [(r.first_seq, r.version, r.time, codec.encode_batch(r.events)) for r in rows]
        self.kept = [
            (k.seq, k.version, self.body if k.seq == session.seq else codec.encode_session(k))
            for k in kept
        ]

    def apply(self, conn: sqlite3.Connection) -> None:
        s = self.session
        cur = conn.execute(
            "INSERT INTO sessions (tenant, id, model_id, state, status, version, seq,"
            " created_at, updated_at, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (tenant, id) DO NOTHING",
            (
                s.tenant,
                s.id,
                s.model_id,
                s.state,
                str(s.status),
                s.version,
                s.seq,
                s.created_at,
                s.updated_at,
                self.body,
            ),
        )
        if cur.rowcount == 0:
            raise SessionExists(s.id)
        sid = cur.lastrowid
        conn.executemany(
            "INSERT INTO events (sid, first_seq, version, time, batch) VALUES (?, ?, ?, ?, ?)",
            [(sid, *row) for row in self.rows],
        )
        # The timer as the last write would have left it, and the kept snapshots.
        timer = s.timer
        if timer is not None:
            conn.execute(
                "INSERT INTO timers (sid, due_at, name, version) VALUES (?, ?, ?, ?)",
                (sid, timer.due_at, timer.name, s.version),
            )
        conn.executemany(
            "INSERT INTO snapshots (sid, seq, version, body) VALUES (?, ?, ?, ?)",
            [(sid, *k) for k in self.kept],
        )
        conn.executemany(
            "INSERT INTO session_states (tenant, state, sid) VALUES (?, ?, ?)",
            [(s.tenant, k, sid) for k in extra_keys(s)],
        )


class TimerOp(Op):
    """A claim of due timers (``apply`` is :func:`_idx.claim` or another timer function)."""

    __slots__ = ("run",)

    def __init__(
        self, loop: asyncio.AbstractEventLoop, run: Callable[[sqlite3.Connection], Any]
    ) -> None:
        super().__init__(loop)
        self.run = run

    def apply(self, conn: sqlite3.Connection) -> Any:
        return self.run(conn)


def commit_batch(conn: sqlite3.Connection, ops: list[WriteOp]) -> list[Outcome]:
    """The fast path for a batch of writes: check them all, then apply them with executemany.

    Inside BEGIN IMMEDIATE nobody else can write, so checking every compare-and-set with one
    SELECT and then applying the accepted writes is as atomic as checking each in its own
    statement, at a fraction of the Python work per write. A refused write changes nothing
    (it is never applied); any driver error raises, and the caller rolls the batch back.
    """
    conn.execute("BEGIN IMMEDIATE")
    errors = apply_writes(conn, ops)
    conn.execute("COMMIT")
    return [(op, None, error) for op, error in zip(ops, errors, strict=True)]


def apply_writes(
    conn: sqlite3.Connection, ops: list[WriteOp]
) -> list[DialoghubError | ValueError | None]:
    """Check every write, then apply the accepted ones; the refusal of each (None: applied).

    Runs inside the caller's transaction. Every refusal (exists, not found, key reused, stale
    version, seq gap) is decided before any statement changes anything.
    """
    keys = {(op.write.session.tenant, op.write.session.id) for op in ops}
    current: dict[tuple[str, str], list[int]] = {}
    for chunk in _chunks(sorted(keys), 400):
        marks = ",".join("(?,?)" for _ in chunk)
        flat = [v for k in chunk for v in k]
        for tenant, sid_text, sid, version, seq in conn.execute(
            f"SELECT tenant, id, sid, version, seq FROM sessions WHERE (tenant, id) IN ({marks})",
            flat,
        ):
            current[(tenant, sid_text)] = [sid, version, seq]
    taken: set[tuple[int, str]] = set()
    keyed = [
        (current[k][0], op.write.idempotency.key)
        for op in ops
        if op.write.idempotency is not None
        and (k := (op.write.session.tenant, op.write.session.id)) in current
    ]
    for keyed_sid, idem_key in keyed:
        if conn.execute(
            "SELECT 1 FROM idempotency WHERE sid = ? AND key = ?", (keyed_sid, idem_key)
        ).fetchone():
            taken.add((keyed_sid, idem_key))
    outcomes: list[DialoghubError | ValueError | None] = []
    updates: list[tuple[Any, ...]] = []
    event_rows: list[tuple[Any, ...]] = []
    idem_rows: list[tuple[Any, ...]] = []
    indexed: list[tuple[int | None, Session, bytes, bool]] = []
    for op in ops:
        w, s = op.write, op.write.session
        key = (s.tenant, s.id)
        row = current.get(key)
        try:
            if w.expected_version == 0:
                if row is not None:
                    raise SessionExists(s.id)
                check_events(w, 0)
                cur = conn.execute(
                    "INSERT INTO sessions (tenant, id, model_id, state, status, version, seq,"
                    " created_at, updated_at, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        s.tenant,
                        s.id,
                        s.model_id,
                        s.state,
                        str(s.status),
                        s.version,
                        s.seq,
                        s.created_at,
                        s.updated_at,
                        op.body,
                    ),
                )
                sid = int(cur.lastrowid or 0)  # set by every successful INSERT
                current[key] = [sid, s.version, s.seq]
            else:
                if row is None:
                    raise SessionNotFound(s.id)
                sid, version, seq = row
                if w.idempotency is not None and (sid, w.idempotency.key) in taken:
                    raise IdempotencyKeyReused(s.id, w.idempotency.key)
                if version != w.expected_version:
                    raise VersionConflict(s.id, w.expected_version, version)
                check_events(w, seq)
                row[1], row[2] = s.version, s.seq  # a later write of the batch sees this one
                updates.append(
                    (
                        s.model_id,
                        s.state,
                        str(s.status),
                        s.version,
                        s.seq,
                        s.updated_at,
                        op.body,
                        sid,
                    )
                )
        except (DialoghubError, ValueError) as exc:
            outcomes.append(exc)
            continue
        if op.batch is not None:
            first = w.events[0]
            event_rows.append((sid, first.seq, first.version, first.time, op.batch))
        if w.idempotency is not None:
            i = w.idempotency
            taken.add((sid, i.key))
            idem_rows.append((sid, i.key, i.fingerprint, i.response, s.updated_at))
        indexed.append((sid, s, op.body, w.expected_version == 0))
        outcomes.append(None)
    conn.executemany(
        "UPDATE sessions SET model_id = ?, state = ?, status = ?, version = ?, seq = ?,"
        " updated_at = ?, body = ? WHERE sid = ?",
        updates,
    )
    conn.executemany(
        "INSERT INTO events (sid, first_seq, version, time, batch) VALUES (?, ?, ?, ?, ?)",
        event_rows,
    )
    if idem_rows:
        conn.executemany(
            "INSERT INTO idempotency (sid, key, fingerprint, response, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            idem_rows,
        )
    _idx.index(conn, indexed)
    return outcomes


def _chunks(items: list[T], size: int) -> list[list[T]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


STOP: Final = object()  # queued by close(): the writer finishes what is before it and exits

Outcome = tuple[Op, Any, BaseException | None]


def settle(outcomes: list[Outcome]) -> None:
    """Resolve futures on their own loop (called there via call_soon_threadsafe)."""
    for op, result, exc in outcomes:
        if op.future.done():  # the caller was cancelled; the write may still have landed
            continue
        if exc is not None:
            op.future.set_exception(exc)
        else:
            op.future.set_result(result)


#: Migration step 4 of :mod:`dialoghub.stores.migrations.sqlite`: when each idempotency record
#: was written (the ``updated_at`` of its update), indexed for retention. A record older than
#: the step gets its session's last update: it is kept at least as long as it should be.
#: Frozen: databases ran it; change the table through a new step.
IDEMPOTENCY_AGES: Final = (
    "ALTER TABLE idempotency ADD COLUMN created_at REAL NOT NULL DEFAULT 0",
    "UPDATE idempotency SET created_at = coalesce((SELECT s.updated_at FROM sessions AS s"
    " WHERE s.sid = idempotency.sid), 0)",
    "CREATE INDEX IF NOT EXISTS idempotency_by_time ON idempotency (created_at)",
)


def purge_idempotency(conn: sqlite3.Connection, before: float, limit: int) -> int:
    """Delete up to ``limit`` idempotency records written before ``before``, oldest first."""
    cur = conn.execute(
        "DELETE FROM idempotency WHERE (sid, key) IN (SELECT sid, key FROM idempotency"
        " WHERE created_at < ? ORDER BY created_at LIMIT ?)",
        (before, limit),
    )
    return cur.rowcount
