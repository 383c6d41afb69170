"""``/v1/feed``: every session of the caller's tenant as it is created, moves and ends, as
server-sent events; what the console's sessions list listens to.

Each update a server process makes is pushed, besides its session's own subscribers, to the
tenant's feed (the broadcaster key ``(tenant, "/feed")``: a session id never holds a ``/``):
one small summary per update (id, model, state, status, version, times), never the
variables. With a
broadcast URL the summaries cross processes through the same relay as the session streams.

A feed does not replay what happened before it was opened: a client reads the first page of
``GET /v1/sessions`` after the feed's ``open`` event (or, to render sooner as the console
does, at once and once more after ``open``) and merges both by ``version`` (the newer wins),
so nothing falls between. A client that falls behind (its queue of 1,000 summaries is full)
loses the oldest summaries, not the feed; a ``: ping`` comment every 15 s keeps proxies from
closing an idle stream.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from dialoghub.server.auth import Principal
from dialoghub.server.broadcast import feed_key
from dialoghub.server.endpoint import endpoint
from dialoghub.server.service import Service

__all__ = ["routes"]

#: Seconds between keep-alive comments on an idle feed.
PING_EVERY = 15.0


@endpoint(
    "/v1/feed",
    "read",
    tag="sessions",
    operation_id="feed",
    produces="text/event-stream",
    answer_doc="An event stream: one `session` event per update of any session of the "
    "caller's tenant",
)
async def feed(service: Service, request: Request, who: Principal) -> Response:
    """Follow every session of the caller's tenant as server-sent events."""
    key = feed_key(who.tenant)
    sub = service.broadcaster.subscribe(key)
    try:
        await service.broadcaster.ready(key)
    except BaseException:
        service.broadcaster.unsubscribe(sub)
        raise

    async def events() -> AsyncIterator[bytes]:
        service.metrics.clients.inc()
        try:
            yield b"event: open\ndata: {}\n\n"  # the client reads its first page after this
            while True:
                try:
                    message = await asyncio.wait_for(sub.queue.get(), PING_EVERY)
                except TimeoutError:
                    yield b": ping\n\n"
                    continue
                yield b"event: session\ndata: %s\n\n" % message.body
        finally:
            service.metrics.clients.dec()
            service.broadcaster.unsubscribe(sub)

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


routes = [Route("/v1/feed", feed, methods=["GET"], name="feed")]
