"""One rooted exception tree for everything dialoghub refuses.

Every error keeps its context as attributes (which session, which state, which version), so
callers (and the HTTP server, which maps each class to a status code) never parse messages.
Every exception class of the package is defined here; the modules that raise one import it
from here and still export it under their own name (``dialoghub.server.errors.BadRequest``,
``dialoghub.model.templates.TemplateError``, ...). ``tests/test_error_tree.py`` walks every
module and fails on an exception class outside this tree or missing from this drawing::

    DialoghubError
    ├── ModelError                      a model cannot be loaded or used
    │   ├── ModelValidationError        one or more problems, each with file:line:column
    │   │   └── ModelTooComplex         the text is over a reading limit; ``limit`` names it
    │   ├── SourceError                 the text does not read cleanly (YAML/JSON, duplicates)
    │   │   └── SourceLimitError        the text is over a SourceLimits bound (size, depth)
    │   ├── ConditionError              a condition does not parse; ``column`` (a ValueError)
    │   ├── TemplateError               a template does not parse; ``column`` (a ValueError)
    │   ├── CodeUnitError               a Python code unit is malformed or unloadable (ValueError)
    │   ├── UnknownModel                no model with that id is loaded
    │   ├── ModelMismatch               a session refers to a state the loaded model lacks
    │   └── RecognizerUnavailable       the learned recognizer's library is not installed
    ├── SessionError
    │   ├── SessionNotFound
    │   │   └── RoundNotFound           the session has no agent round with this id
    │   ├── SessionExists
    │   └── SessionClosed               the session has ended or expired
    ├── InputError                      the session cannot take this input now
    │   ├── InvalidInput                malformed input (wrong type, empty, undeclared output)
    │   │   ├── FileRefused             a file for an agent's workspace: bad name, link, escape
    │   │   └── AudioInvalid            audio that cannot be read as declared (rate, bytes, header)
    │   ├── UnexpectedInput             e.g. text while a command result is awaited
    │   ├── UnknownCommand              a command result whose id is not the awaited one
    │   ├── NoMatch                     text matches no intent and the model has no handler
    │   └── DecisionRefused             an answer the open decision round cannot take
    │       ├── StaleRound              for an old, unknown or parked round (a late vote)
    │       ├── NotSolicited            from a specialist not asked, or that answered already
    │       ├── LateAnswer              after its solicitation's deadline
    │       ├── UnknownTransition       a transition the decided state does not take
    │       └── UnknownProposal         a vote naming proposals the round lacks
    ├── ConflictError                   retrying may succeed
    │   ├── VersionConflict             expected_version is stale
    │   ├── IdempotencyKeyReused        same key, different request
    │   ├── StaleToken                  a session token names an older version of the session
    │   ├── RoundBusy                   the session runs an agent round; one at a time
    │   └── LockHeld                    a client's session lock is held permanently elsewhere
    ├── StoreError                      the storage backend failed (wraps the driver error)
    │   ├── StoreConfigError            bad URL, unknown scheme, missing driver
    │   ├── StoreCorrupt                stored data cannot be read back
    │   │   ├── LogCorrupt              a json store's log line (not the last) does not parse
    │   │   └── EntryError              a json store's file entry describes no session
    │   ├── SchemaTooOld                the database is older: ``dialoghub store migrate``
    │   ├── SchemaTooNew                the database was upgraded by a newer dialoghub
    │   └── LogBroken                   a failed log append could not be cut back (an OSError)
    ├── HTTPError                       a refusal of the HTTP layer itself; ``status`` is its
    │   │                               HTTP status, ``headers`` go into the response
    │   ├── BadRequest                  400 unreadable request: JSON, types, fields, UTF-8
    │   ├── Unauthorized                401 no API key, an unknown or revoked one
    │   │   └── InvalidToken            401 a session token this server did not issue
    │   │       └── TokenExpired        401 a stateless token past its expiry time
    │   ├── Forbidden                   403 the key lacks the scope the route needs
    │   ├── NotFound                    404 no such route or resource
    │   ├── KeysDisabled                404 the key routes of a server running without keys
    │   ├── BodyTimeout                 408 the body did not arrive in time (slow client)
    │   ├── PayloadTooLarge             413 a body, a text or a token over its limit
    │   │   ├── TokenTooLarge           413 a stateless session grew past the token bound
    │   │   ├── AudioTooLong            413 an audio stream over its duration or byte bound
    │   │   └── FileTooLarge            413 a file over the workspace's per-file or session bound
    │   ├── RateLimited                 429 the key is over its rate; ``retry_after`` seconds
    │   │   └── AuthRateLimited         429 too many failed key attempts from one address
    │   ├── RequestTimeout              504 the request outlasted the request timeout
    │   ├── VoiceUnavailable            503 a speech engine (or SoX) is not installed here
    │   └── FilesUnavailable            409 files sent to a server that keeps none (no workspace)
    ├── AgentError                      inside an agent round (a round records it, never raises)
    │   ├── PluginFailed                a plugin raised or answered what cannot be kept
    │   ├── PlannerError                the planner (an LLM endpoint) failed or answered nonsense
    │   └── RoundCancelled              the round was stopped on request, after its current step
    ├── SpecialistFailed                a decision specialist could not answer (endpoint, reply)
    │   └── InvalidAnswer               its reply is no valid proposal or vote (recorded, retried)
    ├── RoutingError                    client routing (issue 12): a bad client frame or bus
    │   └── BusError                    the routing bus (Redis, NATS) failed or its URL is wrong
    ├── SettingsError                   a server setting is wrong or its config file unreadable
    ├── GraphvizMissing                 Graphviz's ``dot`` is not installed: no SVG diagram
    └── APIError                        (the client) the server refused a request; ``status``,
                                        ``code``, ``message`` and ``details`` as it sent them

Where a class also derives from a built-in (``ValueError``, ``OSError``) it is because callers
catch it as one; the second base is noted above.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "APIError",
    "AgentError",
    "AudioInvalid",
    "AudioTooLong",
    "AuthRateLimited",
    "BadRequest",
    "BodyTimeout",
    "BusError",
    "CodeUnitError",
    "ConditionError",
    "ConflictError",
    "DecisionRefused",
    "DialoghubError",
    "EntryError",
    "FileRefused",
    "FileTooLarge",
    "FilesUnavailable",
    "Forbidden",
    "GraphvizMissing",
    "HTTPError",
    "IdempotencyKeyReused",
    "InputError",
    "InvalidAnswer",
    "InvalidInput",
    "InvalidToken",
    "KeysDisabled",
    "LateAnswer",
    "LockHeld",
    "LogBroken",
    "LogCorrupt",
    "ModelError",
    "ModelMismatch",
    "ModelTooComplex",
    "ModelValidationError",
    "NoMatch",
    "NotFound",
    "NotSolicited",
    "PayloadTooLarge",
    "PlannerError",
    "PluginFailed",
    "Problem",
    "RateLimited",
    "RecognizerUnavailable",
    "RequestTimeout",
    "RoundBusy",
    "RoundCancelled",
    "RoundNotFound",
    "RoutingError",
    "SchemaTooNew",
    "SchemaTooOld",
    "SessionClosed",
    "SessionError",
    "SessionExists",
    "SessionNotFound",
    "SettingsError",
    "SourceError",
    "SourceLimitError",
    "SpecialistFailed",
    "StaleRound",
    "StaleToken",
    "StoreConfigError",
    "StoreCorrupt",
    "StoreError",
    "TemplateError",
    "TokenExpired",
    "TokenTooLarge",
    "Unauthorized",
    "UnexpectedInput",
    "UnknownCommand",
    "UnknownModel",
    "UnknownProposal",
    "UnknownTransition",
    "VersionConflict",
    "VoiceUnavailable",
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


class ModelTooComplex(ModelValidationError):
    """The model's text is over a reading limit (size, depth, aliases; see docs/models.md).

    Its one problem says which limit and where; ``limit`` names it.
    """

    code = "model_too_complex"

    def __init__(self, problem: Problem, limit: str) -> None:
        super().__init__([problem])
        self.limit = limit


class SourceError(ModelError):
    """The file cannot be read cleanly; carries the problems found.

    ``located`` is the data that could still be read (duplicate keys dropped) when the text
    parsed but had problems, so a caller can go on checking it and report everything at once;
    None when the text could not be parsed at all. (It is a
    :class:`dialoghub.model.source.Located`, typed ``Any`` here so that this module imports
    nothing of dialoghub.) The loader turns it into :class:`ModelValidationError`.
    """

    code = "model_unreadable"

    def __init__(self, problems: list[Problem], located: Any = None) -> None:
        super().__init__("; ".join(str(p) for p in problems), problems=[str(p) for p in problems])
        self.problems = problems
        self.located = located


class SourceLimitError(SourceError):
    """The text is over one of the ``SourceLimits`` (too big, too deep, too many aliases).

    Not a mistake in a model but a refusal to do the work: the loader turns it into
    :class:`ModelTooComplex`.
    """

    code = "model_over_limit"

    def __init__(self, problem: Problem, limit: str) -> None:
        super().__init__([problem])
        self.limit = limit
        self.details["limit"] = limit


class ConditionError(ModelError, ValueError):
    """A condition cannot be parsed; ``column`` is 0-based within the condition text."""

    code = "condition_invalid"

    def __init__(self, message: str, column: int) -> None:
        super().__init__(message, column=column)
        self.column = column


class TemplateError(ModelError, ValueError):
    """A template cannot be parsed; ``column`` is 0-based within the template text."""

    code = "template_invalid"

    def __init__(self, message: str, column: int) -> None:
        super().__init__(message, column=column)
        self.column = column


class CodeUnitError(ModelError, ValueError):
    """A code unit cannot be loaded or is malformed."""

    code = "code_unit_invalid"


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


class RecognizerUnavailable(ModelError):
    """A model asks for the learned recognizer but python-crfsuite is not installed.

    ``recognizer`` names the recognizer asked for.
    """

    code = "recognizer_unavailable"


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


class RoundNotFound(SessionNotFound):
    """The session has no agent round with this id (404)."""

    code = "round_not_found"

    def __init__(self, session_id: str, round_id: str) -> None:
        SessionError.__init__(self, f"session {session_id!r} has no round {round_id!r}",
                              session_id, round_id=round_id)
        self.round_id = round_id


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


class AudioInvalid(InvalidInput):
    """Audio that cannot be read as the client declared it: a sample rate out of range or
    disagreeing with the WAV header, an odd byte count, a header that is not WAVE, FLAC that
    does not decode, a frame that is not part of the voice protocol."""

    code = "audio_invalid"


class DecisionRefused(InputError):
    """A decision answer (proposal, vote, override) the session's open round cannot take;
    the update writes nothing. ``round`` (and ``specialist``) say which."""

    code = "decision_refused"


class StaleRound(DecisionRefused):
    """The answer names a round that is not the open one (closed, unknown, or parked)."""

    code = "stale_round"


class NotSolicited(DecisionRefused):
    """The specialist is not part of the round, was not asked for this, or answered already."""

    code = "not_solicited"


class LateAnswer(DecisionRefused):
    """The answer came after its solicitation's deadline."""

    code = "late_answer"


