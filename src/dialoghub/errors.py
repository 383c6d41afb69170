"""One rooted exception tree for everything dialoghub refuses.

Every error keeps its context as attributes (which session, which state, which version), so
callers (and the HTTP server, which maps each class to a status code) never parse messages::

    DialoghubError
    ├── ModelError                      a model cannot be loaded or used
    │   ├── ModelValidationError        one or more problems, each with file:line:column
    │   ├── UnknownModel                no model with that id is loaded
    │   └── ModelMismatch               a session refers to a state the loaded model lacks
    ├── SessionError
    │   ├── SessionNotFound
    │   ├── SessionExists
    │   └── SessionClosed               the session has ended or expired
    ├── InputError                      the session cannot take this input now
    │   ├── InvalidInput                malformed input (wrong type, empty, undeclared output)
    │   ├── UnexpectedInput             e.g. text while a command result is awaited
    │   ├── UnknownCommand              a command result whose id is not the awaited one
    │   └── NoMatch                     text matches no intent and the model has no handler
    ├── ConflictError                   retrying may succeed
    │   ├── VersionConflict             expected_version is stale
    │   └── IdempotencyKeyReused        same key, different request
    └── StoreError                      the storage backend failed (wraps the driver error)
        ├── StoreConfigError            bad URL, unknown scheme, missing driver
        └── StoreCorrupt                stored data cannot be read back
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ConflictError",
    "DialoghubError",
    "IdempotencyKeyReused",
    "InputError",
    "InvalidInput",
    "ModelError",
    "ModelMismatch",
    "ModelValidationError",
    "NoMatch",
    "Problem",
    "SessionClosed",
    "SessionError",
    "SessionExists",
    "SessionNotFound",
    "StoreConfigError",
    "StoreCorrupt",
    "StoreError",
    "UnexpectedInput",
    "UnknownCommand",
    "UnknownModel",
    "VersionConflict",
]


class DialoghubError(Exception):
    """Root of every error dialoghub raises on purpose."""

    #: A stable machine-readable code, used by the HTTP API's error body.
    code: str = "error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details

    def __str__(self) -> str:
        return self.message


# --- models -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a model, located in its source."""

    message: str
    file: str = "<model>"
    line: int = 0
    column: int = 0
    path: str = ""  # dotted path inside the document, e.g. "states.listen.on.greet"

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}" if self.line else self.file
        at = f" (at {self.path})" if self.path else ""
        return f"{where}: {self.message}{at}"


class ModelError(DialoghubError):
    """A model cannot be loaded or used."""

    code = "model_error"


class ModelValidationError(ModelError):
    """A model has one or more problems; all of them are in :attr:`problems`."""

    code = "model_invalid"

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        lines = "\n".join(str(p) for p in self.problems)
        count = len(self.problems)
        super().__init__(
            f"{count} problem{'s' if count != 1 else ''} in model:\n{lines}",
            problems=[str(p) for p in self.problems],
        )


class UnknownModel(ModelError):
    """No model with this id is loaded."""

    code = "unknown_model"

    def __init__(self, model_id: str, known: Sequence[str]) -> None:
        self.model_id = model_id
        hint = ", ".join(sorted(known)) or "none loaded"
        super().__init__(f"unknown model {model_id!r} (loaded: {hint})", model_id=model_id)


class ModelMismatch(ModelError):
    """A stored session points at something the loaded model does not have."""

    code = "model_mismatch"


# --- sessions ---------------------------------------------------------------------------


class SessionError(DialoghubError):
    """Something about a session as a whole."""

    code = "session_error"

    def __init__(self, message: str, session_id: str, **details: Any) -> None:
        super().__init__(message, session_id=session_id, **details)
        self.session_id = session_id


class SessionNotFound(SessionError):
    """No session with this id exists (for this tenant)."""

    code = "session_not_found"

    def __init__(self, session_id: str) -> None:
        super().__init__(f"session {session_id!r} not found", session_id)


class SessionExists(SessionError):
    """A session with this id already exists."""

    code = "session_exists"

    def __init__(self, session_id: str) -> None:
        super().__init__(f"session {session_id!r} already exists", session_id)


class SessionClosed(SessionError):
    """The session has ended or expired and takes no more input."""

    code = "session_closed"

    def __init__(self, session_id: str, status: str) -> None:
        super().__init__(
            f"session {session_id!r} is {status}; it takes no more input "
            "(create a new session or fork this one)",
            session_id,
            status=status,
        )
        self.status = status


# --- inputs -----------------------------------------------------------------------------


class InputError(DialoghubError):
    """The session cannot take this input in its current state."""

    code = "input_error"


class InvalidInput(InputError):
    """The input itself is malformed."""

    code = "invalid_input"


class UnexpectedInput(InputError):
    """The input is well formed but not what the session is waiting for."""

    code = "unexpected_input"


class UnknownCommand(InputError):
    """A command result names a command the session is not waiting for."""

    code = "unknown_command"


class NoMatch(InputError):
    """Text matched no intent allowed here and the model declares no ``no_match`` handler."""

    code = "no_match"


# --- conflicts --------------------------------------------------------------------------


class ConflictError(DialoghubError):
    """The request lost a race or repeats a different one; re-read and retry."""

    code = "conflict"


class VersionConflict(ConflictError):
    """The session's version is not the one the caller expected."""

    code = "version_conflict"

    def __init__(self, session_id: str, expected: int, actual: int | None) -> None:
        self.session_id = session_id
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"session {session_id!r} is at version {actual}, not {expected}; re-read it and retry",
            session_id=session_id,
            expected=expected,
            actual=actual,
        )


class IdempotencyKeyReused(ConflictError):
    """An idempotency key was reused with a different request body."""

    code = "idempotency_key_reused"

    def __init__(self, session_id: str, key: str) -> None:
        self.session_id = session_id
        self.key = key
        super().__init__(
            f"idempotency key {key!r} was already used on session {session_id!r} "
            "with a different request; use a new key for a new request",
            session_id=session_id,
            key=key,
        )


# --- storage ----------------------------------------------------------------------------


class StoreError(DialoghubError):
    """The storage backend failed; the driver's exception is the ``__cause__``."""

    code = "store_error"


class StoreConfigError(StoreError):
    """The store URL is wrong, or its driver is not installed."""

    code = "store_config"


class StoreCorrupt(StoreError):
    """Stored data cannot be decoded."""

    code = "store_corrupt"
