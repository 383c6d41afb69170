"""The ``dialoghub`` command line: chat, validate, sessions.

Every command reports a refused input or an invalid model as one clear message and a
non-zero exit status, never a traceback.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import sys
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import click
import msgspec

from dialoghub.engine.records import CommandAction, EndAction, Reply, Transcribe
from dialoghub.errors import DialoghubError, ModelValidationError
from dialoghub.hub import DEFAULT_STORE, Hub
from dialoghub.model.loader import load_models
from dialoghub.runner import Runner, load_plugins
from dialoghub.view import SessionView

__all__ = ["main"]

T = TypeVar("T")
STORE_HELP = (
    "Where sessions live: sqlite:///file.db (default), memory://, postgresql://…, redis://…"
)


def _run(coro: Coroutine[Any, Any, T]) -> T:
    try:
        return asyncio.run(coro)
    except DialoghubError as exc:
        raise click.ClickException(str(exc)) from None


def _async(fn: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        _run(fn(*args, **kwargs))

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="dialoghub")
def main() -> None:
    """dialoghub: durable sessions for dialogs, assistants and review workflows."""


# --- chat ---------------------------------------------------------------------------------


def _show(view: SessionView, echo: Callable[[str], None]) -> None:
    for action in view.actions:
        if isinstance(action, Reply):
            echo(click.style("bot> ", fg="green") + action.text)
        elif isinstance(action, Transcribe):
            echo(click.style(f"(dictation into {action.variable})", dim=True))
        elif isinstance(action, EndAction):
            echo(click.style(f"[session ended: {action.reason}]", dim=True))


async def _ask_outputs(command: CommandAction) -> dict[str, Any]:
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
                    return {k: _scalar(v) for k, v in pairs}
        except json.JSONDecodeError:
            pass
        click.echo("not a JSON object or key=value pairs; try again", err=True)


def _scalar(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _server_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``--server URL`` and ``--api-key KEY``: use a running server (see cli_server)."""
    from dialoghub.cli_server import SERVER_HELP

    fn = click.option("--api-key", envvar="DIALOGHUB_API_KEY", help="API key for --server.")(fn)
    return click.option("--server", envvar="DIALOGHUB_SERVER", help=SERVER_HELP)(fn)


@main.command()
@click.argument("model")
@click.option("--plugins", help="Python file or module whose functions answer commands.")
@click.option("--store", default="memory://", show_default=True, help=STORE_HELP)
@click.option("--session", "session_id", help="Resume (or create) the session with this id.")
@_server_options
def chat(
    model: str,
    plugins: str | None,
    store: str,
    session_id: str | None,
    server: str | None,
    api_key: str | None,
) -> None:
    """Talk to MODEL (a model file or folder; with --server, a model id) in the terminal.
    Ctrl-D or 'quit' leaves."""
    if server is not None:
        from dialoghub.cli_server import remote_chat

        remote_chat(server, api_key, model, session_id, plugins=plugins)
        return
    if not os.path.exists(model):
        raise click.BadParameter(f"path {model!r} does not exist", param_hint="MODEL")
    _run(_chat(model, plugins, store, session_id))


async def _chat(model: str, plugins: str | None, store: str, session_id: str | None) -> None:
    commands = load_plugins(plugins) if plugins else {}
    async with Hub(store) as hub:
        models = hub.load_models(model)
        runner = Runner(hub, commands, on_missing=_ask_outputs)
        existing = None
        if session_id is not None:
            try:
                existing = await hub.get_session(session_id)
            except DialoghubError:
                existing = None
        if existing is not None and not existing.ended:
            click.echo(f"resuming session {session_id} in state {existing.state}")
            sid = existing.id
            if existing.last_response:
                click.echo(click.style("bot> ", fg="green") + existing.last_response["text"])
        else:
            view = await runner.start(models[0].id, session_id=session_id)
            sid = view.id
            click.echo(click.style(f"session {sid} on {store}", dim=True))
            _show(view, click.echo)
        while True:
            try:
                text = await asyncio.to_thread(input, click.style("you> ", fg="cyan"))
            except EOFError:
                click.echo()
                break
            if text.strip().lower() in ("quit", "exit", "/quit"):
                break
            if not text.strip():
                continue
            try:
                view = await runner.send(sid, text)
            except DialoghubError as exc:
                click.echo(click.style(f"error: {exc}", fg="red"))
                continue
            _show(view, click.echo)
            if view.ended:
                break


