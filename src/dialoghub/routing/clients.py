r"""A client connected to this process, as the router keeps it (every process's clients are
:class:`~dialoghub.routing.bus.ClientRecord`\ s in the registry on the bus)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from dialoghub.routing.bus import ClientRecord, Pending

__all__ = ["Attached", "Send"]

#: Sends one frame on the client's socket.
Send = Callable[[bytes], Awaitable[None]]


@dataclass(eq=False, slots=True)
class Attached:
    """A client connected to this process."""

    record: ClientRecord
    send: Send
    session_id: str | None = None  # its current session (messages without an id)
    inflight: dict[str, Pending] = field(default_factory=dict)  # commands it runs
    waiting: list[Pending] = field(default_factory=list)  # beyond its concurrency
    watching: set[str] = field(default_factory=set)  # observed sessions

    @property
    def key(self) -> tuple[str, str]:
        """(tenant, name)."""
        return (self.record.tenant, self.record.name)

    @property
    def busy(self) -> bool:
        """True when it runs as many commands as its concurrency allows."""
        return len(self.inflight) >= self.record.concurrency
