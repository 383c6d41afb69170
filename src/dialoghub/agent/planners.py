"""Planners that run offline: rules over the user's message, and the session's dialog model.

:class:`RulePlanner` tries its rules in order; the first whose pattern matches the message
plays the round (``async def rule(turn, match) -> reply``), calling plugins through the turn.
:class:`DialogPlanner` lets the session's model drive: the message goes to the model as the
user's text, each command action it asks for is answered by the plugin of that name, and its
replies, joined, are the final reply. (The LLM planner is :mod:`dialoghub.agent.llm`.)
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from dialoghub.agent.execute import Turn
from dialoghub.engine.records import CommandAction, EndAction, Reply
from dialoghub.errors import PluginFailed

if TYPE_CHECKING:
    from dialoghub.hub import Hub

__all__ = ["DialogPlanner", "Rule", "RulePlanner"]

#: A rule's body: (turn, the pattern's match) -> the reply.
Rule = Callable[[Turn, re.Match[str]], Awaitable[str]]

#: Command actions answered in one round before the model is taken to loop.
MAX_COMMANDS = 50


class RulePlanner:
    """Rules tried in order on the user's message; ``default`` answers when none matches."""

    def __init__(self, *, default: str = "Sorry, I cannot help with that.") -> None:
        self.default = default
        self._rules: list[tuple[re.Pattern[str], Rule]] = []

    def add(self, pattern: str, rule: Rule) -> None:
        """Add a rule: ``pattern`` is a regular expression searched case-insensitively."""
        self._rules.append((re.compile(pattern, re.IGNORECASE), rule))

    def rule(self, pattern: str) -> Callable[[Rule], Rule]:
        """Decorator form of :meth:`add`."""

        def wrap(fn: Rule) -> Rule:
            self.add(pattern, fn)
            return fn

        return wrap

    async def run(self, turn: Turn) -> str:
        """The reply of the first rule that matches, else ``default``."""
        for pattern, rule in self._rules:
            match = pattern.search(turn.message)
            if match is not None:
                return await rule(turn, match)
        return self.default


class DialogPlanner:
    """The session's dialog model plays the round; plugins answer its commands."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    async def run(self, turn: Turn) -> str:
        """Send the message as text; answer command actions; the replies are the answer."""
        view = await self.hub.process_text(turn.session_id, turn.message, tenant=turn.tenant)
        replies: list[str] = []
        for _ in range(MAX_COMMANDS):
            replies += [a.text for a in view.actions if isinstance(a, Reply)]
            command = view.command
            if command is None or any(isinstance(a, EndAction) for a in view.actions):
                break
            view = await self._answer(turn, command)
        else:
            raise PluginFailed(
                f"the model asked for {MAX_COMMANDS} commands in one round; it probably loops"
            )
        return " ".join(replies)

    async def _answer(self, turn: Turn, command: CommandAction) -> Any:
        try:
            outputs = await turn.call(command.id, dict(command.params))
        except PluginFailed as exc:
            # The model hears of the failure (it is not left waiting for the command), and
            # the round fails as any failing plugin fails it.
            await self.hub.process_command_result(
                turn.session_id, command.id, {}, str(exc), tenant=turn.tenant
            )
            raise
        if outputs is not None and not isinstance(outputs, dict):
            outputs = {"result": outputs}
        return await self.hub.process_command_result(
            turn.session_id, command.id, outputs or {}, None, tenant=turn.tenant
        )
