"""What keeps a process's router in step with the others: frames and notices from the bus,
the heartbeat that refreshes this process's clients in the shared registry, and the sweep
that fails commands past their deadline, any process's (a mixin of
:class:`~dialoghub.routing.router.Router`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec

from dialoghub.routing.bus import Bus, ClientRecord, Pending
from dialoghub.routing.clients import Attached, Registry
from dialoghub.routing.locks import ClientLocks

__all__ = ["Upkeep"]

log = logging.getLogger("dialoghub.routing")

_encode = msgspec.json.Encoder().encode
_decode_notice = msgspec.json.Decoder(dict[str, Any]).decode


class Upkeep:
    """Bus frames and notices, heartbeat, deadline sweep (see the module docstring)."""

    bus: Bus
    process: str
    heartbeat: float
    dispatch_timeout: float
    locks: ClientLocks
    _local: dict[tuple[str, str], Attached]
    _registry: Registry
    _pending: dict[str, Pending]
    _run_on: Callable[[Attached, Pending], Awaitable[None]]
    _assign: Callable[..., Awaitable[None]]
    expire: Callable[[float], Awaitable[int]]  # the commands'

    # --- the bus --------------------------------------------------------------------------

    async def _frame_from_bus(self, raw: bytes) -> None:
        msg = _decode_notice(raw)
        if msg["t"] == "to":
            client = self._local.get((msg["k"][0], msg["k"][1]))
            if client is not None:
                with contextlib.suppress(Exception):
                    await client.send(msg["b"].encode())
        elif msg["t"] == "run":
            pending = msgspec.convert(msg["p"], Pending)
            client = self._local.get((pending.tenant, pending.provider))
            if client is not None:
                self._pending[pending.key] = pending
                await self._run_on(client, pending)

    async def _notice(self, raw: bytes) -> None:
        msg = _decode_notice(raw)
        kind = msg["t"]
        if kind == "up":
            record = msgspec.convert(msg["r"], ClientRecord)
            self._registry[(record.tenant, record.name)] = record
            if record.role == "provider":
                await self._resend(record)
                if record.process != self.process:
                    await self._retry_waiting(record)
        elif kind == "down":
            key = (msg["k"][0], msg["k"][1])
            found = self._registry.get(key)
            if found is not None and found.connection == msg["c"] and key not in self._local:
                del self._registry[key]
        elif kind == "lock":
            who = (msg["k"][0], msg["k"][1])
            if msg["op"] == "set":
                self.locks.set(msg["kind"], who, msg["s"], msg["f"])
            else:
                self.locks.drop(msg["kind"], who, msg["f"])

    async def _resend(self, record: ClientRecord) -> None:
        """A provider (re)attached somewhere: what this process sent it may have gone to a
        process that died, so send it again where it is now (it answers a key it already
        answered from its record, and runs nothing twice)."""
        for pending in list(self._pending.values()):
            if pending.provider != record.name or pending.tenant != record.tenant:
                continue
            local = self._local.get((record.tenant, record.name))
            if local is not None:
                if pending.key not in local.inflight:
                    await self._run_on(local, pending)
            else:
                await self.bus.send(
                    record.process, _encode({"t": "run", "p": msgspec.to_builtins(pending)})
                )

    async def _retry_waiting(self, record: ClientRecord) -> None:
        for pending in list(self._pending.values()):
            if not pending.provider and pending.command in record.commands:
                await self._assign(pending)

    async def _refresh(self) -> None:
        records = await self.bus.clients()
        fresh = {(r.tenant, r.name): r for r in records}
        for key, client in self._local.items():
            fresh[key] = client.record
        self._registry = Registry(fresh.items())

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat)
            try:
                for client in list(self._local.values()):
                    await self.bus.announce(client.record, self.heartbeat * 3)
                await self._refresh()
            except Exception:
                log.exception("routing heartbeat failed")

    async def _sweep(self) -> None:
        """Fail the commands past their deadline (any process's: a dead one's too)."""
        while True:
            await asyncio.sleep(min(0.1, self.dispatch_timeout / 4))
            try:
                await self.expire(time.time())
            except Exception:
                log.exception("routing deadline sweep failed")
