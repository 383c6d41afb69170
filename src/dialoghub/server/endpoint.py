"""The wrapper every HTTP route goes through, and helpers to read requests.

:func:`endpoint` turns ``async def route(service, request, principal) -> Answer`` into an
:class:`Endpoint`, a plain ASGI app that authenticates the caller and checks the route's
scope, applies the per-key rate limit and the request timeout, turns every exception into
the one JSON error shape, and records the request's metrics. Doing this in the endpoint
rather than in middleware (Starlette's ``BaseHTTPMiddleware`` costs a task and a stream per
request) keeps the per-request cost to a few function calls; see
:mod:`dialoghub.server.dispatch` for the routing.

The endpoint is also the one description of its route: the OpenAPI operation
(:mod:`dialoghub.server.openapi`) is generated from what it declares and nothing else. Its
summary is the handler's docstring; its answer is the handler's return annotation (a struct
is encoded as JSON with the declared ``status``, ``None`` is an empty answer, a
``Response`` is sent as it is and documented by ``produces``); its parameters are
:class:`Param` objects, which the handler reads them with too (``LIMIT.read(request)``);
its request body is a :class:`Body`, which :func:`body` decodes.
"""

from __future__ import annotations

import asyncio
import re
import time
import typing
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from dialoghub.errors import DialoghubError, StoreError
from dialoghub.server.auth import Principal
from dialoghub.server.dispatch import header
from dialoghub.server.errors import BadRequest, RequestTimeout, error_response
from dialoghub.server.limits import read_body
from dialoghub.server.schemas import decode
from dialoghub.server.service import Service

__all__ = [
    "Body",
    "Endpoint",
    "JSONResponse",
    "Param",
    "body",
    "by_method",
    "endpoint",
    "service_of",
]

#: A route's handler: its answer is a struct (JSON), None (empty) or a Response.
Handler = Callable[[Service, Request, Principal], Awaitable[Any]]
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


