"""The bus: what the server processes of one deployment share to route between clients.

One interface, three adapters chosen by URL (:func:`dialoghub.routing.buses.open_bus`):
``local://`` (one process, in memory; the default), ``redis://``
(:mod:`dialoghub.routing.bus_redis`) and ``nats://`` (:mod:`dialoghub.routing.bus_nats`),
the drivers imported only when used. The bus carries
five things, each named by the method group below:

- **delivery**: a frame for a client connected to another process goes to that process
  (:meth:`Bus.send`; every process :meth:`~Bus.start`\\ s by naming its handler);
- **notices**: registry and lock changes to every process (:meth:`Bus.notify`);
- **the client registry**: who is connected where, with which role and commands, kept alive
  by heartbeats and expiring with its process (:meth:`Bus.announce`, :meth:`Bus.clients`);
- **lock records**: a client-wide lock (a provider reads only one session, a client's new
  messages go to one session) is a record acquired atomically with a fencing token that
  grows with every acquisition (:meth:`Bus.acquire`);
- **pending commands**: every dispatched command is a record until its result is applied
  (:meth:`Bus.put_pending`), so a command outlives the process that dispatched it, and
  **mailboxes**: every frame for a client is numbered in its mailbox (:meth:`Bus.append`),
  so a client that reconnects (to any process) gets what it missed (:meth:`Bus.since`).

Nothing on the bus is the truth about a session: sessions live in the store. The bus only
says where a client is, who holds a client-wide lock, and what is still owed to whom.
"""

from __future__ import annotations

import itertools
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Protocol

import msgspec

__all__ = ["MAILBOX_SIZE", "Bus", "ClientRecord", "Handler", "LocalBus", "Mail", "Pending"]

#: Called with each frame another process sent to this one.
Handler = Callable[[bytes], Awaitable[None]]

#: A frame for a client's mailbox: (tenant, client name, frame).
Mail = tuple[str, str, bytes]

#: How many frames a client's mailbox keeps for a reconnect (older ones are dropped).
MAILBOX_SIZE = 1000


class ClientRecord(msgspec.Struct, kw_only=True, frozen=True):
    """A connected client as every process sees it."""

    name: str  # unique per tenant; a reconnect under the same name is the same client
    tenant: str = "default"
    role: str  # ui, audio, provider, observer
    commands: tuple[str, ...] = ()
    concurrency: int = 1
    process: str = ""  # the process it is connected to
    connection: int = 0  # which of its connections (a reconnect replaces the record)


class Pending(msgspec.Struct, kw_only=True, frozen=True):
    """A dispatched command until its result is applied: ``key`` is the idempotency key of
    that result; ``provider`` the client it was sent to ('' while none is eligible)."""

    key: str
    tenant: str
    session_id: str
    command: str
    params: dict[str, object] = {}
    deadline: float
    provider: str = ""

    @property
    def slot(self) -> str:
        """Where the bus keeps it: one pending command per session."""
        return f"{self.tenant}/{self.session_id}"


class Bus(Protocol):
    """What every adapter implements (see the module docstring for the five parts)."""

    process: str

    async def start(self, handler: Handler, notices: Handler) -> None:
        """Connect, and deliver frames for this process to ``handler``, notices to
        ``notices`` (this process's own notices too)."""
        ...

    async def close(self) -> None:
        """Withdraw this process's clients and disconnect."""
        ...

    async def send(self, process: str, frame: bytes) -> None:
        """Deliver ``frame`` to ``process``'s handler (lost if the process is gone)."""
        ...

    async def notify(self, notice: bytes) -> None:
        """Deliver ``notice`` to every process."""
        ...

    async def announce(self, record: ClientRecord, ttl: float) -> None:
        """Register (or refresh) a connected client for ``ttl`` seconds."""
        ...

    async def withdraw(self, tenant: str, name: str, connection: int) -> None:
        """Drop a client's record if it is still that connection's."""
        ...

    async def clients(self) -> list[ClientRecord]:
        """Every live client record."""
        ...

    async def acquire(self, key: str, holder: str) -> int | None:
        """Hold lock record ``key`` for ``holder``; its fencing token, or None if another
        holder has it. Acquiring a record one already holds returns a new, larger token."""
        ...

    async def release(self, key: str, holder: str) -> bool:
        """Release ``key`` if ``holder`` has it."""
        ...

    async def holder(self, key: str) -> tuple[str, int] | None:
        """Who holds ``key`` and with which fencing token."""
        ...

    async def claim_pending(self, pending: Pending) -> bool:
        """Record a dispatched command unless its session already has one (a session waits
        for one command at a time: a repeated command action is not dispatched again)."""
        ...

    async def put_pending(self, pending: Pending) -> bool:
        """Re-record a pending command (e.g. now assigned to a provider) if it is still the
        session's (same key); False if it is not."""
        ...

    async def get_pending(self, tenant: str, session_id: str) -> Pending | None:
        """The session's pending command, if any."""
        ...

    async def take_pending(self, pending: Pending) -> bool:
        """Remove a pending command if it is still the session's; False if another
        process took it first."""
        ...

    async def take_session_pending(self, tenant: str, session_id: str) -> Pending | None:
        """Remove and return the session's pending command, whichever it is (its result
        was just applied)."""
        ...

    async def pending(self) -> list[Pending]:
        """Every pending command."""
        ...

    async def advance(
        self, pending: Pending, *, take: bool, mail: Mail | None = None
    ) -> tuple[Pending | None, bool, int]:
        """A session's next command in one step (one bus round trip where the bus can):
        if ``take``, remove the session's pending command, whichever it is (its result was
        just applied); then claim ``pending`` as :meth:`claim_pending` does; if claimed and
        ``mail`` is given (tenant, client, frame), number the frame in that client's
        mailbox as :meth:`append` does. Returns the record removed, whether ``pending`` was
        claimed, and the mail's number (0 if none)."""
        ...

    async def append(self, tenant: str, client: str, frame: bytes) -> int:
        """Keep ``frame`` in the client's mailbox; its sequence number (1, 2, ...)."""
        ...

    async def since(self, tenant: str, client: str, after: int) -> list[tuple[int, bytes]]:
        """The mailbox's frames numbered above ``after``, oldest first."""
        ...


