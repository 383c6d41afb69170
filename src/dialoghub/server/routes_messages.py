"""Agent rounds over the network (issue 11): send a message, follow its events, cancel.

``POST /v1/sessions/{id}/messages`` (JSON ``{"message", "files": [{"name", "content"}]}``
with text files, or ``multipart/form-data`` with a ``message`` field and ``files`` parts)
checks everything first (a refusal is a 4xx in the one error shape and changes nothing),
creates the session (the agent model) if it does not exist yet, and starts the round in
the server process, detached from the request: it answers ``202`` with the round's id at
once, and a client that disconnects stops nothing. ``GET .../messages/stream`` streams the
session's round events as server-sent events (``id:`` is the event's ``seq``; a reconnecting
``EventSource`` sends ``Last-Event-ID`` and gets exactly what it missed, ``?after=`` does the
same by hand; a ``: ping`` comment every ``keepalive`` seconds keeps proxies from closing an
idle stream). The session's WebSocket forwards the same events when opened with
``?round_after=SEQ`` (:func:`forward_rounds`). ``GET .../rounds``, ``GET .../rounds/{rid}``
read rounds; ``POST .../rounds/{rid}/cancel`` stops one after its current step.

The agent (planner, plugins, workspace) is ``app.state.agent_config`` (an
:class:`AgentConfig`, see :func:`install`), else what ``dialoghub serve --agent SPEC
--workspace DIR`` put in the environment (``DIALOGHUB_AGENT``, ``DIALOGHUB_WORKSPACE``); it
is built on the app's Hub at the first request that needs it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import weakref
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

import msgspec
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route
from starlette.websockets import WebSocket

from dialoghub.agent.app import AGENT_MODEL, AgentApp
from dialoghub.agent.events import AgentEvent
from dialoghub.agent.loader import load_agent
from dialoghub.agent.plugins import Plugins
from dialoghub.agent.rounds import Round
from dialoghub.agent.workspace import MAX_FILES, Workspace
from dialoghub.errors import (
    FilesUnavailable,
    InvalidInput,
    PayloadTooLarge,
    SessionExists,
    SessionNotFound,
)
from dialoghub.server.agent_relay import install_relay, relayed
from dialoghub.server.auth import Principal
from dialoghub.server.endpoint import Body, Param, endpoint
from dialoghub.server.errors import BadRequest
from dialoghub.server.limits import read_body
from dialoghub.server.routes_sessions import AFTER, SESSION_ID
from dialoghub.server.schemas import decode
from dialoghub.server.service import Service

__all__ = [
    "AgentConfig",
    "FileIn",
    "MessageAccepted",
    "MessageIn",
    "agent_of",
    "forward_rounds",
    "install",
    "routes",
]

_encode = msgspec.json.Encoder().encode


class AgentConfig:
    """The agent a server runs: its planner and plugins, its workspace and bounds."""

    def __init__(
        self,
        *,
        planner: Any = None,
        plugins: Plugins | None = None,
        workspace: str | None = None,
        busy: Literal["wait", "refuse"] = "wait",
        max_upload_bytes: int = 20 << 20,
        keepalive: float = 15.0,
    ) -> None:
        self.planner = planner
        self.plugins = plugins
        self.workspace = workspace
        self.busy = busy
        self.max_upload_bytes = max_upload_bytes  # a whole message with its files
        self.keepalive = keepalive  # seconds between two pings of an idle stream

    @classmethod
    def from_env(cls) -> AgentConfig:
        """What ``dialoghub serve --agent SPEC --workspace DIR`` passes."""
        spec = os.environ.get("DIALOGHUB_AGENT", "")
        defined = load_agent(spec) if spec else None
        return cls(
            planner=defined.planner if defined else None,
            plugins=defined.plugins if defined else None,
            workspace=os.environ.get("DIALOGHUB_WORKSPACE") or None,
        )


def install(app: Any, config: AgentConfig) -> None:
    """Make ``app`` run the agent ``config`` (before its first request)."""
    app.state.agent_config = config


_agents: weakref.WeakKeyDictionary[Service, tuple[AgentApp, AgentConfig]] = (
    weakref.WeakKeyDictionary()
)


def agent_of(service: Service, app: Any) -> tuple[AgentApp, AgentConfig]:
    """The app's AgentApp (built on its Hub on first use) and its configuration."""
    found = _agents.get(service)
    if found is None:
        config = getattr(app.state, "agent_config", None) or AgentConfig.from_env()
        agent = AgentApp(
            service.hub,
            planner=config.planner,
            plugins=config.plugins,
            workspace=Workspace(config.workspace) if config.workspace else None,
            busy=config.busy,
            shared_store=service.settings.workers > 1 or bool(service.settings.broadcast),
        )
        install_relay(service, agent)
        found = _agents[service] = (agent, config)
    return found


# --- bodies ---------------------------------------------------------------------------


#: A file name as the workspace keeps it: no path, no drive, not ``.`` or ``..``, no NUL.
FILE_NAME = r"^(?![A-Za-z]:)(?!\.\.?$)[^/\\\x00]{1,255}$"


class FileIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A text file sent with a message (binary files go as ``multipart/form-data``)."""

    name: Annotated[str, msgspec.Meta(pattern=FILE_NAME)]
    content: str


class MessageIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A user message and its files."""

    message: Annotated[str, msgspec.Meta(min_length=1, max_length=4000, pattern=r"\S")]
    files: Annotated[list[FileIn], msgspec.Meta(max_length=MAX_FILES)] = []


class MessageAccepted(msgspec.Struct, kw_only=True):
    """The round a message started: follow it on the stream, read it at ``round``."""

    round_id: str
    session_id: str
    status: str
    created: bool  # the message created the session
    stream: str  # the path of the session's round-event stream
    round: str  # the path of the round


def _files_of(msg: MessageIn) -> list[dict[str, Any]]:
    return [{"name": f.name, "content": f.content} for f in msg.files]


async def _read_message(request: Request, config: AgentConfig) -> tuple[str, list[Any]]:
    raw = await read_body(request, config.max_upload_bytes)
    ctype = request.headers.get("content-type", "")
    if ctype.startswith("multipart/form-data"):
        return await _multipart(request, raw)
    msg = decode(raw, MessageIn)
    return msg.message, _files_of(msg)


async def _multipart(request: Request, raw: bytes) -> tuple[str, list[Any]]:
    sent = False

    async def receive() -> dict[str, Any]:  # the body, already read and bounded
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": raw, "more_body": False}

    replay = Request(request.scope, receive)
    try:
        form = await replay.form(max_files=MAX_FILES, max_fields=10)
    except Exception as exc:  # python-multipart's refusals, Starlette's limits
        raise BadRequest(f"the multipart body cannot be read: {exc}") from None
    try:
        message = form.get("message")
        if not isinstance(message, str):
            raise BadRequest("a multipart message needs a 'message' text field")
        files: list[Any] = []
        for key, value in form.multi_items():
            if key == "message":
                continue
            if isinstance(value, str) or key != "files":
                raise BadRequest(f"unexpected form field {key!r}; send 'message' and 'files'")
            files.append({"name": value.filename or "", "content": await value.read()})
        return message, files
    finally:
        await form.close()


# --- routes ---------------------------------------------------------------------------

_ROUND_ID = Param.path("round_id", "The round id.", min_len=1, max_len=64)
_LAST_EVENT_ID = Param.header(
    "Last-Event-ID",
    "The seq of the last event received (a reconnecting EventSource sends it); overrides `after`.",
)
_ROUND_AFTER = Param.query(
    "after", "Rounds recorded after this session event seq.", kind=int, low=0, high=2**53, default=0
)


@endpoint(
    "/v1/sessions/{session_id}/messages",
    "write",
    tag="agent",
    params=[SESSION_ID],
    body=Body(
        MessageIn,
        description="JSON, or multipart/form-data with a 'message' field and 'files' parts",
    ),
    status=202,
    operation_id="sendMessage",
)
async def send_message(service: Service, request: Request, who: Principal) -> MessageAccepted:
    """Start a round for a user message (creating the session if new); its id at once."""
    agent, config = agent_of(service, request.app)
    sid: str = SESSION_ID.read(request)
    message, files = await _read_message(request, config)
    if not message.strip():
        raise InvalidInput("the message is empty")
    if len(message) > service.settings.max_text_chars:
        raise PayloadTooLarge(
            f"the message is over {service.settings.max_text_chars} characters",
            limit=service.settings.max_text_chars,
        )
    if files:
        if agent.workspace is None:
            raise FilesUnavailable("this server keeps no files: run it with --workspace DIR")
        await asyncio.to_thread(agent.workspace.check, who.tenant, sid, files)
    created = False
    try:
        await service.hub.get_session(sid, tenant=who.tenant)
    except SessionNotFound:
        if agent.planner is None:
            raise  # nothing could play an agent-model session: refuse before creating one
        with contextlib.suppress(SessionExists):
            await service.hub.create_session(AGENT_MODEL, session_id=sid, tenant=who.tenant)
            created = True
    rnd = await agent.start_message(sid, message, tenant=who.tenant, files=files or None)
    base = f"/v1/sessions/{sid}"
    return MessageAccepted(
        round_id=rnd.id,
        session_id=sid,
        status=rnd.status.value,
        created=created,
        stream=f"{base}/messages/stream",
        round=f"{base}/rounds/{rnd.id}",
    )


@endpoint(
    "/v1/sessions/{session_id}/rounds",
    "read",
    tag="agent",
    params=[SESSION_ID, _ROUND_AFTER],
    operation_id="listAgentRounds",
)
async def list_rounds(service: Service, request: Request, who: Principal) -> list[Round]:
    """The session's recorded rounds (1000 session events from ``after`` are read)."""
    agent, _ = agent_of(service, request.app)
    return await agent.rounds(
        SESSION_ID.read(request), tenant=who.tenant, after=_ROUND_AFTER.read(request)
    )


