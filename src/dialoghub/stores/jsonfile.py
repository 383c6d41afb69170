"""The JSON session-file store, ``json:///path/sessions.json``.

Every session is kept in memory. On disk there are two files:

* ``sessions.json``, the **session file**, in the layout of the NaifJs session file (see
  :mod:`dialoghub.stores._naif`): one entry per session holding its *snapshot* only (plus the
  small dialoghub fields under ``"dialoghub"``), so a file written by hand or by NaifJs loads,
  and the file stays readable and editable with any text editor;
* ``sessions.json.events``, the **event log** (see :mod:`dialoghub.stores._jsonlog`): JSON
  Lines, append-only, one line per update with its events and its new snapshot.

**Cost per turn.** A group commit appends one line per update to the log and fsyncs it: an
update costs O(its own events and snapshot), whatever the length of the history (principle 2
of the design). The session file costs O(number of sessions) to write and is rewritten as a
*checkpoint*, at most once per ``checkpoint`` seconds while writes go on (URL option,
default 30; ``0`` writes it on every commit), as soon as writes stop, and on
:meth:`JSONFileStore.close`. Coalescing is safe because the log,
not the session file, is the durable record: every acknowledged update is in the fsynced log
before its caller is answered, and the log line carries the snapshot, so the session file
can lag behind by up to one interval without losing anything. It keeps a busy store from
paying three fsyncs and an O(sessions) rewrite per commit. A checkpoint holds up the commits
behind it for those fsyncs, so a short interval puts a stall into the turns of a busy store
every interval (at 1 s, visible in W2's per-turn means); 30 s makes them rare, and a human
looking at ``sessions.json`` still sees it current as soon as writes pause.

**Crash safety.** The order of every commit is: append the log lines, fsync (an append that
fails is cut back off and the write refused: nothing was changed); then, when a checkpoint
is due, write the session file atomically (temporary file, fsync, rename, fsync of the
directory) and append a ``{"checkpoint": ...}`` marker. On :meth:`JSONFileStore.open`:

* log lines after the last marker that are newer than a session's entry in the file are
  *rolled forward*: the session takes the snapshot of its last line (the store does not
  fold events itself: stores sit below the engine, and a write's events need not fold into
  its snapshot at this level), and sessions the file does not have yet (created after the
  last checkpoint) are taken from the log; deletes after the marker are applied;
* a torn last line (a crash mid-append: never acknowledged) is ignored with a warning and
  cut off; a damaged line anywhere else is refused (:class:`StoreCorrupt`), files untouched;
* a session the log knows only from before the last marker and the file no longer has was
  removed from the file by hand: it stays removed (warning).

After a roll-forward the session file is written at once; after a repair (a session removed
by hand, log lines beyond a session's snapshot, a file of an earlier version with its events
inside) the log is compacted too.

**Deletes and compaction.** A delete or a retention purge is one log line. The lines of
deleted sessions are garbage; once garbage makes up more than half of a log of at least
64 KiB, the log is *compacted*: rewritten atomically (temporary file, fsync, rename) with
one line per live session holding its whole history, snapshot and idempotency records, so
the compacted log stands on its own; then a checkpoint. Each compaction rewrites at most as
many bytes as the deletes since the last one freed, so its cost per update stays bounded;
a workload without deletes (one long session) never compacts. Log lines keep a copy of the
snapshot of every update (the price of recovery without folding); compaction drops those
copies, except the snapshots kept for time travel.

**Reads.** Events and the kept snapshots (time travel) are in memory, indexed per session, so
:meth:`~JSONFileStore.events` and :meth:`~JSONFileStore.rewind` never scan the log; opening
the store reads both files once, O(everything stored), as a store that holds the whole set
in memory must.

The store is for one process: two processes writing the same files would overwrite each
other. Values in sessions and events must be representable in JSON (str keys; no bytes).
URL options: ``models`` (``unit1:model_a,unit2:model_b``), the model of a hand-written
session by the unit its entry names; ``model``, the model of the other hand-written sessions
(default: the model whose id is the entry's unit name);
``checkpoint`` (seconds, default 30), the most the session file lags behind the log while
writes go on.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import bisect
import contextlib
import dataclasses
import heapq
import json
import logging
import os
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
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
from dialoghub.stores._across import list_across
from dialoghub.stores._common import (
    GroupCommit,
    IdempotencyAges,
    ImportRow,
    check_batch,
    decode_cursor,
    encode_cursor,
    import_rows,
    query_options,
)
from dialoghub.stores._indexes import LocalIndexes
from dialoghub.stores._jsonlog import (
    EventLog,
    Line,
    LogBroken,
    LogCorrupt,
    encode_line,
    fsync_dir,
)
from dialoghub.stores._naif import Entry, EntryError, Row, entry_key, from_entry, render
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

__all__ = ["JSONFileStore"]

logger = logging.getLogger(__name__)

_CURSOR_TAG = "j1"
_json = msgspec.json.Encoder()
_items_dec = msgspec.json.Decoder(list[tuple[str, dict[str, Any]]])
_session_dec = msgspec.json.Decoder(Session)
#: Compaction runs when deleted sessions' lines are more than this share of the log ...
_GARBAGE_SHARE = 0.5
#: ... and the log is at least this big.
_COMPACT_MIN_BYTES = 64 * 1024

Key = tuple[str, str]


@dataclass(frozen=True, slots=True)
class _Delete:
    """A delete, queued like a write so that it is saved in order with them."""

    tenant: str
    session_id: str


@dataclass(slots=True)
class _Purge:
    """Sessions retention deletes, queued like a write: saved together in one log line."""

    keys: list[Key]
    deleted: int = 0  # set once saved


@dataclass(frozen=True, slots=True)
class _Import:
    """A whole session with its log (:meth:`JSONFileStore.import_session`), saved like a
    create."""

    session: Session
    rows: list[ImportRow]
    kept: list[Session]


@dataclass(frozen=True, slots=True)
class _Checkpoint:
    """Write the session file now: queued, so that it runs on the one writer."""


@dataclass(slots=True)
class _PurgeIdempotency:
    """Idempotency retention: records written before ``before`` leave memory, the log is
    compacted without them and the session file written, before the batch's other changes."""

    before: float
    limit: int
    deleted: int = 0  # set once done


