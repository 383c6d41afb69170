"""The ASGI app: :func:`create_app` builds it from :class:`~dialoghub.server.settings.Settings`.

On start-up (the ASGI lifespan) the app opens the Hub on the configured store, loads every
model it is pointed at (each file on its own: a model that does not validate is logged and
skipped, so one broken example does not keep the server down), opens the API key store and
the token keyring, and builds the :class:`~dialoghub.server.service.Service` the routes
share. Routes live in ``routes_*``, ``websocket`` and ``sse``; this module only assembles.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import logging
from collections.abc import AsyncIterator
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from dialoghub.errors import ModelValidationError
from dialoghub.hub import Hub
from dialoghub.model.loader import MODEL_SUFFIXES, load_model
from dialoghub.server import (
    console,
    feed,
    routes_clients,
    routes_decisions,
    routes_keys,
    routes_messages,
    routes_models,
    routes_sessions,
    routes_voice,
    sse,
    websocket,
)
from dialoghub.server.auth import Principal
from dialoghub.server.broadcast import open_relay
from dialoghub.server.dispatch import Dispatcher
from dialoghub.server.docs_page import render_docs
from dialoghub.server.endpoint import JSONResponse, endpoint
from dialoghub.server.errors import BadRequest, error_response, exception_handlers
from dialoghub.server.keystore import KeyStore, open_keystore
from dialoghub.server.metrics import CONTENT_TYPE_LATEST
from dialoghub.server.openapi import openapi_document
from dialoghub.server.schemas import Health, VersionInfo
from dialoghub.server.service import Service
from dialoghub.server.settings import Settings
from dialoghub.server.tokens import Keyring, keyring_from_store, parse_keys

__all__ = ["CORS", "App", "create_app", "model_files", "server_version"]

log = logging.getLogger("dialoghub.server")


def server_version() -> str:
    """The installed dialoghub version."""
    try:
        return version("dialoghub")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0+unknown"


def model_files(patterns: tuple[str, ...]) -> list[Path]:
    """The model files named by files, folders (not recursive) and globs, in order."""
    files: list[Path] = []
    for pattern in patterns:
        matches = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern]
        if not matches:
            log.warning("no model files match %s", pattern)
        for match in matches:
            path = Path(match)
            if path.is_dir():
                files.extend(sorted(p for p in path.iterdir() if p.suffix in MODEL_SUFFIXES))
            elif path.suffix in MODEL_SUFFIXES:
                files.append(path)
            elif not glob.has_magic(pattern):
                log.warning("%s is not a model file or folder; skipped", path)
    return list(dict.fromkeys(files))


def load_into(hub: Hub, patterns: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """Load every model file into ``hub``; return (loaded ids, skipped files with why)."""
    loaded: list[str] = []
    skipped: list[str] = []
    for path in model_files(patterns):
        try:
            model = load_model(path)
        except ModelValidationError as exc:
            skipped.append(f"{path}: {exc.message}")
            log.warning("model %s skipped: %s", path, exc.message)
            continue
        except Exception as exc:  # a model using a feature still in progress may crash
            skipped.append(f"{path}: {type(exc).__name__}: {exc}")
            log.warning("model %s skipped: %s: %s", path, type(exc).__name__, exc)
            continue
        if model.id in hub.models:
            skipped.append(f"{path}: model id {model.id!r} already loaded")
            log.warning("model %s skipped: id %r already loaded", path, model.id)
            continue
        hub.add_model(model)
        loaded.append(model.id)
        log.info("model %s v%s loaded from %s", model.id, model.version, path)
    return loaded, skipped


async def keyring_for(settings: Settings, keystore: KeyStore | None) -> Keyring:
    """The configured secrets, else those kept in the key store (one is made on first use,
    atomically: servers starting together share it)."""
    options: dict[str, Any] = {
        "max_stateless_bytes": settings.max_token_bytes,
        "stateless_ttl": settings.stateless_ttl,
    }
    if settings.token_keys:
        return Keyring(parse_keys(settings.token_keys), **options)
    return await keyring_from_store(keystore, **options)


@endpoint("/health", None, tag="system")
async def health(service: Service, request: Request, who: Principal) -> Health:
    """Liveness: the process answers."""
    return Health()


@endpoint("/version", None, tag="system", operation_id="version")
async def version_route(service: Service, request: Request, who: Principal) -> VersionInfo:
    """The server's version."""
    return VersionInfo(version=server_version(), models=len(service.hub.models))


@endpoint(
    "/metrics", None, tag="system", produces="text/plain", answer_doc="Text exposition format"
)
async def metrics(service: Service, request: Request, who: Principal) -> Response:
    """Prometheus metrics."""
    return Response(service.metrics.render(), media_type=CONTENT_TYPE_LATEST)


# The document and its page are not in the document (include_in_schema=False below).
@endpoint("/openapi.json", None, tag="system", produces="application/json")
async def openapi(service: Service, request: Request, who: Principal) -> Response:
    """The OpenAPI document."""
    return JSONResponse(request.app.state.openapi)


@endpoint("/docs", None, tag="system", produces="text/html")
async def docs(service: Service, request: Request, who: Principal) -> Response:
    """The browsable API documentation (self-contained: it loads nothing from elsewhere)."""
    return HTMLResponse(request.app.state.docs_html, headers=_DOCS_HEADERS)


