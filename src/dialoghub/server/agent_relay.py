"""Agent round events across server processes, through the broadcast relay (Redis).

A round runs in one process, but its followers (``GET .../rounds/stream``, a session socket
with ``round_after``) may be attached to another. With a broadcast URL, every live event of
a round (:class:`~dialoghub.agent.live.LiveLog`, chunks included) is published on the
session's agent channel, the broadcaster key ``(tenant, "/agent/" + id)`` (a session id
never holds a ``/``, so it is never a session's own key, nor the feed's); a process with a
follower of that session subscribes to it and hands what arrives to its own live log
(:meth:`~dialoghub.agent.app.AgentApp.deliver`), which numbers nothing itself and skips what
it already has. Redis pub/sub keeps nothing: an event lost on the way, or published before
the follower subscribed, is read from the store by the follower's backfill (the round's start,
completed posts and end), as after a reconnect.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import msgspec

from dialoghub.agent.app import AgentApp
from dialoghub.agent.events import AgentEvent
from dialoghub.server.broadcast import Message
from dialoghub.server.service import Service

__all__ = ["agent_key", "install_relay", "relayed"]

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(AgentEvent).decode


def agent_key(tenant: str, session_id: str) -> tuple[str, str]:
    """The broadcaster key of a session's agent events."""
    return (tenant, f"/agent/{session_id}")


def install_relay(service: Service, agent: AgentApp) -> None:
    """Publish the rounds ``agent`` plays here to the other processes (with a relay)."""
    relay = service.broadcaster.relay
    if relay is None:
        return

    def send(key: tuple[str, str], event: AgentEvent) -> None:
        relay.send(agent_key(*key), Message(event.seq, event.seq, _encode(event)))

    agent.relay = send


@contextlib.asynccontextmanager
async def relayed(
    service: Service, agent: AgentApp, tenant: str, session_id: str
) -> AsyncIterator[None]:
    """While inside, the rounds of the session played by other processes reach this
    process's live log of it (nothing to do without a relay)."""
    broadcaster = service.broadcaster
    if broadcaster.relay is None:
        yield
        return
    key = agent_key(tenant, session_id)
    sub = broadcaster.subscribe(key, queue_size=10_000)

    async def pump() -> None:
        while True:
            message = await sub.queue.get()
            try:
                event = _decode(message.body)
            except msgspec.DecodeError:
                continue  # not an agent event: nothing this process can show
            agent.deliver((tenant, session_id), event)

    task = asyncio.create_task(pump())
    try:
        await broadcaster.ready(key)
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        broadcaster.unsubscribe(sub)
