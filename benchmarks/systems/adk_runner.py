"""The weather dialog on Google ADK's SQLite session services, in each durable configuration.

No LLM and no ``Runner``: a turn does what an ADK app's runner does with its session store.
It loads the session with ``get_session`` (as ``Runner.run_async`` does, with no config, so the
whole event list is read back), computes the reply with the shared deterministic logic of
:mod:`benchmarks.peers.common`, and appends **one** event per turn (as the issue specifies):
authored by the agent, carrying the reply as its content, the user's text in
``custom_metadata``, and the dialog memory as ``actions.state_delta``. A real ``Runner`` would
append at least two events (the user's message and the agent's reply), so this is the cheap end
of what ADK writes per turn.

The two SQLite session services ADK ships (``--service``):

- ``sqlite``: ``SqliteSessionService(path)`` (aiosqlite; what ``adk api_server
  --session_service_uri sqlite://...`` uses). It opens a new connection (and aiosqlite
  thread) for every call, sets only ``PRAGMA foreign_keys``: rollback journal, SQLite's default
  ``synchronous=FULL``, one commit per ``append_event``;
- ``database``: ``DatabaseSessionService("sqlite+aiosqlite:///...")`` (SQLAlchemy's async
  engine over aiosqlite, a connection pool), also rollback journal and ``synchronous=FULL``
  (its only PRAGMA is ``foreign_keys``), one commit per ``append_event``. The busy and pool
  timeouts are raised: see :data:`BUSY_TIMEOUT_S`.

And two ways of holding a session between turns (``--session``):

- ``reload``: ``get_session`` every turn, as ``Runner.run_async`` does;
- ``cached``: the ``Session`` returned by ``create_session`` is kept in memory and every turn
  appends to it (``append_event`` updates it and checks it is not stale against the stored
  update time). Only one process may then write a session, which holds here.

Every configuration is durable per turn: ``append_event`` returns after its commit.

Run: ``python -m benchmarks.systems.adk_runner --workload W1 [--service sqlite|database]
[--session reload|cached]``.
"""

from __future__ import annotations

import argparse
import uuid
from importlib.metadata import version
from pathlib import Path

from google.adk.events import Event, EventActions
from google.adk.sessions import BaseSessionService, DatabaseSessionService, Session
from google.adk.sessions.sqlite_session_service import SqliteSessionService
from google.genai import types

from benchmarks.peers.common import needs_lookup, respond, understand
from benchmarks.systems.harness import main
from benchmarks.workload import lookup_weather

__all__ = ["APP_NAME", "SERVICES", "SESSIONS", "AdkDriver"]

APP_NAME = "weather"
AUTHOR = "weather_agent"
#: ``--service`` values: the session service class each names.
SERVICES = {"sqlite": "SqliteSessionService", "database": "DatabaseSessionService"}
#: ``--session`` values.
SESSIONS = ("reload", "cached")
#: SQLite busy timeout and connection-pool timeout (s) of ``DatabaseSessionService``. With the
#: defaults (5 s and 30 s), W1's 1,000 concurrent sessions fail: "database is locked" (the
#: pool's connections contend for the one writer lock of a rollback-journal database) or
#: "QueuePool limit of size 5 overflow 10 reached". Waiting longer is what an app would
#: configure; nothing else is changed. ``SqliteSessionService`` takes no such options.
BUSY_TIMEOUT_S = 120.0


class AdkDriver:
    """Plays the weather dialog through an ADK session service, one user per session."""

    name = "adk"

    def __init__(self, service: str = "database", session: str = "reload") -> None:
        if service not in SERVICES or session not in SESSIONS:
            raise ValueError(f"unknown service {service!r} or session {session!r}")
        self._kind = service
        self._cached = session == "cached"
        self._service: BaseSessionService | None = None
        self._sessions: dict[str, Session] = {}

    async def open(self, directory: Path) -> None:
        """Open the session service on a SQLite file in ``directory`` and create its tables."""
        if self._kind == "sqlite":
            self._service = SqliteSessionService(str(directory / "sessions.db"))
            return  # it creates its tables on first use
        service = DatabaseSessionService(
            f"sqlite+aiosqlite:///{directory}/sessions.db",
            connect_args={"timeout": BUSY_TIMEOUT_S},
            pool_timeout=BUSY_TIMEOUT_S,
        )
        await service.prepare_tables()
        self._service = service

    async def create(self, session_id: str) -> None:
        """Create the session with an empty dialog memory (kept when ``cached``)."""
        assert self._service is not None, "open() first"
        session = await self._service.create_session(
            app_name=APP_NAME,
            user_id=session_id,
            session_id=session_id,
            state={"awaiting_city": False, "last_city": None},
        )
        if self._cached:
            self._sessions[session_id] = session

    async def _session(self, session_id: str) -> Session:
        """The session to append to: the cached one, or loaded whole as a Runner does."""
        if self._cached:
            return self._sessions[session_id]
        assert self._service is not None, "open() first"
        session = await self._service.get_session(
            app_name=APP_NAME, user_id=session_id, session_id=session_id
        )
        assert session is not None, f"session {session_id} vanished"
        return session

    async def turn(self, session_id: str, text: str) -> str:
        """Get the session, answer, append one event with the state delta."""
        assert self._service is not None, "open() first"
        session = await self._session(session_id)
        awaiting_city = bool(session.state.get("awaiting_city", False))
        heard = understand(text, awaiting_city=awaiting_city)
        forecast = lookup_weather(str(heard.city)) if needs_lookup(heard) else None
        outcome = respond(
            heard,
            forecast,
            awaiting_city=awaiting_city,
            last_city=session.state.get("last_city"),
        )
        event = Event(
            invocation_id=f"e-{uuid.uuid4().hex}",
            author=AUTHOR,
            content=types.Content(role="model", parts=[types.Part(text=outcome.reply)]),
            custom_metadata={"user_text": text},
            actions=EventActions(
                state_delta={"awaiting_city": outcome.awaiting_city, "last_city": outcome.last_city}
            ),
        )
        await self._service.append_event(session, event)
        return outcome.reply

    async def close(self) -> None:
        """Close the service (disposes of the engine; closes the SQLite service's connection)."""
        close = getattr(self._service, "close", None)
        if close is not None:
            await close()

    def store(self) -> str:
        """The session service and its SQLite settings."""
        return f"{SERVICES[self._kind]} sync=full"

    def config(self) -> str:
        """The configuration's name in the table: service, and how the session is held."""
        return f"{SERVICES[self._kind]} {'cached' if self._cached else 'reload'}"

    def durability(self) -> str:
        """How a turn is made durable (the journal mode is measured by the harness)."""
        return "sync=FULL, commit per event"

    def version(self) -> str:
        """Installed google-adk and SQLAlchemy versions."""
        return f"google-adk {version('google-adk')}, sqlalchemy {version('sqlalchemy')}"


def _run(argv: list[str] | None = None) -> None:
    """Take ``--service`` and ``--session`` off the command line; the harness parses the rest."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--service", choices=sorted(SERVICES), default="database")
    parser.add_argument("--session", choices=SESSIONS, default="reload")
    known, rest = parser.parse_known_args(argv)
    main(lambda: AdkDriver(known.service, known.session), rest)


if __name__ == "__main__":
    _run()
