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
import os
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import unquote, urlsplit

import click

from dialoghub.engine.records import CommandAction, EndAction, Reply, Transcribe
from dialoghub.errors import DialoghubError

if TYPE_CHECKING:
    from dialoghub.engine.records import Session
    from dialoghub.hub import SessionView

__all__ = [
    "SERVER_HELP",
    "SESSION_HEADER",
    "STORE_HELP",
    "ask_outputs",
    "async_command",
    "dated",
    "existing_store",
    "fail",
    "footer",
    "run",
    "scalar",
    "server_options",
    "session_row",
    "show",
    "when",
]

T = TypeVar("T")

STORE_HELP = (
    "Where sessions live: sqlite:///file.db, memory://, json:///file.json, postgresql://…, "
    "redis://…"
)
#: The header of a listing of sessions (``sessions list``; :func:`session_row` fills it).
SESSION_HEADER = ("id", "tenant", "model", "state", "status", "version", "updated (UTC)")
#: The fields of a session (and of its awaiting record) that hold epoch seconds.
TIME_FIELDS = frozenset({"created_at", "updated_at", "expires_at", "due_at", "time"})
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


def when(seconds: float | None) -> str | None:
    """Epoch seconds as a date and time in UTC ("2026-12-03 13:10:31")."""
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S")


def dated(value: Any) -> Any:
    """A session as plain data with every time field (``created_at``, ``due_at``, ...) shown
    as a date instead of epoch seconds."""
    if isinstance(value, dict):
        return {
            k: when(v) if k in TIME_FIELDS and isinstance(v, int | float) else dated(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [dated(v) for v in value]
    return value


def session_row(s: Session) -> str:
    """One line of ``sessions list``: id, tenant, model, state, status, version, updated."""
    return "\t".join(
        [s.id, s.tenant, s.model_id, s.state, s.status.value, f"v{s.version}",
         when(s.updated_at) or ""]
    )  # fmt: skip


def existing_store(url: str) -> None:
    """Refuse a SQLite or JSON file store whose file does not exist: reading commands must
    not create an empty database (and then report that nothing is in it)."""
    parts = urlsplit(url)
    if parts.scheme == "sqlite" and not parts.netloc:  # as the stores read their URLs
        path = unquote(parts.path[1:] if parts.path.startswith("/") else parts.path)
    elif parts.scheme == "json":
        path = unquote(parts.netloc + parts.path)
    else:
        return
    if not path or path == ":memory:" or path.startswith("file:") or os.path.exists(path):
        return  # (a URL the store refuses is refused by the store, with its own message)
    raise click.ClickException(
        f"no database at {path} (store {url}); nothing was stored there yet. Sessions of "
        "'make run' are in sqlite:///.dialoghub/server.db"
    )


def footer(view: Any) -> str:
    """Where a session is after a turn: ``[state vN status]``."""
    session = view.session
    status = getattr(session.status, "value", session.status)
    return f"[{session.state} v{session.version} {status}]"
