"""Client routing over the network (issue 12): ``/v1/clients/ws``, session memory over HTTP,
the connected clients.

``/v1/clients/ws`` is the multi-session socket of :mod:`dialoghub.routing.frames`: a client
authenticates like on the session socket (``Authorization: Bearer KEY`` or
``?access_token=``), says ``hello`` (name, role, commands), then serves as many sessions as
it likes on that one connection; the process's :class:`~dialoghub.routing.router.Router`
routes for it. Every frame is bounded before it is parsed (``max_body_bytes``); a refused
frame gets ``{"type": "error", "request_id", "code", "message", "details"}`` and changes
nothing. Closing the socket ends no session.

``GET/POST /v1/sessions/{id}/memory`` read and change the session's memory namespace
(set, delete, increment: each one compare-and-set update); ``GET /v1/clients`` lists the
connected clients of the caller's tenant, in every process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import uuid
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from dialoghub.engine.records import MemoryOp, SetAlarm
from dialoghub.engine.session_ops import MAX_KEY_CHARS, MEMORY_OPS
from dialoghub.errors import DialoghubError, InvalidInput, RoutingError
from dialoghub.routing.buses import open_bus
from dialoghub.routing.frames import ROLES, ClientFrame, Hello, LockSpec, Welcome
from dialoghub.routing.logs import SessionLogs
from dialoghub.routing.router import Attached, Router
from dialoghub.server.auth import Principal
from dialoghub.server.endpoint import Body, body, by_method, endpoint, service_of
from dialoghub.server.errors import BadRequest, error_body, status_of
from dialoghub.server.routes_sessions import SESSION_ID
from dialoghub.server.schemas import MAX_BODY_DEPTH, StrictInput, decode, to_input
from dialoghub.server.service import Service

__all__ = ["PATH", "MemoryRequest", "RoutingConfig", "routes", "start_routing"]

PATH = "/v1/clients/ws"
#: Seconds a new connection has to say hello.
HELLO_TIMEOUT = 10.0

log = logging.getLogger("dialoghub.server")
_encode = msgspec.json.Encoder().encode
_loose = msgspec.json.Decoder().decode
_frame = msgspec.json.Decoder(ClientFrame).decode


def _decode_frame(raw: bytes) -> ClientFrame:
    """A client frame, refused as the server refuses a body (:func:`schemas.decode`: a key
    twice in one object, nesting too deep, the wrong shape), at a fraction of its cost on
    the frames clients send most: a frame whose plain decode encodes back to the very same
    bytes names no key twice (a repeated key would be dropped, so the bytes would differ),
    and one with at most MAX_BODY_DEPTH brackets nests no deeper; the typed decode then
    checks its shape. Any other frame (spaces, escapes, other number spellings:
    ``json.dumps``' output; many brackets) takes the full check. A result frame costs a
    few microseconds instead of tens."""
    try:
        same = (
            raw.count(b"{") + raw.count(b"[") <= MAX_BODY_DEPTH and _encode(_loose(raw)) == raw
        )
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        same = False
    if same:
        try:
            return _frame(raw)
        except msgspec.ValidationError:
            pass  # decode() says why, in the server's words
    frame: ClientFrame = decode(raw, ClientFrame)
    return frame


class RoutingConfig(msgspec.Struct, kw_only=True, frozen=True):
    """How the process routes: the bus URL (``local://``, ``redis://``, ``nats://``), the
    session-log folder (empty: off), the dispatch deadline: the server's settings ``bus``,
    ``session_logs``, ``dispatch_timeout`` (``dialoghub serve --bus ...``, or
    ``DIALOGHUB_BUS``, ``DIALOGHUB_SESSION_LOGS``, ``DIALOGHUB_DISPATCH_TIMEOUT``); a test
    sets ``app.state.routing_config``."""

    bus: str = ""
    session_logs: str = ""
    dispatch_timeout: float = 10.0
    heartbeat: float = 2.0

    @classmethod
    def from_settings(cls, settings: Any) -> RoutingConfig:
        """The configuration in the server's settings."""
        return cls(
            bus=settings.bus,
            session_logs=settings.session_logs,
            dispatch_timeout=settings.dispatch_timeout,
        )


async def start_routing(app: Any, service: Service) -> Router:
    """Build and start the process's router (the app's lifespan calls it)."""
    config = getattr(app.state, "routing_config", None) or RoutingConfig.from_settings(
        service.settings
    )
    process = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    logs = SessionLogs(config.session_logs) if config.session_logs else None
    router = Router(
        service.hub,
        open_bus(config.bus, process),
        dispatch_timeout=config.dispatch_timeout,
        heartbeat=config.heartbeat,
        logs=logs,
    )
    await router.start()
    service.routing = router
    return router


class MemoryRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A change of a session's memory: ``op`` set, delete or increment."""

    op: str
    key: str
    value: Any = None
    expected: Any = None
    check: bool = False


def _router(service: Service) -> Router:
    router: Router | None = getattr(service, "routing", None)
    if router is None:
        raise RoutingError("client routing is not running in this server")
    return router


@endpoint("/v1/sessions/{session_id}/memory", "read", tag="routing", params=[SESSION_ID])
async def get_memory(service: Service, request: Request, who: Principal) -> dict[str, Any]:
    """The session's memory namespace and version."""
    session = await service.hub.get_session(SESSION_ID.read(request), tenant=who.tenant)
    return {"memory": session.memory, "version": session.version}


@endpoint(
    "/v1/sessions/{session_id}/memory",
    "write",
    tag="routing",
    params=[SESSION_ID],
    body=Body(MemoryRequest),
)
async def change_memory(service: Service, request: Request, who: Principal) -> dict[str, Any]:
    """Set, delete or increment a key of the session's memory (one compare-and-set)."""
    req: MemoryRequest = await body(service, request)
    sid = SESSION_ID.read(request)
    inp = MemoryOp(op=req.op, key=req.key, value=req.value, expected=req.expected, check=req.check)
    service.check_input(inp)
    view = await service.hub.update(sid, inp, tenant=who.tenant)
    return {
        "key": req.key,
        "value": view.session.memory.get(req.key),
        "version": view.session.version,
    }


@endpoint("/v1/clients", "read", tag="routing")
async def list_clients(service: Service, request: Request, who: Principal) -> dict[str, Any]:
    """The connected clients of the caller's tenant (every process's)."""
    router = _router(service)
    return {"clients": [msgspec.to_builtins(r) for r in router.clients(who.tenant)]}


# --- the socket ---------------------------------------------------------------------------


async def _send(ws: WebSocket, body: bytes) -> None:
    await ws.send({"type": "websocket.send", "text": body.decode()})


async def _receive(ws: WebSocket, limit: int) -> bytes:
    message = await ws.receive()
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000))
    text = message.get("text")
    raw = (
        str(text).encode("utf-8", "surrogatepass")
        if text is not None
        else bytes(message.get("bytes") or b"")
    )
    if len(raw) > limit:
        raise BadRequest(f"frame of {len(raw)} bytes is over the {limit} byte limit")
    return raw


