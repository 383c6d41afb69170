"""Pushing each session's updates to every client attached to it, in this process and, with
a Redis URL, in every other server process.

After an update (HTTP or WebSocket) the server publishes it here; every subscriber of that
(tenant, session) gets it on its own bounded queue. A subscriber remembers the last event
sequence number it delivered: a message that repeats it is skipped, and one that leaves a
gap (a reattach with an old ``after``, a full queue, an update made by another process whose
message was lost, two updates published out of order) makes :func:`follow` read the missing
events from the store first. So a client sees every event exactly once and in order, whatever
happened in between.

Across processes (``dialoghub serve --workers N``, or several servers behind a balancer) the
:class:`RedisRelay` carries updates through Redis pub/sub, one channel per session: a process
subscribes to a session's channel while one of its clients is attached to it, publishes
every update it makes, and hands what other processes publish to its local subscribers.
Redis pub/sub does not keep messages: one lost to a dropped connection is recovered by the
gap detection above at the session's next update.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import msgspec

from dialoghub.engine.records import Event, Session, Status
from dialoghub.errors import StoreConfigError

__all__ = [
    "FEED",
    "Broadcaster",
    "FeedItem",
    "Message",
    "RedisRelay",
    "Subscription",
    "feed_key",
    "feed_summary",
    "follow",
    "open_relay",
]

log = logging.getLogger("dialoghub.server")

Key = tuple[str, str]  # (tenant, session id)
#: Renders an update's JSON body; given a request id, the body its sender gets.
Render = Callable[[str | None], bytes]


class Message:
    """One published update: its seq range, and its JSON body rendered on first use (an
    update nobody else is attached to is only ever rendered for its sender)."""

    __slots__ = ("_body", "_render", "first_seq", "last_seq", "origin", "request_id")

    def __init__(
        self,
        first_seq: int,
        last_seq: int,
        body: bytes | Render,
        *,
        origin: int | None = None,
        request_id: str | None = None,
    ) -> None:
        self.first_seq = first_seq
        self.last_seq = last_seq
        self.origin = origin  # the subscription whose input caused it
        self.request_id = request_id  # that input's request id, echoed to it alone
        self._body: bytes | None = body if isinstance(body, bytes) else None
        self._render: Render | None = None if isinstance(body, bytes) else body

    @property
    def body(self) -> bytes:
        """The update as every attached client gets it."""
        if self._body is None:
            assert self._render is not None
            self._body = self._render(None)
        return self._body

    def body_for(self, subscription: int) -> bytes:
        """The body for one subscriber: its sender gets its own request id back."""
        if subscription == self.origin and self.request_id is not None and self._render:
            return self._render(self.request_id)
        return self.body


@dataclass(eq=False)
class Subscription:
    """One attached client's queue; ``on_full`` (optional) is called, once per message that
    does not fit, instead of dropping the message silently (a WebSocket drops its client)."""

    key: Key
    id: int
    queue: asyncio.Queue[Message] = field(default_factory=lambda: asyncio.Queue(1000))
    on_full: Callable[[Subscription], None] | None = None


class Broadcaster:
    """Subscriptions per session; publishing never blocks (a full queue drops the message,
    and the subscriber's gap detection re-reads it from the store).

    ``relay`` (optional) is told when a session gets its first subscriber here and loses its
    last, so it listens to exactly the sessions someone here is attached to."""

    def __init__(self, relay: RedisRelay | None = None) -> None:
        self._subs: dict[Key, set[Subscription]] = {}
        self._ids = itertools.count(1)
        self.relay = relay
        if relay is not None:
            relay.broadcaster = self

    def subscribe(
        self,
        key: Key,
        *,
        queue_size: int = 1000,
        on_full: Callable[[Subscription], None] | None = None,
    ) -> Subscription:
        """Attach to a session, with a queue of ``queue_size`` messages."""
        sub = Subscription(key, next(self._ids), asyncio.Queue(max(1, queue_size)), on_full)
        subs = self._subs.get(key)
        if subs is None:
            subs = self._subs[key] = set()
            if self.relay is not None:
                self.relay.watch(key)
        subs.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        """Detach."""
        subs = self._subs.get(sub.key)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._subs[sub.key]
                if self.relay is not None:
                    self.relay.unwatch(sub.key)

    async def ready(self, key: Key) -> None:
        """Return once updates made anywhere reach this process's subscribers of ``key``
        (at once without a relay)."""
        if self.relay is not None:
            await self.relay.ready(key)

    def has_subscribers(self, key: Key) -> bool:
        """True if anyone here is attached to the session."""
        return key in self._subs

    def publish(self, key: Key, message: Message) -> None:
        """Give ``message`` to every subscriber of ``key`` here."""
        full: list[Subscription] = []
        for sub in self._subs.get(key, ()):
            # A full queue drops the message: the subscriber will see a gap and read the store
            # (or, with ``on_full``, is told; it may unsubscribe, hence after the loop).
            try:
                sub.queue.put_nowait(message)
            except asyncio.QueueFull:
                if sub.on_full is not None:
                    full.append(sub)
        for sub in full:
            assert sub.on_full is not None
            sub.on_full(sub)

    def __len__(self) -> int:
        return sum(len(s) for s in self._subs.values())


# --- the tenant feed (server/feed.py) ------------------------------------------------------

#: The session-id half of a tenant's feed key; session ids hold no ``/``, so never a session's.
FEED = "/feed"
_feed_encode = msgspec.json.Encoder().encode


class FeedItem(msgspec.Struct, kw_only=True, tag="session", tag_field="type"):
    """One session after one update, as the feed pushes it."""

    id: str
    model_id: str
    state: str
    status: Status
    version: int
    seq: int
    created_at: float
    updated_at: float


def feed_key(tenant: str) -> tuple[str, str]:
    """The broadcaster key of ``tenant``'s feed."""
    return (tenant, FEED)


def feed_summary(session: Session) -> bytes:
    """The feed's JSON for ``session``."""
    return _feed_encode(
        FeedItem(
            id=session.id,
            model_id=session.model_id,
            state=session.state,
            status=session.status,
            version=session.version,
            seq=session.seq,
            created_at=session.created_at,
            updated_at=session.updated_at,
        )
    )


_wire = msgspec.msgpack.Encoder()
_unwire = msgspec.msgpack.Decoder(tuple[str, int, int, bytes])


class RedisRelay:
    """Updates between server processes through Redis pub/sub (``redis://host:port/db``).

    One channel per session, ``{prefix}{tenant}/{session id}`` (a tenant has no ``/``);
    URL option ``prefix`` (default ``dialoghub:push:``) keeps deployments sharing one Redis
    apart. Publishing is fire-and-forget from the request's point of view: messages are
    queued and a sender task sends whatever is waiting as one pipeline, in order. A message
    carries its process's id, so a process ignores the echo of its own updates (it delivered
    them locally already).
    """

    def __init__(self, url: str, *, prefix: str = "dialoghub:push:") -> None:
        self.url = url
        self.prefix = prefix
        self.node = uuid.uuid4().hex[:12]
        self.broadcaster: Broadcaster | None = None  # set by the Broadcaster it serves
        self._client: Any = None
        self._pubsub: Any = None
        self._outbox: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue(100_000)
        self._control: asyncio.Queue[tuple[bool, str]] = asyncio.Queue()
        self._channels: dict[str, Key] = {}  # channels wanted, by the local subscribers
        self._active: set[str] = set()  # channels Redis confirmed
        self._waiting: dict[str, list[asyncio.Future[None]]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._subscribed = asyncio.Event()
        self.dropped = 0  # messages not published because the outbox was full
        self.confirm_timeout = 5.0  # seconds ready() waits for Redis

    def channel(self, key: Key) -> str:
        """The pub/sub channel of a session."""
        return f"{self.prefix}{key[0]}/{key[1]}"

    async def start(self) -> None:
        """Connect and start the sender, the subscriber and the reader tasks."""
        try:
            import redis.asyncio as aioredis
        except ImportError:  # pragma: no cover - the redis extra is missing
            raise StoreConfigError(
                "broadcast through Redis needs the redis package: pip install 'dialoghub[redis]'"
            ) from None
        self._client = aioredis.from_url(self.url)
        try:
            await self._client.ping()
        except Exception as exc:
            await self._client.aclose()
            raise StoreConfigError(
                f"cannot reach the broadcast Redis at {self.url}: {exc}"
            ) from exc
        self._pubsub = self._client.pubsub()
        self._tasks = [
            asyncio.create_task(self._send_loop(), name="dialoghub relay sender"),
            asyncio.create_task(self._control_loop(), name="dialoghub relay subscriber"),
            asyncio.create_task(self._read_loop(), name="dialoghub relay reader"),
        ]

    async def close(self) -> None:
        """Stop the tasks and disconnect (queued messages not yet sent are dropped)."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        if self._pubsub is not None:
            with contextlib.suppress(Exception):
                await self._pubsub.aclose()
        if self._client is not None:
            with contextlib.suppress(Exception):
                await self._client.aclose()

    # --- called by the Broadcaster and the Service (never block) ---------------------------

    def watch(self, key: Key) -> None:
        """Listen to a session's channel (its first local subscriber arrived)."""
        channel = self.channel(key)
        self._channels[channel] = key
        self._control.put_nowait((True, channel))

    def unwatch(self, key: Key) -> None:
        """Stop listening (its last local subscriber left)."""
        channel = self.channel(key)
        self._channels.pop(channel, None)
        self._control.put_nowait((False, channel))

    async def ready(self, key: Key) -> None:
        """Wait until Redis confirmed the subscription to a session's channel, so every update
        published from now on reaches this process (a client is told it is live only then).
        Gives up after :attr:`confirm_timeout` seconds with a warning: the client is served
        anyway, and gaps are filled at the next update that does arrive."""
        channel = self.channel(key)
        if channel in self._active:
            return
        future = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(channel, []).append(future)
        try:
            await asyncio.wait_for(future, self.confirm_timeout)
        except TimeoutError:
            log.warning("broadcast: Redis did not confirm the subscription to %s", channel)
        finally:
            waiting = self._waiting.get(channel)
            if waiting is not None and future in waiting:
                waiting.remove(future)
                if not waiting:
                    del self._waiting[channel]

    def send(self, key: Key, message: Message) -> None:
        """Publish an update made here to the other processes."""
        data = _wire.encode((self.node, message.first_seq, message.last_seq, message.body))
        try:
            self._outbox.put_nowait((self.channel(key), data))
        except asyncio.QueueFull:  # Redis is down or slow: receivers will fill the gap later
            self.dropped += 1

    # --- tasks -----------------------------------------------------------------------------

    async def _send_loop(self) -> None:
        while True:
            batch = [await self._outbox.get()]
            while not self._outbox.empty() and len(batch) < 500:
                batch.append(self._outbox.get_nowait())
            try:
                async with self._client.pipeline(transaction=False) as pipe:
                    for channel, data in batch:
                        pipe.publish(channel, data)
                    await pipe.execute()
            except Exception as exc:  # keep going: a later message reveals the gap
                log.warning("broadcast: could not publish %d update(s): %s", len(batch), exc)
                await asyncio.sleep(0.5)

    async def _control_loop(self) -> None:
        while True:
            on, channel = await self._control.get()
            try:
                if on and channel in self._channels:
                    await self._pubsub.subscribe(channel)
                    self._subscribed.set()
                elif not on and channel not in self._channels:
                    await self._pubsub.unsubscribe(channel)
            except Exception as exc:
                log.warning("broadcast: could not (un)subscribe %s: %s", channel, exc)
                await asyncio.sleep(0.5)

    async def _read_loop(self) -> None:
        while True:
            await self._subscribed.wait()  # get_message needs a subscription first
            try:
                message = await self._pubsub.get_message(timeout=1.0)
            except Exception as exc:
                log.warning("broadcast: reading from Redis failed: %s", exc)
                self._active.clear()  # redis-py subscribes again on reconnect; await that
                await asyncio.sleep(0.5)
                continue
            if message is None:
                continue
            kind = message.get("type")
            if kind == "message":
                self.deliver(message["channel"], message["data"])
            elif kind == "subscribe":
                self._confirmed(message["channel"])
            elif kind == "unsubscribe":
                self._active.discard(_text(message["channel"]))

    def _confirmed(self, channel: bytes | str) -> None:
        name = _text(channel)
        self._active.add(name)
        for future in self._waiting.pop(name, ()):
            if not future.done():
                future.set_result(None)

    def deliver(self, channel: bytes | str, data: bytes) -> None:
        """Hand a message read from Redis to the local subscribers of its session."""
        name = _text(channel)
        key = self._channels.get(name)
        if key is None or self.broadcaster is None:
            return
        try:
            node, first, last, body = _unwire.decode(data)
        except msgspec.DecodeError:
            log.warning("broadcast: unreadable message on %s", name)
            return
        if node != self.node:
            self.broadcaster.publish(key, Message(first, last, body))


def _text(channel: bytes | str) -> str:
    return channel.decode() if isinstance(channel, bytes) else channel


def open_relay(url: str) -> RedisRelay | None:
    """The relay for a ``broadcast`` setting: None for ``""`` or ``memory://`` (in-process
    only), a :class:`RedisRelay` for ``redis://`` or ``rediss://``."""
    if not url or url.startswith("memory:"):
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss"):
        raise StoreConfigError(
            f"broadcast URL {url!r}: use redis://host:port/db (or leave it empty to push "
            "within each process only)"
        )
    query = dict(parse_qsl(parts.query))
    prefix = query.pop("prefix", "dialoghub:push:")
    clean = urlunsplit(parts._replace(query=urlencode(query)))
    return RedisRelay(clean, prefix=prefix)


#: Reads events with seq > after, at most limit of them (the store, through the Hub).
ReadEvents = Callable[[int, int], Awaitable[list[Event]]]
#: Encodes a backlog batch of events as one message body.
EncodeEvents = Callable[[list[Event]], bytes]


async def follow(
    sub: Subscription,
    after: int,
    read: ReadEvents,
    encode: EncodeEvents,
    *,
    until: int | None = None,
) -> AsyncIterator[tuple[int, bytes]]:
    """Yield ``(last seq, body)``: first the events after ``after`` from the store (up to
    ``until``, the session's last seq when the caller read it, else until the store has no
    more), then one ``(seq, b"")`` marking the switch to live updates, then each published
    update, never repeating an event and filling every gap from the store.

    The subscription must exist before this starts (and before ``until`` was read), so
    nothing published meanwhile is lost.
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

    async for item in backlog(until):
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
        yield sent, message.body_for(sub.id)
