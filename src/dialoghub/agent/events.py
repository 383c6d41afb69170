"""The typed events an agent round streams to its event handler, and how they are delivered.

Every event has a sequence number (per session, increasing across rounds and restarts), a
time, a scope (session, round or post), the session, round and post ids, a message (a chunk,
a status line, an error) and a few typed fields in ``data``. Every type declared in
:class:`EventType` is emitted by :mod:`dialoghub.agent.execute` (``tests/agent`` enumerates
them). A handler is an object with ``handle(event)`` or a callable, sync or async; one that
raises is logged and the round goes on (:func:`deliver`).
"""

from __future__ import annotations

import enum
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, runtime_checkable

import msgspec

__all__ = ["EVENT_SCOPES", "AgentEvent", "EventHandler", "EventType", "Scope", "deliver"]

log = logging.getLogger("dialoghub.agent")


class Scope(enum.StrEnum):
    """What an event is about."""

    SESSION = "session"  # the session as a whole (variables, stop)
    ROUND = "round"  # one user message and everything it caused
    POST = "post"  # one message between two roles within a round


class EventType(enum.StrEnum):
    """Every event a round emits, in the order a round emits them."""

    ROUND_START = "round_start"  # the user's message was accepted; data: message, files
    POST_START = "post_start"  # a role starts a post; data: send_from, send_to
    POST_STATUS = "post_status"  # a progress line of the post's author (not kept)
    POST_MESSAGE = "post_message"  # a chunk of the post's message; is_end on the last one
    POST_ATTACHMENT = "post_attachment"  # an artifact attached to the post; data: attachment
    POST_END = "post_end"  # the post is complete (and stored); data: the whole post
    SESSION_VARIABLE = "session_variable"  # a session variable set; data: name, value
    ROUND_ERROR = "round_error"  # the round failed; message: why (then round_end)
    ROUND_END = "round_end"  # the round is over; data: status, reply
    SESSION_STOP = "session_stop"  # the session was stopped: what it held is released


#: The scope of each event type.
EVENT_SCOPES: dict[EventType, Scope] = {
    EventType.ROUND_START: Scope.ROUND,
    EventType.ROUND_ERROR: Scope.ROUND,
    EventType.ROUND_END: Scope.ROUND,
    EventType.POST_START: Scope.POST,
    EventType.POST_STATUS: Scope.POST,
    EventType.POST_MESSAGE: Scope.POST,
    EventType.POST_ATTACHMENT: Scope.POST,
    EventType.POST_END: Scope.POST,
    EventType.SESSION_VARIABLE: Scope.SESSION,
    EventType.SESSION_STOP: Scope.SESSION,
}


class AgentEvent(msgspec.Struct, kw_only=True, frozen=True):
    """One event of a session's rounds, as handlers, sockets and streams receive it."""

    seq: int  # per session, increasing; a reconnecting client sends the last one it saw
    time: float  # seconds since the epoch
    type: EventType
    scope: Scope
    session_id: str
    round_id: str | None = None
    post_id: str | None = None
    message: str = ""  # a message chunk, a status line, an error
    is_end: bool = False  # the last chunk of a post's message
    data: dict[str, Any] = {}


@runtime_checkable
class _HasHandle(Protocol):
    def handle(self, event: AgentEvent) -> Any: ...


#: An object with ``handle(event)`` or a callable; either may be async.
EventHandler = _HasHandle | Callable[[AgentEvent], Awaitable[None] | None]


async def deliver(handler: EventHandler | None, event: AgentEvent) -> None:
    """Give ``event`` to ``handler``; whatever it raises is logged, never passed on (a
    display that fails must not fail the round it displays)."""
    if handler is None:
        return
    try:
        fn = handler.handle if isinstance(handler, _HasHandle) else handler
        result = fn(event)
        if inspect.isawaitable(result):
            await result
    except Exception:
        log.exception(
            "event handler %r raised on %s (seq %d); the round goes on",
            handler,
            event.type.value,
            event.seq,
        )
