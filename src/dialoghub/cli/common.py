"""What the command groups share: running a coroutine with errors as one clear message,
showing a session's actions, asking the person at the terminal for a command's outputs, and
the ``--server`` / ``--api-key`` options.

Every command module imports this one; this one imports no command module and none of the
server's dependencies.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

import click

from dialoghub.engine.records import CommandAction, EndAction, Reply, Transcribe
from dialoghub.errors import DialoghubError

if TYPE_CHECKING:
    from dialoghub.hub import SessionView

__all__ = [
    "SERVER_HELP",
    "STORE_HELP",
    "ask_outputs",
    "async_command",
    "fail",
    "run",
    "scalar",
    "server_options",
    "show",
]

T = TypeVar("T")

STORE_HELP = (
    "Where sessions live: sqlite:///file.db (default), memory://, postgresql://…, redis://…"
)
SERVER_HELP = "Talk to the dialoghub server at this URL instead of opening a store."


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro``; a refused input or invalid model becomes one message, exit status 1."""
    try:
        return asyncio.run(coro)
    except DialoghubError as exc:
        raise click.ClickException(str(exc)) from None


def async_command(fn: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Make an ``async def`` command callable by click (through :func:`run`)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        run(fn(*args, **kwargs))

    return wrapper


def fail(exc: Exception) -> click.ClickException:
    """Any error as one clear line and exit status 1."""
    return click.ClickException(str(exc))


def show(view: SessionView, echo: Callable[[str], None]) -> None:
    """Print the actions of one turn: replies, dictation prompts, the end of the session."""
    for action in view.actions:
        if isinstance(action, Reply):
            echo(click.style("bot> ", fg="green") + action.text)
        elif isinstance(action, Transcribe):
            echo(click.style(f"(dictation into {action.variable})", dim=True))
        elif isinstance(action, EndAction):
            echo(click.style(f"[session ended: {action.reason}]", dim=True))


async def ask_outputs(command: CommandAction) -> dict[str, Any]:
    """No plugin: the person at the terminal plays the command service."""
    click.echo(
        click.style(f"[command {command.id} {json.dumps(command.params)}]", fg="yellow")
        + " type its outputs as JSON or key=value pairs:"
    )
    while True:
        line = click.prompt("outputs", default="{}", show_default=False, err=True)
        try:
            if line.strip().startswith("{"):
                value = json.loads(line)
                if isinstance(value, dict):
                    return value
            else:
                pairs = [p.split("=", 1) for p in line.split()]
                if all(len(p) == 2 for p in pairs):
                    return {k: scalar(v) for k, v in pairs}
        except json.JSONDecodeError:
            pass
        click.echo("not a JSON object or key=value pairs; try again", err=True)


def scalar(text: str) -> Any:
    """``text`` as the JSON value it spells (``3``, ``true``, ``"x"``), else as a string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def server_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``--server URL`` and ``--api-key KEY``: use a running server (see :mod:`.remote`)."""
    fn = click.option("--api-key", envvar="DIALOGHUB_API_KEY", help="API key for --server.")(fn)
    return click.option("--server", envvar="DIALOGHUB_SERVER", help=SERVER_HELP)(fn)
