"""``dialoghub serve``: run the HTTP + WebSocket server.

The server and its dependencies (Starlette, uvicorn) are imported only when the command
runs, so ``dialoghub --help`` and the other commands never load them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from pathlib import Path
from typing import Any

import click

from dialoghub.cli.common import fail

__all__ = ["serve"]


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
@click.option("--bus", help="Client routing across server processes: redis://host:port/db or "
              "nats://host:port (DIALOGHUB_BUS); default: within this process.")
@click.option("--session-logs", type=click.Path(),
              help="Keep one log file per session in this folder (DIALOGHUB_SESSION_LOGS).")
@click.option("--dispatch-timeout", type=float,
              help="Seconds a routed command may wait for a provider's answer (default 10).")
@click.option("--plugins", help="Python file or module whose functions answer command actions "
              "in the server (the others still go to the client); one worker only.")
@click.option("--agent", "agent", help="Agent module (a .py file or dotted name defining "
              "PLANNER and PLUGINS) that plays the rounds of POST /v1/sessions/{id}/messages "
              "(DIALOGHUB_AGENT).")
@click.option("--workspace", type=click.Path(file_okay=False),
              help="Folder of the agent sessions' files, one folder per tenant and session "
              "(DIALOGHUB_WORKSPACE); without it messages with files are refused.")
@click.option("--grpc", "grpc_port", type=int, help="Also serve the Diatheke-compatible gRPC "
              "service on this port (0 picks a free one; needs the voice extra; one worker).")
def serve(config: str | None, demo_key_file: str | None, **flags: Any) -> None:
    """Run the HTTP + WebSocket server."""
    plugins = flags.pop("plugins")  # issue 16: cli/plugin_hub.py
    grpc_port = flags.pop("grpc_port")  # issue 13: dialoghub.voice.grpc
    for name in ("agent", "workspace"):  # issue 11: read by server/routes_messages.py
        value = flags.pop(name)
        if value is not None:
            os.environ[f"DIALOGHUB_{name.upper()}"] = str(value)
    from dialoghub.server.app import create_app
    from dialoghub.server.settings import load_settings

    flags["models"] = flags["models"] or None
    flags["cors_origins"] = flags["cors_origins"] or None
    try:
        settings = load_settings(flags, config=config)
    except Exception as exc:
        raise fail(exc) from None
    logging.basicConfig(level=settings.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    url = f"http://{settings.host}:{settings.port}"
    if demo_key_file and settings.auth:
        try:
            key = _demo(settings, demo_key_file)
        except Exception as exc:
            raise fail(exc) from None
        click.echo(f"dialoghub server at {url}  (API docs: {url}/docs)")
        click.echo(f"console: {url}/console  (sign in with the demo key below)")
        click.echo(f"demo API key (tenant 'demo', kept in {demo_key_file}): {key}")
        click.echo("try:")
        click.echo(f"  curl -s -X POST {url}/v1/sessions -H 'Authorization: Bearer {key}' "
                   "-H 'Content-Type: application/json' -d '{\"model_id\": \"weather\"}'")
    else:
        click.echo(f"dialoghub server at {url}  (console: {url}/console, API docs: {url}/docs)")
    # uvicorn with the header timeout, connection limits and WebSocket frame limit.
    from dialoghub.server.connections import run
    if grpc_port is not None and settings.workers > 1:
        raise fail(ValueError("--grpc runs in one worker: drop --workers"))
    if plugins and settings.workers > 1:
        raise fail(ValueError("--plugins runs in one worker: drop --workers"))
    if settings.workers > 1:
        # Each worker builds its app from the environment: pass the settings through it.
        os.environ["DIALOGHUB_SERVE_SETTINGS"] = json.dumps(_settings_json(settings))
        run("dialoghub.server.app:app_factory", settings, factory=True,
            workers=settings.workers)
        return
    app = create_app(settings, hub=_plugin_hub(settings, plugins))
    if grpc_port is not None:
        from dialoghub.voice.grpc.service import attach

        attach(app, grpc_port, host=settings.host,
               on_start=lambda port: click.echo(f"gRPC (Diatheke) at {settings.host}:{port}"))
    run(app, settings)


def _plugin_hub(settings: Any, plugins: str | None) -> Any:
    """With ``--plugins``: the hub that runs them (cli/plugin_hub.py); else None."""
    if not plugins:
        return None
    from dialoghub.agent import load_plugins
    from dialoghub.cli.plugin_hub import PluginHub

    try:
        functions = load_plugins(plugins)
    except Exception as exc:
        raise fail(exc) from None
    return PluginHub(settings.store, plugins=functions, timers=settings.timers)


def _settings_json(settings: Any) -> dict[str, Any]:
    import dataclasses

    return {k: list(v) if isinstance(v, tuple) else v
            for k, v in dataclasses.asdict(settings).items()}
