"""Per-session logs: one file per session, as Galaxy's hub keeps them when logging is on.

A session's file (``<folder>/<tenant>/<session id>.log``, one JSON line per event) is opened
at the session's first message this process routes, appended to after every update, and
closed when the session ends. It is rotated by size: past ``max_bytes`` it becomes
``.log.1`` (``.1`` becomes ``.2``, ... up to ``backups``) and a new file starts. The writes
happen on a worker thread, off the event loop, in the order the updates came; the log is
for reading and analysis, the store stays the truth.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from pathlib import Path
from typing import IO, Any

from dialoghub.engine.records import Event

__all__ = ["SessionLogs"]

_SAFE = str.maketrans({c: "_" for c in '/\\:*?"<>|\0'})


class SessionLogs:
    """The session log files under ``folder``."""

    def __init__(
        self,
        folder: str | Path,
        *,
        max_bytes: int = 1 << 20,
        backups: int = 3,
    ) -> None:
        self.folder = Path(folder)
        self.max_bytes = max_bytes
        self.backups = backups
        self._open: dict[tuple[str, str], IO[str]] = {}
        self._queue: asyncio.Queue[tuple[str, str, list[Event], bool] | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def path(self, tenant: str, session_id: str) -> Path:
        """Where a session's current log file is."""
        return self.folder / tenant.translate(_SAFE) / f"{session_id.translate(_SAFE)}.log"

    def is_open(self, tenant: str, session_id: str) -> bool:
        """True while the session's file is open (between its first message and its end)."""
        return (tenant, session_id) in self._open

    def record(self, tenant: str, session_id: str, events: list[Event], ended: bool) -> None:
        """Queue an update's events for the session's file (closed after if ``ended``)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())
        self._queue.put_nowait((tenant, session_id, events, ended))

    async def flush(self) -> None:
        """Wait until everything queued is written."""
        await self._queue.join()

    async def close(self) -> None:
        """Write what is queued and close every file."""
        if self._task is not None:
            self._queue.put_nowait(None)
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await asyncio.to_thread(self._close_all)

    async def _run(self) -> None:
        while True:
            item = await self._queue.get()
            try:
                if item is None:
                    return
                await asyncio.to_thread(self._write, *item)
            finally:
                self._queue.task_done()

    def _write(self, tenant: str, session_id: str, events: list[Event], ended: bool) -> None:
        key = (tenant, session_id)
        file = self._open.get(key)
        path = self.path(tenant, session_id)
        if file is None:
            path.parent.mkdir(parents=True, exist_ok=True)
            file = self._open[key] = path.open("a", encoding="utf-8")
        for event in events:
            line: dict[str, Any] = {
                "seq": event.seq,
                "version": event.version,
                "time": event.time,
                "type": event.type,
                "data": event.data,
            }
            file.write(json.dumps(line, default=str) + "\n")
        file.flush()
        if file.tell() >= self.max_bytes:
            file.close()
            self._rotate(path)
            file = self._open[key] = path.open("a", encoding="utf-8")
        if ended:
            file.close()
            del self._open[key]

    def _rotate(self, path: Path) -> None:
        for n in range(self.backups - 1, 0, -1):
            older = path.with_name(f"{path.name}.{n}")
            if older.exists():
                os.replace(older, path.with_name(f"{path.name}.{n + 1}"))
        if self.backups > 0:
            os.replace(path, path.with_name(f"{path.name}.1"))
        else:
            path.unlink()

    def _close_all(self) -> None:
        for file in self._open.values():
            file.close()
        self._open.clear()