class UnknownTransition(DecisionRefused):
    """A proposal or override names a transition the decided state does not take."""

    code = "unknown_transition"


class UnknownProposal(DecisionRefused):
    """A vote names a proposal the round does not have."""

    code = "unknown_proposal"


# --- conflicts --------------------------------------------------------------------------


class FileRefused(InvalidInput):
    """A file given to an agent round cannot go into the session's workspace: a name that
    would leave its folder (``..``, an absolute path), a link, no content (422)."""

    code = "file_refused"


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


class StaleToken(ConflictError):
    """The token names an older version of the session than the stored one."""

    code = "stale_token"


# --- storage ----------------------------------------------------------------------------


class RoundBusy(ConflictError):
    """The session is running an agent round and refuses another until it ends (409)."""

    code = "round_busy"


class StoreError(DialoghubError):
    """The storage backend failed; the driver's exception is the ``__cause__``."""

    code = "store_error"


class StoreConfigError(StoreError):
    """The store URL is wrong, or its driver is not installed."""

    code = "store_config"


class StoreCorrupt(StoreError):
    """Stored data cannot be decoded."""

    code = "store_corrupt"


class LogCorrupt(StoreCorrupt, ValueError):
    """A line other than the last one does not parse: the log is damaged, not torn."""

    code = "store_log_corrupt"

    def __init__(self, lineno: int, reason: str) -> None:
        super().__init__(f"line {lineno}: {reason}", lineno=lineno)
        self.lineno = lineno