_Change = Write | _Delete | _Purge | _Import | _Checkpoint | _PurgeIdempotency


@dataclass(slots=True)
class _Put:
    """A staged write or import, applied to memory once its log line is durable."""

    entry: Entry  # the stored entry (an update) or a new one (a create or an import)
    new: bool
    session: Session
    text: bytes
    line: bytes
    row: Row | None = None
    kept: tuple[int, bytes] | None = None
    idempotency: Idempotency | None = None
    copy_bytes: int = 0  # the line's copy of the snapshot, if not one kept for time travel


@dataclass(slots=True)
class _Replay:
    """What the log says of one session, gathered while the log is read on open."""

    order: int = 0
    rows: list[Row] = field(default_factory=list)
    kept: list[tuple[int, bytes]] = field(default_factory=list)
    session: bytes | None = None  # the snapshot of its last line that has one
    late: bool = False  # has a line after the last checkpoint marker
    idempotency: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    log_bytes: int = 0


def _items(events: Sequence[Event]) -> bytes:
    """The JSON ``[[type, data], ...]`` of one update's events, as the log keeps them."""
    return _json.encode([(e.type, e.data) for e in events])


_PURGE_KEY = ("", "\x00purge")  # no session has this key: purges only wait for each other
_CHECKPOINT_KEY = ("", "\x00checkpoint")


def _change_key(change: _Change) -> Key:
    if isinstance(change, _Purge | _PurgeIdempotency):
        return _PURGE_KEY
    if isinstance(change, _Checkpoint):
        return _CHECKPOINT_KEY
    if isinstance(change, _Delete):
        return (change.tenant, change.session_id)
    return (change.session.tenant, change.session.id)  # a Write or an _Import


def _idem_triples(idem: dict[str, tuple[str, bytes]]) -> list[tuple[str, str, str]]:
    return [(k, fp, base64.b64encode(resp).decode()) for k, (fp, resp) in idem.items()]