def _error(exc: BaseException, request_id: str | None) -> bytes:
    return _encode(
        {"type": "error", "request_id": request_id, **msgspec.to_builtins(error_body(exc))}
    )


async def clients_socket(ws: WebSocket) -> None:
    """Serve one client connection (several sessions) until it closes."""
    service = service_of(ws)
    header = ws.headers.get("authorization") or ws.query_params.get("access_token")
    try:
        principal = await service.limiter.admit(
            service.auth, header, ws.scope.get("client"), "read"
        )
        router = _router(service)
    except DialoghubError as exc:
        await ws.accept()
        await _send(ws, _error(exc, None))
        status = status_of(exc)
        await ws.close(code=4000 + status if 400 <= status < 500 else 1011)
        return
    await ws.accept()
    limit = service.settings.max_body_bytes
    lock = asyncio.Lock()  # one frame at a time on the socket

    async def send(body: bytes) -> None:
        async with lock:
            await _send(ws, body)

    client: Attached | None = None
    try:
        async with asyncio.timeout(HELLO_TIMEOUT):
            raw = await _receive(ws, limit)
        try:
            hello = decode(raw, Hello)
            client = await _hello(router, principal, hello, send)
        except DialoghubError as exc:
            await send(_error(exc, None))
            await ws.close(code=4000 + status_of(exc) if status_of(exc) < 500 else 1011)
            return
        service.metrics.clients.inc()
        try:
            tasks: set[asyncio.Task[None]] = set()
            while True:
                raw = await _receive(ws, limit)
                # Each frame runs on its own task: a provider's results and a UI's messages
                # for different sessions do not wait for each other (the Hub serializes
                # each session).
                task = asyncio.create_task(_handle(service, router, principal, client, raw, send))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
        finally:
            service.metrics.clients.dec()
    except (WebSocketDisconnect, TimeoutError, RuntimeError):
        pass
    except BadRequest as exc:
        with contextlib.suppress(Exception):
            await send(_error(exc, None))
            await ws.close(code=1009)
    finally:
        if client is not None:
            await router.detach(client)


