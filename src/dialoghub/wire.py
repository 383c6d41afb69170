"""The wire: the JSON shapes the server and its clients exchange, as msgspec structs.

This module imports no server library (no Starlette, no prometheus, no cryptography), so
:mod:`dialoghub.client` reads the server's answers with the very structs the server encodes,
without importing the server. Decoding request bodies with the server's refusals (duplicate
keys, depth, BadRequest) is :func:`dialoghub.server.schemas.decode`.

Request structs refuse unknown fields. The engine's input records accept extra keys, so the
API decodes inputs into strict twins built here from the records themselves
(:data:`StrictInput`), then converts them to the real records; a new input type in
:mod:`dialoghub.engine.records` appears in the API and its OpenAPI document by itself.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

import msgspec

from dialoghub.engine.records import (
    ASR,
    Action,
    CommandAction,
    CommandResult,
    End,
    Event,
    EventInput,
    Input,
    Jump,
    Reply,
    Session,
    SetVariables,
    Text,
    Timeout,
)

__all__ = [
    "INPUT_TYPES",
    "SESSION_ID_PATTERN",
    "CreateKey",
    "CreateSession",
    "CreatedKey",
    "EndSession",
    "EventOut",
    "EventPage",
    "ForkOut",
    "ForkSession",
    "Health",
    "KeyList",
    "KeyOut",
    "ModelInfo",
    "ModelList",
    "ProblemOut",
    "SessionPage",
    "StatelessUpdate",
    "StrictInput",
    "UpdateSession",
    "ValidateResult",
    "VersionInfo",
    "ViewOut",
    "to_input",
]

#: The engine's input records, in the order the OpenAPI document lists them.
INPUT_TYPES: tuple[type[msgspec.Struct], ...] = (
    Text, ASR, CommandResult, Jump, SetVariables, Timeout, EventInput, End,
)


def _strict(cls: type[msgspec.Struct]) -> type[msgspec.Struct]:
    fields: list[Any] = []
    for f in msgspec.structs.fields(cls):
        if f.default is not msgspec.NODEFAULT:
            fields.append((f.name, f.type, f.default))
        elif f.default_factory is not msgspec.NODEFAULT:
            fields.append((f.name, f.type, msgspec.field(default_factory=f.default_factory)))
        else:
            fields.append((f.name, f.type))
    return msgspec.defstruct(
        f"{cls.__name__}Input" if not cls.__name__.endswith("Input") else cls.__name__,
        fields,
        tag=cls.__struct_config__.tag,
        kw_only=True,
        forbid_unknown_fields=True,
        module=__name__,
    )


_TWINS: dict[type[msgspec.Struct], type[msgspec.Struct]] = {
    _strict(cls): cls for cls in INPUT_TYPES
}
#: The tagged union of strict input structs: ``{"type": "text", "text": "hi"}``.
StrictInput: Any = Union[tuple(_TWINS)]  # noqa: UP007


def to_input(value: msgspec.Struct) -> Input:
    """The engine record for a decoded strict input."""
    real = _TWINS[type(value)]
    inp: Input = real(**msgspec.structs.asdict(value))  # type: ignore[assignment]
    return inp


class _Strict(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    pass


#: A session id as the Hub accepts it: 1 to 200 characters, no '/', '\\' or control ones,
#: and not '.' or '..' (a URL cannot name those: clients resolve them as path segments).
#: Written without a lookahead so every JSON Schema tool (and the API fuzzer) can use it.
SESSION_ID_PATTERN = (
    r"^(?:[^/\\\x00-\x1f\x7f]{3,}|[^./\\\x00-\x1f\x7f][^/\\\x00-\x1f\x7f]?"
    r"|\.[^./\\\x00-\x1f\x7f])$"
)
SessionId = Annotated[
    str, msgspec.Meta(min_length=1, max_length=200, pattern=SESSION_ID_PATTERN)
]


class CreateSession(_Strict):
    """``POST /v1/sessions``: start a session of ``model_id``."""

    model_id: Annotated[str, msgspec.Meta(min_length=1)] | None = None  # None: the default
    session_id: SessionId | None = None  # None: a random id
    metadata: dict[str, Any] | None = None  # fixed for the session's life
    params: dict[str, Any] | None = None
    token_mode: Literal["reference", "stateless"] | None = None  # None: the model's default


#: A session version as a request may name it: what the stores keep (0 to 2**63 - 1).
Version = Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]

UpdateSession: Any = msgspec.defstruct(
    "UpdateSession",
    [
        ("input", StrictInput),
        ("expected_version", Version | None, None),
        ("token", str | None, None),
    ],
    kw_only=True,
    forbid_unknown_fields=True,
    module=__name__,
)
UpdateSession.__doc__ = (
    "``POST /v1/sessions/{id}/inputs``: apply one input; refused if the session is not at "
    "``expected_version`` or if ``token`` is stale."
)

StatelessUpdate: Any = msgspec.defstruct(
    "StatelessUpdate",
    [("token", str), ("input", StrictInput)],
    kw_only=True,
    forbid_unknown_fields=True,
    module=__name__,
)
StatelessUpdate.__doc__ = "``POST /v1/stateless/inputs``: step the session sealed in ``token``."


class EndSession(_Strict):
    """``POST /v1/sessions/{id}/end``."""

    reason: str = "ended by request"
    expected_version: Version | None = None


class ForkSession(_Strict):
    """``POST /v1/sessions/{id}/fork``: a new session with the history up to event ``at``."""

    at: int | None = None  # sequence number; None: the latest event
    session_id: SessionId | None = None  # the new session's id; None: a random id


class ForkOut(msgspec.Struct, kw_only=True):
    """A new session forked from another: its snapshot, its token, and where it came from."""

    session: Session
    token: str
    forked_from: str
    at: int


class CreateKey(_Strict):
    """``POST /v1/keys``: a new API key of the caller's tenant."""

    scopes: Annotated[list[Literal["read", "write", "admin"]], msgspec.Meta(min_length=1)] = (
        msgspec.field(
            default_factory=lambda: ["write"]
        )
    )
    name: Annotated[str, msgspec.Meta(max_length=200)] = ""


