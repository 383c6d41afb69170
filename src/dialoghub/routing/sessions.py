"""What the router does to sessions themselves: the builtin commands, create on mention,
set and release locks (the client-wide record on the bus first, with its fencing token, then
the session's event), free them when a session ends, start over, end (a mixin of
:class:`~dialoghub.routing.router.Router`, which routes what these updates produce through
the Hub's watch, like every other update)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec

from dialoghub.engine.records import CommandResult, End, Input, Session, SetAlarm, SetLock
from dialoghub.errors import (
    InputError,
    LockHeld,
    RoutingError,
    SessionClosed,
    SessionExists,
    SessionNotFound,
)
from dialoghub.hub import Hub
from dialoghub.hub.view import SessionView
from dialoghub.routing.bus import Bus, Pending
from dialoghub.routing.frames import LockSpec
from dialoghub.routing.locks import ClientLocks

__all__ = ["DEFAULT_SESSION", "SessionOps"]

#: The session of a message that names none (and of a client without one).
DEFAULT_SESSION = "Default"

_encode = msgspec.json.Encoder().encode


class SessionOps:
    """Session creation, locks, ends (see the module docstring)."""

    hub: Hub
    bus: Bus
    locks: ClientLocks
    _pending: dict[str, Pending]
    #: applies a pending command's result (the router's)
    _apply: Callable[[Pending, Input], Awaitable[SessionView | None]]

    async def _builtin(self, pending: Pending) -> None:
        p, tenant, sid = pending.params, pending.tenant, pending.session_id
        self._pending[pending.key] = pending
        error: str | None = None
        try:
            if pending.command == "end_session":
                await self.hub.update(
                    sid, End(reason=str(p.get("reason") or "ended by the model")), tenant=tenant
                )
                return
            if pending.command == "set_session":
                spec = LockSpec(
                    read=bool(p.get("read")),
                    write=bool(p.get("write")),
                    assign=bool(p.get("assign")),
                    permanent=bool(p.get("permanent")),
                )
                await self.set_locks(
                    tenant, str(p["client"]), sid, spec, release=bool(p.get("release"))
                )
            elif pending.command == "set_alarm":
                seconds: Any = p.get("seconds")
                alarm = SetAlarm(
                    name=str(p["name"]), seconds=None if seconds is None else float(seconds)
                )
                await self.hub.update(sid, alarm, tenant=tenant)
            elif pending.command == "new_session":
                await self.new_session(tenant, sid, p.get("session_id"))
        except (RoutingError, InputError, KeyError, TypeError, ValueError) as exc:
            error = str(exc)
        await self._apply(pending, CommandResult(id=pending.command, error=error))

    async def ensure(self, tenant: str, session_id: str, model_id: str | None = None) -> None:
        """Create the session if it does not exist yet (Galaxy: a mention creates it)."""
        if await self.hub.incarnation(session_id, tenant=tenant) is None:
            with contextlib.suppress(SessionExists):  # created meanwhile: fine
                await self.hub.create_session(model_id, session_id=session_id, tenant=tenant)

    async def set_locks(
        self, tenant: str, client: str, session_id: str, spec: LockSpec, *, release: bool = False
    ) -> SessionView:
        """Set (or release) a client's locks on a session: client-wide records first
        (moving a non-permanent lock from another session), then the session's event."""
        await self.ensure(tenant, session_id)
        fence = 0
        kinds = [k for k in ("read", "assign") if getattr(spec, k) or release]
        for kind in kinds:
            record = f"{kind}:{tenant}:{client}"
            if release:
                held = await self.bus.holder(record)
                if held is not None and held[0].split("|")[0] == session_id:
                    await self.bus.release(record, held[0])
                    await self._lock_notice("drop", kind, tenant, client, session_id, held[1])
                continue
            holder = session_id + ("|p" if spec.permanent else "")
            got = await self.bus.acquire(record, holder)
            if got is None:
                held = await self.bus.holder(record)
                other = held[0] if held else ""
                if other.endswith("|p"):
                    raise LockHeld(client, kind, other[:-2])
                await self.bus.release(record, other)
                if other.split("|")[0] != session_id:
                    await self._release_in(tenant, other.split("|")[0], client)
                got = await self.bus.acquire(record, holder)
                if got is None:
                    raise LockHeld(client, kind, other.split("|")[0])
            fence = max(fence, got)
            await self._lock_notice("set", kind, tenant, client, session_id, got)
        return await self.hub.update(
            session_id,
            SetLock(
                client=client,
                read=spec.read,
                write=spec.write,
                assign=spec.assign,
                permanent=spec.permanent,
                release=release,
                fence=fence,
            ),
            tenant=tenant,
        )

    async def _release_in(self, tenant: str, session_id: str, client: str) -> None:
        with contextlib.suppress(SessionNotFound, InputError, SessionClosed):
            await self.hub.update(session_id, SetLock(client=client, release=True), tenant=tenant)

    async def _lock_notice(
        self, op: str, kind: str, tenant: str, client: str, session_id: str, fence: int
    ) -> None:
        await self.bus.notify(
            _encode(
                {
                    "t": "lock",
                    "op": op,
                    "kind": kind,
                    "k": [tenant, client],
                    "s": session_id,
                    "f": fence,
                }
            )
        )

    async def _ended(self, tenant: str, session: Session) -> None:
        """A session ended: free the client-wide records of its non-permanent locks."""
        for kind in ("read", "assign"):
            for who, (sid, fence) in list(self.locks.table(kind).items()):
                if who[0] == tenant and sid == session.id and who[1] not in session.locks:
                    record = f"{kind}:{tenant}:{who[1]}"
                    held = await self.bus.holder(record)
                    if held is not None and held[0].split("|")[0] == session.id:
                        await self.bus.release(record, held[0])
                    await self._lock_notice("drop", kind, tenant, who[1], session.id, fence)

    async def new_session(
        self, tenant: str, current: str | None, new_id: Any = None, model_id: str | None = None
    ) -> str:
        """Start over: end ``current`` (if any and active), start a new session."""
        if current is not None:
            with contextlib.suppress(SessionNotFound, SessionClosed, InputError):
                await self.hub.update(current, End(reason="new session"), tenant=tenant)
        sid = str(new_id) if new_id else uuid.uuid4().hex
        await self.hub.create_session(model_id, session_id=sid, tenant=tenant)
        return sid

    async def end_session(self, tenant: str, session_id: str, reason: str) -> SessionView:
        """End a session (only an explicit end does: a client leaving never ends one)."""
        return await self.hub.update(session_id, End(reason=reason), tenant=tenant)
