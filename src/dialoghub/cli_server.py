"""The server side of the command line: ``dialoghub serve``, ``dialoghub keys …``, and the
``--server URL`` variants of ``chat`` and ``sessions`` (which talk to a running server
through :class:`dialoghub.client.Client` instead of opening a store).

:mod:`dialoghub.cli` registers these commands; they live here so the server's dependencies
(Starlette, uvicorn, httpx) are imported only when one of them runs.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

import click
import msgspec

__all__ = ["keys", "remote_chat", "remote_events", "remote_list", "remote_show", "serve"]

SERVER_HELP = "Talk to the dialoghub server at this URL instead of opening a store."


def _fail(exc: Exception) -> click.ClickException:
    return click.ClickException(str(exc))


# --- serve --------------------------------------------------------------------------------


async def _demo_key(settings: Any, kept: str | None) -> tuple[str, bool]:
    """``(key, new)``: the kept demo key if still valid, else a new admin key of ``demo``."""
    from dialoghub.server.auth import Authenticator, create_key
    from dialoghub.server.keystore import open_keystore

    store = await open_keystore(settings.keys_store or settings.store)
    try:
        if kept:
            try:
                await Authenticator(store).authenticate(f"Bearer {kept}")
                return kept, False
            except Exception:  # revoked or from another database: make a new one
                pass
        key, _ = await create_key(store, "demo", scopes=("admin",), name="demo key")
        return key, True
    finally:
        await store.close()


def _demo(settings: Any, file: str) -> str:
    path = Path(file)
    kept = path.read_text().strip() if path.is_file() else None
    key, new = asyncio.run(_demo_key(settings, kept))
    if new:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(key + "\n")
        path.chmod(0o600)
    return key


@click.command()
@click.option("--store", help="Where sessions live (DIALOGHUB_STORE).")
@click.option("--models", "models", multiple=True,
              help="Model file, folder or glob; repeatable (DIALOGHUB_MODELS, comma-separated).")
@click.option("--host", help="Interface to listen on (default 127.0.0.1).")
@click.option("--port", type=int, help="Port (default 8000; 0 picks a free one).")
@click.option("--workers", type=int, help="Worker processes (default 1).")
@click.option("--config", "config", type=click.Path(), help="TOML or JSON settings file.")
@click.option("--keys-store", help="Where API keys live if not in the session store.")
@click.option("--broadcast", help="redis://host:port/db: push updates to clients attached to "
              "any server process (DIALOGHUB_BROADCAST); default: within each process.")
@click.option("--auth/--no-auth", default=None, help="Require API keys (default on).")
@click.option("--timers/--no-timers", default=None,
              help="Deliver due prompt timeouts and lifetimes (default on; each due timer "
              "goes to exactly one server process).")
@click.option("--token-mode", type=click.Choice(["reference", "stateless"]))
@click.option("--rate-limit", type=float, help="Requests per second per key (0: off).")
@click.option("--cors-origin", "cors_origins", multiple=True,
              help="A browser origin allowed to call the API (CORS), like "
              "https://app.example.com, or '*'; repeatable (DIALOGHUB_CORS_ORIGINS, "
              "comma-separated). Default: none.")
@click.option("--demo-key-file", type=click.Path(),
              help="Create (once) an admin key of tenant 'demo', keep it in this file, print it.")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]))
def serve(config: str | None, demo_key_file: str | None, **flags: Any) -> None:
    """Run the HTTP + WebSocket server."""
    from dialoghub.server.app import create_app
    from dialoghub.server.settings import load_settings

    flags["models"] = flags["models"] or None
    flags["cors_origins"] = flags["cors_origins"] or None
    try:
        settings = load_settings(flags, config=config)
    except Exception as exc:
        raise _fail(exc) from None
    logging.basicConfig(level=settings.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    url = f"http://{settings.host}:{settings.port}"
    if demo_key_file and settings.auth:
        try:
            key = _demo(settings, demo_key_file)
        except Exception as exc:
            raise _fail(exc) from None
        click.echo(f"dialoghub server at {url}  (API docs: {url}/docs)")
        click.echo(f"demo API key (tenant 'demo', kept in {demo_key_file}): {key}")
        click.echo("try:")
        click.echo(f"  curl -s -X POST {url}/v1/sessions -H 'Authorization: Bearer {key}' "
                   "-H 'Content-Type: application/json' -d '{\"model_id\": \"weather\"}'")
    # uvicorn with the header timeout, connection limits and WebSocket frame limit.
    from dialoghub.server.connections import run
    if settings.workers > 1:
        # Each worker builds its app from the environment: pass the settings through it.
        os.environ["DIALOGHUB_SERVE_SETTINGS"] = json.dumps(_settings_json(settings))
        run("dialoghub.server.app:app_factory", settings, factory=True,
            workers=settings.workers)
        return
    run(create_app(settings), settings)


def _settings_json(settings: Any) -> dict[str, Any]:
    import dataclasses

    return {k: list(v) if isinstance(v, tuple) else v
            for k, v in dataclasses.asdict(settings).items()}


# --- keys ---------------------------------------------------------------------------------


@click.group()
def keys() -> None:
    """Create, list and revoke API keys (stored hashed next to the sessions)."""


def _keys_store_option(fn: Any) -> Any:
    return click.option(
        "--store", default=None,
        help="Session store URL (default: DIALOGHUB_STORE or the serve default).",
    )(fn)


def _store_url(store: str | None) -> str:
    from dialoghub.server.settings import load_settings

    settings = load_settings({"store": store})
    return settings.keys_store or settings.store


@keys.command("create")
@_keys_store_option
@click.option("--tenant", required=True, help="The tenant the key acts for.")
@click.option("--scope", "scopes", multiple=True, default=("write",), show_default=True,
              type=click.Choice(["read", "write", "admin"]),
              help="Scope; repeatable. write implies read, admin implies write.")
@click.option("--name", default="", help="A note to recognise the key by.")
def keys_create(store: str | None, tenant: str, scopes: tuple[str, ...], name: str) -> None:
    """Create a key; the key itself is printed alone on the last line, once."""
    from dialoghub.server.auth import create_key
    from dialoghub.server.keystore import open_keystore

    async def run() -> tuple[str, Any]:
        ks = await open_keystore(_store_url(store))
        try:
            return await create_key(ks, tenant, scopes=scopes, name=name)
        finally:
            await ks.close()

    try:
        key, record = asyncio.run(run())
    except Exception as exc:
        raise _fail(exc) from None
    click.echo(f"key {record.key_id} for tenant {record.tenant} "
               f"(scopes: {','.join(record.scopes)}); keep it secret, it is not shown again:",
               err=True)
    click.echo(key)


@keys.command("list")
@_keys_store_option
@click.option("--tenant", help="Only keys of this tenant.")
def keys_list(store: str | None, tenant: str | None) -> None:
    """List keys (never their secrets)."""
    from dialoghub.server.keystore import open_keystore

    async def run() -> list[Any]:
        ks = await open_keystore(_store_url(store))
        try:
            return await ks.list_keys(tenant)
        finally:
            await ks.close()

    try:
        records = asyncio.run(run())
    except Exception as exc:
        raise _fail(exc) from None
    for r in records:
        state = "revoked" if r.revoked else "live"
        created = time.strftime("%Y-%m-%d %H:%M", time.localtime(r.created_at))
        click.echo(f"{r.key_id}\t{r.tenant}\t{','.join(r.scopes)}\t{state}\t{created}\t{r.name}")


@keys.command("revoke")
@_keys_store_option
@click.argument("key_id")
def keys_revoke(store: str | None, key_id: str) -> None:
    """Revoke a key by its id; running servers refuse it within seconds."""
    from dialoghub.server.keystore import open_keystore

    async def run() -> bool:
        ks = await open_keystore(_store_url(store))
        try:
            return await ks.revoke_key(key_id, time.time())
        finally:
            await ks.close()

    try:
        done = asyncio.run(run())
    except Exception as exc:
        raise _fail(exc) from None
    if not done:
        raise click.ClickException(f"no live key {key_id!r}")
    click.echo(f"revoked {key_id}")


@keys.command("rotate-token-key")
@_keys_store_option
def keys_rotate(store: str | None) -> None:
    """Add a new session-token secret in the verify state (accepted, not yet signing).

    Servers read the secrets when they start. Restart every server so all of them accept
    the new secret, then make it sign with 'activate-token-key KID'.
    """
    from dialoghub.server.keystore import open_keystore
    from dialoghub.server.tokens import Keyring

    async def run() -> str:
        ks = await open_keystore(_store_url(store))
        try:
            kid, secret = Keyring.new_secret()
            await ks.add_token_secret(kid, secret, time.time())
            return kid
        finally:
            await ks.close()

    try:
        kid = asyncio.run(run())
    except Exception as exc:
        raise _fail(exc) from None
    click.echo(f"new token key {kid} (verify only); restart every server, then run "
               f"'dialoghub keys activate-token-key {kid}'")


def _token_key_change(store: str | None, kid: str, change: str) -> bool:
    from dialoghub.server.keystore import open_keystore

    async def run() -> bool:
        ks = await open_keystore(_store_url(store))
        try:
            done: bool = await getattr(ks, f"{change}_token_secret")(kid)
            return done
        finally:
            await ks.close()

    try:
        return asyncio.run(run())
    except Exception as exc:
        raise _fail(exc) from None


@keys.command("activate-token-key")
@_keys_store_option
@click.argument("kid")
def keys_activate(store: str | None, kid: str) -> None:
    """Make a verify-state token secret sign; the one signing now goes back to verify.

    Restart the servers to sign with it (they all accept it already).
    """
    if not _token_key_change(store, kid, "activate"):
        raise click.ClickException(f"no token key {kid!r} in the verify state")
    click.echo(f"token key {kid} is active; restart the servers to sign with it")


@keys.command("retire-token-key")
@_keys_store_option
@click.argument("kid")
def keys_retire(store: str | None, kid: str) -> None:
    """Retire an old (verify-state) token secret: the tokens it signed stop working.

    The active secret cannot be retired: activate another one first.
    """
    if not _token_key_change(store, kid, "retire"):
        raise click.ClickException(
            f"no token key {kid!r} in the verify state (the active one cannot be retired)"
        )
    click.echo(f"token key {kid} is retired; restart the servers to refuse its tokens")


@keys.command("token-keys")
@_keys_store_option
def keys_token_keys(store: str | None) -> None:
    """List the session-token secrets (never the secrets themselves): kid, state, created."""
    from dialoghub.server.keystore import open_keystore

    async def run() -> list[Any]:
        ks = await open_keystore(_store_url(store))
        try:
            return list(await ks.token_secrets())
        finally:
            await ks.close()

    try:
        records = asyncio.run(run())
    except Exception as exc:
        raise _fail(exc) from None
    for r in records:
        created = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(r.created_at))
        click.echo(f"{r.kid}  {r.state:<8}  {created}")


# --- --server variants of chat and sessions -----------------------------------------------


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
        raise _fail(exc) from None
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
        raise _fail(exc) from None
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
        raise _fail(exc) from None
    for e in items:
        row = {"seq": e.seq, "version": e.version, "time": e.time, "type": e.type, "data": e.data}
        click.echo(msgspec.json.encode(row).decode())


def remote_chat(server: str, api_key: str | None, model_id: str,
                session_id: str | None, *, plugins: str | None = None) -> None:
    """``chat --server``: MODEL is a model id on the server; commands are answered by the
    ``plugins`` functions (as in local chat), the others by you."""
    from dialoghub.cli import _ask_outputs, _show
    from dialoghub.errors import DialoghubError
    from dialoghub.runner import call_plugin, load_plugins

    try:
        functions = load_plugins(plugins) if plugins else {}
    except DialoghubError as exc:
        raise _fail(exc) from None

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
                _show(view, click.echo)
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
                    _show(view, click.echo)
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
                outputs = await _ask_outputs(command)
            view = await c.process_command_result(sid, command.id, outputs, error)
            _show(view, click.echo)
        return view

    try:
        asyncio.run(run())
    except Exception as exc:
        raise _fail(exc) from None