class LocalBus:
    """The bus of a single process: everything in memory, nothing shared."""

    def __init__(self, process: str = "local") -> None:
        self.process = process
        self._handler: Handler | None = None
        self._notices: Handler | None = None
        self._clients: dict[tuple[str, str], tuple[ClientRecord, float]] = {}
        self._locks: dict[str, tuple[str, int]] = {}
        self._fences = itertools.count(1)
        self._pending: dict[str, Pending] = {}  # by slot
        self._mail: dict[tuple[str, str], tuple[int, deque[tuple[int, bytes]]]] = {}

    async def start(self, handler: Handler, notices: Handler) -> None:
        self._handler, self._notices = handler, notices

    async def close(self) -> None:
        self._clients.clear()

    async def send(self, process: str, frame: bytes) -> None:
        if process == self.process and self._handler is not None:
            await self._handler(frame)

    async def notify(self, notice: bytes) -> None:
        if self._notices is not None:
            await self._notices(notice)

    async def announce(self, record: ClientRecord, ttl: float) -> None:
        self._clients[(record.tenant, record.name)] = (record, time.monotonic() + ttl)

    async def withdraw(self, tenant: str, name: str, connection: int) -> None:
        found = self._clients.get((tenant, name))
        if found is not None and found[0].connection == connection:
            del self._clients[(tenant, name)]

    async def clients(self) -> list[ClientRecord]:
        now = time.monotonic()
        return [r for r, until in self._clients.values() if until > now]

    async def acquire(self, key: str, holder: str) -> int | None:
        current = self._locks.get(key)
        if current is not None and current[0] != holder:
            return None
        fence = next(self._fences)
        self._locks[key] = (holder, fence)
        return fence

    async def release(self, key: str, holder: str) -> bool:
        current = self._locks.get(key)
        if current is None or current[0] != holder:
            return False
        del self._locks[key]
        return True

    async def holder(self, key: str) -> tuple[str, int] | None:
        return self._locks.get(key)

    async def claim_pending(self, pending: Pending) -> bool:
        if pending.slot in self._pending:
            return False
        self._pending[pending.slot] = pending
        return True

    async def put_pending(self, pending: Pending) -> bool:
        current = self._pending.get(pending.slot)
        if current is None or current.key != pending.key:
            return False
        self._pending[pending.slot] = pending
        return True

    async def take_session_pending(self, tenant: str, session_id: str) -> Pending | None:
        return self._pending.pop(f"{tenant}/{session_id}", None)

    async def get_pending(self, tenant: str, session_id: str) -> Pending | None:
        return self._pending.get(f"{tenant}/{session_id}")

    async def take_pending(self, pending: Pending) -> bool:
        current = self._pending.get(pending.slot)
        if current is None or current.key != pending.key:
            return False
        del self._pending[pending.slot]
        return True

    async def pending(self) -> list[Pending]:
        return list(self._pending.values())

    async def advance(
        self, pending: Pending, *, take: bool, mail: Mail | None = None
    ) -> tuple[Pending | None, bool, int]:
        taken = self._pending.pop(pending.slot, None) if take else None
        if pending.slot in self._pending:
            return taken, False, 0
        self._pending[pending.slot] = pending
        return taken, True, 0 if mail is None else await self.append(*mail)

    async def append(self, tenant: str, client: str, frame: bytes) -> int:
        seq, box = self._mail.get((tenant, client)) or (0, deque(maxlen=MAILBOX_SIZE))
        seq += 1
        box.append((seq, frame))
        self._mail[(tenant, client)] = (seq, box)
        return seq

    async def since(self, tenant: str, client: str, after: int) -> list[tuple[int, bytes]]:
        found = self._mail.get((tenant, client))
        return [] if found is None else [(s, f) for s, f in found[1] if s > after]
