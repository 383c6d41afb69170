"""The wrapper every HTTP route goes through, and helpers to read requests.

:func:`endpoint` turns ``async def route(service, request, principal) -> Response`` into an
:class:`Endpoint`, a plain ASGI app that authenticates the caller and checks the route's
scope, applies the per-key rate limit and the request timeout, turns every exception into
the one JSON error shape, and records the request's metrics. Doing this in the endpoint
rather than in middleware (Starlette's ``BaseHTTPMiddleware`` costs a task and a stream per
request) keeps the per-request cost to a few function calls; see
:mod:`dialoghub.server.dispatch` for the routing.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from dialoghub.errors import StoreError
from dialoghub.server.auth import Principal
from dialoghub.server.dispatch import header
from dialoghub.server.errors import BadRequest, RequestTimeout, error_response
from dialoghub.server.limits import read_body
from dialoghub.server.schemas import decode
from dialoghub.server.service import Service

__all__ = [
    "Endpoint",
    "JSONResponse",
    "body",
    "by_method",
    "endpoint",
    "optional_body",
    "query_int",
    "query_str",
    "service_of",
]

Handler = Callable[[Service, Request, Principal], Awaitable[Response]]
_encode = msgspec.json.Encoder().encode
_JSON = (b"content-type", b"application/json")


class JSONResponse(Response):
    """A response whose content is encoded by msgspec (structs, lists, dicts).

    Built without Starlette's generic header handling: the two headers are known."""

    media_type = "application/json"

    def __init__(
        self, content: Any, status_code: int = 200, headers: Mapping[str, str] | None = None
    ) -> None:
        self.status_code = status_code
        self.background = None
        self.body = _encode(content)
        raw = [_JSON, (b"content-length", b"%d" % len(self.body))]
        if headers:
            raw.extend((k.lower().encode("latin-1"), v.encode("latin-1"))
                       for k, v in headers.items())
        self.raw_headers = raw

    def render(self, content: Any) -> bytes:
        """Encode ``content`` as JSON."""
        return _encode(content)


async def _respond(response: Response, scope: Scope, receive: Receive, send: Send) -> None:
    if type(response) in _PLAIN and response.background is None:
        await send({"type": "http.response.start", "status": response.status_code,
                    "headers": response.raw_headers})
        await send({"type": "http.response.body", "body": response.body})
    else:
        await response(scope, receive, send)


_PLAIN = (JSONResponse, Response)


def service_of(conn: Any) -> Service:
    """The app's :class:`Service` (``conn`` is a Request, a WebSocket or a scope)."""
    scope = conn if isinstance(conn, dict) else conn.scope
    service: Service = scope["app"].state.service
    return service


class Endpoint:
    """One HTTP route as a plain ASGI app: authenticate the caller and check the route's
    scope, apply the per-key rate limit and the request timeout, turn every exception into
    the one JSON error shape, record the request's metrics, send the response."""

    def __init__(self, fn: Handler, route: str, scope: str | None,
                 query: frozenset[str]) -> None:
        self.fn = fn
        self.route = route
        self.scope = scope
        self.query = query
        self.__name__ = getattr(fn, "__name__", route)
        self.__doc__ = fn.__doc__

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        service = service_of(scope)
        started = time.perf_counter()
        request = Request(scope, receive)
        try:
            if self.scope is None:
                principal = _ANONYMOUS
            else:
                principal = await service.limiter.admit(
                    service.auth, header(scope, b"authorization"), scope.get("client"),
                    self.scope)
            if scope["query_string"]:
                unknown = set(request.query_params.keys()) - self.query
                if unknown:
                    raise BadRequest(
                        f"unknown query parameter(s) {sorted(unknown)}; this route takes "
                        f"{sorted(self.query) or 'none'}",
                        parameters=sorted(unknown),
                    )
            task = asyncio.current_task()
            assert task is not None
            deadlines = service.deadlines
            deadlines.enter(task)
            try:
                response = await self.fn(service, request, principal)
            except asyncio.CancelledError:
                if deadlines.leave(task) and task.uncancel() == 0:
                    raise RequestTimeout(
                        f"the request took longer than {deadlines.timeout} s",
                        timeout=deadlines.timeout,
                    ) from None
                raise
            finally:
                deadlines.leave(task)
        except Exception as exc:
            if isinstance(exc, StoreError):
                service.metrics.store_errors.inc()
            response = error_response(exc)
        service.metrics.request(
            self.route, scope["method"], response.status_code, time.perf_counter() - started
        )
        await _respond(response, scope, receive, send)


_ANONYMOUS = Principal("-", "-", frozenset())


class by_method:  # lower case: used like a function in route tables
    """One endpoint for a path whose methods have separate endpoints, so a wrong method gets
    a 405 whose ``Allow`` lists every method of the path."""

    def __init__(self, **endpoints: Endpoint) -> None:
        self.endpoints = endpoints
        self.__name__ = "_".join(e.__name__ for e in endpoints.values())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope["method"]
        await self.endpoints["GET" if method == "HEAD" else method](scope, receive, send)


def endpoint(
    route: str, scope: str | None, *, query: tuple[str, ...] = ()
) -> Callable[[Handler], Endpoint]:
    """Wrap a route: ``scope`` None means no API key is needed (health, docs, metrics);
    ``query`` names the query parameters it takes (any other one is a 400)."""
    allowed = frozenset(query)

    def wrap(fn: Handler) -> Endpoint:
        return Endpoint(fn, route, scope, allowed)

    return wrap


async def body(service: Service, request: Request, kind: type[Any]) -> Any:
    """Read (within the size limit) and decode the JSON body into ``kind``."""
    raw = await read_body(request, service.settings.max_body_bytes)
    return decode(raw, kind)


async def optional_body(service: Service, request: Request, kind: type[Any]) -> Any:
    """Like :func:`body`, but None when the request has no body at all."""
    raw = await read_body(request, service.settings.max_body_bytes)
    return decode(raw, kind) if raw.strip() else None


def query_str(request: Request, name: str, *, max_len: int = 500) -> str | None:
    """A string query parameter, or None."""
    value = request.query_params.get(name)
    if value is not None and len(value) > max_len:
        raise BadRequest(f"query parameter {name!r} is too long", parameter=name)
    return value


def query_int(
    request: Request, name: str, *, default: int | None, low: int, high: int
) -> int | None:
    """An integer query parameter within [low, high], or ``default`` when absent."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(
            f"query parameter {name!r} must be an integer, not {raw[:50]!r}", parameter=name
        ) from None
    if not low <= value <= high:
        raise BadRequest(
            f"query parameter {name!r} must be from {low} to {high}, not {value}",
            parameter=name,
        )
    return value
