"""The JSON session-file store, ``json:///path/sessions.json``.

Every session is kept in memory and the whole set lives in one JSON file in the layout of the
NaifJs session file (see :mod:`dialoghub.stores._naif`), so a file written by hand or by NaifJs
loads, and the file stays readable and editable with any text editor.

* :meth:`JSONFileStore.open` loads the file (a missing file is an empty store; a file that is
  not valid JSON is refused with its line and column, and never overwritten);
  :meth:`JSONFileStore.close` writes it.
* Every write is durable before it is acknowledged: the file is rewritten to a temporary file
  in the same directory, fsynced, renamed over the old one (``os.replace``) and the directory
  fsynced, so a crash at any moment leaves either the old or the new file, never a torn one.

**The cost of the format.** Rewriting the whole file costs O(all sessions and their histories)
per save, not O(one turn): that is what a single JSON file means. Two things keep it usable:
concurrent writes are *group-committed* (one writer takes every queued change and saves them
with one file write, so N concurrent turns cost one rewrite, not N), and each session's entry
text is cached and rebuilt only when that session changes, so a save is mostly a join and a
write. For more than a few thousand sessions or long histories use ``sqlite://``.

The store is for one process: two processes writing one file would overwrite each other.
Values in sessions and events must be representable in JSON (str keys; no bytes).
URL option: ``model`` (default ``default``), the model id given to hand-written sessions.
"""

from __future__ import annotations

import asyncio
import bisect
import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import msgspec

from dialoghub.engine.records import Event, Session
from dialoghub.errors import (
    IdempotencyKeyReused,
    SessionExists,
    SessionNotFound,
    StoreConfigError,
    StoreCorrupt,
    StoreError,
    VersionConflict,
)
from dialoghub.stores import codec
from dialoghub.stores._common import (
    GroupCommit,
    ImportRow,
    check_batch,
    decode_cursor,
    encode_cursor,
    import_rows,
    query_options,
)
from dialoghub.stores._indexes import LocalIndexes
from dialoghub.stores._naif import Entry, EntryError, Row, entry_key, from_entry, render
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

__all__ = ["JSONFileStore"]

_CURSOR_TAG = "j1"
_json = msgspec.json.Encoder()
_items_dec = msgspec.json.Decoder(list[tuple[str, dict[str, Any]]])
_session_dec = msgspec.json.Decoder(Session)


@dataclass(frozen=True, slots=True)
class _Delete:
    """A delete, queued like a write so that it is saved in order with them."""

    tenant: str
    session_id: str


@dataclass(slots=True)
class _Purge:
    """Sessions retention deletes, queued like a write: saved together in one file write."""

    keys: list[tuple[str, str]]
    deleted: int = 0  # set once saved


@dataclass(frozen=True, slots=True)
class _Import:
    """A whole session with its log (:meth:`JSONFileStore.import_session`), saved like a
    create."""

    session: Session
    rows: list[ImportRow]
    kept: list[Session]


_Change = Write | _Delete | _Purge | _Import


def _items(events: Sequence[Event]) -> bytes:
    """The JSON ``[[type, data], ...]`` of one update's events, as the file keeps them."""
    return _json.encode([(e.type, e.data) for e in events])


_PURGE_KEY = ("", "\x00purge")  # no session has this key: purges only wait for each other


def _change_key(change: _Change) -> tuple[str, str]:
    if isinstance(change, _Purge):
        return _PURGE_KEY
    if isinstance(change, _Delete):
        return (change.tenant, change.session_id)
    return (change.session.tenant, change.session.id)  # a Write or an _Import


