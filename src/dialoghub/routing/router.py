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
import contextvars
import itertools
import logging
import random
from collections.abc import Callable
from typing import Any

import msgspec

from dialoghub.engine.records import CommandAction, Input, Session
from dialoghub.hub import Hub
from dialoghub.hub.view import SessionView
from dialoghub.routing.bus import Bus, ClientRecord, LocalBus, Pending
from dialoghub.routing.clients import Attached, Registry, Send
from dialoghub.routing.commands import BUILTINS, Commands
from dialoghub.routing.frames import CommandFrame, UpdateFrame
from dialoghub.routing.locks import USER_ROLES, ClientLocks, reply_targets
from dialoghub.routing.logs import SessionLogs
from dialoghub.routing.sessions import DEFAULT_SESSION, SessionOps
from dialoghub.routing.upkeep import Upkeep

# BUILTINS: routing.commands, DEFAULT_SESSION: routing.sessions, Attached: routing.clients
__all__ = ["BUILTINS", "DEFAULT_SESSION", "Attached", "Router"]

log = logging.getLogger("dialoghub.routing")

_encode = msgspec.json.Encoder().encode

#: Set while the router itself updates a session (:meth:`Router._update_routed`): the views
#: the Hub reports meanwhile are collected here and routed by that task, not by a new one.
_inline: contextvars.ContextVar[list[SessionView] | None] = contextvars.ContextVar(
    "dialoghub_routing_inline", default=None
)


class Router(Commands, Upkeep, SessionOps):
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
        self._registry = Registry()
        self.locks = ClientLocks()
        self._pending: dict[str, Pending] = {}  # known to this process, by key
        self._connections = itertools.count(1)
        self._tasks: list[asyncio.Task[None]] = []
        # One chain of routing tasks per session: a session's updates are routed in order
        # (a future stands for an update being routed inline, by the task that made it).
        self._chains: dict[tuple[str, str], asyncio.Future[None]] = {}
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
        after the session's previous one (in the task that made it, if that task is the
        router's own and nothing of the session is still being routed; else on a task)."""
        key = (view.session.tenant, view.session.id)
        self._watched[key] = view.session.version
        inline = _inline.get()
        if inline is not None and key not in self._chains:
            inline.append(view)
            # later updates of the session wait for this one as for a task of the chain
            self._chains[key] = asyncio.get_running_loop().create_future()
            return
        self._chain(key, view)

    def _chain(self, key: tuple[str, str], view: SessionView) -> None:
        task = asyncio.get_running_loop().create_task(
            self._routed(self._chains.get(key), key[0], view)
        )
        self._chains[key] = task

        def done(t: asyncio.Task[None]) -> None:
            if self._chains.get(key) is t:
                del self._chains[key]

        task.add_done_callback(done)

    async def _update_routed(
        self, session_id: str, inp: Input, *, tenant: str, idempotency_key: str | None
    ) -> SessionView:
        """``hub.update``, its update then routed in this very task: a command round trip
        costs no task and no scheduling of its own (the result's update, the next
        dispatch). Still in order: the Hub tells the watcher under the session's lock, and
        the session's next updates are routed after this one."""
        views: list[SessionView] = []
        token = _inline.set(views)
        try:
            view = await self.hub.update(
                session_id, inp, tenant=tenant, idempotency_key=idempotency_key
            )
        except BaseException:
            _inline.reset(token)
            for stored in views:  # stored, then cancelled: route it on a task of its own
                self._after_inline(stored, spawn=True)
            raise
        _inline.reset(token)
        for stored in views:
            try:
                await self.after_update(stored.session.tenant, stored)
            except Exception:
                log.exception("routing session %r failed", stored.session.id)
            finally:
                self._after_inline(stored)
        return view

    def _after_inline(self, view: SessionView, *, spawn: bool = False) -> None:
        """An update routed inline is done (or, ``spawn``, is to be routed on a task)."""
        key = (view.session.tenant, view.session.id)
        placeholder = self._chains.get(key)

        def finish(_: object = None) -> None:
            if placeholder is not None and not placeholder.done():
                placeholder.set_result(None)
            if placeholder is not None and self._chains.get(key) is placeholder:
                del self._chains[key]

        if spawn:
            task = asyncio.get_running_loop().create_task(self._routed(None, key[0], view))
            task.add_done_callback(finish)
        else:
            finish()

    async def _routed(
        self, before: asyncio.Future[None] | None, tenant: str, view: SessionView
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
        # The session's command is answered: its pending record goes before anything is
        # sent (a reply lets the client send the next message at once, whose command must
        # find the session's slot free), in the same bus call as the next command's claim.
        answered = session.ended or any(e.type == "command_result_received" for e in view.events)
        last = view.actions[-1] if view.actions else None
        command = last if isinstance(last, CommandAction) and not session.ended else None
        if command is not None and command.id not in BUILTINS:
            await self._dispatch(tenant, session, command, take=answered)
        elif answered:
            pending = await self.bus.take_session_pending(tenant, session.id)
            if pending is not None:
                self._pending.pop(pending.key, None)
        shown = [a for a in view.actions if not isinstance(a, CommandAction)]
        if shown and any(e.type != "action_emitted" for e in view.events):
            await self._deliver(tenant, session, view, shown)
        if session.ended:
            await self._ended(tenant, session)
        elif command is not None and command.id in BUILTINS:
            # after the replies: a builtin may move locks the replies are routed by
            await self._dispatch(tenant, session, command)

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
            self._registry.of(tenant, *USER_ROLES),
            tenant,
            session.id,
            session.locks,
            self.locks,
            self._rng,
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
        await self._send_numbered(record, raw, seq)

    async def _send_numbered(self, record: ClientRecord, raw: bytes, seq: int) -> None:
        """Send a frame numbered ``seq`` in the client's mailbox where the client is."""
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


def _numbered(frame: bytes, seq: int) -> bytes:
    """A frame with its mailbox number (``"seq"``) added as its last member."""
    return b'%s,"seq":%d}' % (frame[:-1], seq)
