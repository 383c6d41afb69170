"""The decision routes of ``/v1``: a session's open round, proposals, votes, overrides, and
the inbox of rounds waiting for human answers.

Every answer is one update of the session through :meth:`Service.update` (so it has the
Hub's compare-and-set, version, idempotency key, and WebSocket push to attached clients:
a new solicitation reaches them as ``proposal_solicited`` / ``vote_solicited`` events). The
API key's identity (``{"key_id", "tenant"}``) is recorded on the event as ``by``; a body
cannot set it. A session of another tenant is not found; a human specialist whose model
lists ``keys`` answers only with one of those keys (403 otherwise).

When the app starts, :func:`start` attaches a :class:`~dialoghub.decision.driver.Driver`
to its Hub, so the AI specialists of the loaded models (rules, LLMs, webhooks) answer the
solicitations this process's updates open.

``/v1/decisions/ws`` (WebSocket, ``Authorization: Bearer KEY`` or ``?access_token=KEY``)
pushes each new solicitation of a human specialist of the caller's tenant as it is made, as
``{"type": "solicited", "session_id", "model_id", "round", "state", "specialist", "kind",
"correlation", "due_at"}`` (``?specialist=ID`` for one's own). The pushes go through the
server's broadcaster (the key ``(tenant, "/decisions")``: a session id never holds a ``/``),
so with a broadcast URL they cross server processes through the same relay as the session
streams and the tenant feed: a solicitation made by any process reaches every process's
sockets. A client that reads too slowly loses pushes (those arriving while its queue is
full), never the socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from dialoghub.decision.inbox import inbox, round_view
from dialoghub.decision.wire import InboxPage, OverrideIn, ProposeIn, RoundOut, VoteIn
from dialoghub.engine.records import Input, Override, PairVote, Propose, Vote
from dialoghub.errors import DialoghubError, InvalidInput, StoreError, UnknownModel
from dialoghub.server.auth import Principal
from dialoghub.server.broadcast import Message
from dialoghub.server.endpoint import Param, body, endpoint, service_of
from dialoghub.server.errors import Forbidden, error_body, status_of
from dialoghub.server.routes_sessions import IDEMPOTENCY_KEY, SESSION_ID
from dialoghub.server.schemas import ViewOut
from dialoghub.server.service import Service

__all__ = ["routes", "start"]

_MODEL = Param.query("model", "Only rounds of this model.")
_STATE = Param.query("state", "Only rounds of this state.")
_SPECIALIST = Param.query("specialist", "Only rounds asking this (human) specialist.")
_LIMIT = Param.query("limit", "Page size (default 50).", kind=int, low=1, high=1000, default=50)
_SCAN = Param.query(
    "scan",
    "Most sessions read for the page (default 1000).",
    kind=int,
    low=1,
    high=10_000,
    default=1000,
)
_CURSOR = Param.query(
    "cursor",
    "next_cursor of the previous page.",
    max_len=200,
    pattern="^[A-Za-z0-9_=-]{0,200}$",
    error=InvalidInput,
)

#: The driver of each running app's service (it goes with the service).
_drivers: weakref.WeakKeyDictionary[Service, Any] = weakref.WeakKeyDictionary()


def start(service: Service) -> None:
    """Attach the decision driver to the service's Hub (the lifespan calls it once)."""
    from dialoghub.decision.driver import Driver

    def publish(view: Any) -> None:  # the driver's answers reach attached clients too
        service.publish(view.session.tenant, service.view_out(view))

    _drivers[service] = Driver(service.hub, publish=publish)
    service.hub.watch(lambda view: _push_solicitations(service, view))


#: Pushes a socket may have waiting before new ones are dropped.
SOCKET_QUEUE = 1000
#: The session-id half of a tenant's inbox key; session ids hold no ``/``, so never a session's.
DECISIONS = "/decisions"


def inbox_key(tenant: str) -> tuple[str, str]:
    """The broadcaster key of ``tenant``'s inbox pushes."""
    return (tenant, DECISIONS)