# --- validate -----------------------------------------------------------------------------


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option(
    "--against",
    "old",
    type=click.Path(exists=True),
    help="The deployed version (file or folder): report changes that break its sessions.",
)
@click.option("--store", help="With --against: count the active sessions each change hits.")
def validate(paths: tuple[str, ...], old: str | None, store: str | None) -> None:
    """Check model files or folders; print every problem as file:line:column: message.

    With --against OLD, also compare each model with the model of the same id in OLD, and
    fail when sessions could be waiting in a state that is removed or renamed, or rely on an
    intent, command or output that is gone. With --store, only states where active sessions
    are actually waiting count as breaking.
    """
    failed = False
    loaded = []
    for path in paths:
        try:
            models = load_models(path)
        except ModelValidationError as exc:
            failed = True
            for problem in exc.problems:
                click.echo(str(problem), err=True)
            continue
        for m in models:
            click.echo(f"{m.source}: ok ({m.id} v{m.version}, {len(m.states)} states)")
        loaded.extend(models)
    if store is not None and old is None:
        raise click.UsageError("--store needs --against")
    if old is not None and _breaks(old, loaded, store):
        failed = True
    if failed:
        sys.exit(1)


def _breaks(old_path: str, models: list[Any], store: str | None) -> bool:
    """Print the changes from the models in OLD to ``models``; True if one breaks sessions."""
    from dialoghub.model.compat import compare, count_waiting

    try:
        old = {m.id: m for m in load_models(old_path)}
    except ModelValidationError as exc:
        raise click.ClickException(f"the old version ({old_path}) does not load:\n{exc}") from None

    async def counted(model_id: str, changes: list[Any]) -> list[Any]:
        assert store is not None
        async with Hub(store) as hub:
            return await count_waiting(hub, model_id, changes)

    broken = False
    for model in models:
        before = old.get(model.id)
        if before is None:
            click.echo(f"{model.source}: model {model.id!r} is new (not in {old_path})")
            continue
        changes = compare(before, model)
        if store is not None:
            changes = _run(counted(model.id, changes))
        label = f"{model.source}: against {before.source} (v{before.version} -> v{model.version})"
        click.echo(f"{label}: " + ("no changes that matter to sessions" if not changes else ""))
        for change in changes:
            click.echo(f"  {change}", err=change.breaking)
        broken = broken or any(c.breaking for c in changes)
    return broken


# --- diagram ------------------------------------------------------------------------------


@main.command()
@click.argument("model", type=click.Path(exists=True))
@click.option("-o", "--output", type=click.Path(), help="Write to this file (default: stdout).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["mermaid", "svg", "dot"]),
    help="Default: svg for an .svg output file, else mermaid.",
)
def diagram(model: str, output: str | None, fmt: str | None) -> None:
    """Draw MODEL: states, transitions, waits and commands, as Mermaid or SVG (Graphviz)."""
    from dialoghub.model.diagram import to_dot, to_mermaid, to_svg

    try:
        models = load_models(model)
    except ModelValidationError as exc:
        raise click.ClickException(str(exc)) from None
    if fmt is None:
        fmt = "svg" if output and output.endswith(".svg") else "mermaid"
    if fmt != "mermaid" and len(models) > 1:
        raise click.ClickException(f"{model} holds {len(models)} models; draw one file at a time")
    draw = {"mermaid": to_mermaid, "svg": to_svg, "dot": to_dot}[fmt]
    try:
        text = "\n".join(draw(m) for m in models)
    except DialoghubError as exc:
        raise click.ClickException(str(exc)) from None
    if output is None:
        click.echo(text, nl=False)
    else:
        with open(output, "w", encoding="utf-8") as f:
            f.write(text)
        click.echo(f"wrote {output}", err=True)


