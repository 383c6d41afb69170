"""The terminal chat of ``dialoghub chat``, on a store (a Hub) or on a server (a Client).

What the person types is the user's text, or a slash command:

- ``/event NAME [json]``: send a named event (with its params), as a front end would;
- ``/state``, ``/vars``, ``/events [N]``: where the session is, its variables, its last events;
- ``/reset``: start a new session of the model; ``/help``; ``/quit`` (or ``quit``, Ctrl-D).

A command action the plugins do not answer is answered by the person: its outputs as JSON or
``key=value`` pairs, ``/error MESSAGE`` to answer it with an error, and the slash commands
above work there too (``/quit`` leaves the session waiting for the result; it resumes).

On a store the hub runs its timer service, so a question that times out is asked again in
the terminal (what the timers of ``dialoghub serve`` do for a server's sessions).
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

import click

from dialoghub.agent import call_plugin
from dialoghub.cli.common import scalar, show, when
from dialoghub.engine.records import CommandAction, CommandResult, EventInput, Input, Text
from dialoghub.errors import DialoghubError

__all__ = ["HELP", "Backend", "ChatLoop", "parse_outputs"]

HELP = """\
type what the user says, or:
  /event NAME [json]   send the event NAME (params as a JSON object)
  /state               where the session is
  /vars                the session's variables
  /events [N]          the last N events (default 10)
  /reset               start a new session of the model
  /help                this help
  /quit                leave (also: quit, exit, Ctrl-D)
at a command's outputs prompt: JSON or key=value pairs, or /error MESSAGE"""

#: Commands answered in one turn before the chat gives up (a model looping on commands).
MAX_COMMANDS = 100


class Backend(Protocol):
    """What the chat needs of a store or a server."""

    async def create(self, session_id: str | None) -> Any:
        """Start a session of the chat's model (``session_id`` None: a new id)."""
        ...

    async def update(self, session_id: str, inp: Input) -> Any:
        """Apply one input; the view of the update."""
        ...

    async def session(self, session_id: str) -> Any:
        """The stored session."""
        ...

    async def events(self, session_id: str, after: int, limit: int) -> list[Any]:
        """The session's events after ``after``."""
        ...


def parse_outputs(line: str) -> dict[str, Any] | None:
    """A command's outputs as typed: a JSON object or ``key=value`` pairs; None otherwise."""
    text = line.strip()
    if not text:
        return {}
    if text.startswith("{"):
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            return None
        return value if isinstance(value, dict) else None
    pairs = [p.split("=", 1) for p in text.split()]
    if all(len(p) == 2 and p[0] for p in pairs):
        return {k: scalar(v) for k, v in pairs}
    return None


