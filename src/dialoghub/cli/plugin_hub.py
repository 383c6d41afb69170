"""``dialoghub serve --plugins``: a Hub that answers command actions with plugin functions.

A server returns a command action to its client, which runs the command and posts the
result. With ``--plugins FILE`` the operator lets the server run the commands those functions
answer: every update (an HTTP input, a WebSocket message, a timer) and every session start
runs them before the answer goes out, so a client sees the weather reply in the answer to
its text, as ``dialoghub chat --plugins`` does. Commands no plugin answers still go to the
client. Each plugin result is one more update of the session (its own events, its own
version), exactly as if the client had posted it; a plain function runs in a worker thread,
off the event loop.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Mapping
from typing import Any

from dialoghub.agent import call_plugin
from dialoghub.engine.records import CommandResult, Input
from dialoghub.hub import Hub, SessionView

__all__ = ["MAX_COMMANDS", "PluginHub"]

#: Plugin commands answered for one update before giving up (a model looping on commands).
MAX_COMMANDS = 100


def _off_loop(fn: Any) -> Any:
    """``fn`` as a coroutine function: a plain function runs in a worker thread."""
    if inspect.iscoroutinefunction(fn):
        return fn

    async def threaded(**params: Any) -> Any:
        return await asyncio.to_thread(fn, **params)

    return threaded


class PluginHub(Hub):
    """A :class:`~dialoghub.hub.Hub` whose updates run the plugin commands they lead to."""

    def __init__(self, store: Any, *, plugins: Mapping[str, Any], **options: Any) -> None:
        super().__init__(store, **options)
        self.plugins = {name: _off_loop(fn) for name, fn in plugins.items()}

    async def create_session(self, *args: Any, **kw: Any) -> SessionView:
        view = await super().create_session(*args, **kw)
        return await self._settle(view, kw.get("tenant", "default"))

    async def update(
        self, session_id: str, inp: Input, *, tenant: str = "default", **kw: Any
    ) -> SessionView:
        view = await super().update(session_id, inp, tenant=tenant, **kw)
        return await self._settle(view, tenant)

    async def _settle(self, view: SessionView, tenant: str) -> SessionView:
        """Answer plugin commands until the session waits for something else; the view of
        them all (every reply in order, the events of every update)."""
        first = view
        actions, events = list(view.actions), list(view.events)
        for _ in range(MAX_COMMANDS):
            command = view.command
            if command is None or command.id not in self.plugins:
                break
            outputs, error = await call_plugin(self.plugins[command.id], command)
            result = CommandResult(id=command.id, outputs=outputs, error=error)
            view = await super().update(view.id, result, tenant=tenant)
            actions = actions[:-1] + list(view.actions)  # the answered command is done
            events += view.events
        if view is first:
            return view
        return SessionView(session=view.session, actions=tuple(actions), events=tuple(events))