class EventOut(msgspec.Struct, kw_only=True):
    """One event of a session's log."""

    seq: int
    version: int
    time: float
    type: str
    data: dict[str, Any] = {}

    @classmethod
    def of(cls, event: Event) -> EventOut:
        """The API form of a stored event."""
        return cls(
            seq=event.seq, version=event.version, time=event.time, type=event.type,
            data=event.data,
        )


class ViewOut(msgspec.Struct, kw_only=True):
    """What a create or an update answers: the session, the actions to carry out, the events
    appended, and the session token to send back next time."""

    session: Session
    actions: list[Action]
    events: list[EventOut]
    token: str
    token_mode: Literal["reference", "stateless"] = "reference"
    token_size: int = 0

    @property
    def id(self) -> str:
        """The session id."""
        return self.session.id

    @property
    def version(self) -> int:
        """The session version after this update."""
        return self.session.version

    @property
    def replies(self) -> list[str]:
        """The texts of this update's reply actions."""
        return [a.text for a in self.actions if isinstance(a, Reply)]

    @property
    def command(self) -> CommandAction | None:
        """The command the application must run now, if the update ends with one."""
        last = self.actions[-1] if self.actions else None
        return last if isinstance(last, CommandAction) else None

    @property
    def ended(self) -> bool:
        """True when the session takes no more input."""
        return self.session.ended


class SessionPage(msgspec.Struct, kw_only=True):
    """A page of sessions; pass ``next_cursor`` as ``cursor`` for the next one."""

    sessions: list[Session]
    next_cursor: str | None = None


class EventPage(msgspec.Struct, kw_only=True):
    """A page of events; pass ``next_after`` as ``after`` for the next one."""

    events: list[EventOut]
    next_after: int | None = None


class ModelInfo(msgspec.Struct, kw_only=True):
    """A loaded model, as the models routes describe it."""

    id: str
    version: str
    language: str
    sample_rate: int
    description: str = ""
    start: str = ""
    states: list[str] = []
    intents: list[str] = []
    commands: list[str] = []
    events: list[str] = []


class ModelList(msgspec.Struct, kw_only=True):
    """Every loaded model."""

    models: list[ModelInfo]


class ProblemOut(msgspec.Struct, kw_only=True):
    """One problem of a posted model, located in its text."""

    message: str
    file: str
    line: int
    column: int
    path: str


class ValidateResult(msgspec.Struct, kw_only=True):
    """``POST /v1/models/validate``: the model, or every problem it has."""

    valid: bool
    model: ModelInfo | None = None
    problems: list[ProblemOut] = []
    # What may read badly but does not stop the model (a reply that can show a blank), each
    # located like a problem; only a valid model has them.
    warnings: list[ProblemOut] = []


class KeyOut(msgspec.Struct, kw_only=True):
    """An API key as listed: never its secret."""

    key_id: str
    tenant: str
    scopes: list[str]
    name: str
    created_at: float
    revoked_at: float | None = None


class CreatedKey(KeyOut, kw_only=True):
    """A new API key: ``key`` is shown this once."""

    key: str


class KeyList(msgspec.Struct, kw_only=True):
    """The keys of a tenant."""

    keys: list[KeyOut]


class Health(msgspec.Struct, kw_only=True):
    """``/health``."""

    status: str = "ok"


class VersionInfo(msgspec.Struct, kw_only=True):
    """``/version``."""

    version: str
    api: str = "v1"
    models: int = 0
