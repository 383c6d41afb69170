"""``/v1/sessions/{id}/ws``: attach to a session, receive every update, send inputs.

Protocol (JSON text frames):

- connect with ``Authorization: Bearer KEY`` (or ``?access_token=KEY`` where headers cannot
  be set) and optionally ``?after=SEQ``, the last event sequence number the client saw;
- the server sends the events after ``after`` (``{"type": "events", "events": [...]}``),
  then ``{"type": "attached", "session": {...}, "last_seq": N, "token": ...}``, then one
  ``{"type": "update", ...}`` per update of the session, whoever caused it (another socket,
  an HTTP call); events are never repeated and gaps are filled from the store;
- the client sends ``{"type": "input", "input": {...}, "request_id": "...",
  "expected_version": n, "token": "...", "idempotency_key": "..."}`` (all but ``input``
  optional); its own update comes back with its ``request_id``, a refusal as
  ``{"type": "error", "request_id": ..., "code", "message", "details"}``;
- ``{"type": "ping"}`` gets ``{"type": "pong"}``.

Closing the socket does not end the session. Close codes: 4401 no or bad key, 4403 missing
scope, 4404 no such session (in this tenant), 4429 too many requests (or failed key attempts
from this address), 1009 a frame over the body limit (refused by the WebSocket protocol from
the frame's header when the server runs with ``ws_max_size``, as ``dialoghub serve`` does, so
it is never read whole), 1008 a client that let more than ``ws_send_queue`` updates pile up
unread (it is dropped, and what was queued for it released).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import msgspec
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from dialoghub.engine.records import Event, Session
from dialoghub.errors import DialoghubError
from dialoghub.server.auth import Principal
from dialoghub.server.broadcast import Subscription, follow
from dialoghub.server.endpoint import service_of
from dialoghub.server.errors import BadRequest, error_body, status_of
from dialoghub.server.routes_messages import forward_rounds, round_after  # issue 11
from dialoghub.server.schemas import StrictInput, decode, to_input
from dialoghub.server.service import Service

__all__ = ["PATH", "Attached", "ClientInput", "routes"]

#: The socket's path; not in the OpenAPI paths (OpenAPI has no WebSockets): the event
#: stream's operation names it (``x-websocket``), docs/http.md describes the protocol.
PATH = "/v1/sessions/{session_id}/ws"

log = logging.getLogger("dialoghub.server")

_encode = msgspec.json.Encoder().encode


class ClientInput(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A frame from the client; ``input`` is decoded separately into a strict input."""

    type: str
    input: msgspec.Raw = msgspec.field(default_factory=msgspec.Raw)
    request_id: str | None = None
    expected_version: int | None = None
    token: str | None = None
    idempotency_key: str | None = None


class Attached(msgspec.Struct, kw_only=True, tag="attached", tag_field="type"):
    """Sent once the backlog is delivered: from now on every update is pushed."""

    session: Any
    last_seq: int
    token: str


_frame_decoder = msgspec.json.Decoder(ClientInput)


async def _authenticate(ws: WebSocket, service: Service) -> Principal | None:
    header = ws.headers.get("authorization") or ws.query_params.get("access_token")
    try:
        principal = await service.limiter.admit(service.auth, header,
                                                ws.scope.get("client"), "read")
    except DialoghubError as exc:
        await _refuse(ws, exc)
        return None
    return principal


async def _refuse(ws: WebSocket, exc: BaseException) -> None:
    status = status_of(exc)
    await ws.accept()
    await _send(ws, _encode({"type": "error", **msgspec.to_builtins(error_body(exc))}))
    await ws.close(code=4000 + status if 400 <= status < 500 else 1011)


async def _send(ws: WebSocket, body: bytes) -> None:
    """Send one JSON text frame (text, not binary: browsers hand text frames to JS as is)."""
    await ws.send({"type": "websocket.send", "text": body.decode()})


def _after(ws: WebSocket) -> int:
    raw = ws.query_params.get("after") or "0"
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"after must be an integer, not {raw[:50]!r}") from None
    if value < 0:
        raise BadRequest("after must be >= 0")
    return value


async def session_socket(ws: WebSocket) -> None:
    """Attach a client to one session until it disconnects."""
    service = service_of(ws)
    principal = await _authenticate(ws, service)
    if principal is None:
        return
    sid: str = ws.path_params["session_id"]
    key = (principal.tenant, sid)
    sub = service.broadcaster.subscribe(key, queue_size=service.settings.ws_send_queue)
    try:
        try:
            after = _after(ws)
            rounds_after = round_after(ws)  # issue 11: ?round_after=SEQ forwards round events
            await service.broadcaster.ready(key)  # before the read: nothing falls between
            session = await service.hub.get_session(sid, tenant=principal.tenant)
        except DialoghubError as exc:
            await _refuse(ws, exc)
            return
        await ws.accept()
        service.metrics.clients.inc()
        # --- issue 11: the session's agent round events, from their own live log ---
        rounds = None if rounds_after is None else asyncio.create_task(
            forward_rounds(ws, service, principal.tenant, sid, rounds_after))
        try:
            await _serve(ws, service, principal, session, after, sub)
        finally:
            service.metrics.clients.dec()
            if rounds is not None:
                rounds.cancel()
                with contextlib.suppress(BaseException):
                    await rounds
        # --- end of issue 11 ---
    finally:
        service.broadcaster.unsubscribe(sub)