class EntryError(StoreCorrupt, ValueError):
    """An entry of the file does not describe a session."""

    code = "store_entry_invalid"


class SchemaTooOld(StoreError):
    """The database has an older schema; ``dialoghub store migrate`` upgrades it."""

    code = "store_schema_old"


class SchemaTooNew(StoreError):
    """The database was upgraded by a newer dialoghub; this one must be upgraded too."""

    code = "store_schema_new"


class LogBroken(StoreError, OSError):
    """An append failed and the half-written bytes could not be cut off: the store must be
    reopened (which ignores a torn last line)."""

    code = "store_log_broken"


# --- the HTTP layer ---------------------------------------------------------------------


class HTTPError(DialoghubError):
    """A refusal of the HTTP layer itself; ``status`` is its HTTP status."""

    code = "http_error"
    status = 400
    headers: dict[str, str] = {}


class BadRequest(HTTPError):
    """The request cannot be read: malformed JSON, wrong types, unknown fields, bad UTF-8."""

    code = "bad_request"
    status = 400


class Unauthorized(HTTPError):
    """No API key, an unknown or revoked key, or a tampered session token."""

    code = "unauthorized"
    status = 401
    headers = {"WWW-Authenticate": 'Bearer realm="dialoghub"'}


class InvalidToken(Unauthorized):
    """The token was not issued by this server (tampered, truncated, unknown key)."""

    code = "invalid_token"


class TokenExpired(InvalidToken):
    """A stateless token past its expiry time."""

    code = "token_expired"


class Forbidden(HTTPError):
    """The key is valid but lacks the scope the route needs."""

    code = "forbidden"
    status = 403


