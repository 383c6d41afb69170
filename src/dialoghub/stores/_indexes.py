"""Timer, retention and snapshot indexes for the stores that keep sessions in process memory.

The memory and JSON-file stores keep what SQLite and PostgreSQL keep in the ``timers`` and
``snapshots`` tables and in the index of closed sessions, in plain Python structures:

* due timers in a heap of ``(due_at, key, version)``, with the current timer of each session
  in a dict. A write replaces the dict entry and pushes a new heap item; items that no longer
  match the dict are skipped when they surface (lazy deletion), so every operation is
  O(log n) and nothing scans all sessions.
* closed (ended or expired) sessions in a heap by last update, for retention.
* kept snapshots per session, ascending by seq, found by bisection.

The owner calls these under its own lock (or from its one event loop): they are not locked.
"""

from __future__ import annotations

import bisect
import heapq
from dataclasses import dataclass, field

from dialoghub.engine.records import Session
from dialoghub.stores.base import DueTimer, keeps_snapshot

__all__ = ["LocalIndexes"]

Key = tuple[str, str]  # (tenant, session id)


@dataclass(slots=True)
class _Current:
    due_at: float
    name: str
    version: int


@dataclass(slots=True)
class LocalIndexes:
    """The indexes of one in-process store; ``Key`` is ``(tenant, session id)``."""

    _heap: list[tuple[float, Key, int]] = field(default_factory=list)
    _timers: dict[Key, _Current] = field(default_factory=dict)
    _closed_heap: list[tuple[float, Key]] = field(default_factory=list)
    _closed: dict[Key, float] = field(default_factory=dict)
    #: per session: (seqs, encoded snapshots), both ascending
    snapshots: dict[Key, tuple[list[int], list[bytes]]] = field(default_factory=dict)

    def written(self, session: Session, body: bytes | None = None) -> None:
        """Record a write of ``session`` (``body``: its encoding, kept if it is a snapshot)."""
        key = (session.tenant, session.id)
        timer = session.timer
        if timer is None:
            self._timers.pop(key, None)
        else:
            self._set_timer(key, _Current(timer.due_at, timer.name, session.version))
        if session.ended:
            if key not in self._closed:
                self._closed[key] = session.updated_at
                heapq.heappush(self._closed_heap, (session.updated_at, key))
        else:
            self._closed.pop(key, None)
        if body is not None and keeps_snapshot(session):
            seqs, bodies = self.snapshots.setdefault(key, ([], []))
            seqs.append(session.seq)  # seqs only grow: stays sorted
            bodies.append(body)

    def keep(self, key: Key, seq: int, body: bytes) -> None:
        """Keep a snapshot of an imported session (seqs must come in ascending order)."""
        seqs, bodies = self.snapshots.setdefault(key, ([], []))
        seqs.append(seq)
        bodies.append(body)

    def removed(self, key: Key) -> None:
        """Forget a deleted session."""
        self._timers.pop(key, None)
        self._closed.pop(key, None)
        self.snapshots.pop(key, None)

    def snapshot_at(self, key: Key, seq: int) -> tuple[int, bytes] | None:
        """The kept snapshot with the highest seq at or before ``seq``: (its seq, its body)."""
        seqs, bodies = self.snapshots.get(key, ([], []))
        i = bisect.bisect_right(seqs, seq) - 1
        return (seqs[i], bodies[i]) if i >= 0 else None

    def _set_timer(self, key: Key, current: _Current) -> None:
        self._timers[key] = current
        heapq.heappush(self._heap, (current.due_at, key, current.version))

    def claim(self, now: float, limit: int, lease: float) -> list[DueTimer]:
        """Up to ``limit`` due timers, earliest first; each is due again at ``now + lease``."""
        out: list[DueTimer] = []
        while self._heap and self._heap[0][0] <= now and len(out) < limit:
            due_at, key, version = heapq.heappop(self._heap)
            current = self._timers.get(key)
            if current is None or current.version != version or current.due_at != due_at:
                continue  # replaced or removed since it was pushed
            out.append(DueTimer(key[0], key[1], version, current.name, due_at))
            self._set_timer(key, _Current(now + lease, current.name, version))
        return out

    def drop(self, timer: DueTimer) -> None:
        """Remove a claimed timer if its session is still at the timer's version."""
        key = (timer.tenant, timer.session_id)
        current = self._timers.get(key)
        if current is not None and current.version == timer.version:
            del self._timers[key]

    def closed_before(self, before: float, limit: int) -> list[Key]:
        """Up to ``limit`` closed sessions last updated before ``before``, oldest first;
        they are taken out of the index (the caller deletes them)."""
        out: list[Key] = []
        while self._closed_heap and self._closed_heap[0][0] < before and len(out) < limit:
            at, key = heapq.heappop(self._closed_heap)
            if self._closed.get(key) == at:
                del self._closed[key]
                out.append(key)
        return out