def _whole_line(entry: Entry) -> bytes:
    """The log line holding a whole session: what compaction writes."""
    s = entry.session
    return encode_line(
        Line(
            tenant=s.tenant,
            id=s.id,
            order=entry.order,
            session=msgspec.Raw(_json.encode(s)),
            idempotency=_idem_triples(entry.idempotency),
            rows=[(r.first_seq, r.version, r.time, msgspec.Raw(r.items)) for r in entry.rows],
            snapshots=[msgspec.Raw(body) for _, body in entry.snapshots],
        )
    )


class JSONFileStore:
    """Sessions in memory, a NaifJs-layout session file and an append-only event log; see
    the module docstring."""

    def __init__(
        self,
        url: str,
        *,
        path: Path,
        model_id: str | None = None,
        checkpoint: float = 30.0,
        models: dict[str, str] | None = None,
    ) -> None:
        self.url = url
        self.path = path
        self.log_path = path.with_name(path.name + ".events")
        self._model_id = model_id
        self._models = dict(models or {})
        self._interval = checkpoint
        self._entries: dict[Key, Entry] = {}
        # tenant -> (orders, ids) ascending: listing bisects to the cursor.
        self._by_tenant: dict[str, tuple[list[int], list[str]]] = {}
        self._next_order = 1
        self._open = False
        self._indexes = LocalIndexes()  # timers and closed sessions (snapshots are in entries)
        # When each idempotency record was written; one loaded from the files gets its
        # session's last update (an upper bound: it is kept at least as long as it should be).
        self._idem_ages = IdempotencyAges()
        self.events_read = 0
        self._log = EventLog(self.log_path)
        self._file_bytes_written = 0
        self._garbage = 0  # log bytes about deleted sessions (and markers)
        self._copies = 0  # bytes of snapshot copies in update lines (not kept ones)
        self._dirty = False  # the session file lags behind the log
        self._marked = -1  # log size right after the last checkpoint marker
        self._last_checkpoint = float("-inf")  # time.monotonic() of the last attempt
        self._timer: asyncio.TimerHandle | None = None
        self._kick: asyncio.Task[None] | None = None
        self._broken: str | None = None
        self._closing = False
        # One writer: the log is appended in order, and each checkpoint sees every change.
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
        options = query_options(url, parts.query, {"model": "", "models": "", "checkpoint": "30"})
        models: dict[str, str] = {}
        for pair in filter(None, options["models"].split(",")):
            unit, sep, model = pair.partition(":")
            if not sep or not unit.strip() or not model.strip():
                raise StoreConfigError(
                    f"option models={options['models']!r} in {url!r} must be "
                    "unit:model pairs separated by commas (unit1:model_a,unit2:model_b)"
                )
            models[unit.strip()] = model.strip()
        try:
            interval = float(options["checkpoint"])
        except ValueError:
            interval = -1.0
        if not interval >= 0:  # also refuses nan
            raise StoreConfigError(
                f"option checkpoint={options['checkpoint']!r} in {url!r} must be a number of "
                "seconds >= 0 (0: write the session file on every commit)"
            )
        return cls(
            url,
            path=Path(raw),
            model_id=options["model"] or None,
            checkpoint=interval,
            models=models,
        )

    @property
    def bytes_written(self) -> int:
        """Bytes written to disk (log appends, session files, compactions) since opened."""
        return self._log.bytes_written + self._file_bytes_written

    # --- lifecycle --------------------------------------------------------------------------

    async def open(self) -> None:
        """Load the session file and the log; roll forward, repair, refuse corrupt files."""
        if not self.path.parent.is_dir():
            raise StoreConfigError(
                f"directory {str(self.path.parent)!r} of the session file does not exist; "
                "create it or fix the store URL"
            )
        await asyncio.to_thread(self._load)
        self._open = True
        self._closing = False
        self._group.start()

    def _read_file(self) -> list[Entry] | None:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
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
                entries.append(
                    from_entry(
                        key, value, model_id=self._model_id, order=position, models=self._models
                    )
                )
            except EntryError as exc:
                raise StoreCorrupt(
                    f"{self.path}: session {key!r}: {exc}; the file was left as it is"
                ) from exc
        return entries

    def _replay(self) -> tuple[dict[Key, _Replay], set[Key], int, int]:
        """Read the log: per session what it says, the sessions deleted after the last
        marker, the bytes of garbage and the bytes of a torn tail (``self._log.size`` is set
        to the bytes of its good lines)."""
        try:
            parsed = self._log.read()
        except OSError as exc:
            raise StoreCorrupt(f"cannot read event log {self.log_path}: {exc}") from exc
        except LogCorrupt as exc:
            raise StoreCorrupt(
                f"{self.log_path}:{exc.lineno}: not a log line ({exc.args[0]}); the files were "
                "left as they are: fix or remove the line (only a torn last line is ignored)"
            ) from exc
        last_marker = max(
            (i for i, (line, _) in enumerate(parsed.lines) if line.checkpoint is not None),
            default=-1,
        )
        state: dict[Key, _Replay] = {}
        deleted_late: set[Key] = set()
        garbage = 0
        copies = 0
        for i, (line, size) in enumerate(parsed.lines, start=0):
            late = i > last_marker
            try:
                if line.checkpoint is not None:
                    garbage += size
                    continue
                if line.delete is not None:
                    garbage += size
                    for tenant, sid in line.delete:
                        gone = state.pop((tenant, sid), None)
                        garbage += gone.log_bytes if gone is not None else 0
                        if late:
                            deleted_late.add((tenant, sid))
                    continue
                if line.id is None:
                    raise ValueError("a line names no session ('id')")
                key = (line.tenant, line.id)
                deleted_late.discard(key)
                r = state.get(key)
                if line.rows is not None or r is None:  # a whole session replaces the old
                    if r is not None:
                        garbage += r.log_bytes
                    r = state[key] = _Replay(order=line.order)
                r.late = r.late or late
                r.log_bytes += size
                if line.rows is not None:
                    for first_seq, version, at, items in line.rows:
                        _items_dec.decode(items)
                        r.rows.append(Row(first_seq, version, at, bytes(items)))
                    for body in line.snapshots:
                        r.kept.append((_session_dec.decode(body).seq, bytes(body)))
                elif line.events:
                    _items_dec.decode(line.events)
                    r.rows.append(Row(line.first_seq, line.version, line.time, bytes(line.events)))
                if line.session:
                    r.session = bytes(line.session)
                    if line.rows is None and not line.kept:
                        copies += len(line.session)
                    if line.kept:
                        r.kept.append((_session_dec.decode(line.session).seq, r.session))
                for k, fp, resp in line.idempotency:
                    r.idempotency[k] = (fp, base64.b64decode(resp, validate=True))
            except (msgspec.ValidationError, binascii.Error, ValueError) as exc:
                raise StoreCorrupt(
                    f"{self.log_path}: line {i + 1}: {exc}; the files were left as they are"
                ) from exc
        self._log.size = parsed.size
        self._copies = copies
        if parsed.torn:
            logger.warning(
                "%s: the last line is torn (%d bytes, a crash while it was written; it was "
                "never acknowledged): ignored and cut off",
                self.log_path,
                parsed.torn,
            )
        return state, deleted_late, garbage, parsed.torn

    def _load(self) -> None:
        from_file = self._read_file()
        state, deleted_late, garbage, torn = self._replay()
        repair = False  # the log must be rewritten from memory
        stale = from_file is not None and any(e.rows or e.snapshots for e in from_file)
        loaded: list[Entry] = []
        for e in from_file or []:
            key = (e.session.tenant, e.session.id)
            r = state.pop(key, None)
            if r is None:
                if key in deleted_late:  # deleted after the last checkpoint
                    stale = True
                    continue
                if e.rows or e.snapshots:  # a file of an earlier version: history inside
                    repair = True
                loaded.append(e)
                continue
            if r.late and r.session is not None:
                newer = _session_dec.decode(r.session)
                if newer.version > e.session.version:
                    e.session, stale = newer, True  # rolled forward
            seq = e.session.seq
            rows = [row for row in r.rows if row.first_seq <= seq]
            if len(rows) != len(r.rows):
                logger.warning(
                    "%s: session %r: log lines beyond its snapshot (seq %d) dropped",
                    self.log_path,
                    e.session.id,
                    seq,
                )
                repair = True
            if not rows and e.rows:
                repair = True  # history only in the file (an earlier version): to the log
            else:
                e.rows = rows
                e.snapshots = [k for k in r.kept if k[0] <= seq] or e.snapshots
            e.idempotency = {**e.idempotency, **r.idempotency}
            e.log_bytes = r.log_bytes
            loaded.append(e)
        for key, r in state.items():  # sessions the file does not have
            if r.late and r.session is not None:  # created after the last checkpoint
                session = _session_dec.decode(r.session)
                entry = Entry(
                    order=r.order or self._next_order,
                    session=session,
                    rows=[row for row in r.rows if row.first_seq <= session.seq],
                    idempotency=r.idempotency,
                    snapshots=[k for k in r.kept if k[0] <= session.seq],
                    log_bytes=r.log_bytes,
                )
                loaded.append(entry)
                stale = True
            else:
                logger.warning(
                    "%s: session %r is in the event log but was removed from %s by hand: "
                    "it stays removed",
                    self.log_path,
                    key[1] if key[0] == "default" else f"{key[0]}/{key[1]}",
                    self.path.name,
                )
                repair = True
        for entry in sorted(loaded, key=lambda x: x.order):
            entry.text = render(entry.order, entry.session, entry.idempotency)
            self._insert(entry)
            self._next_order = max(self._next_order, entry.order + 1)
            for k in entry.idempotency:
                at = entry.session.updated_at
                self._idem_ages.written(entry.session.tenant, entry.session.id, k, at)
        self._garbage = garbage
        try:
            if repair:
                self._compact()
            elif torn:
                self._log.truncate_torn(self._log.size)
            if repair or stale:
                self._checkpoint()
        except OSError as exc:
            raise StoreError(
                f"cannot repair {self.path} and its event log {self.log_path.name}: {exc}; "
                "nothing was lost (the old files are intact): free disk space or fix "
                "permissions and open again"
            ) from exc

    async def close(self) -> None:
        """Finish queued writes and write the session file (as NaifJs's ``down``)."""
        if not self._open:
            return
        self._closing = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        await self._group.close()
        if self._kick is not None:
            await asyncio.gather(self._kick, return_exceptions=True)
        self._open = False
        try:
            await asyncio.to_thread(self._shut_down)
        except OSError as exc:
            raise StoreError(
                f"cannot write session file {self.path}: {exc}; nothing is lost: every update "
                f"is in {self.log_path.name} and is rolled forward on the next open"
            ) from exc
        finally:
            self._log.close()
            self._entries.clear()
            self._by_tenant.clear()
            self._indexes = LocalIndexes()
            self._idem_ages.clear()

    # --- the files --------------------------------------------------------------------------

    def _render_all(self) -> bytes:
        """The session file: one entry per line, in creation order (diffable, and still the
        NaifJs layout)."""
        parts: list[bytes] = []
        used: set[str] = set()
        for entry in self._entries.values():
            name = entry_key(entry.session.tenant, entry.session.id)
            if name in used:  # a default-tenant id that looks like "tenant/id"
                name = f"{name}#{entry.order}"
            used.add(name)
            parts.append(_json.encode(name) + b": " + entry.text)
        return b"{\n" + b",\n".join(parts) + b"\n}\n" if parts else b"{}\n"

    def _save(self, data: bytes) -> None:
        """Replace the session file with ``data`` atomically and durably."""
        directory = self.path.parent
        try:  # the file keeps its mode; a new one is 0644, as the log beside it
            mode = os.stat(self.path).st_mode & 0o7777
        except FileNotFoundError:
            mode = 0o644
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=directory)
        try:
            os.fchmod(fd, mode)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        # The rename is durable only once the directory entry is.
        fsync_dir(directory)
        self._file_bytes_written += len(data)

    def _checkpoint(self) -> None:
        """Write the session file, then mark the log: everything above is in the file."""
        self._last_checkpoint = time.monotonic()
        self._save(self._render_all())
        self._dirty = False
        if self._log.size and self._log.size != self._marked:  # lines since the last marker
            marker = encode_line(Line(checkpoint=self._log.size))
            self._log.append(marker)
            self._garbage += len(marker)
            self._marked = self._log.size

    def _shut_down(self) -> None:
        """NaifJs's ``down``: compact the log if it is mostly garbage and copies of
        snapshots (O(history), once per shutdown, never per turn), then write the file."""
        if self._broken is None and self._garbage + self._copies > self._log.size / 2:
            self._compact()
            self._dirty = True
        if self._dirty or not self.path.exists():  # a store only read writes nothing
            self._checkpoint()

    def _compact(self) -> None:
        """Rewrite the log with one whole-session line per live session (atomically)."""

        def lines() -> Iterator[bytes]:
            for entry in self._entries.values():
                line = _whole_line(entry)
                entry.log_bytes = len(line)
                yield line

        self._log.rewrite(lines())
        self._garbage = self._copies = 0

    # --- writes -----------------------------------------------------------------------------

    def _check_open(self) -> None:
        if not self._open:
            raise StoreError(f"store {self.url!r} is not open; call 'await store.open()' first")

    async def write(self, write: Write) -> None:
        """Apply one update; answered once the log line holding it is on disk."""
        self._check_open()
        check_batch(write)
        if write.expected_version == 0:
            check_events(write, 0)
        await self._group.submit(write)

    def _stage(self, write: Write, order: int) -> _Put:
        """The update ``write`` makes, checked against the stored entry; raises if refused."""
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
        entry = old if old is not None else Entry(order=order, session=s)
        # A private copy: the caller may keep mutating the session it passed in.
        copy = codec.decode_session(codec.encode_session(s))
        snapshot = _json.encode(copy)
        idem = entry.idempotency
        line = Line(
            tenant=s.tenant,
            id=s.id,
            order=entry.order,
            session=msgspec.Raw(snapshot),
            kept=keeps_snapshot(s),
        )
        if write.idempotency is not None:
            i = write.idempotency
            idem = {**idem, i.key: (i.fingerprint, i.response)}
            line.idempotency = [(i.key, i.fingerprint, base64.b64encode(i.response).decode())]
        put = _Put(entry, old is None, copy, render(entry.order, copy, idem), b"")
        put.idempotency = write.idempotency
        row = check_batch(write)
        if row is not None:
            put.row = Row(row[0], row[1], row[2], _items(write.events))
            line.first_seq, line.version, line.time = row
            line.events = msgspec.Raw(put.row.items)
        if line.kept:
            put.kept = (s.seq, snapshot)
        else:
            put.copy_bytes = len(snapshot)
        put.line = encode_line(line)
        return put

    async def import_session(
        self, session: Session, events: Sequence[Event], *, snapshots: Sequence[Session] = ()
    ) -> None:
        """Store a whole session with its log; answered once the log line holding it is on
        disk (see :meth:`Store.import_session`)."""
        self._check_open()
        rows, kept = import_rows(session, events, snapshots)
        await self._group.submit(_Import(session, rows, kept))

    def _stage_import(self, change: _Import, order: int) -> _Put:
        """The entry of an imported session; SessionExists if its id is taken."""
        s = change.session
        if (s.tenant, s.id) in self._entries:
            raise SessionExists(s.id)
        copy = codec.decode_session(codec.encode_session(s))  # a private copy
        entry = Entry(
            order=order,
            session=copy,
            rows=[Row(r.first_seq, r.version, r.time, _items(r.events)) for r in change.rows],
            snapshots=[(k.seq, _json.encode(k)) for k in change.kept],
        )
        return _Put(entry, True, copy, render(order, copy, {}), _whole_line(entry))

    async def _run_batch(self, changes: list[_Change]) -> list[BaseException | None]:
        results: list[BaseException | None] = [None] * len(changes)
        ops: list[_Put | list[Key]] = []
        lines: list[bytes] = []
        touched: set[Key] = set()
        order = self._next_order
        force = False
        for change in changes:  # first: the batch's writes are staged without the records
            if isinstance(change, _PurgeIdempotency) and self._broken is None:
                change.deleted = await self._purge_idempotency(change.before, change.limit)
                force = force or change.deleted > 0
        for i, change in enumerate(changes):
            try:
                if self._broken is not None:
                    raise StoreError(self._broken)
                if isinstance(change, _Checkpoint | _PurgeIdempotency):
                    force = force or isinstance(change, _Checkpoint)
                    continue
                if isinstance(change, _Purge):
                    gone = [k for k in change.keys if k in self._entries and k not in touched]
                    if gone:
                        touched.update(gone)
                        ops.append(gone)
                        lines.append(encode_line(Line(delete=gone)))
                    change.deleted = len(gone)
                    continue
                key = _change_key(change)
                if key in touched:  # deleted by a purge earlier in this batch
                    if isinstance(change, _Delete):
                        raise _Absent
                    if not (isinstance(change, Write) and change.expected_version == 0):
                        raise SessionNotFound(key[1])
                if isinstance(change, _Delete):
                    if key not in self._entries:
                        raise _Absent
                    ops.append([key])
                    lines.append(encode_line(Line(delete=[key])))
                else:
                    if isinstance(change, _Import):
                        put = self._stage_import(change, order)
                    else:
                        put = self._stage(change, order)
                    if put.new:
                        order += 1
                    ops.append(put)
                    lines.append(put.line)
                touched.add(key)
            except Exception as exc:  # refused: this change is left out of the append
                results[i] = exc
        if lines:
            try:
                await asyncio.to_thread(self._log.append, b"".join(lines))
            except OSError as exc:
                error = StoreError(
                    f"cannot append to the event log {self.log_path}: {exc}; nothing was "
                    "changed (the log and the session file are intact); free disk space or "
                    "fix permissions and retry"
                )
                if isinstance(exc, LogBroken):
                    self._broken = (
                        f"the event log {self.log_path} could not be cut back after a failed "
                        f"append ({exc}); close and reopen the store (a torn last line is "
                        "ignored on open)"
                    )
                    error = StoreError(self._broken)
                error.__cause__ = exc
                for change in changes:  # nothing was deleted: back into the retention index
                    if isinstance(change, _Purge):
                        for purged in change.keys:
                            if purged in self._entries:
                                self._indexes.written(self._entries[purged].session)
                return [r if r is not None else error for r in results]
            # Durable: now (and only now) readers see the changes.
            for op in ops:
                if isinstance(op, _Put):
                    self._apply(op)
                else:
                    for gone_key in op:
                        self._garbage += self._entries[gone_key].log_bytes
                        self._remove(gone_key)
            self._garbage += sum(len(x) for x in lines if x.startswith(b'{"delete"'))
            self._next_order = order
            self._dirty = True
        await self._after_commit(force)
        return results

    def _apply(self, put: _Put) -> None:
        entry = put.entry
        entry.session = put.session
        entry.text = put.text
        entry.log_bytes += len(put.line)
        self._copies += put.copy_bytes
        if put.row is not None:
            entry.rows.append(put.row)
        if put.kept is not None:
            entry.snapshots.append(put.kept)
        if put.idempotency is not None:
            i = put.idempotency
            entry.idempotency[i.key] = (i.fingerprint, i.response)
            s = put.session
            self._idem_ages.written(s.tenant, s.id, i.key, s.updated_at)
        if put.new:
            self._insert(entry)
        else:
            self._indexes.written(entry.session)

    async def _after_commit(self, force: bool) -> None:
        """Compact the log if garbage calls for it; write the session file if it is due."""
        if self._broken is not None:
            return
        size = self._log.size
        if size >= _COMPACT_MIN_BYTES and self._garbage > size * _GARBAGE_SHARE:
            try:
                await asyncio.to_thread(self._compact)
                force = True  # the compacted log has no marker yet
            except OSError as exc:  # the old log is intact: try again once it doubles
                logger.warning("cannot compact %s: %s; will retry", self.log_path, exc)
                self._garbage = 0
        if not self._dirty:
            return
        if force or time.monotonic() - self._last_checkpoint >= self._interval:
            try:
                await asyncio.to_thread(self._checkpoint)
            except LogBroken as exc:
                self._broken = f"the event log {self.log_path} is damaged ({exc}): reopen"
            except OSError as exc:  # the log has everything: only the file lags behind
                logger.warning(
                    "cannot write session file %s: %s; nothing is lost (every update is in "
                    "%s); retrying in %s s",
                    self.path,
                    exc,
                    self.log_path.name,
                    self._interval,
                )
            if self._timer is not None and not self._dirty:
                self._timer.cancel()
                self._timer = None
        if self._dirty and self._timer is None and not self._closing:
            delay = max(0.0, self._last_checkpoint + max(self._interval, 0.05) - time.monotonic())
            self._timer = asyncio.get_running_loop().call_later(delay, self._start_kick)

    def _start_kick(self) -> None:
        self._timer = None
        if not self._closing:
            self._kick = asyncio.create_task(self._checkpoint_later())

    async def _checkpoint_later(self) -> None:
        """Write the session file once writes stop: the timer's side of the checkpoint."""
        with contextlib.suppress(StoreError):  # closing: close() writes the file
            await self._group.submit(_Checkpoint())

    def _insert(self, entry: Entry) -> None:
        tenant, sid = entry.session.tenant, entry.session.id
        self._entries[(tenant, sid)] = entry
        orders, ids = self._by_tenant.setdefault(tenant, ([], []))
        orders.append(entry.order)  # orders only grow: stays sorted
        ids.append(sid)
        self._indexes.written(entry.session)

    def _remove(self, key: Key) -> None:
        entry = self._entries.pop(key)
        orders, ids = self._by_tenant[key[0]]
        i = bisect.bisect_left(orders, entry.order)
        del orders[i], ids[i]
        self._indexes.removed(key)

    async def delete(self, session_id: str, *, tenant: str = "default") -> bool:
        """Remove a session with its events and idempotency records; in the log before
        returning (its lines are dropped by the next compaction)."""
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
        if filter.tenant is None:
            return await list_across(self, filter, limit=limit, cursor=cursor)
        tenant = filter.tenant
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        after = decode_cursor(_CURSOR_TAG, cursor) if cursor is not None else 0
        if filter.text is not None:
            needle = check_text(filter.text)

            async def fetch(last: int, n: int) -> list[tuple[int, Session]]:
                page = await self.list_sessions(
                    dataclasses.replace(filter, text=None), limit=n,
                    cursor=encode_cursor(_CURSOR_TAG, last) if last else None,
                )  # fmt: skip
                return [(self._entries[(tenant, s.id)].order, s) for s in page.sessions]

            return await search_page(fetch, needle, after=after, limit=limit, tag=_CURSOR_TAG)
        orders, ids = self._by_tenant.get(tenant, ([], []))
        found: list[Session] = []
        for i in range(bisect.bisect_right(orders, after), len(orders)):
            s = self._entries[(tenant, ids[i])].session
            if (
                (filter.model_id is not None and s.model_id != filter.model_id)
                or (
                    filter.state is not None
                    and s.state != filter.state
                    and filter.state not in extra_keys(s)  # a statechart's ancestors
                )
                or (filter.status is not None and str(s.status) != filter.status)
            ):
                continue
            if len(found) == limit:
                last = self._entries[(tenant, found[-1].id)].order
                return Page(found, encode_cursor(_CURSOR_TAG, last))
            found.append(codec.decode_session(codec.encode_session(s)))
        return Page(found, None)

    async def list_tenants(self, *, after: str | None = None, limit: int = 100) -> list[str]:
        """Tenants with sessions after ``after`` (str order), at most ``limit``."""
        self._check_open()
        names = [t for t, (orders, _) in self._by_tenant.items() if orders]
        return heapq.nsmallest(limit, (t for t in names if after is None or t > after))

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

    async def purge_idempotency(self, before: float, *, limit: int = 1000) -> int:
        """Delete up to ``limit`` idempotency records written before ``before``: the log is
        compacted without them and the session file written (O(store), once per pass)."""
        self._check_open()
        change = _PurgeIdempotency(before, limit)
        await self._group.submit(change)
        return change.deleted

    async def _purge_idempotency(self, before: float, limit: int) -> int:
        """On the writer: drop the records from memory, then from the files."""
        entries = self._entries

        def exists(record: tuple[str, str, str]) -> bool:
            entry = entries.get((record[0], record[1]))
            return entry is not None and record[2] in entry.idempotency

        gone = self._idem_ages.expired(before, limit, exists)
        touched: dict[Key, Entry] = {}
        for tenant, session_id, k in gone:
            entry = touched[(tenant, session_id)] = entries[(tenant, session_id)]
            del entry.idempotency[k]
        for entry in touched.values():
            entry.text = render(entry.order, entry.session, entry.idempotency)
        if gone:
            self._dirty = True
            try:  # the log's old lines still hold the records: rewrite it without them
                await asyncio.to_thread(self._compact)
            except OSError as exc:  # they come back on the next open, and go again
                logger.warning("cannot compact %s: %s; will retry", self.log_path, exc)
        return len(gone)


class _Absent(Exception):
    """A delete found no session (internal: delete() turns it into False)."""
