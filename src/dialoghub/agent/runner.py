"""The Runner: one call per user message, with commands answered by plugins.

An application that does not want to handle command actions itself gives the Runner a
mapping of command ids to functions (a *plugin module*); the Runner sends the user's text,
then keeps answering command actions with those functions until the session waits for the
user again or ends, and returns everything the user should see as one view.

A plugin function takes the command's params as keyword arguments and returns its outputs as
a dict (sync or async). An exception it raises becomes the command's ``error``. A command no
plugin answers but the model declares with a ``webhook`` is POSTed to it
(:mod:`dialoghub.agent.webhook`).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from dialoghub.agent.imports import import_spec
from dialoghub.agent.webhook import WebhookClient
from dialoghub.engine.records import CommandAction
from dialoghub.errors import DialoghubError, InvalidInput
from dialoghub.hub import Hub
from dialoghub.hub.view import SessionView

__all__ = ["CommandFunction", "Runner", "call_plugin", "load_plugins"]

CommandFunction = Callable[..., Any]
#: Called for a command no plugin answers: (command action) -> outputs.
MissingHandler = Callable[[CommandAction], Awaitable[dict[str, Any]]]

#: A chain of command results longer than this means a model loops through commands.
MAX_COMMANDS_PER_ROUND = 50


def load_plugins(spec: str) -> dict[str, CommandFunction]:
    """Load a plugin module from a file path or a dotted module name.

    The module's ``COMMANDS`` mapping is used if it has one; otherwise every public function
    defined in the module, under its own name.
    """
    module = import_spec(spec, "plugin")
    commands = getattr(module, "COMMANDS", None)
    if commands is not None:
        if not isinstance(commands, Mapping):
            raise InvalidInput(f"COMMANDS in plugin module {spec!r} must be a mapping")
        return dict(commands)
    return {
        name: fn
        for name, fn in vars(module).items()
        if inspect.isfunction(fn) and not name.startswith("_") and fn.__module__ == module.__name__
    }


class Runner:
    """Drives sessions of a Hub, answering command actions with plugin functions."""

    def __init__(
        self,
        hub: Hub,
        commands: Mapping[str, CommandFunction] | None = None,
        *,
        on_missing: MissingHandler | None = None,
        webhooks: WebhookClient | None = None,
    ) -> None:
        self.hub = hub
        self.commands = dict(commands or {})
        self.on_missing = on_missing
        #: The pooled HTTP client of the model's webhooks (one per Runner unless shared).
        self.webhooks = webhooks if webhooks is not None else WebhookClient()

    async def aclose(self) -> None:
        """Release the webhook connections (the Hub is the caller's to close)."""
        await self.webhooks.aclose()

    async def __aenter__(self) -> Runner:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def start(self, model_id: str | None = None, **kw: Any) -> SessionView:
        """Create a session and run it to its first wait for the user."""
        return await self.settle(await self.hub.create_session(model_id, **kw))

    async def send(self, session_id: str, text: str, **kw: Any) -> SessionView:
        """Send the user's text; return every action up to the next wait for the user."""
        return await self.settle(await self.hub.process_text(session_id, text, **kw))

    async def settle(self, view: SessionView) -> SessionView:
        """Answer command actions until the session waits for the user or ends."""
        actions = list(view.actions)
        events = list(view.events)
        for _ in range(MAX_COMMANDS_PER_ROUND):
            command = view.command
            if command is None:
                break
            outputs, error = await self._run(command, view)
            view = await self.hub.process_command_result(
                view.id, command.id, outputs, error, tenant=view.session.tenant
            )
            actions = actions[:-1] + list(view.actions)  # drop the answered command action
            events += view.events
        else:
            raise DialoghubError(
                f"session {view.id!r} ran {MAX_COMMANDS_PER_ROUND} commands in one round; "
                "the model probably loops through commands"
            )
        return SessionView(session=view.session, actions=tuple(actions), events=tuple(events))

    async def _run(
        self, command: CommandAction, view: SessionView
    ) -> tuple[dict[str, Any], str | None]:
        fn = self.commands.get(command.id)
        if fn is None:  # a command the model fulfils by a webhook
            spec = self.hub.model(view.session.model_id).commands.get(command.id)
            if spec is not None and spec.webhook is not None:
                return await self.webhooks.call(
                    spec.webhook, command.id, command.params, spec.outputs
                )
        if fn is None:
            if self.on_missing is None:
                return {}, f"no plugin answers command {command.id!r}"
            try:
                return await self.on_missing(command), None
            except Exception as exc:
                return {}, str(exc) or type(exc).__name__
        return await call_plugin(fn, command)


async def call_plugin(
    fn: CommandFunction, command: CommandAction
) -> tuple[dict[str, Any], str | None]:
    """Run one plugin function for a command action: ``(outputs, None)``, or ``({}, error)``
    if it raised or returned something other than a dict (used by the Runner and by
    ``dialoghub chat --server --plugins``)."""
    try:
        result = fn(**command.params)
        if inspect.isawaitable(result):
            result = await result
    except Exception as exc:  # a plugin's failure is the command's error, not ours
        return {}, str(exc) or type(exc).__name__
    if result is None:
        return {}, None
    if not isinstance(result, dict):
        return {}, f"plugin for {command.id!r} returned {type(result).__name__}, not a dict"
    return result, None