def _push_solicitations(service: Service, view: Any) -> None:
    """Publish each human solicitation of a stored update to the tenant's inbox sockets,
    here and (through the relay) in the other server processes."""
    key = inbox_key(view.session.tenant)
    broadcaster = service.broadcaster
    relay = broadcaster.relay
    if relay is None and not broadcaster.has_subscribers(key):
        return
    for e in view.events:
        if e.type in ("proposal_solicited", "vote_solicited") and e.data.get("human"):
            push = msgspec.json.encode(
                {
                    "type": "solicited",
                    "session_id": view.session.id,
                    "model_id": view.session.model_id,
                    "round": e.data["round"],
                    "state": view.session.state,
                    "specialist": e.data["specialist"],
                    "kind": "proposal" if e.type == "proposal_solicited" else "vote",
                    "correlation": e.data["correlation"],
                    "due_at": e.data["due_at"],
                }
            )
            message = Message(e.seq, e.seq, push)
            broadcaster.publish(key, message)  # a full socket queue drops it
            if relay is not None:
                relay.send(key, message)


async def inbox_socket(ws: WebSocket) -> None:
    """Push the tenant's new human solicitations until the client disconnects."""
    service = service_of(ws)
    header = ws.headers.get("authorization") or ws.query_params.get("access_token")
    try:
        who = await service.limiter.admit(service.auth, header, ws.scope.get("client"), "read")
    except DialoghubError as exc:
        await ws.accept()
        await ws.send_text(
            msgspec.json.encode({"type": "error", **msgspec.to_builtins(error_body(exc))}).decode()
        )
        status = status_of(exc)
        await ws.close(code=4000 + status if 400 <= status < 500 else 1011)
        return
    only = ws.query_params.get("specialist")
    key = inbox_key(who.tenant)
    sub = service.broadcaster.subscribe(key, queue_size=SOCKET_QUEUE)
    try:
        await service.broadcaster.ready(key)  # pushes made anywhere reach us from now on
        await ws.accept()
        await ws.send_text('{"type":"attached"}')
    except BaseException:
        service.broadcaster.unsubscribe(sub)
        raise

    async def drain() -> None:  # the client's frames: nothing is expected but its close
        with contextlib.suppress(WebSocketDisconnect):
            while True:
                await ws.receive_text()

    reader = asyncio.create_task(drain())
    try:
        while not reader.done():
            getter = asyncio.ensure_future(sub.queue.get())
            done, _ = await asyncio.wait({getter, reader}, return_when=asyncio.FIRST_COMPLETED)
            if getter not in done:
                getter.cancel()
                break
            push = getter.result().body
            if only is None or msgspec.json.decode(push)["specialist"] == only:
                await ws.send_text(push.decode())
    finally:
        reader.cancel()
        service.broadcaster.unsubscribe(sub)
        with contextlib.suppress(BaseException):
            await reader


def _by(who: Principal) -> dict[str, Any]:
    return {"key_id": who.key_id, "tenant": who.tenant}


async def _check_key(service: Service, who: Principal, session_id: str, specialist: str) -> None:
    """A human specialist bound to API keys (``keys`` in the model) answers with those."""
    session = await service.hub.get_session(session_id, tenant=who.tenant)
    try:
        model = service.hub.model(session.model_id)
    except UnknownModel:
        return
    spec = model.decision.specialist(specialist) if model.decision is not None else None
    keys = spec.options.get("keys") if spec is not None else None
    if keys and who.key_id not in keys:
        raise Forbidden(
            f"API key {who.key_id!r} may not answer for specialist {specialist!r}",
            specialist=specialist,
            key_id=who.key_id,
        )


async def _answer(
    service: Service, request: Request, who: Principal, inp: Input, expected_version: int | None
) -> ViewOut:
    return await service.update(
        who,
        SESSION_ID.read(request),
        inp,
        expected_version=expected_version,
        idempotency_key=IDEMPOTENCY_KEY.read(request),
    )


