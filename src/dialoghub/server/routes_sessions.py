"""The sessions routes of ``/v1``: create, read (also as of an event), list, update, events,
end, delete, fork, and stateless updates.

Every route acts within the caller's tenant: a session of another tenant is "not found".
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from dialoghub.engine.records import End
from dialoghub.errors import InvalidInput, SessionNotFound, StoreError
from dialoghub.server.auth import Principal
from dialoghub.server.dispatch import header
from dialoghub.server.endpoint import (
    JSONResponse,
    body,
    by_method,
    endpoint,
    optional_body,
    query_int,
    query_str,
)
from dialoghub.server.schemas import (
    CreateSession,
    EndSession,
    EventOut,
    EventPage,
    ForkOut,
    ForkSession,
    SessionPage,
    StatelessUpdate,
    UpdateSession,
    to_input,
)
from dialoghub.server.service import Service
from dialoghub.timetravel import fork_session, session_at

__all__ = ["routes"]

_MAX_SEQ = 2**53


def _sid(request: Request) -> str:
    sid: str = request.path_params["session_id"]
    return sid


def _idempotency_key(request: Request) -> str | None:
    key = header(request.scope, b"idempotency-key")
    if key is not None and not 1 <= len(key) <= 200:
        raise InvalidInput("the Idempotency-Key header must be 1 to 200 characters")
    return key


@endpoint("/v1/sessions", "write")
async def create_session(service: Service, request: Request, who: Principal) -> Response:
    """Start a session of a model and run it to its first wait."""
    req = await body(service, request, CreateSession)
    out = await service.create(who, req, idempotency_key=_idempotency_key(request))
    return JSONResponse(out, status_code=201)


@endpoint("/v1/sessions", "read", query=("model", "state", "status", "limit", "cursor"))
async def list_sessions(service: Service, request: Request, who: Principal) -> Response:
    """Sessions of the caller's tenant, oldest first, filtered, one page at a time."""
    status = query_str(request, "status")
    if status is not None and status not in ("active", "ended", "expired"):
        raise InvalidInput(f"status must be active, ended or expired, not {status[:50]!r}")
    cursor = query_str(request, "cursor") or None
    try:
        page = await service.hub.list_sessions(
            model=query_str(request, "model"),
            state=query_str(request, "state"),
            status=status,
            tenant=who.tenant,
            limit=query_int(request, "limit", default=50, low=1, high=1000) or 50,
            cursor=cursor,
        )
    except StoreError as exc:
        if cursor is not None and "cursor" in exc.message:  # the store's own cursor check
            raise InvalidInput(exc.message, cursor=cursor) from None
        raise
    return JSONResponse(SessionPage(sessions=page.sessions, next_cursor=page.next_cursor))


@endpoint("/v1/sessions/{session_id}", "read", query=("at",))
async def get_session(service: Service, request: Request, who: Principal) -> Response:
    """The session now, or as it was right after event ``at``."""
    at = query_int(request, "at", default=None, low=1, high=_MAX_SEQ)
    if at is None:
        session = await service.hub.get_session(_sid(request), tenant=who.tenant)
    else:
        session = await session_at(service.hub, _sid(request), at, tenant=who.tenant)
    return JSONResponse(session)


@endpoint("/v1/sessions/{session_id}", "write")
async def delete_session(service: Service, request: Request, who: Principal) -> Response:
    """Delete a session and its history."""
    if not await service.hub.delete_session(_sid(request), tenant=who.tenant):
        raise SessionNotFound(_sid(request))
    return Response(status_code=204)


@endpoint("/v1/sessions/{session_id}/inputs", "write")
async def update_session(service: Service, request: Request, who: Principal) -> Response:
    """Apply one input of the engine to the session."""
    req = await body(service, request, UpdateSession)
    out = await service.update(
        who,
        _sid(request),
        to_input(req.input),
        expected_version=req.expected_version,
        token=req.token,
        idempotency_key=_idempotency_key(request),
    )
    return JSONResponse(out)


@endpoint("/v1/sessions/{session_id}/end", "write")
async def end_session(service: Service, request: Request, who: Principal) -> Response:
    """End the session; it keeps its history and takes no more input."""
    req = await optional_body(service, request, EndSession) or EndSession()
    out = await service.update(
        who, _sid(request), End(reason=req.reason), expected_version=req.expected_version,
        idempotency_key=_idempotency_key(request),
    )
    return JSONResponse(out)


@endpoint("/v1/sessions/{session_id}/events", "read", query=("after", "limit"))
async def list_events(service: Service, request: Request, who: Principal) -> Response:
    """The session's events after ``after``, at most ``limit``."""
    after = query_int(request, "after", default=0, low=0, high=_MAX_SEQ) or 0
    limit = query_int(request, "limit", default=100, low=1, high=10_000) or 100
    events = await service.hub.events(_sid(request), after=after, limit=limit, tenant=who.tenant)
    page = EventPage(
        events=[EventOut.of(e) for e in events],
        next_after=events[-1].seq if len(events) == limit else None,
    )
    return JSONResponse(page)


@endpoint("/v1/sessions/{session_id}/fork", "write")
async def fork(service: Service, request: Request, who: Principal) -> Response:
    """A new session with this one's history up to event ``at``."""
    req = await optional_body(service, request, ForkSession) or ForkSession()
    session, events = await fork_session(
        service.hub, _sid(request), at=req.at, new_id=req.session_id, tenant=who.tenant
    )
    out = ForkOut(
        session=session,
        token=service.keyring.reference(session),
        forked_from=_sid(request),
        at=events[0].data["source"]["seq"],
    )
    return JSONResponse(out, status_code=201)


@endpoint("/v1/stateless/inputs", "write")
async def stateless_input(service: Service, request: Request, who: Principal) -> Response:
    """Step a stateless session: the token in, a new token out, nothing stored."""
    req = await body(service, request, StatelessUpdate)
    out = await service.stateless_update(who, req.token, to_input(req.input))
    return JSONResponse(out)


routes = [
    Route("/v1/sessions", by_method(POST=create_session, GET=list_sessions),
          methods=["GET", "POST"], name="sessions"),
    Route("/v1/sessions/{session_id}", by_method(GET=get_session, DELETE=delete_session),
          methods=["GET", "DELETE"], name="session"),
    Route("/v1/sessions/{session_id}/inputs", update_session, methods=["POST"],
          name="update_session"),
    Route("/v1/sessions/{session_id}/end", end_session, methods=["POST"], name="end_session"),
    Route("/v1/sessions/{session_id}/events", list_events, methods=["GET"], name="list_events"),
    Route("/v1/sessions/{session_id}/fork", fork, methods=["POST"], name="fork_session"),
    Route("/v1/stateless/inputs", stateless_input, methods=["POST"], name="stateless_input"),
]