class JSONFileStore:
    """Sessions in memory, saved to one NaifJs-layout JSON file; see the module docstring."""

    def __init__(self, url: str, *, path: Path, model_id: str = "default") -> None:
        self.url = url
        self.path = path
        self._model_id = model_id
        self._entries: dict[tuple[str, str], Entry] = {}
        # tenant -> (orders, ids) ascending: listing bisects to the cursor.
        self._by_tenant: dict[str, tuple[list[int], list[str]]] = {}
        self._next_order = 1
        self._open = False
        self._indexes = LocalIndexes()  # timers and closed sessions (snapshots are in entries)
        self.events_read = 0
        # One writer: each save rewrites the whole file, so parallel saves would only race.
        self._group: GroupCommit[_Change] = GroupCommit(
            self._run_batch, key=_change_key, writers=1, max_batch=100_000
        )

    @classmethod
    def from_url(cls, url: str) -> JSONFileStore:
        """Build a store from ``json:///absolute/path.json`` (or ``json://relative.json``)."""
        parts = urlsplit(url)
        raw = unquote(parts.netloc + parts.path)
        if not raw:
            raise StoreConfigError(
                f"store URL {url!r} names no file; use json:///path/sessions.json"
            )
        options = query_options(url, parts.query, {"model": "default"})
        return cls(url, path=Path(raw), model_id=options["model"])

    # --- lifecycle --------------------------------------------------------------------------

    async def open(self) -> None:
        """Load the file if it exists; a corrupt file is refused and left untouched."""
        if not self.path.parent.is_dir():
            raise StoreConfigError(
                f"directory {str(self.path.parent)!r} of the session file does not exist; "
                "create it or fix the store URL"
            )
        await asyncio.to_thread(self._load)
        self._open = True
        self._group.start()

    def _load(self) -> None:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return
        except (OSError, UnicodeDecodeError) as exc:
            raise StoreCorrupt(f"cannot read session file {self.path}: {exc}") from exc
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            raise StoreCorrupt(
                f"{self.path}:{exc.lineno}:{exc.colno}: not valid JSON ({exc.msg}); the file "
                "was left as it is: fix it, or move it away to start with no sessions"
            ) from exc
        if not isinstance(document, dict):
            raise StoreCorrupt(
                f"{self.path}: the top level must be an object keyed by session id, not a "
                f"{type(document).__name__}; the file was left as it is"
            )
        entries: list[Entry] = []
        for position, (key, value) in enumerate(document.items(), start=1):
            try:
                entries.append(from_entry(key, value, model_id=self._model_id, order=position))
            except EntryError as exc:
                raise StoreCorrupt(
                    f"{self.path}: session {key!r}: {exc}; the file was left as it is"
                ) from exc
        for entry in sorted(entries, key=lambda e: e.order):
            entry.text = render(entry)
            self._insert(entry)
            self._next_order = max(self._next_order, entry.order + 1)

    async def close(self) -> None:
        """Finish queued writes and write the file (as NaifJs's ``down``)."""
        if not self._open:
            return
        await self._group.close()
        self._open = False
        try:
            await asyncio.to_thread(self._save, self._render_all({}, []))
        except OSError as exc:
            raise StoreError(
                f"cannot write session file {self.path}: {exc}; the previous file is intact"
            ) from exc
        finally:
            self._entries.clear()
            self._by_tenant.clear()
            self._indexes = LocalIndexes()

    # --- the file ---------------------------------------------------------------------------

    def _render_all(self, changed: dict[tuple[str, str], Entry | None], new: list[Entry]) -> bytes:
        """The file text with ``changed`` entries replaced (None: removed) and ``new`` added.

        One entry per line, in creation order: diffable, and still the NaifJs layout.
        """
        parts: list[bytes] = []
        used: set[str] = set()
        current = (changed.get(k, e) for k, e in self._entries.items())
        for entry in [*current, *new]:
            if entry is None:
                continue
            name = entry_key(entry.session.tenant, entry.session.id)
            if name in used:  # a default-tenant id that looks like "tenant/id"
                name = f"{name}#{entry.order}"
            used.add(name)
            parts.append(_json.encode(name) + b": " + entry.text)
        return b"{\n" + b",\n".join(parts) + b"\n}\n" if parts else b"{}\n"

    def _save(self, data: bytes) -> None:
        """Replace the file with ``data`` atomically and durably."""
        directory = self.path.parent
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=directory)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        # The rename is durable only once the directory entry is.
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    # --- writes -----------------------------------------------------------------------------

    def _check_open(self) -> None:
        if not self._open:
            raise StoreError(f"store {self.url!r} is not open; call 'await store.open()' first")

    async def write(self, write: Write) -> None:
        """Apply one update; answered once the file holding it is on disk."""
        self._check_open()
        check_batch(write)
        if write.expected_version == 0:
            check_events(write, 0)
        await self._group.submit(write)

    def _stage(self, write: Write, order: int) -> Entry:
        """The entry after ``write``, checked against the stored one; raises if refused."""
        s = write.session
        old = self._entries.get((s.tenant, s.id))
        if write.expected_version == 0:
            if old is not None:
                raise SessionExists(s.id)
        else:
            if old is None:
                raise SessionNotFound(s.id)
            if write.idempotency is not None and write.idempotency.key in old.idempotency:
                raise IdempotencyKeyReused(s.id, write.idempotency.key)
            if old.session.version != write.expected_version:
                raise VersionConflict(s.id, write.expected_version, old.session.version)
            check_events(write, old.session.seq)
        rows = list(old.rows) if old is not None else []
        row = check_batch(write)
        if row is not None:
            items = _json.encode([(e.type, e.data) for e in write.events])
            rows.append(Row(row[0], row[1], row[2], items))
        kept = list(old.snapshots) if old is not None else []
        if keeps_snapshot(s):
            kept.append((s.seq, _json.encode(s)))
        idem = dict(old.idempotency) if old is not None else {}
        if write.idempotency is not None:
            idem[write.idempotency.key] = (
                write.idempotency.fingerprint,
                write.idempotency.response,
            )
        # A private copy: the caller may keep mutating the session it passed in.
        copy = codec.decode_session(codec.encode_session(s))
        entry = Entry(
            order=old.order if old else order,
            session=copy,
            rows=rows,
            idempotency=idem,
            snapshots=kept,
        )
        entry.text = render(entry)
        return entry

    async def import_session(
        self, session: Session, events: Sequence[Event], *, snapshots: Sequence[Session] = ()
    ) -> None:
        """Store a whole session with its log; answered once the file holding it is on disk
        (see :meth:`Store.import_session`)."""
        self._check_open()
        rows, kept = import_rows(session, events, snapshots)
        await self._group.submit(_Import(session, rows, kept))

    def _stage_import(self, change: _Import, order: int) -> Entry:
        """The entry of an imported session; SessionExists if its id is taken."""
        s = change.session
        if (s.tenant, s.id) in self._entries:
            raise SessionExists(s.id)
        entry = Entry(
            order=order,
            session=codec.decode_session(codec.encode_session(s)),  # a private copy
            rows=[Row(r.first_seq, r.version, r.time, _items(r.events)) for r in change.rows],
            snapshots=[(k.seq, _json.encode(k)) for k in change.kept],
        )
        entry.text = render(entry)
        return entry

    async def _run_batch(self, changes: list[_Change]) -> list[BaseException | None]:
        results: list[BaseException | None] = [None] * len(changes)
        changed: dict[tuple[str, str], Entry | None] = {}
        new: list[Entry] = []
        order = self._next_order
        for i, change in enumerate(changes):
            key = _change_key(change)
            try:
                if isinstance(change, _Purge):
                    for gone in change.keys:
                        if gone in self._entries and gone not in changed:
                            changed[gone] = None
                            change.deleted += 1
                elif isinstance(change, _Delete):
                    if key not in self._entries:
                        raise _Absent
                    changed[key] = None
                elif isinstance(change, _Import):
                    new.append(self._stage_import(change, order))
                    order += 1
                elif change.expected_version == 0:
                    new.append(self._stage(change, order))
                    order += 1
                else:
                    changed[key] = self._stage(change, order)
            except Exception as exc:  # refused: this change is left out of the save
                results[i] = exc
        if not changed and not new:
            return results
        try:
            await asyncio.to_thread(self._save, self._render_all(changed, new))
        except OSError as exc:
            error = StoreError(
                f"cannot write session file {self.path}: {exc}; nothing was changed "
                "(the old file is intact); free disk space or fix permissions and retry"
            )
            error.__cause__ = exc
            for change in changes:  # nothing was deleted: back into the retention index
                if isinstance(change, _Purge):
                    for gone in change.keys:
                        if gone in self._entries:
                            self._indexes.written(self._entries[gone].session)
            return [r if r is not None else error for r in results]
        # Durable: now (and only now) readers see the changes.
        for key, entry in changed.items():
            if entry is None:
                self._remove(key)
            else:
                self._entries[key] = entry
                self._indexes.written(entry.session)
        for entry in new:
            self._insert(entry)
        self._next_order = order
        return results

    def _insert(self, entry: Entry) -> None:
        tenant, sid = entry.session.tenant, entry.session.id
        self._entries[(tenant, sid)] = entry
        orders, ids = self._by_tenant.setdefault(tenant, ([], []))
        orders.append(entry.order)  # orders only grow: stays sorted
        ids.append(sid)
        self._indexes.written(entry.session)

    def _remove(self, key: tuple[str, str]) -> None:
        entry = self._entries.pop(key)
        orders, ids = self._by_tenant[key[0]]
        i = bisect.bisect_left(orders, entry.order)
        del orders[i], ids[i]
        self._indexes.removed(key)

    async def delete(self, session_id: str, *, tenant: str = "default") -> bool:
        """Remove a session with its events and idempotency records; saved before returning."""
        self._check_open()
        try:
            await self._group.submit(_Delete(tenant, session_id))
        except _Absent:
            return False
        return True

    # --- reads ------------------------------------------------------------------------------

    async def load(self, session_id: str, *, tenant: str = "default") -> Session | None:
        """The latest snapshot (a fresh copy), or None."""
        self._check_open()
        entry = self._entries.get((tenant, session_id))
        return codec.decode_session(codec.encode_session(entry.session)) if entry else None

    async def idempotent(
        self, session_id: str, key: str, *, tenant: str = "default"
    ) -> Idempotency | None:
        """The stored answer to a keyed update of this session, or None."""
        self._check_open()
        entry = self._entries.get((tenant, session_id))
        if entry is None or key not in entry.idempotency:
            return None
        fingerprint, response = entry.idempotency[key]
        return Idempotency(key=key, fingerprint=fingerprint, response=response)

    async def events(
        self, session_id: str, *, tenant: str = "default", after: int = 0, limit: int = 100
    ) -> list[Event]:
        """Events with ``seq > after``, in order, at most ``limit``."""
        self._check_open()
        entry = self._entries.get((tenant, session_id))
        if entry is None or limit <= 0:
            return []
        rows = entry.rows
        start = max(bisect.bisect_right(rows, after + 1, key=lambda r: r.first_seq) - 1, 0)
        out: list[Event] = []
        for row in rows[start:]:
            items = _items_dec.decode(row.items)
            self.events_read += len(items)
            for i, (type_, data) in enumerate(items):
                seq = row.first_seq + i
                if seq > after:
                    out.append(
                        Event(seq=seq, version=row.version, time=row.time, type=type_, data=data)
                    )
                    if len(out) == limit:
                        return out
        return out

    async def list_sessions(
        self, filter: SessionFilter, *, limit: int = 50, cursor: str | None = None
    ) -> Page:
        """Sessions matching ``filter`` in creation order; scans the tenant from the cursor."""
        self._check_open()
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        after = decode_cursor(_CURSOR_TAG, cursor) if cursor is not None else 0
        orders, ids = self._by_tenant.get(filter.tenant, ([], []))
        found: list[Session] = []
        for i in range(bisect.bisect_right(orders, after), len(orders)):
            s = self._entries[(filter.tenant, ids[i])].session
            if (
                (filter.model_id is not None and s.model_id != filter.model_id)
                or (filter.state is not None and s.state != filter.state)
                or (filter.status is not None and str(s.status) != filter.status)
            ):
                continue
            if len(found) == limit:
                last = self._entries[(filter.tenant, found[-1].id)].order
                return Page(found, encode_cursor(_CURSOR_TAG, last))
            found.append(codec.decode_session(codec.encode_session(s)))
        return Page(found, None)

    # --- time travel, timers, retention -------------------------------------------------

    async def rewind(self, session_id: str, *, at: int, tenant: str = "default") -> Rewind:
        """The nearest kept snapshot at or before event ``at`` and the events after it."""
        self._check_open()
        entry = self._entries.get((tenant, session_id))
        if entry is None:
            return Rewind(None, [])
        i = bisect.bisect_right(entry.snapshots, at, key=lambda k: k[0]) - 1
        since = entry.snapshots[i][0] if i >= 0 else 0
        lo = bisect.bisect_right(entry.rows, since, key=lambda r: r.first_seq)
        hi = bisect.bisect_right(entry.rows, at, key=lambda r: r.first_seq)
        events: list[Event] = []
        for row in entry.rows[lo:hi]:
            events.extend(
                Event(seq=row.first_seq + n, version=row.version, time=row.time, type=ty, data=d)
                for n, (ty, d) in enumerate(_items_dec.decode(row.items))
            )
        self.events_read += len(events)
        return Rewind(_session_dec.decode(entry.snapshots[i][1]) if i >= 0 else None, events)

    async def claim_timers(
        self, now: float, *, limit: int = 100, lease: float = 60.0
    ) -> list[DueTimer]:
        """Take up to ``limit`` due timers; each is due again at ``now + lease``.

        Claims live in memory (one process per file): after a restart every timer is due
        at its own time again, and the version check on delivery drops the stale ones.
        """
        self._check_open()
        return self._indexes.claim(now, limit, lease)

    async def drop_timer(self, timer: DueTimer) -> None:
        """Remove a claimed timer if its session is still at ``timer.version``."""
        self._check_open()
        self._indexes.drop(timer)

    async def purge(self, before: float, *, limit: int = 1000) -> int:
        """Delete up to ``limit`` closed sessions last updated before ``before``: one save."""
        self._check_open()
        keys = self._indexes.closed_before(before, limit)
        if not keys:
            return 0
        change = _Purge(keys)
        await self._group.submit(change)
        return change.deleted


class _Absent(Exception):
    """A delete found no session (internal: delete() turns it into False)."""
