"""``/v1/sessions/{id}/stream``: the read-only alternative to the WebSocket, as server-sent
events.

Each pushed message is one SSE event: ``event:`` is ``events`` (a backlog batch from the
store), ``attached`` (live from here on) or ``update``; ``id:`` is the last event sequence
number it carries, so a browser's ``EventSource`` reconnects with ``Last-Event-ID`` and
gets exactly what it missed (``?after=SEQ`` does the same by hand). ``data:`` is the same
JSON the WebSocket sends.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import msgspec
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from dialoghub.engine.records import Event
from dialoghub.server.auth import Principal
from dialoghub.server.broadcast import follow
from dialoghub.server.endpoint import Param, endpoint
from dialoghub.server.routes_sessions import AFTER, SESSION_ID
from dialoghub.server.service import Service
from dialoghub.server.websocket import PATH as WEBSOCKET_PATH

__all__ = ["routes"]

_encode = msgspec.json.Encoder().encode

# Sent by a reconnecting EventSource; read leniently (anything but a sequence number is
# ignored, as a browser cannot be told to send another), so it is documented as a string.
_LAST_EVENT_ID = Param.header("Last-Event-ID", "The id of the last event received (a "
                              "reconnecting EventSource sends it); overrides `after`.")


def _last_event_id(request: Request) -> int | None:
    raw = _LAST_EVENT_ID.read(request)
    return int(raw) if raw is not None and raw.isdigit() and len(raw) < 17 else None


@endpoint("/v1/sessions/{session_id}/stream", "read", tag="sessions",
          params=[SESSION_ID, AFTER, _LAST_EVENT_ID], operation_id="streamSession",
          produces="text/event-stream", answer_doc="An event stream",
          extra={"x-websocket": WEBSOCKET_PATH})
async def stream(service: Service, request: Request, who: Principal) -> Response:
    """Stream the session's updates as server-sent events."""
    sid: str = SESSION_ID.read(request)
    after = _last_event_id(request)
    if after is None:
        after = AFTER.read(request)
    session = await service.hub.get_session(sid, tenant=who.tenant)  # 404 before streaming
    after = min(after, session.seq)
    sub = service.broadcaster.subscribe((who.tenant, sid))
    try:
        await service.broadcaster.ready((who.tenant, sid))  # the backlog is read after this
    except BaseException:
        service.broadcaster.unsubscribe(sub)
        raise

    async def read(since: int, limit: int) -> list[Event]:
        return await service.hub.events(sid, after=since, limit=limit, tenant=who.tenant)

    async def events() -> AsyncIterator[bytes]:
        service.metrics.clients.inc()
        try:
            async for last_seq, body in follow(sub, after, read, service.encode_events):
                if body:
                    kind = b"events" if body.startswith(b'{"type":"events"') else b"update"
                else:
                    kind = b"attached"
                    current = await service.hub.get_session(sid, tenant=who.tenant)
                    body = _encode({"type": "attached", "session": current,
                                    "last_seq": last_seq})
                yield b"event: %s\nid: %d\ndata: %s\n\n" % (kind, last_seq, body)
        finally:
            service.metrics.clients.dec()
            service.broadcaster.unsubscribe(sub)

    return StreamingResponse(
        events(), media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


routes = [Route("/v1/sessions/{session_id}/stream", stream, methods=["GET"], name="stream")]
