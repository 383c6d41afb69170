"""The OpenAPI 3.1 document of the API (``/openapi.json``; ``/docs`` renders it, see
:mod:`dialoghub.server.docs_page`).

Schemas come from the msgspec structs the routes decode and encode
(:func:`msgspec.json.schema_components`, JSON Schema 2020-12 as OpenAPI 3.1 expects), so the
document cannot drift from what the server does; the operations are listed here, one entry
per route, and a test checks that every route of the app is documented and vice versa.
"""

from __future__ import annotations

from typing import Any

import msgspec

from dialoghub.engine.records import Session
from dialoghub.server.errors import ErrorBody
from dialoghub.server.schemas import (
    SESSION_ID_PATTERN,
    CreatedKey,
    CreateKey,
    CreateSession,
    EndSession,
    EventPage,
    ForkOut,
    ForkSession,
    Health,
    KeyList,
    ModelInfo,
    ModelList,
    SessionPage,
    StatelessUpdate,
    UpdateSession,
    ValidateResult,
    VersionInfo,
    ViewOut,
)

__all__ = ["openapi_document"]

_TYPES: tuple[Any, ...] = (
    CreateSession, UpdateSession, StatelessUpdate, EndSession, ForkSession, CreateKey,
    ViewOut, Session, SessionPage, EventPage, ForkOut, ModelInfo, ModelList, ValidateResult,
    KeyList, CreatedKey, ErrorBody, Health, VersionInfo,
)

_ERRORS = {
    "400": "The request cannot be read (malformed JSON, wrong types, unknown fields).",
    "401": "No API key, an unknown or revoked key, or a tampered session token.",
    "403": "The API key lacks the scope this route needs.",
    "404": "No such session, model or key in the caller's tenant.",
    "409": "Conflict: stale version or token, existing id, ended session, reused key.",
    "413": "Body, text, variable count or stateless token over its limit.",
    "422": "The input is well formed but the session cannot take it now.",
    "429": "Rate limit of the API key; see Retry-After.",
    "503": "The store failed; retry later.",
    "504": "The request took longer than the server's request timeout.",
}
_PUBLIC_ERRORS = ("400", "404")


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(name: str) -> dict[str, Any]:
    return {"application/json": {"schema": _ref(name)}}


def _param(name: str, where: str, schema: dict[str, Any], desc: str, *,
           required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": where, "required": required or where == "path",
            "schema": schema, "description": desc}


_SID = _param("session_id", "path",
              {"type": "string", "minLength": 1, "maxLength": 200,
               "pattern": SESSION_ID_PATTERN},
              "The session id.")
_IDEM = _param("Idempotency-Key", "header", {"type": "string", "minLength": 1,
               "maxLength": 200}, "A retry with the same key gets the first answer.")


def _op(
    op_id: str,
    summary: str,
    ok: str,
    ok_schema: str | None,
    *,
    tag: str,
    body: str | dict[str, Any] | None = None,
    body_required: bool = True,
    params: list[dict[str, Any]] | None = None,
    public: bool = False,
    content_type: str = "application/json",
) -> dict[str, Any]:
    responses: dict[str, Any] = {
        ok: {"description": summary}
        | ({"content": _json(ok_schema)} if ok_schema else {})
    }
    codes = _PUBLIC_ERRORS if public else tuple(_ERRORS)
    for code in codes:
        responses[code] = {"description": _ERRORS[code], "content": _json("ErrorBody")}
    op: dict[str, Any] = {
        "operationId": op_id, "summary": summary, "tags": [tag], "responses": responses,
    }
    if params:
        op["parameters"] = params
    if body is not None:
        schema = _ref(body) if isinstance(body, str) else body
        op["requestBody"] = {"required": body_required,
                             "content": {content_type: {"schema": schema}}}
    if public:
        op["security"] = []
    return op