@endpoint(
    "/v1/sessions/{session_id}/round",
    "read",
    tag="decisions",
    params=[SESSION_ID],
    operation_id="getRound",
)
async def get_round(service: Service, request: Request, who: Principal) -> RoundOut:
    """The session's open decision round: prompt, proposals, votes, who is still asked."""
    return await round_view(service.hub, SESSION_ID.read(request), tenant=who.tenant)


@endpoint(
    "/v1/sessions/{session_id}/round/proposals",
    "write",
    tag="decisions",
    params=[SESSION_ID, IDEMPOTENCY_KEY],
    body=ProposeIn,
    operation_id="propose",
)
async def propose(service: Service, request: Request, who: Principal) -> ViewOut:
    """A specialist proposes the transition of the open round (recorded with the key)."""
    req: ProposeIn = await body(service, request)
    await _check_key(service, who, SESSION_ID.read(request), req.specialist)
    inp = Propose(
        round=req.round,
        specialist=req.specialist,
        transition=req.transition,
        reasoning=req.reasoning,
        params=req.params,
        correlation=req.correlation,
        by=_by(who),
    )
    return await _answer(service, request, who, inp, req.expected_version)


@endpoint(
    "/v1/sessions/{session_id}/round/votes",
    "write",
    tag="decisions",
    params=[SESSION_ID, IDEMPOTENCY_KEY],
    body=VoteIn,
    operation_id="vote",
)
async def vote(service: Service, request: Request, who: Principal) -> ViewOut:
    """A specialist's pairwise votes between the open round's proposals."""
    req: VoteIn = await body(service, request)
    await _check_key(service, who, SESSION_ID.read(request), req.specialist)
    inp = Vote(
        round=req.round,
        specialist=req.specialist,
        reasoning=req.reasoning,
        votes=[PairVote(a=v.a, b=v.b, vote=v.vote) for v in req.votes],
        correlation=req.correlation,
        by=_by(who),
    )
    return await _answer(service, request, who, inp, req.expected_version)


@endpoint(
    "/v1/sessions/{session_id}/round/override",
    "write",
    tag="decisions",
    params=[SESSION_ID, IDEMPOTENCY_KEY],
    body=OverrideIn,
    operation_id="override",
)
async def override(service: Service, request: Request, who: Principal) -> ViewOut:
    """Decide a decided state's transition directly (a parked round, an urgent case)."""
    req: OverrideIn = await body(service, request)
    inp = Override(
        transition=req.transition,
        params=req.params,
        reason=req.reason,
        round=req.round,
        by=_by(who),
    )
    return await _answer(service, request, who, inp, req.expected_version)


@endpoint(
    "/v1/decisions/inbox",
    "read",
    tag="decisions",
    params=[_MODEL, _STATE, _SPECIALIST, _LIMIT, _SCAN, _CURSOR],
    operation_id="inbox",
)
async def get_inbox(service: Service, request: Request, who: Principal) -> InboxPage:
    """Rounds of the caller's tenant waiting for human answers (or parked), oldest first."""
    cursor = _CURSOR.read(request) or None
    try:
        return await inbox(
            service.hub,
            tenant=who.tenant,
            model=_MODEL.read(request),
            state=_STATE.read(request),
            specialist=_SPECIALIST.read(request),
            limit=_LIMIT.read(request),
            scan=_SCAN.read(request),
            cursor=cursor,
        )
    except StoreError as exc:
        if cursor is not None and "cursor" in exc.message:
            raise InvalidInput(exc.message, cursor=cursor) from None
        raise


routes = [
    Route("/v1/sessions/{session_id}/round", get_round, methods=["GET"], name="round"),
    Route("/v1/sessions/{session_id}/round/proposals", propose, methods=["POST"], name="propose"),
    Route("/v1/sessions/{session_id}/round/votes", vote, methods=["POST"], name="vote"),
    Route("/v1/sessions/{session_id}/round/override", override, methods=["POST"], name="override"),
    Route("/v1/decisions/inbox", get_inbox, methods=["GET"], name="inbox"),
    WebSocketRoute("/v1/decisions/ws", inbox_socket, name="inbox_ws"),
]
