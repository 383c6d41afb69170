"""The live events of one session: numbered, kept for a while, followed by any listener.

A :class:`LiveLog` numbers a session's events (``seq``), keeps the last ``keep`` of them in
memory and wakes every follower on each one. :meth:`LiveLog.follow` yields the events after
a given ``seq`` and then every new one, so a client that drops and comes back with the last
number it saw gets exactly what it missed, as long as it is still kept; what is older than
that comes from the store (the round starts, completed posts and ends recorded on the
session, without their chunks), through the ``backfill`` the caller gives. A follower never
slows the round: publishing appends and wakes, it never waits for anyone.

Across server processes, ``on_publish`` (set by the application) hands each event published
here to a relay, and :meth:`LiveLog.deliver` takes the events another process published for
the same session: a follower attached to any process sees the round wherever it runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from dialoghub.agent.events import AgentEvent

__all__ = ["KEEP", "LiveLog"]

#: Events kept in memory per session for reconnecting clients.
KEEP = 10_000

#: Reads the stored events with after < seq < before.
Backfill = Callable[[int, int], Awaitable[list[AgentEvent]]]


class LiveLog:
    """One session's live event numbering, its recent events and their followers."""

    __slots__ = ("_changed", "_events", "closed", "followers", "keep", "on_publish", "seq")

    def __init__(self, seq: int = 0, *, keep: int = KEEP) -> None:
        self.seq = seq  # the last number given out
        self.keep = keep
        self._events: list[AgentEvent] = []
        self._changed = asyncio.Event()
        self.followers = 0
        self.closed = False
        #: told of every event published here (a relay to the other server processes)
        self.on_publish: Callable[[AgentEvent], Any] | None = None

    def next_seq(self) -> int:
        """The number of the next event."""
        self.seq += 1
        return self.seq

    def publish(self, event: AgentEvent) -> None:
        """Keep ``event`` and wake the followers (never blocks)."""
        self._keep(event)
        if self.on_publish is not None:
            self.on_publish(event)

    def deliver(self, event: AgentEvent) -> bool:
        """Take an event another process published for this session (a relay's); False
        for one already here (several followers relay the same event, or an old one)."""
        if event.seq <= self.seq:
            return False
        self.seq = event.seq
        self._keep(event)
        return True

    def _keep(self, event: AgentEvent) -> None:
        self._events.append(event)
        if len(self._events) > 2 * self.keep:  # trim in batches: amortised O(1)
            del self._events[: len(self._events) - self.keep]
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    def close(self) -> None:
        """End every follower after what it has not read yet."""
        self.closed = True
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    @property
    def first_kept(self) -> int | None:
        """The seq of the oldest event kept, None if none is."""
        return self._events[0].seq if self._events else None

    def since(self, after: int) -> list[AgentEvent]:
        """The kept events with seq > ``after``."""
        events = self._events
        lo, hi = 0, len(events)
        while lo < hi:  # they are in seq order: bisect
            mid = (lo + hi) // 2
            if events[mid].seq <= after:
                lo = mid + 1
            else:
                hi = mid
        return events[lo:]

    async def follow(
        self, after: int, backfill: Backfill | None = None
    ) -> AsyncIterator[AgentEvent]:
        """The events after ``after``, then each new one, until the log is closed."""
        self.followers += 1
        try:
            while True:
                changed = self._changed
                first = self.first_kept
                if (
                    backfill is not None
                    and after < self.seq
                    and (first is None or first > after + 1)
                ):
                    # Older than what is kept (a late reconnect, a follower that fell far
                    # behind, a restarted process): what the store has of it, then go on
                    # from the oldest kept event (the numbers between were chunks).
                    upto = first if first is not None else self.seq + 1
                    for event in await backfill(after, upto):
                        after = max(after, event.seq)
                        yield event
                    after = max(after, upto - 1)
                for event in self.since(after):
                    after = event.seq
                    yield event
                if self.closed:
                    return
                await changed.wait()
        finally:
            self.followers -= 1
