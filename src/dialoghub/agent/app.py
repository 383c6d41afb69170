"""The agent application: durable sessions that take a message and play a round.

:class:`AgentApp` sits on a :class:`~dialoghub.hub.Hub` (so its sessions live in any store,
survive restarts and move between processes). ``await app.get_session(id)`` creates or
resumes a session; ``await session.send_message(text, handler, files)`` plays one round and
returns it. Where the data goes: the files are copied into the session's workspace folder
(in a thread), the round's start is stored on the session (one compare-and-set: a second
round of the same session, in any process, is refused there), the planner plays it
(:mod:`dialoghub.agent.execute`) while its events go to the handler and to the session's
:class:`~dialoghub.agent.live.LiveLog` (for sockets and streams), each completed post is
stored, and the end is stored with the reply.

Rounds of one session run one after the other (``busy="wait"``, in arrival order) or a
second one is refused (``busy="refuse"``: :class:`~dialoghub.errors.RoundBusy`); rounds of
different sessions run concurrently. A round left running by a process that died is
found when its session is next opened (or by :meth:`AgentApp.recover`) and marked failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping
from pathlib import Path
from typing import Any, Literal

from dialoghub.agent.events import EVENT_SCOPES, AgentEvent, EventHandler, EventType
from dialoghub.agent.execute import Planner, Turn, run_round
from dialoghub.agent.history import stored_events, stored_round
from dialoghub.agent.live import KEEP, LiveLog
from dialoghub.agent.planners import DialogPlanner
from dialoghub.agent.plugins import Plugins
from dialoghub.agent.rounds import Round, RoundStatus, rounds_of
from dialoghub.agent.session import AgentSession
from dialoghub.agent.upkeep import recover_all, recover_round, remove_folders
from dialoghub.agent.workspace import Workspace
from dialoghub.engine.records import AgentRecord, Session
from dialoghub.errors import (
    InvalidInput,
    RoundBusy,
    SessionClosed,
    SessionNotFound,
    UnexpectedInput,
)
from dialoghub.hub import Hub
from dialoghub.hub.keyed import KeyedLocks
from dialoghub.model.loader import load_model_text
from dialoghub.model.spec import Model

__all__ = ["AGENT_MODEL", "AgentApp", "AgentSession", "agent_model"]

#: The id of the model agent sessions run when the application names none.
AGENT_MODEL = "agent"
_AGENT_YAML = """
id: agent
version: "1"
description: An agent session (dialoghub.agent) whose rounds a planner plays.
states:
  ready:
    wait: true