async def _receive(ws: WebSocket) -> bytes:
    message = await ws.receive()
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000))
    text = message.get("text")
    if text is not None:
        return str(text).encode("utf-8", "surrogatepass")
    return bytes(message.get("bytes") or b"")


async def _serve(
    ws: WebSocket, service: Service, principal: Principal, session: Session, after: int,
    sub: Subscription,
) -> None:
    """Push updates from one task while this one reads the client's frames.

    The reader awaits the socket directly (no task or ``asyncio.wait`` per frame); when the
    pusher stops (the socket broke under a send, the store failed) it cancels the reader,
    but only while the reader is waiting for a frame, never in the middle of an update."""
    sid = session.id
    after = min(after, session.seq)

    async def read(since: int, limit: int) -> list[Event]:
        return await service.hub.events(sid, after=since, limit=limit, tenant=principal.tenant)

    live = asyncio.Event()
    dropped = False

    async def push() -> None:
        # The backlog runs up to the snapshot read at attach time (the subscription already
        # existed then): what came later arrives as pushes, gaps are filled from the store.
        async for last_seq, body in follow(sub, after, read, service.encode_events,
                                           until=session.seq):
            if body:
                await _send(ws, body)
                continue
            await _send(ws, _encode(Attached(session=session, last_seq=last_seq,
                                             token=service.keyring.reference(session))))
            live.set()

    reader = asyncio.current_task()
    assert reader is not None
    receiving = False

    def pusher_done(task: asyncio.Task[None]) -> None:
        if receiving and (dropped or not task.cancelled()):
            reader.cancel()

    def too_slow(sub: Subscription) -> None:
        # The client does not read: drop it, and the updates queued for it with it.
        nonlocal dropped
        if dropped:
            return
        dropped = True
        service.broadcaster.unsubscribe(sub)
        while not sub.queue.empty():
            sub.queue.get_nowait()
        pusher.cancel()

    pusher = asyncio.create_task(push())
    pusher.add_done_callback(pusher_done)
    sub.on_full = too_slow
    try:
        waiter = asyncio.ensure_future(live.wait())
        await asyncio.wait({waiter, pusher}, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        while not pusher.done():
            receiving = True
            try:
                frame = await _receive(ws)
            except asyncio.CancelledError:
                if pusher.done() and reader.uncancel() == 0:
                    break  # the pusher stopped: see below why
                raise
            finally:
                receiving = False
            if len(frame) > service.settings.max_body_bytes:
                # Only reached when the server does not set ws_max_size (the protocol
                # refuses such a frame before it is read): close as the protocol would.
                await ws.close(code=1009, reason="frame too large")
                return
            reply = await _handle(service, principal, sid, sub.id, frame)
            if reply is not None:
                await _send(ws, reply)
        if dropped:
            log.warning("WebSocket client of session %s dropped: more than %d updates "
                        "unread", sid, sub.queue.maxsize)
            # The client does not read, so the close frame may never leave: give up soon.
            with contextlib.suppress(Exception):
                async with asyncio.timeout(1.0):
                    await ws.close(code=1008, reason="too slow: updates not read")
        elif not pusher.cancelled():
            pusher.result()  # re-raise what stopped it
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        sub.on_full = None
        pusher.remove_done_callback(pusher_done)
        pusher.cancel()
        with contextlib.suppress(BaseException):
            await pusher


async def _handle(
    service: Service, principal: Principal, sid: str, sub_id: int, data: bytes
) -> bytes | None:
    """Handle one client frame; return a direct reply (errors, pong) or None."""
    request_id = None
    try:
        msg = decode(data, ClientInput)
        request_id = msg.request_id
        if msg.type == "ping":
            return _encode({"type": "pong", "request_id": request_id})
        if msg.type != "input" or not len(msg.input):
            raise BadRequest("frames are {'type': 'input', 'input': {...}} or {'type': 'ping'}")
        principal.require("write")
        await service.limiter.take(principal.key_id)
        inp = to_input(decode(bytes(msg.input), StrictInput))
        await service.update(
            principal, sid, inp,
            expected_version=msg.expected_version, token=msg.token,
            idempotency_key=msg.idempotency_key, origin=sub_id,
            request_id=request_id or "",
        )
        return None
    except Exception as exc:
        body = msgspec.to_builtins(error_body(exc))
        return _encode({"type": "error", "request_id": request_id, **body})


routes = [WebSocketRoute(PATH, session_socket, name="session_ws")]
