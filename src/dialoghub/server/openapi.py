"""The OpenAPI 3.1 document of the API (``/openapi.json``; ``/docs`` renders it, see
:mod:`dialoghub.server.docs_page`), generated from the app's routes.

Every documented route is an :class:`~dialoghub.server.endpoint.Endpoint` (or a
:class:`~dialoghub.server.endpoint.by_method` of them), and its operation is made of what
the endpoint declares, nothing else: the summary is the handler's docstring, the answer the
handler's return annotation with the declared status, the parameters the
:class:`~dialoghub.server.endpoint.Param` objects the handler reads, the request body its
:class:`~dialoghub.server.endpoint.Body`, the security its scope. Schemas come from the
msgspec structs the routes decode and encode (:func:`msgspec.json.schema_components`, JSON
Schema 2020-12 as OpenAPI 3.1 expects). A route that declares too little (no docstring, no
answer type, a path or query parameter it does not describe) stops the document from being
built, so the document cannot drift from what the server does.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterable, Iterator
from typing import Any

import msgspec
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from dialoghub.server.endpoint import Endpoint, by_method
from dialoghub.server.errors import ErrorBody

__all__ = ["ERRORS", "endpoints", "openapi_document"]

#: What each error status of the API means (the operations list those they can answer).
ERRORS = {
    400: "The request cannot be read (malformed JSON, wrong types, unknown fields).",
    401: "No API key, an unknown or revoked key, or a tampered session token.",
    403: "The API key lacks the scope this route needs.",
    404: "No such session, model or key in the caller's tenant.",
    409: "Conflict: stale version or token, existing id, ended session, reused key.",
    413: "Body, text, variable count or stateless token over its limit.",
    422: "The input is well formed but the session cannot take it now.",
    429: "Rate limit of the API key; see Retry-After.",
    503: "The store failed; retry later.",
    504: "The request took longer than the server's request timeout.",
}
_PUBLIC_ERRORS = (400, 404)  # a route without a scope: a bad query parameter, no route
_PATH_PARAM = re.compile(r"{([^}:]+)(?::[^}]*)?}")
_REF = "#/components/schemas/{name}"



#: One server-sent event of a stream (its fields as the protocol names them; ``data`` is the
#: JSON text of the stream's pushes, described in docs/http.md).
_SSE_EVENT: dict[str, Any] = {
    "type": "object",
    "properties": {
        "event": {"type": "string"},
        "data": {"type": "string"},
        "id": {"type": "string"},
        "retry": {"type": "integer"},
    },
}

def endpoints(routes: Iterable[BaseRoute]) -> Iterator[tuple[str, str, Endpoint]]:
    """(path, method, endpoint) of every documented HTTP route; ValueError for a route that
    is not an :class:`Endpoint`, or one whose endpoint names another path."""
    for route in routes:
        if not isinstance(route, Route) or not route.include_in_schema:
            continue
        target = route.endpoint
        if isinstance(target, by_method):
            pairs: Iterable[tuple[str, Any]] = target.endpoints.items()
        else:
            pairs = [(m, target) for m in sorted(route.methods or ()) if m != "HEAD"]
        for method, ep in pairs:
            if not isinstance(ep, Endpoint):
                raise ValueError(f"{method} {route.path} is not an Endpoint, so it declares "
                                 "no operation; wrap it with @endpoint(...)")
            if ep.route != route.path:
                raise ValueError(f"{method} {route.path} serves the endpoint of {ep.route}")
            yield route.path, method.lower(), ep


def _is_response(kind: Any) -> bool:
    return isinstance(kind, type) and issubclass(kind, Response)


def _answer(where: str, ep: Endpoint) -> Any:
    """The JSON type the endpoint answers, None for no body or a Response."""
    kind = ep.answer_type()
    if kind is None or kind is type(None):
        return None
    if _is_response(kind):
        if ep.produces is None:
            raise ValueError(f"{where} answers a Response: declare the media type it "
                             "produces (@endpoint(produces=...))")
        return None
    if kind is Any:
        raise ValueError(f"{where}: its handler has no return annotation (its answer)")
    return kind


def _operation(path: str, method: str, ep: Endpoint, schemas: dict[Any, Any],
               error_schema: dict[str, Any]) -> dict[str, Any]:
    where = f"{method.upper()} {path}"
    doc = inspect.cleandoc(ep.__doc__ or "")
    if not doc:
        raise ValueError(f"{where}: its handler has no docstring (the operation's summary)")
    first, _, rest = doc.replace("``", "`").partition("\n\n")  # reST literals: Markdown
    summary = " ".join(first.split())
    declared = {p.name for p in ep.params if p.where == "path"}
    named = set(_PATH_PARAM.findall(path))
    if declared != named:
        raise ValueError(f"{where} declares path parameters {sorted(declared)}, its path "
                         f"has {sorted(named)}")
    undocumented = ep.query - {p.name for p in ep.params if p.where == "query"}
    if undocumented:
        raise ValueError(f"{where} takes query parameters it does not declare: "
                         f"{sorted(undocumented)}")
    ok: dict[str, Any] = {"description": ep.answer_doc or summary}
    answer = _answer(where, ep)
    if answer is not None:
        ok["content"] = {"application/json": {"schema": schemas[answer]}}
    elif ep.produces == "text/event-stream":
        ok["content"] = {ep.produces: {"schema": _SSE_EVENT}}
    elif ep.produces is not None:
        ok["content"] = {ep.produces: {"schema": {"type": "string"}}}
    responses: dict[str, Any] = {str(ep.status): ok}
    codes = ep.errors if ep.errors is not None else \
        (_PUBLIC_ERRORS if ep.scope is None else tuple(ERRORS))
    for code in codes:
        if code not in ERRORS:
            raise ValueError(f"{where} declares error status {code}, which the API lacks")
        responses[str(code)] = {"description": ERRORS[code],
                                "content": {"application/json": {"schema": error_schema}}}
    op: dict[str, Any] = {"operationId": ep.operation_id, "summary": summary}
    description = " ".join(rest.split())
    if ep.scope is not None:
        description += f"{' ' if description else ''}Needs an API key with the `{ep.scope}` " \
            "scope."
    if description:
        op["description"] = description
    if ep.tag:
        op["tags"] = [ep.tag]
    if ep.params:
        path_first = sorted(ep.params, key=lambda p: p.where != "path")
        op["parameters"] = [p.openapi() for p in path_first]
    if ep.body is not None:
        if ep.body.type is not None:
            schema = schemas[ep.body.type]
        else:
            schema = {"description": ep.body.description} if ep.body.description else {}
        request_body: dict[str, Any] = {"required": ep.body.required,
                                        "content": {ep.body.media_type: {"schema": schema}}}
        if ep.body.type is not None and ep.body.description:
            request_body["description"] = ep.body.description
        op["requestBody"] = request_body
    op["responses"] = responses
    op["security"] = [] if ep.scope is None else [{"apiKey": [ep.scope]}]
    op.update(ep.extra)
    return op


def openapi_document(version: str, routes: Iterable[BaseRoute]) -> dict[str, Any]:
    """The OpenAPI 3.1 document of a server with these routes (``app.routes``)."""
    found = list(endpoints(routes))
    types: list[Any] = [ErrorBody]
    for path, method, ep in found:
        answer = _answer(f"{method.upper()} {path}", ep)
        for kind in (ep.body.type if ep.body is not None else None, answer):
            if kind is not None and kind not in types:
                types.append(kind)
    refs, components = msgspec.json.schema_components(types, ref_template=_REF)
    schemas = dict(zip(types, refs, strict=True))
    paths: dict[str, dict[str, Any]] = {}
    tags: list[str] = []
    for path, method, ep in found:
        paths.setdefault(path, {})[method] = _operation(path, method, ep, schemas,
                                                        schemas[ErrorBody])
        if ep.tag and ep.tag not in tags:
            tags.append(ep.tag)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "dialoghub",
            "version": version,
            "description": "Durable sessions for dialogs, assistants and review workflows. "
            "Authenticate with `Authorization: Bearer <API key>`. The WebSocket of a "
            "session is at `/v1/sessions/{session_id}/ws` (see docs/http.md).",
        },
        "servers": [{"url": "/"}],
        "security": [{"apiKey": []}],
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer"}},
        },
        "tags": [{"name": t} for t in tags],
    }
