"""Fixtures of the routing tests: a real server (uvicorn on a free port, in the test's loop)
over a Hub of the relay model, and routed clients connected to it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from dialoghub.hub import Hub
from dialoghub.server import Settings, create_app
from dialoghub.server.connections import server_config
from dialoghub.server.routes_clients import RoutingConfig

RELAY = str(Path(__file__).with_name("relay.yaml"))


@dataclass
class Served:
    url: str  # ws://.../v1/clients/ws
    http: str
    app: object
    server: uvicorn.Server

    @property
    def router(self):  # type: ignore[no-untyped-def]
        return self.app.state.service.routing  # type: ignore[attr-defined]


@contextlib.asynccontextmanager
async def serving(
    store: str = "memory://",
    *,
    bus: str = "",
    logs: str = "",
    dispatch_timeout: float = 5.0,
    models: str = RELAY,
) -> AsyncIterator[Served]:
    """A server process's app, served on a free port in this loop."""
    hub = Hub(store, timers=False)
    hub.load_models(models)
    settings = Settings(store=store, auth=False, rate_limit=0, timers=False)
    app = create_app(settings, hub=hub)
    app.state.routing_config = RoutingConfig(
        bus=bus, session_logs=logs, dispatch_timeout=dispatch_timeout, heartbeat=0.5
    )
    server = uvicorn.Server(server_config(app, settings.replace(port=0), log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn has no event to await for it
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield Served(
            f"ws://127.0.0.1:{port}/v1/clients/ws", f"http://127.0.0.1:{port}", app, server
        )
    finally:
        server.should_exit = True
        await task