_DOCS_HEADERS = {"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"}


class App(Starlette):
    """The Starlette app with a lean request path: :class:`~dialoghub.server.dispatch.
    Dispatcher` instead of Starlette's exception middlewares and linear route matching
    (every endpoint already answers its own errors in the one JSON shape).

    Middleware added with ``add_middleware`` (or ``middleware=``) wraps the dispatcher, the
    first added outermost, as Starlette orders it; none is there by default."""

    def build_middleware_stack(self) -> Any:
        """The dispatcher over this app's routes, inside the user's middleware."""
        app: Any = Dispatcher(self.router)
        for cls, args, kwargs in reversed(self.user_middleware):
            app = cls(app, *args, **kwargs)
        return app


#: What a browser may send cross-origin when ``cors_origins`` is set.
CORS_METHODS = ("GET", "POST", "DELETE")
CORS_HEADERS = ("Authorization", "Content-Type", "Idempotency-Key", "Last-Event-ID")
CORS_EXPOSE = ("Retry-After", "WWW-Authenticate")


class CORS(CORSMiddleware):
    """Starlette's CORS middleware whose refused preflight answers in the one error shape."""

    def preflight_response(self, request_headers: Headers) -> Response:
        """The preflight answer; a refusal is a 400 ``bad_request`` with the CORS headers."""
        response = super().preflight_response(request_headers)
        if response.status_code < 400:
            return response
        why = bytes(response.body).decode()
        refused = error_response(
            BadRequest(
                f"{why}: this server allows origins {sorted(self.allow_origins)}, methods "
                f"{list(self.allow_methods)} and headers {sorted(self.allow_headers)}",
                origin=request_headers.get("origin"),
            )
        )
        for name, value in response.headers.items():
            if name.startswith("access-control-") or name == "vary":
                refused.headers[name] = value
        return refused


def create_app(
    settings: Settings | None = None,
    *,
    hub: Hub | None = None,
    keystore: KeyStore | None = None,
) -> App:
    """Build the app; ``hub`` and ``keystore`` (optional) replace the configured ones."""
    settings = settings or Settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        the_hub = hub if hub is not None else Hub(settings.store, timers=settings.timers)
        async with the_hub:
            loaded, skipped = load_into(the_hub, settings.models)
            app.state.loaded, app.state.skipped = loaded, skipped
            keys = keystore
            if keys is None and settings.auth:
                keys = await open_keystore(settings.keys_store or settings.store)
            try:
                keyring = await keyring_for(settings, keys)
                relay = open_relay(settings.broadcast)
                service = Service(the_hub, settings, keystore=keys, keyring=keyring, relay=relay)
                if relay is not None:
                    await relay.start()
                elif settings.workers > 1:
                    log.warning(
                        "%d workers without a broadcast URL: a WebSocket or SSE client "
                        "gets only the updates made by its own worker; set --broadcast "
                        "redis://...",
                        settings.workers,
                    )
                app.state.service = service
                routes_decisions.start(service)  # AI specialists answer solicitations (issue 10)
                unwatch = the_hub.watch(service.publish_feed)  # the tenants' feeds
                router = await routes_clients.start_routing(app, service)  # issue 12
                watchdog = asyncio.create_task(service.deadlines.run())
                try:
                    yield
                finally:
                    unwatch()
                    await router.close()
                    watchdog.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await watchdog
                    if relay is not None:
                        await relay.close()
                    await service.limiter.close()
            finally:
                if keys is not None:
                    await keys.close()

    routes: list[BaseRoute] = [
        Route("/health", health, methods=["GET"]),
        Route("/version", version_route, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"], include_in_schema=False),
        Route("/docs", docs, methods=["GET"], include_in_schema=False),
        *routes_models.routes,
        *routes_sessions.routes,
        *routes_decisions.routes,
        *sse.routes,
        *websocket.routes,
        *routes_voice.routes,  # issue 13: /v1/sessions/{id}/audio
        *routes_keys.routes,
        *routes_clients.routes,
        *routes_messages.routes,  # issue 11: agent rounds
        *feed.routes,
        *console.routes,
    ]
    app = App(routes=routes, exception_handlers=exception_handlers, lifespan=lifespan)
    if settings.cors_origins:
        app.add_middleware(
            CORS,
            allow_origins=list(settings.cors_origins),
            allow_methods=CORS_METHODS,
            allow_headers=CORS_HEADERS,
            expose_headers=CORS_EXPOSE,
        )
    app.state.openapi = openapi_document(server_version(), app.routes)
    app.state.docs_html = render_docs(app.state.openapi)
    app.state.settings = settings
    return app


def app_factory() -> Any:
    """``uvicorn --factory dialoghub.server.app:app_factory``: settings from the environment
    (``DIALOGHUB_SERVE_SETTINGS``, JSON, as ``dialoghub serve --workers N`` passes them)."""
    import json
    import os

    from dialoghub.server.settings import load_settings

    passed = os.environ.get("DIALOGHUB_SERVE_SETTINGS")
    return create_app(load_settings(json.loads(passed) if passed else None))
