"""Pushing each session's updates to every client attached to it, within one process.

After an update (HTTP or WebSocket) the server publishes it here; every subscriber of that
(tenant, session) gets it on its own bounded queue. A subscriber remembers the last event
sequence number it delivered: a message that repeats it is skipped, and one that leaves a
gap (a reattach with an old ``after``, a full queue, two updates published out of order)
makes :func:`follow` read the missing events from the store first. So a client sees every
event exactly once and in order, whatever happened in between.

Updates made by *other* server processes are not pushed; across processes that routing goes
through Redis (see the hub design), which this module does not do yet.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

from dialoghub.engine.records import Event

__all__ = ["Broadcaster", "Message", "Subscription", "follow"]

Key = tuple[str, str]  # (tenant, session id)


@dataclass(frozen=True, slots=True)
class Message:
    """One published update: its seq range and its encodings (for the sender, for others)."""

    first_seq: int
    last_seq: int
    body: bytes  # the update as every attached client gets it
    origin: int | None = None  # the subscription whose input caused it
    origin_body: bytes | None = None  # the same update with the sender's request id


@dataclass(eq=False)
class Subscription:
    """One attached client's queue."""

    key: Key
    id: int
    queue: asyncio.Queue[Message] = field(default_factory=lambda: asyncio.Queue(1000))


class Broadcaster:
    """Subscriptions per session; publishing never blocks (a full queue drops the message,
    and the subscriber's gap detection re-reads it from the store)."""

    def __init__(self) -> None:
        self._subs: dict[Key, set[Subscription]] = {}
        self._ids = itertools.count(1)

    def subscribe(self, key: Key) -> Subscription:
        """Attach to a session."""
        sub = Subscription(key, next(self._ids))
        self._subs.setdefault(key, set()).add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        """Detach."""
        subs = self._subs.get(sub.key)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._subs[sub.key]

    def has_subscribers(self, key: Key) -> bool:
        """True if anyone is attached to the session (publishing can be skipped otherwise)."""
        return key in self._subs

    def publish(self, key: Key, message: Message) -> None:
        """Give ``message`` to every subscriber of ``key``."""
        for sub in self._subs.get(key, ()):
            # A full queue drops the message: the subscriber will see a gap and read the store.
            with contextlib.suppress(asyncio.QueueFull):
                sub.queue.put_nowait(message)

    def __len__(self) -> int:
        return sum(len(s) for s in self._subs.values())


#: Reads events with seq > after, at most limit of them (the store, through the Hub).
ReadEvents = Callable[[int, int], Awaitable[list[Event]]]
#: Encodes a backlog batch of events as one message body.
EncodeEvents = Callable[[list[Event]], bytes]


async def follow(
    sub: Subscription, after: int, read: ReadEvents, encode: EncodeEvents
) -> AsyncIterator[tuple[int, bytes]]:
    """Yield ``(last seq, body)``: first the events after ``after`` from the store, then one
    ``(seq, b"")`` marking the switch to live updates, then each published update, never
    repeating an event and filling every gap from the store.

    The subscription must exist before this starts, so nothing published meanwhile is lost.
    """
    sent = after

    async def backlog(until: int | None) -> AsyncIterator[tuple[int, bytes]]:
        nonlocal sent
        while until is None or sent < until:
            limit = 1000 if until is None else min(1000, until - sent)
            events = await read(sent, limit)
            if not events:
                return
            sent = events[-1].seq
            yield sent, encode(events)

    async for item in backlog(None):
        yield item
    yield sent, b""
    while True:
        message = await sub.queue.get()
        if message.last_seq <= sent:
            continue
        if message.first_seq > sent + 1:
            async for item in backlog(message.first_seq - 1):
                yield item
        if message.first_seq != sent + 1:  # the store held more than the gap: resync
            async for item in backlog(message.last_seq):
                yield item
            continue
        sent = message.last_seq
        body = message.origin_body if message.origin == sub.id and message.origin_body else None
        yield sent, body or message.body
