"""The HTTP and WebSocket server: ``dialoghub serve``, or ``create_app(settings)`` in code.

Modules, one concept each: ``app`` assembles the ASGI app; ``service`` holds what routes
share; ``endpoint`` wraps every route (auth, rate limit, timeout, errors, metrics);
``routes_sessions``, ``routes_models``, ``routes_keys``, ``websocket`` and ``sse`` are the
API; ``auth`` and ``keystore`` are tenants and API keys; ``tokens`` the session tokens;
``limits``, ``errors``, ``metrics``, ``settings``, ``schemas`` and ``openapi`` what their
names say; ``broadcast`` pushes updates to attached clients.
"""

from __future__ import annotations

from dialoghub.server.app import create_app
from dialoghub.server.settings import Settings, load_settings

__all__ = ["Settings", "create_app", "load_settings"]
