"""Commands: a session's command action dispatched to one eligible provider, recorded on the
bus as pending until its result is applied with the dispatch's idempotency key; a command
nobody can take waits for a provider or its deadline (a mixin of
:class:`~dialoghub.routing.router.Router`).

A dispatch's key is ``tenant/session/version`` (the version whose update asked for the
command), so a result applied twice is applied once, whichever process applies it; a
session has at most one pending record, so a repeated command action is not sent again.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import msgspec

from dialoghub.engine.records import CommandAction, CommandResult, Input, Session
from dialoghub.errors import IdempotencyKeyReused, InputError, SessionClosed, SessionNotFound
from dialoghub.hub import Hub
from dialoghub.hub.view import SessionView
from dialoghub.routing.bus import Bus, ClientRecord, Pending
from dialoghub.routing.clients import Attached, Registry
from dialoghub.routing.frames import CommandFrame, UpdateFrame
from dialoghub.routing.locks import ClientLocks, choose_provider

__all__ = ["BUILTINS", "Commands"]

log = logging.getLogger("dialoghub.routing")

#: Commands the router carries out itself (Galaxy's Builtin server), never sent to a provider.
BUILTINS = frozenset({"end_session", "new_session", "set_session", "set_alarm"})

_encode = msgspec.json.Encoder().encode


class Commands:
    """Dispatch, results, deadlines (see the module docstring)."""

    hub: Hub
    bus: Bus
    process: str
    dispatch_timeout: float
    locks: ClientLocks
    _rng: random.Random
    _local: dict[tuple[str, str], Attached]
    _registry: Registry
    _pending: dict[str, Pending]
    _watched: dict[tuple[str, str], int]
    _watch: Callable[[SessionView], None]
    _to_client: Callable[[ClientRecord, CommandFrame | UpdateFrame], Awaitable[None]]
    _send_numbered: Callable[[ClientRecord, bytes, int], Awaitable[None]]
    _update_routed: Callable[..., Awaitable[SessionView]]

    if TYPE_CHECKING:  # the session operations' (routing.sessions), declared for mypy only

        async def _builtin(self, pending: Pending) -> None: ...

    # --- commands -------------------------------------------------------------------------

    async def _dispatch(
        self, tenant: str, session: Session, action: CommandAction, *, take: bool = False
    ) -> None:
        """Dispatch the command action a session's update asked for (``take``: the update
        answered the session's previous command, whose record goes in the same bus call)."""
        key = f"{tenant}/{session.id}/{session.version}"
        pending = Pending(
            key=key,
            tenant=tenant,
            session_id=session.id,
            command=action.id,
            params=dict(action.params),
            deadline=time.time() + self.dispatch_timeout,
        )
        if action.id in BUILTINS:
            taken, claimed, _ = await self.bus.advance(pending, take=take)
            if taken is not None:
                self._pending.pop(taken.key, None)
            if claimed:
                await self._builtin(pending)
            return
        # The provider is chosen first, so the claim records it; a provider of this process
        # with room for it gets its frame numbered in the same bus call (the frame is
        # encoded once, here, and its slot taken before the await so that concurrent
        # dispatches never run more than its concurrency).
        record = self._choose(pending, session)
        if record is not None:
            pending = msgspec.structs.replace(pending, provider=record.name)
        local = self._local.get((record.tenant, record.name)) if record is not None else None
        raw = b""
        if local is not None and not local.busy:
            local.inflight[key] = pending
            raw = _encode(_command_frame(pending))
        mail = (local.record.tenant, local.record.name, raw) if local is not None and raw else None
        try:
            taken, claimed, seq = await self.bus.advance(pending, take=take, mail=mail)
        except BaseException:
            if local is not None:
                local.inflight.pop(key, None)
            raise
        if taken is not None:
            self._pending.pop(taken.key, None)
        if not claimed:  # the session's command is dispatched already (a repeated action)
            if local is not None and raw and local.inflight.get(key) is pending:
                del local.inflight[key]
                if local.waiting and not local.busy:
                    await self._run_on(local, local.waiting.pop(0))
            return
        self._pending[key] = pending
        if local is not None and raw:
            await self._send_numbered(local.record, raw, seq)
        else:
            await self._send_to(record, pending)

    async def _assign(self, pending: Pending, session: Session | None = None) -> None:
        """Send a waiting command to an eligible provider, if one is there now."""
        if session is None:
            try:
                session = await self.hub.get_session(pending.session_id, tenant=pending.tenant)
            except SessionNotFound:
                await self.bus.take_pending(pending)
                return
        record = self._choose(pending, session)
        if record is not None:
            pending = msgspec.structs.replace(pending, provider=record.name)
            if not await self.bus.put_pending(pending):
                self._pending.pop(pending.key, None)
                return  # answered or failed meanwhile
        await self._send_to(record, pending)

    def _choose(self, pending: Pending, session: Session) -> ClientRecord | None:
        providers = self._registry.of(pending.tenant, "provider")
        busy = {}
        for record in providers:
            local = self._local.get((record.tenant, record.name))
            if local is not None:
                busy[record.name] = local.busy
        return choose_provider(
            providers,
            pending.command,
            pending.tenant,
            pending.session_id,
            session.locks,
            self.locks,
            busy,
            self._rng,
            here=self.process,
        )

    async def _send_to(self, record: ClientRecord | None, pending: Pending) -> None:
        self._pending[pending.key] = pending
        if record is None:
            return  # it waits for a provider (or its deadline)
        local = self._local.get((record.tenant, record.name))
        if local is not None:
            await self._run_on(local, pending)
        else:
            await self.bus.send(
                record.process, _encode({"t": "run", "p": msgspec.to_builtins(pending)})
            )

    async def _run_on(self, client: Attached, pending: Pending) -> None:
        if client.busy and pending.key not in client.inflight:
            client.waiting.append(pending)
            return
        client.inflight[pending.key] = pending
        await self._to_client(client.record, _command_frame(pending))

    async def _owed(self, client: Attached) -> None:
        """A provider (re)attached: send it what was pending for it (it answers a command
        it already ran from its own record, never running it twice), and offer it what
        waits for a provider."""
        for pending in await self.bus.pending():
            if pending.tenant != client.record.tenant:
                continue
            if pending.provider == client.record.name:
                self._pending[pending.key] = pending
                await self._run_on(client, pending)
            elif not pending.provider and pending.command in client.record.commands:
                await self._assign(pending)

    async def result(
        self, client: Attached | None, key: str, outputs: dict[str, Any], error: str | None
    ) -> SessionView | None:
        """A provider's answer: the session's command result, applied once per key."""
        pending = self._pending.get(key)
        if pending is None:
            found = await self.bus.get_pending(*_split(key))
            pending = found if found is not None and found.key == key else None
        if client is not None:
            client.inflight.pop(key, None)
        view = None
        if pending is not None:
            view = await self._apply(
                pending, CommandResult(id=pending.command, outputs=outputs, error=error)
            )
        if client is not None and client.waiting and not client.busy:
            await self._run_on(client, client.waiting.pop(0))
        return view

    async def _apply(self, pending: Pending, inp: Input) -> SessionView | None:
        """Apply a pending command's result with its idempotency key, then let it go."""
        tenant, sid, key = pending.tenant, pending.session_id, pending.key
        try:
            view = await self._update_routed(sid, inp, tenant=tenant, idempotency_key=key)
        except IdempotencyKeyReused:  # answered already (the deadline, or another answer)
            view = None
        except (InputError, SessionClosed, SessionNotFound) as exc:
            log.info("result %s not applied: %s", key, exc)
            view = None
        if view is not None and self._watched.get((tenant, sid)) != view.session.version:
            # Applied before, by a process that may have died before routing it on. If the
            # session is still where that update left it, route the update again (its
            # replies reach the interfaces at least once, the library drops an update it
            # already has, and its next command is claimed once); else only resume.
            current = await self.hub.get_session(sid, tenant=tenant)
            if current.version == view.session.version:
                self._watch(view)
            else:
                await self.bus.take_pending(pending)
                self._pending.pop(key, None)
                await self._resume(tenant, sid)
        elif view is None:  # answered another way: let it go, resume what the session awaits
            await self.bus.take_pending(pending)
            self._pending.pop(key, None)
            await self._resume(tenant, sid)
        return view

    async def _resume(self, tenant: str, sid: str) -> None:
        """Dispatch the command a session awaits if nobody has it pending."""
        if await self.bus.get_pending(tenant, sid) is not None:
            return
        try:
            session = await self.hub.get_session(sid, tenant=tenant)
        except SessionNotFound:
            return
        aw = session.awaiting or {}
        if not session.ended and aw.get("kind") == "command":
            await self._dispatch(
                tenant, session, CommandAction(id=aw["command"], params=aw["params"])
            )

    async def expire(self, now: float) -> int:
        """Answer every pending command past its deadline as a command error; how many."""
        failed = 0
        for pending in await self.bus.pending():
            if pending.deadline > now:
                continue
            for client in self._local.values():
                client.inflight.pop(pending.key, None)
                client.waiting = [w for w in client.waiting if w.key != pending.key]
            why = (
                "no provider of command {c!r} was free"
                if not pending.provider
                else "provider {p!r} did not answer command {c!r}"
            )
            await self._apply(
                pending,
                CommandResult(
                    id=pending.command,
                    error=why.format(c=pending.command, p=pending.provider)
                    + f" within {self.dispatch_timeout:g} s",
                ),
            )
            failed += 1
        return failed


def _command_frame(pending: Pending) -> CommandFrame:
    return CommandFrame(
        key=pending.key,
        session_id=pending.session_id,
        command=pending.command,
        params=pending.params,
        deadline=pending.deadline,
    )


def _split(key: str) -> tuple[str, str]:
    tenant, sid, _ = key.rsplit("/", 2) if key.count("/") >= 2 else ("default", key, "")
    return tenant, sid
