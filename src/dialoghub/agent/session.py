"""One agent session as the application holds it: what ``AgentApp.get_session`` returns.

An :class:`AgentSession` is a handle (the app, an id, a tenant), nothing more: everything it
does goes through its :class:`~dialoghub.agent.app.AgentApp` to the store, so a handle costs
nothing while the session is idle, and dropping it loses nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dialoghub.agent.events import EventHandler
from dialoghub.agent.rounds import Round

if TYPE_CHECKING:
    from dialoghub.agent.app import AgentApp

__all__ = ["AgentSession"]


class AgentSession:
    """One agent session of an :class:`AgentApp` (what ``get_session`` returns)."""

    def __init__(self, app: AgentApp, session_id: str, tenant: str = "default") -> None:
        self.app = app
        self.id = session_id
        self.tenant = tenant

    async def send_message(
        self,
        message: str,
        event_handler: EventHandler | None = None,
        files: list[Mapping[str, Any]] | None = None,
    ) -> Round:
        """Play one round: the events go to ``event_handler`` as they happen; the round
        comes back ended (a plugin's failure is a failed round, never an exception)."""
        return await self.app.send_message(
            self.id, message, tenant=self.tenant, event_handler=event_handler, files=files
        )

    async def stop(self) -> None:
        """Cancel the running round after its current step and release what it holds; the
        session stays stored and resumes with ``app.get_session(id)`` in any process."""
        await self.app.stop(self.id, tenant=self.tenant)

    async def update_session_var(self, variables: dict[str, Any]) -> None:
        """Set session variables that the plugins read through their context."""
        await self.app.update_session_var(self.id, variables, tenant=self.tenant)

    async def variables(self) -> dict[str, Any]:
        """The session's variables as stored."""
        session = await self.app.hub.get_session(self.id, tenant=self.tenant)
        return dict(session.unit_variables())

    async def rounds(self) -> list[Round]:
        """The session's recorded rounds, oldest first."""
        return await self.app.rounds(self.id, tenant=self.tenant)

    @property
    def workspace(self) -> Path | None:
        """The session's folder of files (None without a workspace)."""
        ws = self.app.workspace
        return ws.folder(self.tenant, self.id) if ws is not None else None

    async def __aenter__(self) -> AgentSession:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