async def _hello(router: Router, principal: Principal, hello: Hello, send: Any) -> Attached:
    if not 1 <= len(hello.name) <= 200:
        raise BadRequest("hello.name must be 1 to 200 characters")
    if hello.role not in ROLES:
        raise BadRequest(f"hello.role must be one of {', '.join(ROLES)}")
    if not 1 <= hello.concurrency <= 10_000 or len(hello.commands) > 1000:
        raise BadRequest("concurrency is 1 to 10000; at most 1000 commands")
    if hello.role == "provider":
        principal.require("write")
    client = await router.attach(
        send,
        name=hello.name,
        role=hello.role,
        tenant=principal.tenant,
        commands=tuple(hello.commands),
        concurrency=hello.concurrency,
        session_id=hello.session_id,
        after=hello.after,
    )
    if hello.lock is not None and hello.session_id is not None:
        await router.set_locks(principal.tenant, hello.name, hello.session_id, hello.lock)
    await send(
        _encode(
            Welcome(
                name=hello.name,
                process=router.process,
                session_id=client.session_id,
                last_seq=hello.after,
                request_id=hello.request_id,
            )
        )
    )
    return client


async def _handle(
    service: Service, router: Router, principal: Principal, client: Attached, raw: bytes, send: Any
) -> None:
    request_id = None
    try:
        frame = _decode_frame(raw)
        request_id = frame.request_id
        answer = await _dispatch(service, router, principal, client, frame)
        if answer is not None:
            await send(_encode({"type": "ok", "request_id": request_id, **answer}))
    except Exception as exc:
        if request_id is None:  # a frame refused whole: still answer its request id
            with contextlib.suppress(Exception):
                loose = msgspec.json.decode(raw)
                found = loose.get("request_id") if isinstance(loose, dict) else None
                request_id = found if isinstance(found, str) else None
        with contextlib.suppress(Exception):
            await send(_error(exc, request_id))


async def _dispatch(
    service: Service, router: Router, principal: Principal, client: Attached, f: ClientFrame
) -> dict[str, Any] | None:
    tenant = principal.tenant
    kind = f.type
    if kind == "ping":
        return {"pong": True}
    if kind == "result":
        if f.key is None:
            raise BadRequest("a result names the command's key")
        await router.result(client, f.key, f.outputs, f.error)
        return None
    principal.require("write") if kind not in ("watch", "unwatch") else None
    await service.limiter.take(principal.key_id)
    sid = router.session_of(client, f.session_id)
    if kind == "message":
        if not len(f.input):
            raise BadRequest("a message carries an input: {'type': 'text', 'text': ...}")
        inp = to_input(decode(bytes(f.input), StrictInput))
        service.check_input(inp)
        view = await router.message(client, f.session_id, inp)
        return {"session_id": view.session.id, "version": view.session.version}
    if kind == "memory":
        # refused before the session is mentioned: a bad frame creates nothing
        if not f.name or len(f.name) > MAX_KEY_CHARS or f.op not in ("get", *MEMORY_OPS):
            raise InvalidInput(
                f"memory frames name a key of 1 to {MAX_KEY_CHARS} characters "
                f"and an op: get, {', '.join(sorted(MEMORY_OPS))}"
            )
        if f.op == "get":
            await router.ensure(tenant, sid)
            session = await service.hub.get_session(sid, tenant=tenant)
            return {"session_id": sid, "value": session.memory.get(f.name or "")}
        await router.ensure(tenant, sid)
        inp = MemoryOp(
            op=f.op or "", key=f.name or "", value=f.value, expected=f.expected, check=f.check
        )
        service.check_input(inp)
        view = await service.hub.update(sid, inp, tenant=tenant)
        return {
            "session_id": sid,
            "value": view.session.memory.get(f.name or ""),
            "version": view.session.version,
        }
    if kind == "set_session":
        target = f.session_id or sid
        client.session_id = target
        if f.lock is not None or f.release:
            view = await router.set_locks(
                tenant, client.record.name, target, f.lock or LockSpec(), release=f.release
            )
            return {"session_id": target, "locks": view.session.locks}
        await router.ensure(tenant, target)
        return {"session_id": target}
    if kind == "new_session":
        new = await router.new_session(tenant, client.session_id, f.session_id, f.model_id)
        client.session_id = new
        return {"session_id": new}
    if kind == "end_session":
        view = await router.end_session(tenant, sid, f.reason or "ended by a client")
        return {"session_id": sid, "status": view.session.status.value}
    if kind == "alarm":
        await router.ensure(tenant, sid)
        view = await service.hub.update(
            sid, SetAlarm(name=f.name or "", seconds=f.seconds), tenant=tenant
        )
        return {"session_id": sid, "alarms": view.session.alarms}
    if kind in ("watch", "unwatch"):
        (client.watching.add if kind == "watch" else client.watching.discard)(sid)
        return {"session_id": sid}
    raise BadRequest(f"unknown frame type {kind!r}")


routes = [
    WebSocketRoute(PATH, clients_socket, name="clients_ws"),
    Route(
        "/v1/sessions/{session_id}/memory",
        by_method(GET=get_memory, POST=change_memory),
        methods=["GET", "POST"],
        name="session_memory",
    ),
    Route("/v1/clients", list_clients, methods=["GET"], name="clients"),
]
