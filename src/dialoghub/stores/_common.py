"""Pieces the networked and file stores share: group commit, row checks, cursors.

:class:`GroupCommit` is how PostgreSQL, Redis and the JSON file turn many concurrent
:meth:`~dialoghub.stores.base.Store.write` calls into few round trips (or file writes) without
making any caller wait for a timer: an idle writer takes whatever is queued *now*, and while
it is busy the queue fills up, so batches grow exactly when there is load. Each caller is
answered only after the batch that carried its write is durable.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import collections
import heapq
from collections.abc import Awaitable, Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar
from urllib.parse import parse_qsl

from dialoghub.engine.records import Event, Session
from dialoghub.errors import InvalidInput, StoreConfigError, StoreError
from dialoghub.stores import codec
from dialoghub.stores.base import Write, keeps_snapshot

__all__ = [
    "EventRows",
    "GroupCommit",
    "IdempotencyAges",
    "ImportRow",
    "batch_key",
    "check_batch",
    "decode_cursor",
    "encode_cursor",
    "import_rows",
    "page_events",
    "query_options",
]

T = TypeVar("T")


def batch_key(write: Write) -> tuple[str, str]:
    """The session a write belongs to."""
    return (write.session.tenant, write.session.id)


class GroupCommit(Generic[T]):
    """A queue of changes drained by ``writers`` tasks, each running up to ``max_batch``.

    ``run`` gets a batch of changes (usually :class:`Write`) of distinct sessions and returns
    one result per change, None meaning applied. One batch never holds two changes of the
    same session (``key``), and a session with a change in flight is not taken again until
    that change is answered: the second write's compare-and-set must see the first one's
    result, and a backend never waits on its own row lock.
    """

    def __init__(
        self,
        run: Callable[[list[T]], Awaitable[Sequence[BaseException | None]]],
        *,
        key: Callable[[T], Hashable],
        writers: int = 1,
        max_batch: int = 500,
    ) -> None:
        self._run = run
        self._key = key
        self._writers = writers
        self._max_batch = max_batch
        self._queue: collections.deque[tuple[T, asyncio.Future[None]]] = collections.deque()
        self._inflight: set[Hashable] = set()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._closing = False

    def start(self) -> None:
        """Start the writer tasks (on the running loop)."""
        self._closing = False
        self._tasks = [asyncio.create_task(self._writer()) for _ in range(self._writers)]

    async def close(self) -> None:
        """Finish every queued write, then stop the writers."""
        self._closing = True
        self._wake.set()
        tasks, self._tasks = self._tasks, []
        await asyncio.gather(*tasks, return_exceptions=True)

    async def submit(self, write: T) -> None:
        """Queue a change and wait until its batch is durable (or refused)."""
        if self._closing or not self._tasks:
            raise StoreError("store is not open; call 'await store.open()' first")
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((write, future))
        self._wake.set()
        # A caller cancelled before its write is taken leaves the future cancelled and the
        # writer skips it: nothing is written. Once taken, the outcome is the batch's.
        await future

    def _take(self) -> list[tuple[T, asyncio.Future[None]]]:
        batch: list[tuple[T, asyncio.Future[None]]] = []
        keys: set[Hashable] = set()
        held: list[tuple[T, asyncio.Future[None]]] = []
        while self._queue and len(batch) < self._max_batch:
            item = self._queue.popleft()
            if item[1].done():  # cancelled by its caller before it started
                continue
            key = self._key(item[0])
            if key in keys or key in self._inflight:
                held.append(item)  # keeps its place for a later batch
                continue
            keys.add(key)
            batch.append(item)
        self._queue.extendleft(reversed(held))
        self._inflight |= keys
        return batch

    async def _writer(self) -> None:
        while True:
            batch = self._take() if self._queue else []
            if not batch:
                if self._closing and not self._queue:
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            writes = [w for w, _ in batch]
            results: Sequence[BaseException | None]
            try:
                results = await self._run(writes)
            except Exception as exc:  # the whole batch failed: every caller learns why
                results = [exc] * len(batch)
            finally:
                self._inflight -= {self._key(w) for w in writes}
                # Writes held back for a session that was in flight can go now.
                if self._queue:
                    self._wake.set()
            for (_, future), result in zip(batch, results, strict=True):
                if future.done():
                    continue
                if result is None:
                    future.set_result(None)
                else:
                    future.set_exception(result)


class IdempotencyAges:
    """When each idempotency record of a store held in process memory was written, for
    retention (memory and JSON file stores).

    A heap by time plus each record's current time: a heap item whose record was written
    again since (a session deleted and created anew with the same key) is skipped, and the
    store says which records still exist, so a deleted session's stale items cost nothing
    but their slot until they come due.
    """

    def __init__(self) -> None:
        self._heap: list[tuple[float, tuple[str, str, str]]] = []
        self._at: dict[tuple[str, str, str], float] = {}

    def written(self, tenant: str, session_id: str, key: str, at: float) -> None:
        """Record ``key`` of session (``tenant``, ``session_id``) written at ``at``."""
        record = (tenant, session_id, key)
        self._at[record] = at
        heapq.heappush(self._heap, (at, record))

    def expired(
        self, before: float, limit: int, exists: Callable[[tuple[str, str, str]], bool]
    ) -> list[tuple[str, str, str]]:
        """Take up to ``limit`` existing records written before ``before``, oldest first
        (forgotten here: the caller removes them)."""
        out: list[tuple[str, str, str]] = []
        heap, at = self._heap, self._at
        while heap and len(out) < limit and heap[0][0] < before:
            when, record = heapq.heappop(heap)
            if at.get(record) != when:
                continue  # written again since: a later item stands for it
            del at[record]
            if exists(record):
                out.append(record)
        return out

    def clear(self) -> None:
        """Forget every record (the store was closed)."""
        self._heap.clear()
        self._at.clear()


def check_batch(write: Write) -> tuple[int, int, float] | None:
    """``(first_seq, version, time)`` of the write's one stored event row, None if no events.

    Events of one update are stored as one row, so they must share version and time.
    """
    if not write.events:
        return None
    first = write.events[0]
    version, time, seq = first.version, first.time, first.seq
    for event in write.events:
        if event.version != version or event.time != time:
            raise ValueError(
                f"events of one write must share version and time; seq {event.seq} has "
                f"({event.version}, {event.time}), seq {first.seq} has "
                f"({first.version}, {first.time})"
            )
        if event.seq != seq:
            raise ValueError(f"event seq {event.seq} does not follow {seq - 1}")
        seq += 1
    return first.seq, version, time


@dataclass(frozen=True, slots=True)
class ImportRow:
    """The events of one update of an imported log: one stored row, as a write makes it."""

    first_seq: int
    version: int
    time: float
    events: list[Event]


def import_rows(
    session: Session, events: Sequence[Event], snapshots: Sequence[Session] = ()
) -> tuple[list[ImportRow], list[Session]]:
    """Check an imported log and cut it into one row per update; the snapshots to keep.

    The log must be what a sequence of writes would have stored: seqs 1, 2, 3, ... up to
    ``session.seq``, the events of one version sharing its time, versions rising up to
    ``session.version``. Of ``snapshots`` (states the caller folded along the way, see
    :meth:`~dialoghub.stores.base.Store.import_session`), those a normal write would have
    kept are returned, the final session's own included. Raises InvalidInput; checked
    before a store touches anything, so a refused import writes nothing.
    """
    rows: list[ImportRow] = []
    for i, event in enumerate(events, start=1):
        if event.seq != i:
            raise InvalidInput(
                f"session {session.id!r}: event {i} of the log has seq {event.seq}; seqs must "
                "run 1, 2, 3, ... without a gap",
                session_id=session.id,
            )
        last = rows[-1] if rows else None
        if last is not None and event.version == last.version:
            if event.time != last.time:
                raise InvalidInput(
                    f"session {session.id!r}: events of version {event.version} have "
                    f"different times ({last.time} and {event.time} at seq {event.seq})",
                    session_id=session.id,
                )
            last.events.append(event)
        elif last is not None and event.version < last.version:
            raise InvalidInput(
                f"session {session.id!r}: event {event.seq} has version {event.version}, "
                f"before the version {last.version} of the event before it",
                session_id=session.id,
            )
        else:
            rows.append(ImportRow(event.seq, event.version, event.time, [event]))
    last_seq = events[-1].seq if events else 0
    if last_seq != session.seq or (rows and rows[-1].version > session.version):
        raise InvalidInput(
            f"session {session.id!r} is at seq {session.seq}, version {session.version}, but "
            f"its log ends at seq {last_seq}" + (f", version {rows[-1].version}" if rows else ""),
            session_id=session.id,
        )
    kept = [s for s in snapshots if keeps_snapshot(s) and s.seq <= session.seq]
    if keeps_snapshot(session) and not any(s.seq == session.seq for s in kept):
        kept.append(session)
    kept.sort(key=lambda s: s.seq)
    return rows, kept


def encode_cursor(tag: str, order: int) -> str:
    """An opaque listing cursor: the creation order of the last session of a page."""
    return base64.urlsafe_b64encode(f"{tag}:{order}".encode()).decode().rstrip("=")


def decode_cursor(tag: str, cursor: str) -> int:
    """The creation order a cursor of :func:`encode_cursor` holds.

    A cursor that is not one is the caller's mistake, not the store's: InvalidInput.
    """
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _, number = raw.partition(":")
        if prefix != tag:
            raise ValueError(prefix)
        return int(number)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidInput(
            f"invalid listing cursor {cursor!r}; pass back the next_cursor of a previous "
            "page of the same store"
        ) from exc


def query_options(url: str, query: str, allowed: dict[str, str]) -> dict[str, str]:
    """The ``?name=value`` options of a store URL; unknown names are a StoreConfigError.

    ``allowed`` maps each known option to its default.
    """
    options = dict(allowed)
    for name, value in parse_qsl(query, keep_blank_values=True):
        if name not in allowed:
            raise StoreConfigError(
                f"unknown option {name!r} in store URL {url!r}; known: "
                + ", ".join(sorted(allowed))
            )
        options[name] = value
    return options


def int_option(url: str, options: dict[str, str], name: str, minimum: int = 1) -> int:
    """An integer URL option, at least ``minimum``."""
    try:
        value = int(options[name])
    except ValueError:
        value = minimum - 1
    if value < minimum:
        raise StoreConfigError(
            f"option {name}={options[name]!r} in {url!r} must be an integer >= {minimum}"
        )
    return value


def bool_option(url: str, options: dict[str, str], name: str) -> bool:
    """A yes/no URL option: true/false, yes/no, on/off or 1/0."""
    value = options[name].strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise StoreConfigError(f"option {name}={options[name]!r} in {url!r} must be true or false")


class EventRows(Protocol):
    """Something that counts the events it decodes (the stores' ``events_read``)."""

    events_read: int


def page_events(
    counter: EventRows,
    rows: Iterable[tuple[int, int, float, bytes]],
    after: int,
    limit: int,
) -> list[Event]:
    """Decode stored event rows ``(first_seq, version, time, batch)`` in seq order into the
    events with ``seq > after``, at most ``limit``; stops reading rows once it has them.

    The first row may start before ``after`` (a page can begin inside an update's row).
    ``counter.events_read`` counts every decoded event: the cost tests read it.
    """
    out: list[Event] = []
    for first_seq, version, time, batch in rows:
        decoded = codec.decode_batch(first_seq, version, time, batch)
        counter.events_read += len(decoded)
        for event in decoded:
            if event.seq > after:
                out.append(event)
                if len(out) == limit:
                    return out
    return out
