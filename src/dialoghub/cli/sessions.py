"""``dialoghub sessions list / show / events``: inspect stored sessions, from a store or
(with ``--server``) from a running server.

The group's ``export`` and ``import`` live in :mod:`.store`; the package attaches them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import click
import msgspec

from dialoghub.cli.common import STORE_HELP, async_command, server_options
from dialoghub.cli.remote import remote_events, remote_list, remote_show
from dialoghub.hub import DEFAULT_STORE, Hub

__all__ = ["sessions"]


@click.group()
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
@server_options
@async_command
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
@server_options
@async_command
async def show(
    store: str, session_id: str, server: str | None = None, api_key: str | None = None
) -> None:
    """Print one session as JSON."""
    if server is not None:
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
@server_options
@async_command
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
        await asyncio.to_thread(remote_events, server, api_key, session_id, after, limit)
        return
    async with Hub(store) as hub:
        items = await hub.events(session_id, after=after, limit=limit)
    for e in items:
        row = {"seq": e.seq, "version": e.version, "time": e.time, "type": e.type, "data": e.data}
        click.echo(msgspec.json.encode(row).decode())
