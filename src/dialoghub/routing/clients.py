r"""A client connected to this process, as the router keeps it (every process's clients are
:class:`~dialoghub.routing.bus.ClientRecord`\ s in the registry on the bus)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from dialoghub.routing.bus import ClientRecord, Pending

__all__ = ["Attached", "Registry", "Send"]

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


class Registry(dict[tuple[str, str], ClientRecord]):
    """The clients this process knows, by (tenant, name), with an index by tenant and role
    rebuilt on first use after a change: a dispatch or a reply looks at the few clients
    that may take it, not at every connected client (10,000 idle ones cost nothing)."""

    def __init__(self, records: Iterable[tuple[tuple[str, str], ClientRecord]] = ()) -> None:
        super().__init__(records)
        self._index: dict[tuple[str, str], list[ClientRecord]] | None = None

    def __setitem__(self, key: tuple[str, str], record: ClientRecord) -> None:
        self._index = None
        super().__setitem__(key, record)

    def __delitem__(self, key: tuple[str, str]) -> None:
        self._index = None
        super().__delitem__(key)

    def pop(self, key: tuple[str, str], *default: Any) -> Any:
        """As ``dict.pop``."""
        self._index = None
        return super().pop(key, *default)

    def of(self, tenant: str, *roles: str) -> list[ClientRecord]:
        """The tenant's clients of these roles."""
        index = self._index
        if index is None:
            index = self._index = {}
            for record in self.values():
                index.setdefault((record.tenant, record.role), []).append(record)
        if len(roles) == 1:
            return index.get((tenant, roles[0]), [])
        return [r for role in roles for r in index.get((tenant, role), [])]