# --- sessions -----------------------------------------------------------------------------


@main.group()
def sessions() -> None:
    """Inspect stored sessions; move them between stores (export, import)."""


def _store_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--store", default=DEFAULT_STORE, show_default=True, help=STORE_HELP)(fn)


@sessions.command("list")
@_store_option
@click.option("--model", help="Only sessions of this model.")
@click.option("--state", help="Only sessions in this state.")
@click.option("--status", type=click.Choice(["active", "ended", "expired"]))
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 1000))
@click.option("--cursor", help="Continue after a previous page.")
@_server_options
@_async
async def list_(
    store: str,
    model: str | None,
    state: str | None,
    status: str | None,
    limit: int,
    cursor: str | None,
    server: str | None = None,
    api_key: str | None = None,
) -> None:
    """List sessions, oldest first."""
    if server is not None:
        from dialoghub.cli_server import remote_list

        filters = {"model": model, "state": state, "status": status, "limit": limit}
        await asyncio.to_thread(remote_list, server, api_key, cursor=cursor, **filters)
        return
    async with Hub(store) as hub:
        page = await hub.list_sessions(
            model=model, state=state, status=status, limit=limit, cursor=cursor
        )
    for s in page.sessions:
        click.echo(f"{s.id}\t{s.model_id}\t{s.state}\t{s.status.value}\tv{s.version}")
    if page.next_cursor:
        click.echo(f"next page: --cursor {page.next_cursor}", err=True)


@sessions.command()
@_store_option
@click.argument("session_id")
@_server_options
@_async
async def show(
    store: str, session_id: str, server: str | None = None, api_key: str | None = None
) -> None:
    """Print one session as JSON."""
    if server is not None:
        from dialoghub.cli_server import remote_show

        await asyncio.to_thread(remote_show, server, api_key, session_id)
        return
    async with Hub(store) as hub:
        session = await hub.get_session(session_id)
    click.echo(msgspec.json.format(msgspec.json.encode(session), indent=2))


@sessions.command()
@_store_option
@click.argument("session_id")
@click.option("--after", default=0, show_default=True, type=click.IntRange(0))
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 10000))
@_server_options
@_async
async def events(
    store: str,
    session_id: str,
    after: int,
    limit: int,
    server: str | None = None,
    api_key: str | None = None,
) -> None:
    """Print a session's events, one JSON object per line."""
    if server is not None:
        from dialoghub.cli_server import remote_events

        await asyncio.to_thread(remote_events, server, api_key, session_id, after, limit)
        return
    async with Hub(store) as hub:
        items = await hub.events(session_id, after=after, limit=limit)
    for e in items:
        row = {"seq": e.seq, "version": e.version, "time": e.time, "type": e.type, "data": e.data}
        click.echo(msgspec.json.encode(row).decode())


# --- server -------------------------------------------------------------------------------
# Registered last; cli_server imports the server's dependencies only when a command runs.
from dialoghub.cli_server import keys as _keys  # noqa: E402
from dialoghub.cli_server import serve as _serve  # noqa: E402

main.add_command(_serve, "serve")
main.add_command(_keys, "keys")

from dialoghub.cli_store import export_sessions as _export  # noqa: E402
from dialoghub.cli_store import import_sessions as _import  # noqa: E402
from dialoghub.cli_store import store as _store  # noqa: E402

main.add_command(_store, "store")
sessions.add_command(_export, "export")
sessions.add_command(_import, "import")
