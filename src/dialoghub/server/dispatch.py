"""The app's innermost ASGI layer: find the route of a request and call it, nothing more.

Starlette's default stack runs every request through two exception middlewares and then
tries each route's regular expression in turn. The routes of this app need neither: every
HTTP route is an :class:`~dialoghub.server.endpoint.Endpoint`, which turns any exception into
the one JSON error shape itself. So :class:`Dispatcher` replaces that stack: a path without
parameters is one dict lookup, a path with parameters is matched only against the routes with
the same number of segments. Unknown paths get the JSON 404, wrong methods the JSON 405 with
an ``Allow`` header, an unknown WebSocket path a 4404 close, a malformed ``{session_id}`` (the
Hub's rule) a 400 ``bad_request`` (on a WebSocket: the error frame and a 4400 close). The
routes themselves stay ordinary Starlette ``Route`` and ``WebSocketRoute`` objects
(``app.routes``, ``url_path_for`` and the OpenAPI test read them).
"""

from __future__ import annotations

import contextlib
import logging
import re
from typing import Any

import msgspec
from starlette.exceptions import HTTPException
from starlette.routing import BaseRoute, Route, Router, WebSocketRoute
from starlette.types import Receive, Scope, Send

from dialoghub.engine.values import check_session_id as _check_id
from dialoghub.errors import InvalidInput
from dialoghub.server.errors import BadRequest, error_body, error_response

__all__ = ["Dispatcher", "header", "route_path"]

log = logging.getLogger("dialoghub.server")

_PARAM = re.compile(r"{[^}]*}")
# (route, compiled path regex, convertors by parameter name)
_Dynamic = tuple[Route | WebSocketRoute, "re.Pattern[str]", dict[str, Any]]


def header(scope: Scope, name: bytes) -> str | None:
    """A request header's value (``name`` in lower case, as ASGI servers give them), without
    building Starlette's ``Headers``; the first one if it is repeated."""
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


def route_path(scope: Scope) -> str:
    """The path the routes see: ``path`` without the ``root_path`` a proxy mounts us under."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root) and path[len(root):len(root) + 1] in ("/", ""):
        return path[len(root):] or "/"
    return path


async def _refuse(
    kind: str, exc: BadRequest, scope: Scope, receive: Receive, send: Send
) -> None:
    """Answer ``exc`` before any route runs: the JSON error, or on a WebSocket the error
    frame and a ``4000 + status`` close, as the socket route refuses."""
    if kind == "http":
        await error_response(exc)(scope, receive, send)
        return
    await receive()  # websocket.connect
    await send({"type": "websocket.accept"})
    frame = {"type": "error", **msgspec.to_builtins(error_body(exc))}
    await send({"type": "websocket.send", "text": msgspec.json.encode(frame).decode()})
    await send({"type": "websocket.close", "code": 4000 + exc.status})


class Dispatcher:
    """Route ``http`` and ``websocket`` requests of ``router``; run its lifespan."""

    def __init__(self, router: Router) -> None:
        self.router = router
        self._static: dict[tuple[str, str], Route | WebSocketRoute] = {}
        self._dynamic: dict[tuple[str, int], list[_Dynamic]] = {}
        for route in router.routes:
            self._add(route)

    def _add(self, route: BaseRoute) -> None:
        if isinstance(route, Route):
            kind = "http"
        elif isinstance(route, WebSocketRoute):
            kind = "websocket"
        else:  # pragma: no cover - the app mounts nothing else
            raise TypeError(f"unsupported route {route!r}")
        if not _PARAM.search(route.path):
            self._static[(kind, route.path)] = route
            return
        entry = (route, route.path_regex, route.param_convertors)
        self._dynamic.setdefault((kind, route.path.count("/")), []).append(entry)

    def match(self, kind: str, path: str) -> tuple[Route | WebSocketRoute, dict[str, Any]] | None:
        """The route serving ``path`` and its converted path parameters, or None."""
        route = self._static.get((kind, path))
        if route is not None:
            return route, {}
        for candidate, regex, convertors in self._dynamic.get((kind, path.count("/")), ()):
            found = regex.match(path)
            if found is not None:
                params = {k: convertors[k].convert(v) for k, v in found.groupdict().items()}
                return candidate, params
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await self.router.lifespan(scope, receive, send)
            return
        found = self.match(kind, route_path(scope))
        if found is None:
            if kind == "websocket":
                await send({"type": "websocket.close", "code": 4404, "reason": "no such route"})
                return
            await error_response(HTTPException(404))(scope, receive, send)
            return
        route, params = found
        if kind == "http" and isinstance(route, Route) and route.methods is not None \
                and scope["method"] not in route.methods:
            allow = ", ".join(sorted(route.methods))
            await error_response(HTTPException(405, headers={"Allow": allow}))(
                scope, receive, send
            )
            return
        sid = params.get("session_id")
        if sid is not None:
            try:
                _check_id(sid)
            except InvalidInput as exc:  # a malformed path id is a malformed request: 400
                await _refuse(kind, BadRequest(exc.message, **exc.details), scope, receive, send)
                return
        scope["path_params"] = params
        try:
            await route.app(scope, receive, send)
        except Exception as exc:  # endpoints answer their own errors; this is a last resort
            if kind != "http":
                raise
            log.error("unhandled error on %s", scope.get("path"), exc_info=exc)
            with contextlib.suppress(Exception):  # the response may have started already
                await error_response(exc)(scope, receive, send)
