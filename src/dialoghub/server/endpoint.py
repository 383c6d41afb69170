"""The wrapper every HTTP route goes through, and helpers to read requests.

:func:`endpoint` turns ``async def route(service, request, principal) -> Response`` into a
Starlette endpoint that authenticates the caller and checks the route's scope, applies the
per-key rate limit and the request timeout, turns every exception into the one JSON error
shape, and records the request's metrics. Doing this in a wrapper rather than in ASGI
middleware keeps the per-request cost to a few function calls.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from dialoghub.errors import StoreError
from dialoghub.server.auth import Principal
from dialoghub.server.errors import BadRequest, RequestTimeout, error_response
from dialoghub.server.limits import read_body
from dialoghub.server.schemas import decode
from dialoghub.server.service import Service

__all__ = [
    "JSONResponse",
    "body",
    "by_method",
    "endpoint",
    "optional_body",
    "query_int",
    "query_str",
    "service_of",
]

Route = Callable[[Service, Request, Principal], Awaitable[Response]]
_encode = msgspec.json.Encoder().encode


class JSONResponse(Response):
    """A response whose content is encoded by msgspec (structs, lists, dicts)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        """Encode ``content`` as JSON."""
        return _encode(content)


def by_method(**handlers: Callable[[Request], Any]) -> Callable[[Request], Any]:
    """One endpoint for a path whose methods have separate handlers, so a wrong method gets
    a 405 whose ``Allow`` lists every method of the path."""

    async def dispatch(request: Request) -> Any:
        return await handlers[request.method](request)

    return dispatch


def service_of(request: Any) -> Service:
    """The app's :class:`Service`."""
    service: Service = request.app.state.service
    return service


def endpoint(
    route: str, scope: str | None, *, query: tuple[str, ...] = ()
) -> Callable[[Route], Callable[[Request], Any]]:
    """Wrap a route: ``scope`` None means no API key is needed (health, docs, metrics);
    ``query`` names the query parameters it takes (any other one is a 400)."""
    allowed = frozenset(query)

    def wrap(fn: Route) -> Callable[[Request], Any]:
        @functools.wraps(fn)
        async def handler(request: Request) -> Response:
            service = service_of(request)
            started = time.perf_counter()
            try:
                if scope is None:
                    principal = Principal("-", "-", frozenset())
                else:
                    principal = await service.auth.authenticate(
                        request.headers.get("authorization")
                    )
                    principal.require(scope)
                    service.limiter.hit(principal.key_id)
                if request.url.query:
                    unknown = set(request.query_params.keys()) - allowed
                    if unknown:
                        raise BadRequest(
                            f"unknown query parameter(s) {sorted(unknown)}; this route takes "
                            f"{sorted(allowed) or 'none'}",
                            parameters=sorted(unknown),
                        )
                try:
                    async with asyncio.timeout(service.settings.request_timeout):
                        response = await fn(service, request, principal)
                except TimeoutError:
                    raise RequestTimeout(
                        f"the request took longer than {service.settings.request_timeout} s",
                        timeout=service.settings.request_timeout,
                    ) from None
            except Exception as exc:
                if isinstance(exc, StoreError):
                    service.metrics.store_errors.inc()
                response = error_response(exc)
            service.metrics.request(
                route, request.method, response.status_code, time.perf_counter() - started
            )
            return response

        return handler

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
