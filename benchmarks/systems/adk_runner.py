"""The weather dialog on Google ADK's ``DatabaseSessionService``, on SQLite.

No LLM and no ``Runner``: a turn does what an ADK app's runner does with its session store.
It loads the session with ``get_session`` (as ``Runner.run_async`` does, with no config, so the
whole event list is read back), computes the reply with the shared deterministic logic of
:mod:`benchmarks.peers.common`, and appends **one** event per turn (as the issue specifies):
authored by the agent, carrying the reply as its content, the user's text in
``custom_metadata``, and the dialog memory as ``actions.state_delta``. A real ``Runner`` would
append at least two events (the user's message and the agent's reply), so this is the cheap end
of what ADK writes per turn.

The service is opened on ``sqlite+aiosqlite:///DIR/sessions.db`` with ADK's defaults (rollback
journal, ``synchronous=FULL``, SQLAlchemy's connection pool) except for longer busy and pool
timeouts: see :data:`BUSY_TIMEOUT_S`.

Run: ``python -m benchmarks.systems.adk_runner --workload W1``.
"""

from __future__ import annotations

import uuid
from importlib.metadata import version
from pathlib import Path

from google.adk.events import Event, EventActions
from google.adk.sessions import DatabaseSessionService
from google.genai import types

from benchmarks.peers.common import needs_lookup, respond, understand
from benchmarks.systems.harness import main
from benchmarks.workload import lookup_weather

__all__ = ["APP_NAME", "AdkDriver"]

APP_NAME = "weather"
AUTHOR = "weather_agent"
#: SQLite busy timeout and connection-pool timeout (s). With the defaults (5 s and 30 s), W1's
#: 1,000 concurrent sessions fail: "database is locked" (the pool's connections contend for the
#: one writer lock of a rollback-journal database) or "QueuePool limit of size 5 overflow 10
#: reached". Waiting longer is what an app would configure; nothing else is changed.
BUSY_TIMEOUT_S = 120.0


class AdkDriver:
    """Plays the weather dialog through ``DatabaseSessionService``, one user per session."""

    name = "adk"

    def __init__(self) -> None:
        self._service: DatabaseSessionService | None = None

    async def open(self, directory: Path) -> None:
        """Open the session service on a SQLite file in ``directory`` and create its tables."""
        self._service = DatabaseSessionService(
            f"sqlite+aiosqlite:///{directory}/sessions.db",
            connect_args={"timeout": BUSY_TIMEOUT_S},
            pool_timeout=BUSY_TIMEOUT_S,
        )
        await self._service.prepare_tables()

    async def create(self, session_id: str) -> None:
        """Create the session with an empty dialog memory."""
        assert self._service is not None, "open() first"
        await self._service.create_session(
            app_name=APP_NAME,
            user_id=session_id,
            session_id=session_id,
            state={"awaiting_city": False, "last_city": None},
        )

    async def turn(self, session_id: str, text: str) -> str:
        """Load the session, answer, append one event with the state delta."""
        assert self._service is not None, "open() first"
        session = await self._service.get_session(
            app_name=APP_NAME, user_id=session_id, session_id=session_id
        )
        assert session is not None, f"session {session_id} vanished"
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
        """Dispose of the SQLAlchemy engine."""
        if self._service is not None:
            await self._service.close()

    def store(self) -> str:
        """The session service and its SQLite settings."""
        return "DatabaseSessionService sync=full"

    def version(self) -> str:
        """Installed google-adk and SQLAlchemy versions."""
        return f"google-adk {version('google-adk')}, sqlalchemy {version('sqlalchemy')}"


if __name__ == "__main__":
    main(AdkDriver)