def _paths() -> dict[str, Any]:
    list_params = [
        _param("model", "query", {"type": "string"}, "Only sessions of this model."),
        _param("state", "query", {"type": "string"}, "Only sessions in this state."),
        _param("status", "query", {"type": "string", "enum": ["active", "ended", "expired"]},
               "Only sessions with this status."),
        _param("limit", "query", {"type": "integer", "minimum": 1, "maximum": 1000},
               "Page size (default 50)."),
        _param("cursor", "query", {"type": "string", "pattern": "^[A-Za-z0-9_=-]{0,200}$"},
               "next_cursor of the previous page."),
    ]
    seq = {"type": "integer", "minimum": 1, "maximum": 2**53}
    return {
        "/health": {"get": _op("health", "Liveness", "200", "Health", tag="system",
                               public=True)},
        "/version": {"get": _op("version", "Server version", "200", "VersionInfo",
                                tag="system", public=True)},
        "/metrics": {"get": {
            "operationId": "metrics", "summary": "Prometheus metrics", "tags": ["system"],
            "security": [],
            "responses": {"200": {"description": "Text exposition format",
                                  "content": {"text/plain": {"schema": {"type": "string"}}}}},
        }},
        "/v1/models": {"get": _op("listModels", "Loaded models", "200", "ModelList",
                                  tag="models")},
        "/v1/models/{model_id}": {"get": _op(
            "getModel", "One loaded model", "200", "ModelInfo", tag="models",
            params=[_param("model_id", "path", {"type": "string"}, "The model id.")])},
        "/v1/models/validate": {"post": _op(
            "validateModel", "Validate a model's YAML or JSON text", "200", "ValidateResult",
            tag="models", body={"description": "The model as YAML (or JSON) text."},
            content_type="application/yaml")},
        "/v1/sessions": {
            "post": _op("createSession", "Start a session", "201", "ViewOut", tag="sessions",
                        body="CreateSession", params=[_IDEM]),
            "get": _op("listSessions", "List sessions", "200", "SessionPage", tag="sessions",
                       params=list_params),
        },
        "/v1/sessions/{session_id}": {
            "get": _op("getSession", "A session, now or as of event `at`", "200", "Session",
                       tag="sessions",
                       params=[_SID, _param("at", "query", seq, "Read as of this event.")]),
            "delete": _op("deleteSession", "Delete a session and its history", "204", None,
                          tag="sessions", params=[_SID]),
        },
        "/v1/sessions/{session_id}/inputs": {"post": _op(
            "updateSession", "Apply one input", "200", "ViewOut", tag="sessions",
            body="UpdateSession", params=[_SID, _IDEM])},
        "/v1/sessions/{session_id}/end": {"post": _op(
            "endSession", "End a session", "200", "ViewOut", tag="sessions",
            body="EndSession", body_required=False, params=[_SID, _IDEM])},
        "/v1/sessions/{session_id}/events": {"get": _op(
            "listEvents", "A page of the session's events", "200", "EventPage",
            tag="sessions",
            params=[_SID,
                    _param("after", "query", {"type": "integer", "minimum": 0,
                                              "maximum": 2**53}, "Events after this seq."),
                    _param("limit", "query", {"type": "integer", "minimum": 1,
                                              "maximum": 10000}, "Page size (default 100).")])},
        "/v1/sessions/{session_id}/fork": {"post": _op(
            "forkSession", "Fork a session at an event", "201", "ForkOut", tag="sessions",
            body="ForkSession", body_required=False, params=[_SID])},
        "/v1/sessions/{session_id}/stream": {"get": {
            "operationId": "streamSession", "summary": "Server-sent events of a session",
            "tags": ["sessions"],
            "parameters": [_SID, _param("after", "query", {"type": "integer", "minimum": 0,
                                                           "maximum": 2**53},
                                        "Events after this seq.")],
            "responses": {
                "200": {"description": "An event stream",
                        "content": {"text/event-stream": {"schema": {"type": "string"}}}},
                **{c: {"description": _ERRORS[c], "content": _json("ErrorBody")}
                   for c in _ERRORS},
            },
            "x-websocket": "/v1/sessions/{session_id}/ws",
        }},
        "/v1/stateless/inputs": {"post": _op(
            "statelessInput", "Step a stateless session", "200", "ViewOut", tag="sessions",
            body="StatelessUpdate")},
        "/v1/keys": {
            "get": _op("listKeys", "The tenant's API keys", "200", "KeyList", tag="keys"),
            "post": _op("createKey", "Create an API key", "201", "CreatedKey", tag="keys",
                        body="CreateKey"),
        },
        "/v1/keys/{key_id}": {"delete": _op(
            "revokeKey", "Revoke an API key", "204", None, tag="keys",
            params=[_param("key_id", "path", {"type": "string"}, "The key id.")])},
    }


def openapi_document(version: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document of the server."""
    _, components = msgspec.json.schema_components(
        _TYPES, ref_template="#/components/schemas/{name}"
    )
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
        "paths": _paths(),
        "components": {
            "schemas": components,
            "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer"}},
        },
        "tags": [{"name": n} for n in ("sessions", "models", "keys", "system")],
    }