"""
#: Sessions whose live logs are kept after their last round, for reconnecting clients.
RECENT_LOGS = 1000
Key = tuple[str, str]


def agent_model() -> Model:
    """The model of agent sessions: one state that waits; rounds are recorded on it."""
    return load_model_text(_AGENT_YAML, "<agent model>")


class _Running:
    __slots__ = ("done", "round", "task", "turn")

    def __init__(self, round: Round) -> None:
        self.round = round
        self.turn: Turn | None = None
        self.task: asyncio.Task[Round] | None = None
        self.done = asyncio.Event()


class AgentApp:
    """Agent sessions on a Hub: ``async with AgentApp(hub, planner=..., plugins=...)``.

    ``planner`` plays the rounds of sessions of the agent model (a :class:`RulePlanner`,
    an :class:`LLMPlanner`, anything with ``async run(turn) -> str``); sessions of another
    model are played by that model (:class:`DialogPlanner`). ``workspace`` is the folder of
    the sessions' files (none: files are refused). ``round_timeout`` seconds bound a round.
    ``shared_store``: other processes run rounds on the same store (see :meth:`recover`).
    """

    def __init__(
        self,
        hub: Hub | str = "sqlite:///dialoghub.db",
        *,
        planner: Planner | None = None,
        plugins: Plugins | Mapping[str, Any] | None = None,
        workspace: str | Path | Workspace | None = None,
        busy: Literal["wait", "refuse"] = "wait",
        round_timeout: float = 300.0,
        keep_events: int = KEEP,
        shared_store: bool = False,
    ) -> None:
        self._own_hub = isinstance(hub, str)
        self.hub = Hub(hub) if isinstance(hub, str) else hub
        self.planner = planner
        self.plugins = plugins if isinstance(plugins, Plugins) else Plugins(plugins)
        self.workspace = (
            workspace
            if isinstance(workspace, Workspace) or workspace is None
            else Workspace(workspace)
        )
        if busy not in ("wait", "refuse"):
            raise InvalidInput(f"busy is 'wait' or 'refuse', not {busy!r}")
        self.busy = busy
        self.round_timeout = round_timeout
        self.keep_events = keep_events
        #: Other processes run rounds on this store too: a round another owner marked
        #: running is left alone until its deadline (alone, any such round is a dead one's).
        self.shared_store = shared_store
        #: This process's id on the rounds it runs (a round of another owner that is still
        #: marked running when its session is opened here was left by a dead process).
        self.owner = uuid.uuid4().hex[:12]
        self._locks: KeyedLocks[Key] = KeyedLocks()
        self._running: dict[Key, _Running] = {}
        self._pending: dict[Key, int] = {}  # rounds accepted and not ended, per session
        self._logs: OrderedDict[Key, LiveLog] = OrderedDict()
        #: told of each live event of a round played here, to carry it to the other server
        #: processes (the server sets it when it relays through Redis); see :meth:`deliver`
        self.relay: Callable[[Key, AgentEvent], None] | None = None
        self._tasks: set[asyncio.Task[Round]] = set()
        self._dialog = DialogPlanner(self.hub)
        if AGENT_MODEL not in self.hub.models:
            default = self.hub.default_model
            self.hub.add_model(agent_model())
            self.hub.default_model = default or AGENT_MODEL

    # --- lifecycle ------------------------------------------------------------------------

    async def open(self) -> None:
        """Open the Hub if this app made it."""
        if self._own_hub:
            await self.hub.open()

    async def close(self) -> None:
        """Cancel the rounds still running (each is recorded as cancelled), close the Hub if
        this app made it."""
        for running in list(self._running.values()):
            if running.turn is not None:
                running.turn.cancel_requested = True
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task
        if self._own_hub:
            await self.hub.close()

    async def __aenter__(self) -> AgentApp:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- sessions -------------------------------------------------------------------------

    async def get_session(
        self, session_id: str | None = None, *, tenant: str = "default", model_id: str | None = None
    ) -> AgentSession:
        """Resume session ``session_id`` from the store, or create it (a new id if None),
        of ``model_id`` (the agent model by default). A round it was running when its process
        died is marked failed here."""
        session: Session | None = None
        if session_id is not None:
            with contextlib.suppress(SessionNotFound):
                session = await self.hub.get_session(session_id, tenant=tenant)
        if session is None:
            view = await self.hub.create_session(
                model_id or AGENT_MODEL, session_id=session_id, tenant=tenant
            )
            session = view.session
        else:
            session = await self._recover(session)
        return AgentSession(self, session.id, tenant)

    async def _recover(self, session: Session) -> Session:
        return await recover_round(self, session)

    async def recover(self, *, tenant: str = "default") -> int:
        """Mark failed every round of ``tenant`` left running by a dead process; how many."""
        return await recover_all(self, tenant=tenant)

    async def delete_session(self, session_id: str, *, tenant: str = "default") -> bool:
        """Delete the session, its history and its workspace folder."""
        await self.cancel(session_id, tenant=tenant, wait=True)
        deleted = await self.hub.delete_session(session_id, tenant=tenant)
        if self.workspace is not None:
            await asyncio.to_thread(self.workspace.remove, tenant, session_id)
        self._drop((tenant, session_id))
        return deleted

    async def purge(self, *, older_than: float, tenant: str = "default") -> int:
        """:meth:`Hub.purge` (ended and expired sessions older than ``older_than``
        seconds), their workspace folders removed first; how many sessions went."""
        if self.workspace is not None:
            await remove_folders(self.hub, self.workspace, older_than=older_than, tenant=tenant)
        return await self.hub.purge(older_than=older_than)

    # --- rounds ---------------------------------------------------------------------------

    def runs_here(self, key: Key) -> bool:
        """True while this process runs a round of the session ``key`` (tenant, id)."""
        return key in self._running

    def live_log(self, key: Key, session: Session | None = None) -> LiveLog:
        """The session's live log (made on first use, numbered from ``session``'s stored
        last event number); the most recently used ones are kept after their rounds."""
        log = self._logs.get(key)
        if log is None:
            seq = int(((session.agent if session is not None else None) or {}).get("seq", 0))
            log = self._logs[key] = LiveLog(seq, keep=self.keep_events)
            log.on_publish = lambda event: self._relay_out(key, event)
            while len(self._logs) > RECENT_LOGS:
                old_key, old = next(iter(self._logs.items()))
                if old_key in self._running or old.followers:
                    self._logs.move_to_end(old_key)
                    break
                del self._logs[old_key]
        else:
            self._logs.move_to_end(key)
        return log

    def _relay_out(self, key: Key, event: AgentEvent) -> None:
        if self.relay is not None:
            self.relay(key, event)

    def deliver(self, key: Key, event: AgentEvent) -> None:
        """An event of a round another process plays, for this process's followers of the
        session (none: nothing to do; a round of it running here numbers its own)."""
        log = self._logs.get(key)
        if log is not None and key not in self._running:
            log.deliver(event)

    def _drop(self, key: Key) -> None:
        log = self._logs.pop(key, None)
        if log is not None:
            log.close()

    async def start_message(
        self,
        session_id: str,
        message: str,
        *,
        tenant: str = "default",
        event_handler: EventHandler | None = None,
        files: list[Mapping[str, Any]] | None = None,
    ) -> Round:
        """Accept a message and play its round in the background (a client that goes away
        does not stop it); the round as accepted (``created``). :meth:`wait_round` or the
        events tell when it ends."""
        rnd, go = await self._accept(session_id, message, tenant, event_handler, files)
        task = asyncio.create_task(go())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return rnd

    async def send_message(
        self,
        session_id: str,
        message: str,
        *,
        tenant: str = "default",
        event_handler: EventHandler | None = None,
        files: list[Mapping[str, Any]] | None = None,
    ) -> Round:
        """Play one round and return it ended (finished, failed or cancelled)."""
        _, go = await self._accept(session_id, message, tenant, event_handler, files)
        return await go()

    async def _accept(
        self,
        session_id: str,
        message: str,
        tenant: str,
        handler: EventHandler | None,
        files: list[Mapping[str, Any]] | None,
    ) -> tuple[Round, Callable[[], Coroutine[Any, Any, Round]]]:
        if not isinstance(message, str) or not message.strip():
            raise InvalidInput("a message is a non-empty string")
        if files and self.workspace is None:
            raise InvalidInput(
                "this agent has no workspace for files; give "
                "AgentApp(workspace=DIR) (dialoghub serve --workspace DIR)"
            )
        key = (tenant, session_id)
        if files or self.planner is None:  # else the round's start finds a missing session
            session = await self.hub.get_session(session_id, tenant=tenant)  # 404 first
            if self._planner_of(session) is None:
                raise InvalidInput(
                    "this AgentApp has no planner for agent-model sessions; give "
                    "AgentApp(planner=...)"
                )
        if self.busy == "refuse" and self._pending.get(key):
            raise RoundBusy(
                f"session {session_id!r} is running a round; one at a time", session_id=session_id
            )
        rnd = Round(
            id=uuid.uuid4().hex[:16],
            session_id=session_id,
            status=RoundStatus.CREATED,
            user_message=message,
            started_at=time.time(),
        )
        paths: list[str] = []
        if files:
            assert self.workspace is not None
            paths = await asyncio.to_thread(self.workspace.put, tenant, session_id, list(files))
        rnd.files = paths
        self._pending[key] = self._pending.get(key, 0) + 1

        async def go() -> Round:
            try:
                async with self._locks.hold(key):
                    return await self._play(key, rnd, handler)
            finally:
                left = self._pending.pop(key, 1) - 1
                if left:
                    self._pending[key] = left

        return rnd, go

    async def _start(self, key: Key, rnd: Round) -> Session:
        """Store the round's start (one compare-and-set, refused while a round runs); the
        session after it. A round another process left running is recovered first."""
        tenant, sid = key
        for attempt in (1, 2):
            log = self._logs.get(key)
            record = AgentRecord(
                kind="round_started",
                data={
                    "round": rnd.id,
                    "message": rnd.user_message,
                    "files": rnd.files,
                    "seq": log.seq + 1 if log is not None else 0,  # the store may raise it
                    "owner": self.owner,
                    "deadline": self.hub.now() + self.round_timeout,
                },
                variables={"files": rnd.files} if rnd.files else {},
            )
            try:
                view = await self.hub.update(sid, record, tenant=tenant)
                return view.session
            except UnexpectedInput as exc:
                session = await self._recover(await self.hub.get_session(sid, tenant=tenant))
                if attempt == 2 or (session.agent or {}).get("status") == "running":
                    raise RoundBusy(exc.message, session_id=sid) from None
        raise AssertionError("unreachable")  # pragma: no cover

    async def _play(self, key: Key, rnd: Round, handler: EventHandler | None) -> Round:
        running = _Running(rnd)
        self._running[key] = running
        try:
            session = await self._start(key, rnd)
            seq = int((session.agent or {})["seq"])
            log = self.live_log(key, session)
            log.seq = max(log.seq, seq)
            turn = self._turn(key, session, rnd, log, handler)
            running.turn = turn
            await turn.emit(
                EventType.ROUND_START,
                rnd.user_message,
                {"message": rnd.user_message, "files": rnd.files},
                seq=seq,
                at=session.updated_at,  # the stored start's time: a backfill reads the same
            )
            planner = self._planner_of(session)
            assert planner is not None  # checked when the message was accepted
            # The timeout cancels the round's task: run_round records it as failed (timed
            # out) and returns; the timer is dropped when the round ends first.
            task = asyncio.current_task()
            assert task is not None

            def time_out(turn: Turn = turn) -> None:
                turn.timed_out = self.round_timeout
                task.cancel()

            timer = asyncio.get_running_loop().call_later(self.round_timeout, time_out)
            try:
                return await run_round(turn, planner)
            finally:
                timer.cancel()
                if turn.timed_out is not None:
                    task.uncancel()
        finally:
            self._running.pop(key, None)
            running.done.set()

    def _planner_of(self, session: Session) -> Planner | None:
        return self.planner if session.model_id == AGENT_MODEL else self._dialog

    def _turn(
        self, key: Key, session: Session, rnd: Round, log: LiveLog, handler: EventHandler | None
    ) -> Turn:
        tenant, sid = key

        async def record(kind: str, data: dict[str, Any], variables: dict[str, Any]) -> None:
            await self.hub.update(
                sid, AgentRecord(kind=kind, data=data, variables=variables), tenant=tenant
            )

        folder = self.workspace.folder(tenant, sid) if self.workspace is not None else None
        write = None
        if self.workspace is not None:
            ws = self.workspace

            def write(name: str, data: bytes) -> str:
                return ws.write(tenant, sid, name, data)

        return Turn(
            rnd,
            tenant=tenant,
            plugins=self.plugins,
            variables=dict(session.unit_variables()),
            log=log,
            handler=handler,
            record=record,
            workspace=folder,
            write_file=write,
        )

    async def cancel(
        self,
        session_id: str,
        round_id: str | None = None,
        *,
        tenant: str = "default",
        wait: bool = False,
    ) -> bool:
        """Ask the running round (``round_id`` if given) to stop after its current step;
        False if no such round runs here. ``wait``: return once it has ended."""
        running = self._running.get((tenant, session_id))
        if running is None or (round_id is not None and running.round.id != round_id):
            return False
        if running.turn is not None:
            running.turn.cancel_requested = True
        if wait:
            await running.done.wait()
        return True

    async def stop(self, session_id: str, *, tenant: str = "default") -> None:
        """Cancel the session's running round after its current step, wait for it, emit
        ``session_stop`` and release what this process holds for the session."""
        key = (tenant, session_id)
        await self.cancel(session_id, tenant=tenant, wait=True)
        log = self._logs.get(key)
        if log is not None:
            event = AgentEvent(
                seq=log.next_seq(),
                time=time.time(),
                type=EventType.SESSION_STOP,
                scope=EVENT_SCOPES[EventType.SESSION_STOP],
                session_id=session_id,
            )
            # Stored first, so no later process gives this number out again.
            with contextlib.suppress(SessionNotFound, SessionClosed):
                await self.hub.update(
                    session_id, AgentRecord(kind="stopped", data={"seq": event.seq}), tenant=tenant
                )
            log.publish(event)
        self._drop(key)

    async def rounds(
        self, session_id: str, *, tenant: str = "default", after: int = 0, limit: int = 1000
    ) -> list[Round]:
        """The session's recorded rounds (from its events after ``after``, ``limit`` of
        them read)."""
        events = await self.hub.events(session_id, tenant=tenant, after=after, limit=limit)
        return rounds_of(events, session_id)

    async def get_round(self, session_id: str, round_id: str, *, tenant: str = "default") -> Round:
        """Round ``round_id`` of the session: the running one as it is now, else as stored."""
        running = self._running.get((tenant, session_id))
        if running is not None and running.round.id == round_id:
            return running.round
        return await stored_round(self.hub, session_id, round_id, tenant=tenant)

    async def wait_round(self, session_id: str, round_id: str, *, tenant: str = "default") -> Round:
        """The round once it has ended."""
        running = self._running.get((tenant, session_id))
        if running is not None and running.round.id == round_id:
            await running.done.wait()
        else:
            while True:  # accepted, waiting for the session's previous round
                r = await self.get_round(session_id, round_id, tenant=tenant)
                if r.done:
                    return r
                running = self._running.get((tenant, session_id))
                if running is None:
                    return r
                await running.done.wait()
        return await self.get_round(session_id, round_id, tenant=tenant)

    async def update_session_var(
        self, session_id: str, variables: dict[str, Any], *, tenant: str = "default"
    ) -> None:
        """Set session variables (seen by the plugins of the next rounds), as one update."""
        if not isinstance(variables, dict) or not variables:
            raise InvalidInput("update_session_var takes a non-empty mapping")
        log = self._logs.get((tenant, session_id))
        events = (
            []
            if log is None
            else [
                AgentEvent(
                    seq=log.next_seq(),
                    time=time.time(),
                    type=EventType.SESSION_VARIABLE,
                    scope=EVENT_SCOPES[EventType.SESSION_VARIABLE],
                    session_id=session_id,
                    data={"name": name, "value": value},
                )
                for name, value in variables.items()
            ]
        )
        data = {"seq": events[-1].seq} if events else {}
        await self.hub.update(
            session_id,
            AgentRecord(kind="variables", data=data, variables=variables),
            tenant=tenant,
        )
        for event in events:  # told once stored
            assert log is not None
            log.publish(event)

    # --- following ------------------------------------------------------------------------

    async def follow(
        self, session_id: str, *, after: int = 0, tenant: str = "default"
    ) -> AsyncIterator[AgentEvent]:
        """The session's round events after ``after`` (those no longer kept in memory are
        read from the store: round starts, completed posts and ends), then every new one."""
        session = await self.hub.get_session(session_id, tenant=tenant)
        log = self.live_log((tenant, session_id), session)

        async def backfill(since: int, before: int) -> list[AgentEvent]:
            return await self.stored_events(session_id, after=since, before=before, tenant=tenant)

        async for event in log.follow(after, backfill):
            yield event

    async def stored_events(
        self, session_id: str, *, after: int, before: int, tenant: str = "default"
    ) -> list[AgentEvent]:
        """The round events the store keeps (start, each completed post, end) with
        ``after < seq < before``, rebuilt from the session's events."""
        return await stored_events(self.hub, session_id, after=after, before=before, tenant=tenant)
