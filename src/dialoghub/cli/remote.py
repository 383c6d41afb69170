"""The ``--server URL`` variants of ``chat`` and ``sessions list / show / events``: they talk
to a running server through :class:`dialoghub.client.Client` instead of opening a store.

:mod:`.dialogs` and :mod:`.sessions` call these when ``--server`` is given. The client (and
with it the HTTP libraries) is imported only when one of them runs.
"""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

import click
import msgspec

from dialoghub.agent import load_plugins
from dialoghub.cli.common import SESSION_HEADER, dated, fail, footer, session_row, show, when
from dialoghub.errors import DialoghubError

__all__ = ["remote_chat", "remote_events", "remote_list", "remote_send", "remote_show"]


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
    click.echo("\t".join(SESSION_HEADER))
    for s in page.sessions:
        click.echo(session_row(s))
    click.echo(f"{len(page.sessions)} session{'s' if len(page.sessions) != 1 else ''}")
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
    click.echo(json.dumps(dated(msgspec.to_builtins(session)), indent=2, ensure_ascii=False))


def remote_events(
    server: str, api_key: str | None, session_id: str, after: int, limit: int
) -> None:
    """``sessions events --server``."""

    async def run() -> Any:
        async with _client(server, api_key) as c:
            return await c.events(session_id, after=after, limit=limit)

    try:
        items = asyncio.run(run())
    except Exception as exc:
        raise fail(exc) from None
    for e in items:
        row = {"seq": e.seq, "version": e.version, "time": when(e.time), "type": e.type,
               "data": e.data}  # fmt: skip
        click.echo(msgspec.json.encode(row).decode())


def remote_send(server: str, api_key: str | None, session_id: str, inp: Any) -> None:
    """``sessions send --server``: one input to a session of the server."""

    async def run() -> Any:
        async with _client(server, api_key) as c:
            return await c.update(session_id, inp)

    try:
        view = asyncio.run(run())
    except Exception as exc:
        raise fail(exc) from None
    show(view, click.echo)
    if view.command is not None:
        click.echo(click.style(
            f"[waiting for command {view.command.id} {json.dumps(view.command.params)}]",
            fg="yellow"))  # fmt: skip
    click.echo(click.style(footer(view), dim=True))


def remote_chat(
    server: str,
    api_key: str | None,
    model_id: str,
    session_id: str | None,
    *,
    plugins: str | None = None,
) -> None:
    """``chat --server``: MODEL is a model id on the server; commands are answered by the
    ``plugins`` functions (as in local chat), the others by you; the same slash commands."""
    from dialoghub.cli.chat import ChatLoop

    try:
        functions = load_plugins(plugins) if plugins else {}
    except DialoghubError as exc:
        raise fail(exc) from None

    class Remote:
        def __init__(self, client: Any) -> None:
            self.c = client

        async def create(self, sid: str | None) -> Any:
            return await self.c.create_session(model_id, session_id=sid)

        async def update(self, sid: str, inp: Any) -> Any:
            return await self.c.update(sid, inp)

        async def session(self, sid: str) -> Any:
            return await self.c.get_session(sid)

        async def events(self, sid: str, after: int, limit: int) -> list[Any]:
            return list(await self.c.events(sid, after=after, limit=limit))

    async def run() -> None:
        async with _client(server, api_key) as c:
            await ChatLoop(Remote(c), functions).run(session_id, server)

    try:
        asyncio.run(run())
    except Exception as exc:
        raise fail(exc) from None
