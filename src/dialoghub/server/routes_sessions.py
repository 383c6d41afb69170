"""The sessions routes of ``/v1``: create, read (also as of an event), list, update, events,
end, delete, fork, and stateless updates.

Every route acts within the caller's tenant: a session of another tenant is "not found".
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from dialoghub.engine.records import End, Session
from dialoghub.errors import Forbidden, InvalidInput, SessionNotFound, StoreError
from dialoghub.server.auth import Principal
from dialoghub.server.endpoint import Body, Param, body, by_method, endpoint
from dialoghub.server.schemas import (
    SESSION_ID_PATTERN,
    CreateSession,
    EndSession,
    EventOut,
    EventPage,
    ForkOut,
    ForkSession,
    SessionPage,
    StatelessUpdate,
    UpdateSession,
    ViewOut,
    to_input,
)
from dialoghub.server.service import Service

__all__ = ["AFTER", "IDEMPOTENCY_KEY", "MAX_SEQ", "SESSION_ID", "routes"]

MAX_SEQ = 2**53

# The parameters of these routes (and of the event stream), each described once: the
# document shows them as declared here, the handlers read them with .read(request).
SESSION_ID = Param.path("session_id", "The session id.", min_len=1, max_len=200,
                        pattern=SESSION_ID_PATTERN)
IDEMPOTENCY_KEY = Param.header("Idempotency-Key", "A retry with the same key gets the first "
                               "answer.", min_len=1, max_len=200, error=InvalidInput)
AFTER = Param.query("after", "Events after this seq.", kind=int, low=0, high=MAX_SEQ,
                    default=0)
_MODEL = Param.query("model", "Only sessions of this model.")
_STATE = Param.query("state", "Only sessions in this state.")
_STATUS = Param.query("status", "Only sessions with this status.",
                      choices=("active", "ended", "expired"), error=InvalidInput)
_PAGE = Param.query("limit", "Page size (default 50).", kind=int, low=1, high=1000,
                    default=50)
# Opaque (the store's); one that is not the store's is refused by it, also as invalid_input.
_CURSOR = Param.query("cursor", "next_cursor of the previous page.", max_len=200,
                      pattern="^[A-Za-z0-9_=-]{0,200}$", error=InvalidInput)
_TEXT = Param.query("q", "Only sessions whose id or metadata holds this text "
                    "(case-insensitive). A page examines at most 2,000 sessions: it may be "
                    "short, even empty, with a next_cursor.", min_len=1, max_len=100,
                    pattern="^[^\\x00-\\x1f\\x7f]+$", error=InvalidInput)
_TENANT = Param.query("tenant", "Another tenant's sessions, or * for every tenant's (admin "
                      "keys of an operator tenant only).", min_len=1, max_len=200,
                      pattern="^[^\\x00-\\x1f\\x7f]+$", error=InvalidInput)
_AT = Param.query("at", "Read as of this event.", kind=int, low=1, high=MAX_SEQ)
_EVENTS = Param.query("limit", "Page size (default 100).", kind=int, low=1, high=10_000,
                      default=100)


@endpoint("/v1/sessions", "write", tag="sessions", params=[IDEMPOTENCY_KEY],
          body=CreateSession, status=201)
async def create_session(service: Service, request: Request, who: Principal) -> ViewOut:
    """Start a session of a model and run it to its first wait."""
    req = await body(service, request)
    return await service.create(who, req, idempotency_key=IDEMPOTENCY_KEY.read(request))


def _listed_tenant(service: Service, request: Request, who: Principal) -> str | None:
    """The tenant a listing reads (None: every tenant): the caller's own, unless an operator
    (an admin key of one of ``settings.operator_tenants``) names another, or ``*``."""
    asked = _TENANT.read(request)
    if asked is None or asked == who.tenant:
        return who.tenant
    if "admin" not in who.scopes or who.tenant not in service.settings.operator_tenants:
        raise Forbidden(
            "only an admin key of an operator tenant (setting operator_tenants) lists another "
            "tenant's sessions", tenant=asked, key_id=who.key_id,
        )  # fmt: skip
    return None if asked == "*" else asked


@endpoint("/v1/sessions", "read", tag="sessions",
          params=[_MODEL, _STATE, _STATUS, _TEXT, _TENANT, _PAGE, _CURSOR])
async def list_sessions(service: Service, request: Request, who: Principal) -> SessionPage:
    """Sessions of the caller's tenant, oldest first, filtered, one page at a time."""
    cursor = _CURSOR.read(request) or None
    try:
        page = await service.hub.list_sessions(
            model=_MODEL.read(request),
            state=_STATE.read(request),
            status=_STATUS.read(request),
            tenant=_listed_tenant(service, request, who),
            limit=_PAGE.read(request),
            cursor=cursor,
            text=_TEXT.read(request),
        )
    except StoreError as exc:
        if cursor is not None and "cursor" in exc.message:  # the store's own cursor check
            raise InvalidInput(exc.message, cursor=cursor) from None
        raise
    return SessionPage(sessions=page.sessions, next_cursor=page.next_cursor)