class ChatLoop:
    """One terminal conversation: reads lines, sends them, prints what the session does."""

    def __init__(
        self,
        backend: Backend,
        functions: Mapping[str, Any],
        *,
        read: Callable[[str], Awaitable[str]] | None = None,
        echo: Callable[[str], None] = click.echo,
    ) -> None:
        self.backend = backend
        self.functions = functions
        self.read = read or _read_line
        self.echo = echo
        self.sid: str | None = None

    # --- the loop ---------------------------------------------------------------------------

    async def run(self, session_id: str | None, where: str) -> None:
        """Resume ``session_id`` when it is stored and open, else start one; then chat."""
        view = None
        existing = None
        if session_id is not None:
            try:
                existing = await self.backend.session(session_id)
            except DialoghubError:
                existing = None
        if existing is not None and not existing.ended:
            self.sid = existing.id
            self.echo(f"resuming session {existing.id} in state {existing.state}")
            if existing.last_response and existing.last_response.get("text"):
                self.echo(click.style("bot> ", fg="green") + existing.last_response["text"])
            aw = existing.awaiting or {}
            if aw.get("kind") == "command":
                view = _Pending(existing, CommandAction(id=aw["command"], params=aw["params"]))
        else:
            view = await self.backend.create(session_id if existing is None else None)
            self.sid = view.id
            self.echo(click.style(f"session {view.id} on {where} (/help for commands)", dim=True))
            show(view, self.echo)
        if view is not None and await self._settle(view):
            return
        while True:
            try:
                line = await self.read(click.style("you> ", fg="cyan"))
            except EOFError:
                self.echo("")
                return
            text = line.strip()
            if not text:
                continue
            if text.lower() in ("quit", "exit"):
                return
            if text.startswith("/"):
                if await self._slash(text, where):
                    return
                continue
            if await self._send(Text(text=line)):
                return

    async def _send(self, inp: Input) -> bool:
        """Send one input and answer its commands; True when the person asked to leave."""
        assert self.sid is not None
        try:
            view = await self.backend.update(self.sid, inp)
        except DialoghubError as exc:
            self.echo(click.style(f"error: {exc}", fg="red"))
            return False
        show(view, self.echo)
        return await self._settle(view)

    async def _settle(self, view: Any) -> bool:
        """Answer command actions (plugins, else the person) until the session waits for the
        user; True when the person asked to leave meanwhile."""
        for _ in range(MAX_COMMANDS):
            command = view.command
            if command is None:
                break
            fn = self.functions.get(command.id)
            if fn is not None:
                outputs, error = await call_plugin(fn, command)
            else:
                answer = await self._ask_outputs(command)
                if answer is None:
                    return True  # the session waits for the result: it resumes later
                outputs, error = answer
            assert self.sid is not None
            try:
                view = await self.backend.update(
                    self.sid, CommandResult(id=command.id, outputs=outputs, error=error)
                )
            except DialoghubError as exc:  # outputs the command does not declare: ask again
                self.echo(click.style(f"error: {exc}", fg="red"))
                continue
            show(view, self.echo)
        if view.ended:
            self.echo(click.style("(/reset starts a new session, /quit leaves)", dim=True))
        return False

    async def _ask_outputs(
        self, command: CommandAction
    ) -> tuple[dict[str, Any], str | None] | None:
        """The person's answer to a command: (outputs, error), or None to leave."""
        self.echo(
            click.style(f"[command {command.id} {json.dumps(command.params)}]", fg="yellow")
            + " type its outputs as JSON or key=value pairs (/error MESSAGE: it failed):"
        )
        while True:
            try:
                line = await self.read("outputs> ")
            except EOFError:
                return None
            text = line.strip()
            if text.lower() in ("quit", "exit", "/quit"):
                return None
            if text.startswith("/error"):
                return {}, text[len("/error") :].strip() or "failed"
            if text.startswith("/"):
                await self._slash(text, "", at_command=True)
                continue
            outputs = parse_outputs(text)
            if outputs is not None:
                return outputs, None
            self.echo("not a JSON object or key=value pairs; try again (/help)")

    # --- slash commands ---------------------------------------------------------------------

    async def _slash(self, text: str, where: str, *, at_command: bool = False) -> bool:
        """Run a slash command; True when the chat should end."""
        name, _, rest = text.partition(" ")
        rest = rest.strip()
        assert self.sid is not None
        try:
            if name == "/quit":
                return True
            if name == "/help":
                self.echo(HELP)
            elif name == "/state":
                s = await self.backend.session(self.sid)
                aw = s.awaiting or {}
                waits = aw.get("kind") or ("nothing" if s.ended else "an event or text")
                if waits == "command":
                    waits = f"the result of command {aw.get('command')}"
                self.echo(
                    f"session {s.id}: model {s.model_id} v{s.model_version}, unit "
                    f"{s.unit}, state {s.state}, {s.status.value}, version {s.version}, "
                    f"waiting for {waits}; updated {when(s.updated_at)} UTC"
                )
            elif name == "/vars":
                s = await self.backend.session(self.sid)
                self.echo(json.dumps(s.variables, indent=2, ensure_ascii=False, default=str))
            elif name == "/events":
                count = int(rest) if rest else 10
                if count < 1:
                    raise ValueError("N must be at least 1")
                s = await self.backend.session(self.sid)
                after = max(s.seq - count, 0)
                for e in await self.backend.events(self.sid, after, count):
                    self.echo(
                        f"{e.seq:>4} {when(e.time)} {e.type} "
                        + json.dumps(e.data, ensure_ascii=False, default=str)
                    )
            elif at_command:
                self.echo(f"{name} is not available at a command's prompt (/help)")
            elif name == "/event":
                return await self._event(rest)
            elif name == "/reset":
                view = await self.backend.create(None)
                self.sid = view.id
                self.echo(click.style(f"new session {view.id} on {where}", dim=True))
                show(view, self.echo)
                return await self._settle(view)
            else:
                self.echo(f"unknown command {name}; /help lists them")
        except DialoghubError as exc:
            self.echo(click.style(f"error: {exc}", fg="red"))
        except ValueError as exc:
            self.echo(click.style(f"error: {exc}", fg="red"))
        return False

    async def _event(self, rest: str) -> bool:
        if not rest:
            self.echo("usage: /event NAME [json params]")
            return False
        event, _, raw = rest.partition(" ")
        params = None
        if raw.strip():
            try:
                params = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise ValueError(f"the params are not JSON: {exc}") from None
            if not isinstance(params, dict):
                raise ValueError("the params must be a JSON object")
        return await self._send(EventInput(name=event, params=params))


class _Pending:
    """A resumed session waiting for a command result: what ``_settle`` needs of a view."""

    def __init__(self, session: Any, command: CommandAction) -> None:
        self.session = session
        self.command = command
        self.id = session.id

    @property
    def ended(self) -> bool:
        return bool(self.session.ended)


async def _read_line(prompt: str) -> str:
    # input() writes the prompt itself: no colour codes into a pipe or a file
    shown = prompt if sys.stdout.isatty() else click.unstyle(prompt)
    return await asyncio.to_thread(input, shown)
