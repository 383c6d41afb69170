"""The ``--server URL`` variants of ``chat`` and ``sessions list / show / events``: they talk
to a running server through :class:`dialoghub.client.Client` instead of opening a store.

:mod:`.dialogs` and :mod:`.sessions` call these when ``--server`` is given. The client (and
with it the HTTP libraries) is imported only when one of them runs.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import click
import msgspec

from dialoghub.agent import call_plugin, load_plugins
from dialoghub.cli.common import ask_outputs, fail, show
from dialoghub.errors import DialoghubError

__all__ = ["remote_chat", "remote_events", "remote_list", "remote_show"]


def _client(server: str, api_key: str | None) -> Any:
    from dialoghub.client import Client

    return Client(server, api_key=api_key or os.environ.get("DIALOGHUB_API_KEY"))


def remote_list(server: str, api_key: str | None, **filters: Any) -> None:
    """``sessions list --server``."""

    async def run() -> Any:
        async with _client(server, api_key) as c:
            return await c.list_sessions(**filters)

    try:
        page = asyncio.run(run())
    except Exception as exc:
        raise fail(exc) from None
    for s in page.sessions:
        click.echo(f"{s.id}\t{s.model_id}\t{s.state}\t{s.status.value}\tv{s.version}")
    if page.next_cursor:
        click.echo(f"next page: --cursor {page.next_cursor}", err=True)


def remote_show(server: str, api_key: str | None, session_id: str) -> None:
    """``sessions show --server``."""

    async def run() -> Any:
        async with _client(server, api_key) as c:
            return await c.get_session(session_id)

    try:
        session = asyncio.run(run())
    except Exception as exc:
        raise fail(exc) from None
    click.echo(msgspec.json.format(msgspec.json.encode(session), indent=2))


def remote_events(server: str, api_key: str | None, session_id: str, after: int,
                  limit: int) -> None:
    """``sessions events --server``."""

    async def run() -> Any:
        async with _client(server, api_key) as c:
            return await c.events(session_id, after=after, limit=limit)

    try:
        items = asyncio.run(run())
    except Exception as exc:
        raise fail(exc) from None
    for e in items:
        row = {"seq": e.seq, "version": e.version, "time": e.time, "type": e.type, "data": e.data}
        click.echo(msgspec.json.encode(row).decode())


def remote_chat(server: str, api_key: str | None, model_id: str,
                session_id: str | None, *, plugins: str | None = None) -> None:
    """``chat --server``: MODEL is a model id on the server; commands are answered by the
    ``plugins`` functions (as in local chat), the others by you."""
    try:
        functions = load_plugins(plugins) if plugins else {}
    except DialoghubError as exc:
        raise fail(exc) from None

    async def run() -> None:
        async with _client(server, api_key) as c:
            view = None
            if session_id is not None:
                try:
                    session = await c.get_session(session_id)
                    if not session.ended:
                        sid = session.id
                        click.echo(f"resuming session {sid} in state {session.state}")
                    else:
                        view = await c.create_session(model_id)
                except DialoghubError:
                    view = await c.create_session(model_id, session_id=session_id)
            else:
                view = await c.create_session(model_id)
            if view is not None:
                sid = view.id
                click.echo(click.style(f"session {sid} on {server}", dim=True))
                show(view, click.echo)
                view = await _commands(c, sid, view)
            while True:
                try:
                    text = await asyncio.to_thread(input, click.style("you> ", fg="cyan"))
                except EOFError:
                    click.echo()
                    return
                if text.strip().lower() in ("quit", "exit", "/quit"):
                    return
                if not text.strip():
                    continue
                try:
                    view = await c.process_text(sid, text)
                    show(view, click.echo)
                    view = await _commands(c, sid, view)
                except DialoghubError as exc:
                    click.echo(click.style(f"error: {exc}", fg="red"))
                    continue
                if view.ended:
                    return

    async def _commands(c: Any, sid: str, view: Any) -> Any:
        while view.command is not None:
            command = view.command
            error = None
            fn = functions.get(command.id)
            if fn is not None:
                outputs, error = await call_plugin(fn, command)
            else:
                outputs = await ask_outputs(command)
            view = await c.process_command_result(sid, command.id, outputs, error)
            show(view, click.echo)
        return view

    try:
        asyncio.run(run())
    except Exception as exc:
        raise fail(exc) from None