@endpoint("/v1/sessions/{session_id}", "read", tag="sessions", params=[SESSION_ID, _AT])
async def get_session(service: Service, request: Request, who: Principal) -> Session:
    """The session now, or as it was right after event ``at``."""
    return await service.hub.get_session(SESSION_ID.read(request), at=_AT.read(request),
                                         tenant=who.tenant)


@endpoint("/v1/sessions/{session_id}", "write", tag="sessions", params=[SESSION_ID],
          status=204)
async def delete_session(service: Service, request: Request, who: Principal) -> None:
    """Delete a session and its history."""
    sid = SESSION_ID.read(request)
    if not await service.hub.delete_session(sid, tenant=who.tenant):
        raise SessionNotFound(sid)


@endpoint("/v1/sessions/{session_id}/inputs", "write", tag="sessions",
          params=[SESSION_ID, IDEMPOTENCY_KEY], body=UpdateSession)
async def update_session(service: Service, request: Request, who: Principal) -> ViewOut:
    """Apply one input of the engine to the session."""
    req = await body(service, request)
    return await service.update(
        who,
        SESSION_ID.read(request),
        to_input(req.input),
        expected_version=req.expected_version,
        token=req.token,
        idempotency_key=IDEMPOTENCY_KEY.read(request),
    )


@endpoint("/v1/sessions/{session_id}/end", "write", tag="sessions",
          params=[SESSION_ID, IDEMPOTENCY_KEY], body=Body(EndSession, required=False))
async def end_session(service: Service, request: Request, who: Principal) -> ViewOut:
    """End the session; it keeps its history and takes no more input."""
    req = await body(service, request) or EndSession()
    return await service.update(
        who, SESSION_ID.read(request), End(reason=req.reason),
        expected_version=req.expected_version, idempotency_key=IDEMPOTENCY_KEY.read(request),
    )


@endpoint("/v1/sessions/{session_id}/events", "read", tag="sessions",
          params=[SESSION_ID, AFTER, _EVENTS])
async def list_events(service: Service, request: Request, who: Principal) -> EventPage:
    """The session's events after ``after``, at most ``limit``."""
    limit = _EVENTS.read(request)
    events = await service.hub.events(SESSION_ID.read(request), after=AFTER.read(request),
                                      limit=limit, tenant=who.tenant)
    return EventPage(
        events=[EventOut.of(e) for e in events],
        next_after=events[-1].seq if len(events) == limit else None,
    )


@endpoint("/v1/sessions/{session_id}/fork", "write", tag="sessions", params=[SESSION_ID],
          body=Body(ForkSession, required=False), status=201, operation_id="forkSession")
async def fork(service: Service, request: Request, who: Principal) -> ForkOut:
    """A new session with this one's history up to event ``at``."""
    req = await body(service, request) or ForkSession()
    sid = SESSION_ID.read(request)
    session = await service.hub.fork_session(sid, at=req.at, new_id=req.session_id,
                                             tenant=who.tenant)
    events = await service.hub.events(session.id, tenant=who.tenant, limit=1)
    return ForkOut(
        session=session,
        token=service.keyring.reference(session),
        forked_from=sid,
        at=events[0].data["source"]["seq"],
    )


@endpoint("/v1/stateless/inputs", "write", tag="sessions", body=StatelessUpdate)
async def stateless_input(service: Service, request: Request, who: Principal) -> ViewOut:
    """Step a stateless session: the token in, a new token out, nothing stored."""
    req = await body(service, request)
    return await service.stateless_update(who, req.token, to_input(req.input))


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