class Param:
    """A query, path or header parameter of a route: what the OpenAPI document says of it and
    how the route reads it, in one place.

    ``kind`` is ``int`` (within ``low``..``high``) or ``str`` (``min_len``..``max_len``
    characters, matching ``pattern`` (searched, as JSON Schema does), one of ``choices``).
    :meth:`read` enforces exactly what :meth:`schema` documents and raises ``error`` (a
    :class:`~dialoghub.server.errors.BadRequest` unless told) naming the parameter; a path
    parameter is read as the router matched it (``session_id`` is checked by the
    dispatcher with the Hub's rule, which ``pattern`` spells)."""

    __slots__ = (
        "_header",
        "_regex",
        "choices",
        "default",
        "description",
        "error",
        "high",
        "kind",
        "low",
        "max_len",
        "min_len",
        "name",
        "pattern",
        "where",
    )

    def __init__(
        self,
        name: str,
        where: Literal["query", "path", "header"],
        description: str,
        *,
        kind: type[int] | type[str] = str,
        low: int | None = None,
        high: int | None = None,
        min_len: int = 0,
        max_len: int | None = None,
        pattern: str | None = None,
        choices: tuple[str, ...] = (),
        default: Any = None,
        error: type[DialoghubError] = BadRequest,
    ) -> None:
        self.name, self.where, self.description = name, where, description
        self.kind, self.low, self.high = kind, low, high
        self.min_len, self.max_len, self.pattern, self.choices = min_len, max_len, pattern, choices
        self.default, self.error = default, error
        self._header = name.lower().encode("latin-1")
        self._regex = re.compile(pattern) if pattern is not None else None

    @classmethod
    def query(cls, name: str, description: str, **options: Any) -> Param:
        """A query parameter; a free string one is at most 500 characters unless told."""
        if options.get("kind", str) is str and not options.get("choices"):
            options.setdefault("max_len", 500)
        return cls(name, "query", description, **options)

    @classmethod
    def path(cls, name: str, description: str, **options: Any) -> Param:
        """A path parameter (always required)."""
        return cls(name, "path", description, **options)

    @classmethod
    def header(cls, name: str, description: str, **options: Any) -> Param:
        """A request header."""
        return cls(name, "header", description, **options)

    def schema(self) -> dict[str, Any]:
        """The parameter's JSON Schema."""
        if self.kind is int:
            out: dict[str, Any] = {"type": "integer"}
            if self.low is not None:
                out["minimum"] = self.low
            if self.high is not None:
                out["maximum"] = self.high
            return out
        out = {"type": "string"}
        if self.choices:
            out["enum"] = list(self.choices)
        if self.min_len:
            out["minLength"] = self.min_len
        if self.max_len is not None:
            out["maxLength"] = self.max_len
        if self.pattern is not None:
            out["pattern"] = self.pattern
        return out

    def openapi(self) -> dict[str, Any]:
        """The OpenAPI parameter object."""
        return {"name": self.name, "in": self.where, "required": self.where == "path",
                "schema": self.schema(), "description": self.description}

    def _label(self) -> str:
        return f"the {self.name} header" if self.where == "header" else \
            f"{self.where} parameter {self.name!r}"

    def _refuse(self, message: str) -> DialoghubError:
        return self.error(message, parameter=self.name)

    def read(self, request: Request) -> Any:
        """The parameter's value in ``request`` (``default`` when absent), checked."""
        if self.where == "path":
            return request.path_params[self.name]
        if self.where == "header":
            raw = header(request.scope, self._header)
        else:
            raw = request.query_params.get(self.name)
        if raw is None:  # an empty integer (?limit=) is not one: refused as the schema says
            return self.default
        if self.kind is int:
            return self._read_int(raw)
        n = len(raw)
        if n < self.min_len or (self.max_len is not None and n > self.max_len):
            if self.min_len:
                raise self._refuse(
                    f"{self._label()} must be {self.min_len} to {self.max_len} characters")
            raise self._refuse(
                f"{self._label()} is too long (at most {self.max_len} characters)")
        if self.choices and raw not in self.choices:
            *first, last = self.choices
            allowed = f"{', '.join(first)} or {last}" if first else last
            raise self._refuse(f"{self._label()} must be {allowed}, not {raw[:50]!r}")
        if self._regex is not None and self._regex.search(raw) is None:
            raise self._refuse(f"{self._label()} must match {self.pattern}, not {raw[:50]!r}")
        return raw

    def _read_int(self, raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise self._refuse(
                f"{self._label()} must be an integer, not {raw[:50]!r}") from None
        low = self.low if self.low is not None else value
        high = self.high if self.high is not None else value
        if not low <= value <= high:
            raise self._refuse(f"{self._label()} must be from {low} to {high}, not {value}")
        return value


@dataclass(frozen=True, slots=True)
class Body:
    """The request body a route takes: decoded into ``type`` (a msgspec type) by
    :func:`body`; ``type`` None is a body the route reads itself (documented by
    ``description``); an optional body may be left out entirely."""

    type: Any
    required: bool = True
    media_type: str = "application/json"
    description: str = ""


class Endpoint:
    """One HTTP route as a plain ASGI app: authenticate the caller and check the route's
    scope, apply the per-key rate limit and the request timeout, turn every exception into
    the one JSON error shape, record the request's metrics, send the response.

    What it declares (see :func:`endpoint`) is all the OpenAPI document says of it."""

    def __init__(
        self,
        fn: Handler,
        route: str,
        scope: str | None,
        query: frozenset[str] = frozenset(),
        *,
        params: Sequence[Param] = (),
        body: Body | type[Any] | None = None,
        status: int = 200,
        tag: str = "",
        operation_id: str | None = None,
        errors: tuple[int, ...] | None = None,
        produces: str | None = None,
        answer_doc: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        self.fn = fn
        self.route = route
        self.scope = scope
        self.params = tuple(params)
        self.query = query | {p.name for p in self.params if p.where == "query"}
        self.body = body if body is None or isinstance(body, Body) else Body(body)
        self.status = status
        self.tag = tag
        self.__name__ = getattr(fn, "__name__", route)
        self.__doc__ = fn.__doc__
        self.operation_id = operation_id or _camel(self.__name__)
        self.errors = errors
        self.produces = produces
        self.answer_doc = answer_doc
        self.extra = dict(extra or {})

    def answer_type(self) -> Any:
        """What the handler answers: its return annotation (``Any`` when it has none)."""
        hints = typing.get_type_hints(self.fn)
        return hints.get("return", Any)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        service = service_of(scope)
        started = time.perf_counter()
        scope["endpoint"] = self  # as Starlette's routing sets it; body() reads the declaration
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
                answer = await self.fn(service, request, principal)
            except asyncio.CancelledError:
                if deadlines.leave(task) and task.uncancel() == 0:
                    raise RequestTimeout(
                        f"the request took longer than {deadlines.timeout} s",
                        timeout=deadlines.timeout,
                    ) from None
                raise
            finally:
                deadlines.leave(task)
            if isinstance(answer, Response):
                response = answer
            elif answer is None:
                response = Response(status_code=self.status)
            else:
                response = JSONResponse(answer, status_code=self.status)
        except Exception as exc:
            if isinstance(exc, StoreError):
                service.metrics.store_errors.inc()
            response = error_response(exc)
        service.metrics.request(
            self.route, scope["method"], response.status_code, time.perf_counter() - started
        )
        await _respond(response, scope, receive, send)


def _camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(part.capitalize() for part in rest)


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
    route: str,
    scope: str | None,
    *,
    params: Sequence[Param] = (),
    body: Body | type[Any] | None = None,
    status: int = 200,
    tag: str = "",
    operation_id: str | None = None,
    errors: tuple[int, ...] | None = None,
    produces: str | None = None,
    answer_doc: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Callable[[Handler], Endpoint]:
    """Wrap a route and declare it.

    ``scope`` None means no API key is needed (health, docs, metrics). ``params`` are its
    query, path and header parameters (any other query parameter is a 400); ``body`` the
    request body it takes (a type or a :class:`Body`); ``status`` the status of its answer
    (the handler's return annotation);
    ``tag`` and ``operation_id`` (default: the handler's name in camelCase) group and name
    its operation; ``errors`` the error statuses it answers (default: every one the API has,
    or 400 and 404 without a scope); ``produces`` the media type of a handler answering a
    ``Response``, ``answer_doc`` what that answer is (default: the summary); ``extra``
    ``x-`` keys of the operation."""

    def wrap(fn: Handler) -> Endpoint:
        return Endpoint(fn, route, scope, params=params, body=body, status=status, tag=tag,
                        operation_id=operation_id, errors=errors, produces=produces,
                        answer_doc=answer_doc, extra=extra)

    return wrap


async def body(service: Service, request: Request, kind: type[Any] | None = None) -> Any:
    """Read (within the size limit) and decode the JSON body: into ``kind``, by default into
    the :class:`Body` the route declares (then None for a left-out optional body)."""
    raw = await read_body(request, service.settings.max_body_bytes)
    if kind is not None:
        return decode(raw, kind)
    declared: Body = request.scope["endpoint"].body
    if not declared.required and not raw.strip():
        return None
    return decode(raw, declared.type)
