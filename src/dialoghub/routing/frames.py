"""The frames of ``/v1/clients/ws``, the multi-session client socket (JSON text frames).

Shared by the server (:mod:`dialoghub.server.routes_clients`) and the provider library
(:mod:`dialoghub.provider`), so it imports nothing but msgspec: importing it loads no Hub
and no server library. Every frame is an object with a ``type``; a client's frame may carry
a ``request_id`` that the server's answer (``ok``, or ``error``) repeats.

A client sends first ``hello`` (its name, role, offered commands, concurrency, the last
mailbox ``seq`` it saw, locks to set), then any of: ``message`` (an input for a session;
without ``session_id`` it goes to the client's assigned session, else its current one, else
``Default``), ``result`` (a provider's answer to a ``command``), ``memory`` (get, set,
delete, increment), ``set_session`` (move to a session, set or release locks),
``new_session``, ``end_session``, ``watch``/``unwatch`` (observe a session), ``alarm``,
``ping``. The server sends ``welcome``, ``command`` (to a provider: run this for that
session, answer with the same ``key``), ``update`` (a session's actions, to its user
interfaces; its events too, to observers), ``ok``, ``error``, ``pong``. Every ``command``
and ``update`` carries ``seq``, its number in the client's mailbox: a client that
reconnects (to any server process) with ``hello.after`` gets what it missed.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

__all__ = [
    "ROLES",
    "ClientFrame",
    "CommandFrame",
    "Hello",
    "LockSpec",
    "UpdateFrame",
    "Welcome",
]

#: What a client is: a user interface (chat, GUI), an audio front end (both get a session's
#: replies), a command provider (runs commands), an observer (watches sessions).
ROLES = ("ui", "audio", "provider", "observer")
Role = Literal["ui", "audio", "provider", "observer"]


class LockSpec(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    """Galaxy's session lock flags (see :class:`dialoghub.engine.records.SetLock`)."""

    read: bool = False
    write: bool = False
    assign: bool = False
    permanent: bool = False


class Hello(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The first frame: who the client is."""

    type: Literal["hello"]
    name: str
    role: Role = "ui"
    commands: list[str] = []
    concurrency: int = 1
    after: int = 0  # the last mailbox seq it received (a reconnect)
    session_id: str | None = None  # its current session (locks below apply to it)
    lock: LockSpec | None = None
    request_id: str | None = None


class ClientFrame(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Any frame after ``hello``; which fields matter depends on ``type``."""

    type: str
    request_id: str | None = None
    session_id: str | None = None
    input: msgspec.Raw = msgspec.field(default_factory=msgspec.Raw)
    # result
    key: str | None = None
    outputs: dict[str, Any] = {}
    error: str | None = None
    # memory
    op: str | None = None
    value: Any = None
    expected: Any = None
    check: bool = False
    # set_session / new_session / end_session / alarm
    lock: LockSpec | None = None
    release: bool = False
    model_id: str | None = None
    reason: str | None = None
    name: str | None = None
    seconds: float | None = None


class Welcome(msgspec.Struct, kw_only=True, tag="welcome", tag_field="type"):
    """The answer to ``hello``."""

    name: str
    process: str
    session_id: str | None
    last_seq: int
    request_id: str | None = None


class CommandFrame(msgspec.Struct, kw_only=True, tag="command", tag_field="type"):
    """A command for a provider; answer with ``{"type": "result", "key": key, ...}``."""

    key: str
    session_id: str
    command: str
    params: dict[str, Any]
    deadline: float


class UpdateFrame(msgspec.Struct, kw_only=True, tag="update", tag_field="type"):
    """What a session did, for its user interfaces (``events`` for observers only)."""

    session_id: str
    version: int
    actions: list[Any]
    status: str
    events: list[Any] | None = None
