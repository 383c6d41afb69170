"""One JSON error shape for every error the server returns, and the HTTP status of each.

Every non-2xx response has the body ``{"code": str, "message": str, "details": object}``:
``code`` is stable and machine-readable, ``message`` says what went wrong and what to do,
``details`` carries the error's context (session id, versions, ...). Errors of the library
tree (:mod:`dialoghub.errors`) map to statuses through :data:`STATUS`, walked along the
class's MRO so a new subclass inherits its parent's status. The server's own refusals are
the :class:`HTTPError` branch of that tree, each with its own ``status`` (defined in
:mod:`dialoghub.errors` like every exception, and importable from here too). Nothing else
ever reaches a client: an unexpected exception becomes a 500 ``internal_error`` whose body
holds no trace, only a request id that the server log also prints.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

import msgspec
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket

from dialoghub import errors as e
from dialoghub.errors import (
    BadRequest,
    Forbidden,
    HTTPError,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    RequestTimeout,
    Unauthorized,
)

__all__ = [
    "STATUS",
    "BadRequest",
    "ErrorBody",
    "Forbidden",
    "HTTPError",
    "NotFound",
    "PayloadTooLarge",
    "RateLimited",
    "RequestTimeout",
    "Unauthorized",
    "error_body",
    "error_response",
    "exception_handlers",
    "status_of",
]

log = logging.getLogger("dialoghub.server")


class ErrorBody(msgspec.Struct, kw_only=True):
    """The body of every error response."""

    code: str
    message: str
    details: dict[str, Any] = {}


#: Library error class -> HTTP status; the most specific class in the MRO wins.
STATUS: dict[type[BaseException], int] = {
    e.DialoghubError: 400,
    e.ModelError: 422,
    e.ModelValidationError: 422,
    e.UnknownModel: 404,
    e.ModelMismatch: 409,
    e.SessionError: 409,
    e.SessionNotFound: 404,
    e.SessionExists: 409,
    e.SessionClosed: 409,
    e.InputError: 422,
    e.InvalidInput: 422,
    e.ConflictError: 409,
    e.VersionConflict: 409,
    e.IdempotencyKeyReused: 409,
    e.StoreError: 503,
}


def status_of(exc: BaseException) -> int:
    """The HTTP status an exception maps to (500 for anything unexpected)."""
    if isinstance(exc, HTTPError):
        return exc.status
    for cls in type(exc).__mro__:
        status = STATUS.get(cls)
        if status is not None:
            return status
    return 500


def _jsonable(value: Any) -> Any:
    try:
        return msgspec.to_builtins(value, str_keys=True)
    except (TypeError, ValueError):
        return repr(value)


def error_body(exc: BaseException) -> ErrorBody:
    """The JSON body for ``exc``; an unexpected exception gets a generic one, logged."""
    if isinstance(exc, e.DialoghubError):
        details = {k: _jsonable(v) for k, v in exc.details.items()}
        return ErrorBody(code=exc.code, message=exc.message, details=details)
    if isinstance(exc, HTTPException):
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        message = {
            404: "no such route; the API lives under /v1 (see /openapi.json)",
            405: "method not allowed on this route (see /openapi.json)",
        }.get(exc.status_code, str(exc.detail))
        return ErrorBody(code=code, message=message, details={})
    request_id = uuid.uuid4().hex[:16]
    log.error("internal error %s", request_id, exc_info=exc)
    return ErrorBody(
        code="internal_error",
        message=f"internal server error; the server log has its trace under id {request_id}",
        details={"request_id": request_id},
    )


_encode = msgspec.json.Encoder().encode


def error_response(exc: BaseException) -> Response:
    """The JSON response for ``exc``."""
    if isinstance(exc, HTTPException):
        status = exc.status_code
        headers = dict(exc.headers or {})
    else:
        status = status_of(exc)
        headers = dict(getattr(exc, "headers", None) or {})
    return Response(
        _encode(error_body(exc)), status_code=status, media_type="application/json",
        headers=headers,
    )


async def _handle(request: Request | WebSocket, exc: Exception) -> Response:
    return error_response(exc)


#: Starlette ``exception_handlers``: every exception becomes the one error shape.
exception_handlers: dict[Any, Any] = {
    HTTPException: _handle,
    e.DialoghubError: _handle,
    Exception: _handle,
}
