"""``dialoghub sessions list / show / events / send``: inspect and move stored sessions, from
a store or (with ``--server``) from a running server.

Every command takes ``--tenant`` (the server's demo sessions live in tenant ``demo``); a
listing takes it several times to span tenants. A command reading a SQLite or JSON file
store refuses a file that does not exist instead of creating an empty one. Times are shown
as dates (UTC), never as epoch seconds.

The group's ``export`` and ``import`` live in :mod:`.store`; the package attaches them.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import click
import msgspec

from dialoghub.cli.common import (
    SESSION_HEADER,
    STORE_HELP,
    async_command,
    dated,
    existing_store,
    footer,
    server_options,
    session_row,
    show,
    when,
)
from dialoghub.cli.remote import remote_events, remote_list, remote_send, remote_show
from dialoghub.engine.records import EventInput, Input, Text
from dialoghub.hub import DEFAULT_STORE, Hub

__all__ = ["parse_input", "sessions"]

#: Commands ``send`` answers with plugins in one go before it gives up (a model looping).
MAX_COMMANDS = 100
#: The header of ``sessions list`` (the rows are tab-separated in the same order).
HEADER = SESSION_HEADER


@click.group()
def sessions() -> None:
    """Inspect stored sessions, send them input, move them between stores (export, import)."""


def _store_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--store", default=DEFAULT_STORE, show_default=True, help=STORE_HELP)(fn)


def _tenant_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--tenant", default="default", show_default=True,
        help="The tenant the session belongs to (the server's demo key uses 'demo').",
    )(fn)  # fmt: skip


@sessions.command("list")
@_store_option
@click.option(
    "--tenant",
    "tenants",
    multiple=True,
    help="Only this tenant (default: 'default'); repeat it to list several tenants.",
)
@click.option(
    "--all-tenants", is_flag=True, help="Every tenant's sessions, by tenant then creation."
)
@click.option("--model", help="Only sessions of this model.")
@click.option("--state", help="Only sessions in this state.")
@click.option("--status", type=click.Choice(["active", "ended", "expired"]))
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 1000))
@click.option("--cursor", help="Continue after a previous page (one tenant only).")
@click.option(
    "--search", "-q", "text", metavar="TEXT",
    help="Only sessions whose id or metadata holds TEXT (case-insensitive).",
)  # fmt: skip
@server_options
@async_command
async def list_(
    store: str,
    tenants: tuple[str, ...],
    all_tenants: bool,
    model: str | None,
    state: str | None,
    status: str | None,
    limit: int,
    cursor: str | None,
    text: str | None = None,
    server: str | None = None,
    api_key: str | None = None,
) -> None:
    """List sessions, oldest first: a header, one row per session, then the count.

    With --server, the API key's tenant; --tenant T or --all-tenants list another
    tenant's or every tenant's sessions, which the server allows an admin key of one of
    its operator tenants only.
    """
    if server is not None:
        if len(tenants) > 1 or (tenants and all_tenants):
            raise click.UsageError("with --server, give one --tenant or --all-tenants")
        tenant = "*" if all_tenants else tenants[0] if tenants else None
        filters = {"model": model, "state": state, "status": status, "limit": limit,
                   "text": text, "tenant": tenant}  # fmt: skip
        await asyncio.to_thread(remote_list, server, api_key, cursor=cursor, **filters)
        return
    if all_tenants:
        if tenants:
            raise click.UsageError("--all-tenants lists every tenant; drop --tenant")
        existing_store(store)
        async with Hub(store) as hub:
            page = await hub.list_sessions(
                model=model, state=state, status=status, tenant=None, limit=limit,
                cursor=cursor, text=text,
            )  # fmt: skip
        click.echo("\t".join(HEADER))
        for s in page.sessions:
            click.echo(session_row(s))
        n = len(page.sessions)
        click.echo(f"{n} session{'s' if n != 1 else ''} (all tenants)")
        if page.next_cursor:
            click.echo(f"next page: --cursor {page.next_cursor} --all-tenants", err=True)
        return
    tenants = tenants or ("default",)
    if cursor is not None and len(tenants) > 1:
        raise click.UsageError("--cursor continues the listing of one tenant")
    existing_store(store)
    rows: list[Any] = []
    cursors: list[tuple[str, str]] = []
    async with Hub(store) as hub:
        for tenant in tenants:
            page = await hub.list_sessions(
                model=model, state=state, status=status, tenant=tenant, limit=limit,
                cursor=cursor, text=text,
            )  # fmt: skip
            rows.extend(page.sessions)
            if page.next_cursor:
                cursors.append((tenant, page.next_cursor))
    click.echo("\t".join(HEADER))
    for s in rows:
        click.echo(session_row(s))
    where = ", ".join(repr(t) for t in tenants)
    click.echo(f"{len(rows)} session{'s' if len(rows) != 1 else ''} (tenant {where})")
    for tenant, next_cursor in cursors:
        more = f" --tenant {tenant}" if tenant != "default" else ""
        click.echo(f"next page: --cursor {next_cursor}{more}", err=True)


@sessions.command("show")
@_store_option
@_tenant_option
@click.argument("session_id")
@server_options
@async_command
async def show_(
    store: str, tenant: str, session_id: str, server: str | None = None,
    api_key: str | None = None,
) -> None:  # fmt: skip
    """Print one session as JSON (times as dates)."""
    if server is not None:
        await asyncio.to_thread(remote_show, server, api_key, session_id)
        return
    existing_store(store)
    async with Hub(store) as hub:
        session = await hub.get_session(session_id, tenant=tenant)
    click.echo(json.dumps(dated(msgspec.to_builtins(session)), indent=2, ensure_ascii=False))


@sessions.command()
@_store_option
@_tenant_option
@click.argument("session_id")
@click.option("--after", default=0, show_default=True, type=click.IntRange(0))
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 10000))
@server_options
@async_command
async def events(
    store: str,
    tenant: str,
    session_id: str,
    after: int,
    limit: int,
    server: str | None = None,
    api_key: str | None = None,
) -> None:
    """Print a session's events, one JSON object per line (times as dates)."""
    if server is not None:
        await asyncio.to_thread(remote_events, server, api_key, session_id, after, limit)
        return
    existing_store(store)
    async with Hub(store) as hub:
        items = await hub.events(session_id, after=after, limit=limit, tenant=tenant)
    for e in items:
        row = {"seq": e.seq, "version": e.version, "time": when(e.time), "type": e.type,
               "data": e.data}  # fmt: skip
        click.echo(msgspec.json.encode(row).decode())


