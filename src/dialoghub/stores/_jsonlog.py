"""The append-only event log beside a JSON session file: ``sessions.json.events``.

JSON Lines, one object per line. The kinds of line, told apart by their keys:

* an **update** (one per write)::

    {"tenant": "default", "id": "4711", "first_seq": 7, "version": 4, "time": 1700000000.5,
     "events": [["moved", {...}], ...], "order": 3, "session": {...the new snapshot...},
     "kept": true, "idempotency": [["key", "fingerprint", "base64 response"]]}

  ``first_seq``, ``version``, ``time`` and ``events`` are the update's event row (absent when
  it has no events). ``session`` is the snapshot after the update: the store does not fold
  events (stores sit below the engine, and a store's contract does not require a write's
  events to fold into its snapshot), so recovery takes the snapshot as written. ``kept``
  marks a snapshot kept for time travel (:func:`~dialoghub.stores.base.keeps_snapshot`).
* a **whole session** (an import, or a session rewritten by compaction): ``rows`` (every
  event row, ``[first_seq, version, time, [[type, data], ...]]``), ``snapshots`` (the kept
  ones), ``session`` and ``idempotency``. It replaces whatever the log said of that session.
* a **delete**: ``{"delete": [["tenant", "id"], ...]}`` (a delete, or one retention purge).
* a **checkpoint** marker, ``{"checkpoint": n}``: the session file was written with
  everything above it.

A line is the unit of atomicity: one write, one import, one purge is one line, so a crash
mid-append can only leave a torn *last* line.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import msgspec

from dialoghub.errors import LogBroken, LogCorrupt

__all__ = ["EventLog", "Line", "LogBroken", "LogCorrupt", "ReadLine", "encode_line", "fsync_dir"]


class Line(msgspec.Struct, omit_defaults=True):
    """One line of the log (see the module docstring); fields left at None are omitted."""

    tenant: str | None = None
    id: str | None = None
    first_seq: int = 0
    version: int = 0
    time: float = 0.0
    events: msgspec.Raw | None = None  # [[type, data], ...]
    order: int = 0
    session: msgspec.Raw | None = None
    kept: bool = False
    idempotency: list[tuple[str, str, str]] = msgspec.field(default_factory=list)
    rows: list[tuple[int, int, float, msgspec.Raw]] | None = None
    snapshots: list[msgspec.Raw] = msgspec.field(default_factory=list)
    delete: list[tuple[str, str]] | None = None
    checkpoint: int | None = None


class ReadLine(msgspec.Struct):
    """A :class:`Line` as read back: msgspec decodes ``Raw`` fields only without ``None``,
    so an absent ``events`` or ``session`` is an empty ``Raw`` here."""

    tenant: str = "default"
    id: str | None = None
    first_seq: int = 0
    version: int = 0
    time: float = 0.0
    events: msgspec.Raw = msgspec.field(default_factory=msgspec.Raw)
    order: int = 0
    session: msgspec.Raw = msgspec.field(default_factory=msgspec.Raw)
    kept: bool = False
    idempotency: list[tuple[str, str, str]] = msgspec.field(default_factory=list)
    rows: list[tuple[int, int, float, msgspec.Raw]] | None = None
    snapshots: list[msgspec.Raw] = msgspec.field(default_factory=list)
    delete: list[tuple[str, str]] | None = None
    checkpoint: int | None = None


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(ReadLine)


def encode_line(line: Line) -> bytes:
    """The line as it is appended, newline included."""
    return _encoder.encode(line) + b"\n"


@dataclass(slots=True)
class Parsed:
    """What :meth:`EventLog.read` found: the lines (with their sizes) and a torn tail."""

    lines: list[tuple[ReadLine, int]]
    size: int  # bytes of the good lines: where the next append goes
    torn: int  # bytes after them (a torn last line, ignored), 0 if none


def fsync_dir(directory: Path) -> None:
    """Make a rename (or a new file) in ``directory`` durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class EventLog:
    """The log file: read once on open, appended (and fsynced) on every group commit,
    rewritten whole only by compaction. Not thread-safe: the store's one writer uses it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.size = 0  # bytes of good lines in the file
        self.bytes_written = 0  # every byte appended or rewritten: for tests and benchmarks
        self._fd: int | None = None

    def read(self) -> Parsed:
        """Parse the whole log (missing: empty). A line that does not parse is a torn tail
        if it is the last one; anywhere else it raises LogCorrupt."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return Parsed([], 0, 0)
        lines: list[tuple[ReadLine, int]] = []
        offset = 0
        lineno = 0
        while offset < len(data):
            end = data.find(b"\n", offset)
            lineno += 1
            stop = len(data) if end < 0 else end + 1
            raw = data[offset:stop]
            try:
                if end < 0:
                    raise ValueError("no newline at the end")
                lines.append((_decoder.decode(raw), len(raw)))
            except (msgspec.DecodeError, ValueError) as exc:
                if data.find(b"\n", stop) < 0 and not data[stop:].strip(b"\0 \n"):
                    return Parsed(lines, offset, len(data) - offset)  # torn: the last line
                raise LogCorrupt(lineno, str(exc)) from exc
            offset = stop
        return Parsed(lines, offset, 0)

    def truncate_torn(self, size: int) -> None:
        """Cut a torn tail off, so the next append starts on a fresh line."""
        with open(self.path, "r+b") as f:
            f.truncate(size)
            f.flush()
            os.fsync(f.fileno())
        self.size = size

    def append(self, data: bytes) -> None:
        """Append ``data`` and fsync. On failure the file is cut back to its old size (so a
        half-written batch is not left in it) and the OSError is raised; if even that fails,
        :class:`LogBroken` is raised."""
        if self._fd is None:
            existed = self.path.exists()
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            if not existed:
                fsync_dir(self.path.parent)
        try:
            view = memoryview(data)
            while view:
                n = os.write(self._fd, view)
                view = view[n:]
            os.fsync(self._fd)
        except OSError:
            try:
                os.ftruncate(self._fd, self.size)
                os.fsync(self._fd)
            except OSError as again:
                raise LogBroken(str(again)) from again
            raise
        self.size += len(data)
        self.bytes_written += len(data)

    def rewrite(self, chunks: Iterable[bytes]) -> None:
        """Replace the log with ``chunks`` atomically (temporary file, fsync, rename, fsync
        of the directory): compaction."""
        directory = self.path.parent
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=directory)
        size = 0
        try:
            with os.fdopen(fd, "wb") as f:
                for chunk in chunks:
                    f.write(chunk)
                    size += len(chunk)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self.close()
        fsync_dir(directory)
        self.size = size
        self.bytes_written += size

    def close(self) -> None:
        """Close the append handle (reopened by the next append)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