@endpoint(
    "/v1/sessions/{session_id}/rounds/{round_id}",
    "read",
    tag="agent",
    params=[SESSION_ID, _ROUND_ID],
    operation_id="getAgentRound",
)
async def get_round(service: Service, request: Request, who: Principal) -> Round:
    """One round: running as it is now, or as stored."""
    agent, _ = agent_of(service, request.app)
    return await agent.get_round(
        SESSION_ID.read(request), _ROUND_ID.read(request), tenant=who.tenant
    )


class CancelOut(msgspec.Struct, kw_only=True):
    """Whether a running round was asked to stop (it ends after its current step)."""

    cancelled: bool
    round: Round


@endpoint(
    "/v1/sessions/{session_id}/rounds/{round_id}/cancel",
    "write",
    tag="agent",
    params=[SESSION_ID, _ROUND_ID],
    status=202,
    operation_id="cancelAgentRound",
)
async def cancel_round(service: Service, request: Request, who: Principal) -> CancelOut:
    """Stop a running round after its current step (an ended round is left as it is)."""
    agent, _ = agent_of(service, request.app)
    sid, rid = SESSION_ID.read(request), _ROUND_ID.read(request)
    current = await agent.get_round(sid, rid, tenant=who.tenant)  # 404 for an unknown one
    cancelled = await agent.cancel(sid, rid, tenant=who.tenant)
    return CancelOut(cancelled=cancelled, round=current)


def _last_event_id(request: Request) -> int | None:
    raw = _LAST_EVENT_ID.read(request)
    return int(raw) if raw is not None and raw.isdigit() and len(raw) < 17 else None


@endpoint(
    "/v1/sessions/{session_id}/messages/stream",
    "read",
    tag="agent",
    params=[SESSION_ID, AFTER, _LAST_EVENT_ID],
    operation_id="streamRounds",
    produces="text/event-stream",
    answer_doc="An event stream of round events",
)
async def stream_rounds(service: Service, request: Request, who: Principal) -> Response:
    """Stream the session's round events as server-sent events (resumable by seq)."""
    agent, config = agent_of(service, request.app)
    sid: str = SESSION_ID.read(request)
    after = _last_event_id(request)
    if after is None:
        after = AFTER.read(request)
    await service.hub.get_session(sid, tenant=who.tenant)  # 404 before the stream starts
    keepalive = config.keepalive
    tenant = who.tenant

    async def body() -> AsyncIterator[bytes]:
        # One task follows the log into a queue; the stream waits on the queue with a
        # timeout, so an idle stream sends a ping without disturbing the follower.
        queue: asyncio.Queue[AgentEvent | None] = asyncio.Queue()

        async def pump() -> None:
            try:
                async with relayed(service, agent, tenant, sid):
                    async for event in agent.follow(sid, after=after, tenant=tenant):
                        queue.put_nowait(event)
            finally:
                queue.put_nowait(None)

        service.metrics.clients.inc()
        task = asyncio.create_task(pump())
        try:
            while True:
                try:
                    event = await asyncio.wait_for(queue.get(), keepalive)
                except TimeoutError:
                    yield b": ping\n\n"
                    continue
                if event is None:
                    return
                yield _sse(event)
        finally:
            service.metrics.clients.dec()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    return StreamingResponse(
        body(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _sse(event: AgentEvent) -> bytes:
    return b"event: %s\nid: %d\ndata: %s\n\n" % (
        event.type.value.encode(),
        event.seq,
        _encode(event),
    )


# --- the session's WebSocket ----------------------------------------------------------


def round_after(ws: WebSocket) -> int | None:
    """The ``round_after`` query parameter of a session socket, None if absent."""
    raw = ws.query_params.get("round_after")
    if raw is None:
        return None
    if not raw.isdigit() or len(raw) > 16:
        raise BadRequest(f"round_after must be a non-negative integer, not {raw[:50]!r}")
    return int(raw)


async def forward_rounds(
    ws: WebSocket, service: Service, tenant: str, sid: str, after: int
) -> None:
    """Send the session's round events after ``after`` to the socket, then each new one,
    as ``{"type": "round_event", "event": {...}}`` frames, until cancelled."""
    agent, _ = agent_of(service, ws.app)
    async with relayed(service, agent, tenant, sid):
        async for event in agent.follow(sid, after=after, tenant=tenant):
            await ws.send(
                {
                    "type": "websocket.send",
                    "text": _encode({"type": "round_event", "event": event}).decode(),
                }
            )


routes = [
    Route(
        "/v1/sessions/{session_id}/messages", send_message, methods=["POST"], name="send_message"
    ),
    Route(
        "/v1/sessions/{session_id}/messages/stream",
        stream_rounds,
        methods=["GET"],
        name="stream_rounds",
    ),
    Route("/v1/sessions/{session_id}/rounds", list_rounds, methods=["GET"], name="list_rounds"),
    Route(
        "/v1/sessions/{session_id}/rounds/{round_id}", get_round, methods=["GET"], name="get_round"
    ),
    Route(
        "/v1/sessions/{session_id}/rounds/{round_id}/cancel",
        cancel_round,
        methods=["POST"],
        name="cancel_round",
    ),
]
