"""The router: one per server process, between the Hub's sessions and the attached clients.

Where data enters: a client attaches (:meth:`Router.attach`) with a name, a role and the
commands it offers, and sends messages (:meth:`Router.message`); a provider answers
commands (:meth:`Router.result`); any other transport reports its updates
(:meth:`Router.after_update`). What it passes through: every update goes to the Hub (one
compare-and-set, idempotency keys), and its view comes back here: replies go to the
session's user interfaces (:mod:`dialoghub.routing.locks`), a command action to one eligible
provider, recorded on the bus as pending until its result is applied with the dispatch's
idempotency key (so a result applied twice is applied once). With no eligible provider the
command waits; past its deadline it is answered as a command error the model handles. Where
it lands: frames go to local sockets, or through the bus to the process a client is
connected to, and into the client's mailbox so a reconnect recovers them.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
import time
from collections.abc import Callable
from typing import Any

import msgspec

from dialoghub.engine.records import (
    CommandAction,
    CommandResult,
    Input,
    Session,
)
from dialoghub.errors import (
    IdempotencyKeyReused,
    InputError,
    SessionClosed,
    SessionNotFound,
)
from dialoghub.hub import Hub
from dialoghub.hub.view import SessionView
from dialoghub.routing.bus import Bus, ClientRecord, LocalBus, Pending
from dialoghub.routing.clients import Attached, Send
from dialoghub.routing.frames import CommandFrame, UpdateFrame
from dialoghub.routing.locks import ClientLocks, choose_provider, reply_targets
from dialoghub.routing.logs import SessionLogs
from dialoghub.routing.sessions import DEFAULT_SESSION, SessionOps

__all__ = ["BUILTINS", "DEFAULT_SESSION", "Attached", "Router"]  # Attached: routing.clients

log = logging.getLogger("dialoghub.routing")

#: Commands the router carries out itself (Galaxy's Builtin server), never sent to a provider.
BUILTINS = frozenset({"end_session", "new_session", "set_session", "set_alarm"})

_encode = msgspec.json.Encoder().encode
_decode_notice = msgspec.json.Decoder(dict[str, Any]).decode


class Router(SessionOps):
    """Routes sessions' messages between clients, through ``hub``, on ``bus``."""

    def __init__(
        self,
        hub: Hub,
        bus: Bus | None = None,
        *,
        dispatch_timeout: float = 10.0,
        heartbeat: float = 2.0,
        logs: SessionLogs | None = None,
        seed: int | None = None,
    ) -> None:
        self.hub = hub
        self.bus: Bus = bus or LocalBus()
        self.process = self.bus.process
        #: Seconds a command may wait for a provider and its answer before it fails.
        self.dispatch_timeout = dispatch_timeout
        self.heartbeat = heartbeat
        self.logs = logs
        self._rng = random.Random(seed)
        self._local: dict[tuple[str, str], Attached] = {}
        self._registry: dict[tuple[str, str], ClientRecord] = {}
        self.locks = ClientLocks()
        self._pending: dict[str, Pending] = {}  # known to this process, by key
        self._connections = itertools.count(1)
        self._tasks: list[asyncio.Task[None]] = []
        # One chain of routing tasks per session: a session's updates are routed in order.
        self._chains: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._unwatch: Callable[[], None] | None = None
        # The version of each session's last update the Hub told us of: an answer to an
        # idempotency key that is not there was applied before (a replay, not routed again).
        self._watched: dict[tuple[str, str], int] = {}

    # --- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect the bus, start the heartbeat and the deadline sweeper."""
        await self.bus.start(self._frame_from_bus, self._notice)
        await self._refresh()
        self._unwatch = self.hub.watch(self._watch)
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._beat()), loop.create_task(self._sweep())]

    async def close(self) -> None:
        """Stop the tasks, withdraw this process's clients, close the bus and the logs."""
        if self._unwatch is not None:
            self._unwatch()
        await self.idle()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for client in list(self._local.values()):
            await self.bus.withdraw(
                client.record.tenant, client.record.name, client.record.connection
            )
        await self.bus.close()
        if self.logs is not None:
            await self.logs.close()

    # --- clients --------------------------------------------------------------------------

    async def attach(
        self,
        send: Send,
        *,
        name: str,
        role: str,
        tenant: str = "default",
        commands: tuple[str, ...] = (),
        concurrency: int = 1,
        session_id: str | None = None,
        after: int = 0,
    ) -> Attached:
        """Register a connected client (a reconnect under the same name replaces the old
        connection), replay its mailbox after ``after``, and send it what is owed."""
        record = ClientRecord(
            name=name,
            tenant=tenant,
            role=role,
            commands=commands,
            concurrency=max(1, concurrency),
            process=self.process,
            connection=next(self._connections),
        )
        client = Attached(record, send, session_id=session_id)
        old = self._local.get(client.key)
        if old is not None:
            client.inflight = old.inflight
        self._local[client.key] = client
        self._registry[client.key] = record
        await self.bus.announce(record, self.heartbeat * 3)
        await self.bus.notify(_encode({"t": "up", "r": msgspec.to_builtins(record)}))
        for seq, frame in await self.bus.since(tenant, name, after):
            await send(_numbered(frame, seq))
        if role == "provider":
            await self._owed(client)
        return client

    async def detach(self, client: Attached) -> None:
        """The client disconnected: its sessions go on; what it was running stays pending
        (it is sent again if the client comes back in time, else it fails at its deadline)."""
        if self._local.get(client.key) is not client:
            return
        del self._local[client.key]
        self._registry.pop(client.key, None)
        await self.bus.withdraw(client.record.tenant, client.record.name, client.record.connection)
        await self.bus.notify(
            _encode({"t": "down", "k": list(client.key), "c": client.record.connection})
        )

    def _watch(self, view: SessionView) -> None:
        """The Hub stored an update (whoever made it: a client, HTTP, a timer): route it
        after the session's previous one."""
        key = (view.session.tenant, view.session.id)
        self._watched[key] = view.session.version
        task = asyncio.get_running_loop().create_task(
            self._routed(self._chains.get(key), key[0], view)
        )
        self._chains[key] = task

        def done(t: asyncio.Task[None]) -> None:
            if self._chains.get(key) is t:
                del self._chains[key]

        task.add_done_callback(done)

    async def _routed(
        self, before: asyncio.Task[None] | None, tenant: str, view: SessionView
    ) -> None:
        if before is not None:
            await asyncio.wait([before])
        try:
            await self.after_update(tenant, view)
        except Exception:
            log.exception("routing session %r failed", view.session.id)

    async def idle(self) -> None:
        """Wait until every stored update so far is routed (tests, shutdown)."""
        while self._chains:
            await asyncio.wait(list(self._chains.values()))

    def clients(self, tenant: str = "default") -> list[ClientRecord]:
        """The clients this process knows to be connected (here and elsewhere)."""
        return [r for (t, _), r in self._registry.items() if t == tenant]

    # --- messages -------------------------------------------------------------------------

    def session_of(self, client: Attached, session_id: str | None) -> str:
        """The session a client's message belongs to: its assign lock wins, then the id it
        names, then its current session, then ``Default``."""
        assigned = self.locks.assign.get(client.key)
        if assigned is not None:
            return assigned[0]
        return session_id or client.session_id or DEFAULT_SESSION

    async def message(
        self,
        client: Attached,
        session_id: str | None,
        inp: Input,
        *,
        idempotency_key: str | None = None,
    ) -> SessionView:
        """A client's new message: to its session (created on first mention with the
        default model), routed on."""
        tenant = client.record.tenant
        sid = self.session_of(client, session_id)
        if client.session_id is None:
            client.session_id = sid
        await self.ensure(tenant, sid)
        return await self.hub.update(sid, inp, tenant=tenant, idempotency_key=idempotency_key)

    async def after_update(self, tenant: str, view: SessionView) -> None:
        """Route what an update did: log it, replies to user interfaces, events to
        observers, a new command to a provider, locks freed when the session ended."""
        session = view.session
        if self.logs is not None and view.events:
            self.logs.record(tenant, session.id, list(view.events), session.ended)
        if session.ended or any(e.type == "command_result_received" for e in view.events):
            # the session's command is answered: its pending record goes, before the next
            pending = await self.bus.take_session_pending(tenant, session.id)
            if pending is not None:
                self._pending.pop(pending.key, None)
        shown = [a for a in view.actions if not isinstance(a, CommandAction)]
        if shown and any(e.type != "action_emitted" for e in view.events):
            await self._deliver(tenant, session, view, shown)
        if session.ended:
            await self._ended(tenant, session)
            return
        last = view.actions[-1] if view.actions else None
        if isinstance(last, CommandAction):
            await self._dispatch(tenant, session, last)

    async def _deliver(
        self, tenant: str, session: Session, view: SessionView, shown: list[Any]
    ) -> None:
        actions = msgspec.to_builtins(shown)
        frame = UpdateFrame(
            session_id=session.id,
            version=session.version,
            actions=actions,
            status=session.status.value,
        )
        targets = reply_targets(
            self._registry.values(), tenant, session.id, session.locks, self.locks, self._rng
        )
        watchers = [
            c.record
            for c in self._local.values()
            if session.id in c.watching and c.record.tenant == tenant
        ]
        full = (
            msgspec.structs.replace(frame, events=msgspec.to_builtins(view.events))
            if watchers
            else frame
        )
        for record in targets:
            await self._to_client(record, full if record in watchers else frame)
        for record in watchers:
            if record not in targets:
                await self._to_client(record, full)

    async def _to_client(self, record: ClientRecord, frame: CommandFrame | UpdateFrame) -> None:
        """Number the frame in the client's mailbox, then send it where the client is (a
        command too: a provider reconnecting gets what a dead process had sent it)."""
        raw = _encode(frame)
        seq = await self.bus.append(record.tenant, record.name, raw)
        body = _numbered(raw, seq)
        local = self._local.get((record.tenant, record.name))
        if local is not None:
            try:
                await local.send(body)
            except Exception:  # the socket broke: the mailbox keeps it for the reconnect
                log.info("client %s unreachable; frame %d kept", record.name, seq)
        elif record.process:
            await self.bus.send(
                record.process,
                _encode({"t": "to", "k": [record.tenant, record.name], "b": body.decode()}),
            )

    # --- commands -------------------------------------------------------------------------

    async def _dispatch(self, tenant: str, session: Session, action: CommandAction) -> None:
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
            if await self.bus.claim_pending(pending):
                await self._builtin(pending)
            return
        # the provider is chosen first, so the claim records it (one bus call, not two)
        record = self._choose(pending, session)
        if record is not None:
            pending = msgspec.structs.replace(pending, provider=record.name)
        if not await self.bus.claim_pending(pending):
            return  # the session's command is dispatched already (this update repeated it)
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
        busy = {c.record.name: c.busy for c in self._local.values()}
        return choose_provider(
            self._registry.values(),
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
        frame = CommandFrame(
            key=pending.key,
            session_id=pending.session_id,
            command=pending.command,
            params=pending.params,
            deadline=pending.deadline,
        )
        await self._to_client(client.record, frame)

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
            view = await self.hub.update(sid, inp, tenant=tenant, idempotency_key=key)
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
        self._registry = fresh

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


def _numbered(frame: bytes, seq: int) -> bytes:
    """A frame with its mailbox number (``"seq"``) added as its last member."""
    return b'%s,"seq":%d}' % (frame[:-1], seq)


def _split(key: str) -> tuple[str, str]:
    tenant, sid, _ = key.rsplit("/", 2) if key.count("/") >= 2 else ("default", key, "")
    return tenant, sid
