"""The blocking face of the agent: ``SyncAgentApp`` and the ``SyncAgentSession`` it returns.

Declared on :mod:`dialoghub.blocking` like :class:`dialoghub.SyncHub`: the async
:class:`~dialoghub.agent.app.AgentApp` runs on a loop in a background thread and each of its
coroutine methods has a blocking twin here, so there is one implementation only. An event
handler given to ``send_message`` is called on that loop's thread.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from dialoghub.agent.app import AgentApp, AgentSession
from dialoghub.agent.execute import Planner
from dialoghub.agent.live import KEEP
from dialoghub.agent.plugins import Plugins
from dialoghub.agent.workspace import Workspace
from dialoghub.blocking import BlockingFace, blocking, readonly
from dialoghub.hub import Hub

__all__ = ["SyncAgentApp", "SyncAgentSession"]


class SyncAgentSession(BlockingFace[AgentSession]):
    """The blocking face of an :class:`AgentSession`, on its app's loop."""

    def __init__(self, app: SyncAgentApp, session: AgentSession) -> None:
        super().__init__(lambda: session, portal=app._portal)
        self._app = app

    id: readonly[str] = readonly()
    tenant: readonly[str] = readonly()

    send_message = blocking(AgentSession.send_message)
    stop = blocking(AgentSession.stop)
    update_session_var = blocking(AgentSession.update_session_var)
    variables = blocking(AgentSession.variables)
    rounds = blocking(AgentSession.rounds)

    def close(self) -> None:
        """Stop the session (as :meth:`stop`)."""
        super().close()


class SyncAgentApp(BlockingFace[AgentApp]):
    """A blocking AgentApp: ``with SyncAgentApp("sqlite:///a.db", planner=p) as app:``."""

    def __init__(
        self,
        hub: Hub | str = "sqlite:///dialoghub.db",
        *,
        planner: Planner | None = None,
        plugins: Plugins | Mapping[str, Any] | None = None,
        workspace: str | Path | Workspace | None = None,
        busy: Literal["wait", "refuse"] = "wait",
        round_timeout: float = 300.0,
        keep_events: int = KEEP,
        shared_store: bool = False,
    ) -> None:
        build = functools.partial(
            AgentApp,
            hub,
            planner=planner,
            plugins=plugins,
            workspace=workspace,
            busy=busy,
            round_timeout=round_timeout,
            keep_events=keep_events,
            shared_store=shared_store,
        )
        super().__init__(build, name="dialoghub-agent")

    def close(self) -> None:
        """Close the app and stop its loop thread."""
        super().close()

    get_session = blocking(AgentApp.get_session, wrap=SyncAgentSession)
    send_message = blocking(AgentApp.send_message)
    cancel = blocking(AgentApp.cancel)
    stop = blocking(AgentApp.stop)
    rounds = blocking(AgentApp.rounds)
    get_round = blocking(AgentApp.get_round)
    update_session_var = blocking(AgentApp.update_session_var)
    delete_session = blocking(AgentApp.delete_session)
    purge = blocking(AgentApp.purge)
    recover = blocking(AgentApp.recover)