class NotFound(HTTPError):
    """No such route or resource."""

    code = "not_found"
    status = 404


class KeysDisabled(HTTPError):
    """The server runs without API keys."""

    code = "keys_disabled"
    status = 404


class BodyTimeout(HTTPError):
    """The request body did not arrive within the request timeout (the client is slow)."""

    code = "body_timeout"
    status = 408
    headers = {"Connection": "close"}


class PayloadTooLarge(HTTPError):
    """The body, a text or a stateless token is over its limit."""

    code = "payload_too_large"
    status = 413


class TokenTooLarge(PayloadTooLarge):
    """A stateless session grew beyond the token size bound."""

    code = "token_too_large"


class AudioTooLong(PayloadTooLarge):
    """An audio stream went past its bound on duration or bytes (``limit`` names which)."""

    code = "audio_too_long"


class FileTooLarge(PayloadTooLarge):
    """A file over the workspace's per-file bound, or a session's files over its total."""

    code = "file_too_large"


class RateLimited(HTTPError):
    """The key sent more requests than its rate allows; retry after ``retry_after`` seconds."""

    code = "rate_limited"
    status = 429

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            f"too many requests for this API key; retry in {retry_after} s",
            retry_after=retry_after,
        )
        self.headers = {"Retry-After": str(retry_after)}


class AuthRateLimited(RateLimited):
    """Too many failed API key attempts from one client address."""

    def __init__(self, retry_after: int) -> None:
        HTTPError.__init__(
            self,
            f"too many failed API key attempts from this address; retry in {retry_after} s",
            retry_after=retry_after,
        )
        self.headers = {"Retry-After": str(retry_after)}


class RequestTimeout(HTTPError):
    """The request took longer than the server's request timeout."""

    code = "timeout"
    status = 504


class VoiceUnavailable(HTTPError):
    """A speech engine this request needs (pocketsphinx, espeak-ng, SoX, faster-whisper,
    piper) is not installed here; ``engine`` names it. Nothing downloads at run time."""

    code = "voice_unavailable"
    status = 503


class FilesUnavailable(HTTPError):
    """A message brought files to a server that keeps none (``serve`` without
    ``--workspace``)."""

    code = "files_unavailable"
    status = 409  # the server's set-up, not the request, is what conflicts


# --- agent rounds -----------------------------------------------------------------------


class AgentError(DialoghubError):
    """Something failed inside an agent round; the round records it as its error."""

    code = "agent_error"


class PluginFailed(AgentError):
    """A plugin raised, or answered something a round cannot keep; ``plugin`` names it."""

    code = "plugin_failed"


class PlannerError(AgentError):
    """The planner failed: its LLM endpoint is unreachable or answered nonsense."""

    code = "planner_error"


class RoundCancelled(AgentError):
    """The round was cancelled (``session.stop()``, a cancel request) after its current step."""

    code = "round_cancelled"


# --- set-up -----------------------------------------------------------------------------


class SpecialistFailed(DialoghubError):
    """A decision specialist could not answer: its endpoint failed or timed out, or its
    reply was unusable after the retries. ``specialist`` names it."""

    code = "specialist_failed"


class InvalidAnswer(SpecialistFailed):
    """A specialist's reply is no valid answer: the driver records it as an invalid
    proposal or vote and asks again, a bounded number of times."""

    code = "invalid_answer"


# --- client routing (issue 12) ----------------------------------------------------------


class LockHeld(ConflictError):
    """A client's client-wide session lock (read or assign) is held permanently by another
    session: release it there first (``set_session`` with ``release``)."""

    code = "lock_held"

    def __init__(self, client: str, kind: str, session_id: str) -> None:
        super().__init__(
            f"client {client!r} holds a permanent {kind} lock on session {session_id!r}; "
            "release it there first",
            client=client, kind=kind, session_id=session_id,
        )
        self.client = client
        self.kind = kind
        self.session_id = session_id


class RoutingError(DialoghubError):
    """The client routing refuses a client's request (a bad frame, an unknown command key)."""

    code = "routing_error"


class BusError(RoutingError):
    """The routing bus failed (Redis, NATS unreachable) or its URL names no adapter."""

    code = "bus_error"


class SettingsError(DialoghubError):
    """A setting has a wrong value or the config file cannot be read."""

    code = "settings_invalid"


class GraphvizMissing(DialoghubError):
    """Graphviz's ``dot`` program is not installed, so no SVG can be drawn."""

    code = "graphviz_missing"


# --- the client -------------------------------------------------------------------------


class APIError(DialoghubError):
    """The server refused a request; ``code`` and ``status`` say why."""

    def __init__(self, status: int, code: str, message: str, details: dict[str, Any]) -> None:
        super().__init__(message, **details)
        self.status = status
        self.code = code