def parse_input(text: str | None, event: str | None, raw: str | None,
                params: str | None = None) -> Input:  # fmt: skip
    """The one input ``sessions send`` (and chat's /event) sends: TEXT, ``--event NAME``
    (with ``--params`` JSON) or ``--input`` JSON (any input, as the HTTP API takes it)."""
    given = [x for x in (text, event, raw) if x is not None]
    if len(given) != 1:
        raise click.UsageError("give exactly one of TEXT, --event NAME or --input JSON")
    if text is not None:
        if params is not None:
            raise click.UsageError("--params goes with --event")
        return Text(text=text)
    loaded: Any = None
    source = params if event is not None else raw
    if source is not None:
        try:
            loaded = json.loads(source)
        except json.JSONDecodeError as exc:
            raise click.BadParameter(f"not JSON: {exc}") from None
    if event is not None:
        if loaded is not None and not isinstance(loaded, dict):
            raise click.BadParameter("--params must be a JSON object")
        return EventInput(name=event, params=loaded)
    if not isinstance(loaded, dict):
        raise click.BadParameter("--input must be a JSON object with a 'type'")
    try:
        converted: Input = msgspec.convert(loaded, Input)
        return converted
    except msgspec.ValidationError as exc:
        raise click.BadParameter(f"not an input: {exc}") from None


@sessions.command()
@_store_option
@_tenant_option
@click.argument("session_id")
@click.argument("text", required=False)
@click.option("--event", help="Send this named event instead of text.")
@click.option("--params", help="With --event: the event's params, a JSON object.")
@click.option(
    "--input", "raw", help='Any input as JSON, e.g. \'{"type": "jump", "state": "listen"}\'.'
)
@click.option(
    "--models",
    "models",
    multiple=True,
    help="Model file or folder the session's model is in; repeatable (not with --server).",
)
@click.option("--plugins", help="Python file or module whose functions answer commands.")
@server_options
@async_command
async def send(
    store: str,
    tenant: str,
    session_id: str,
    text: str | None,
    event: str | None,
    params: str | None,
    raw: str | None,
    models: tuple[str, ...],
    plugins: str | None,
    server: str | None = None,
    api_key: str | None = None,
) -> None:
    """Send TEXT (or an event, or any input) to a stored session and print the answer.

    With --plugins, command actions the answer asks for are run by those functions and
    their results sent too, as chat does."""
    inp = parse_input(text, event, raw, params)
    if server is not None:
        await asyncio.to_thread(remote_send, server, api_key, session_id, inp)
        return
    from dialoghub.agent import call_plugin, load_plugins

    if not models:
        raise click.UsageError(
            "--models: the model file or folder of the session (not needed with --server)"
        )
    existing_store(store)
    async with Hub(store) as hub:
        for path in models:
            hub.load_models(path)
        view = await hub.update(session_id, inp, tenant=tenant)
        show(view, click.echo)
        functions = load_plugins(plugins) if plugins else {}
        for _ in range(MAX_COMMANDS):
            command = view.command
            if command is None or command.id not in functions:
                break
            outputs, error = await call_plugin(functions[command.id], command)
            view = await hub.process_command_result(
                session_id, command.id, outputs, error, tenant=tenant
            )
            show(view, click.echo)
        if view.command is not None:
            click.echo(click.style(
                f"[waiting for command {view.command.id} {json.dumps(view.command.params)}]",
                fg="yellow"))  # fmt: skip
        click.echo(click.style(footer(view), dim=True))
