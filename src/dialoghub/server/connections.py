"""The uvicorn server of ``dialoghub serve``: its connection limits and a header timeout.

uvicorn closes an idle keep-alive connection after ``timeout_keep_alive``, but only between
requests, and every byte received restarts that clock: a connection that sends nothing, or
trickles its request line one byte at a time, is kept forever (uvicorn issue #160; there is
no header timeout in uvicorn). :class:`HeaderTimeoutH11` and :class:`HeaderTimeoutHttpTools`
are uvicorn's two HTTP protocols with one timer more: from the moment a connection opens, and
again after each response, the client has ``header_timeout`` seconds to complete a request's
headers; if it does not, the connection is closed (with a 408 in the one error shape if it
had sent part of a request). Once the headers are in, the request's own timeout applies (a
body that arrives too slowly is a 408, see :mod:`dialoghub.server.limits`). A WebSocket
upgrade hands the connection to the WebSocket protocol and the timer does nothing.

:func:`server_config` turns :class:`~dialoghub.server.settings.Settings` into a uvicorn
config: these protocols, ``timeout_keep_alive``, ``limit_concurrency`` (503 beyond it),
``backlog``, and ``ws_max_size`` = ``max_body_bytes`` so that the WebSocket protocol refuses
an oversized frame from its header, closing with 1009, without reading or buffering it.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

import msgspec
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from dialoghub.server.settings import Settings

__all__ = [
    "HeaderTimeoutH11",
    "HeaderTimeoutHttpTools",
    "ServerConfig",
    "run",
    "server_config",
]

_BODY = msgspec.json.encode({
    "code": "header_timeout",
    "message": "the request headers did not arrive in time",
    "details": {},
})
_TIMEOUT_RESPONSE = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
    b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (len(_BODY), _BODY)
)


class ServerConfig(uvicorn.Config):
    """A uvicorn config with ``header_timeout`` (seconds; 0 or None: off)."""

    def __init__(self, app: Any, *, header_timeout: float | None = 10.0, **options: Any) -> None:
        super().__init__(app, **options)
        self.header_timeout = header_timeout


class _HeaderTimeout:
    """The header timer, mixed into a uvicorn HTTP protocol (which defines ``config``,
    ``loop``, ``transport`` and ``cycle``: the request/response cycle whose headers came in
    last, replaced at each new request)."""

    config: Any
    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport
    cycle: Any
    _header_timer: asyncio.TimerHandle | None = None
    _header_cycle: Any = None
    _header_bytes = False

    def _arm_header_timer(self) -> None:
        self._disarm_header_timer()
        timeout = getattr(self.config, "header_timeout", None)
        if timeout:
            self._header_cycle = self.cycle
            self._header_bytes = False
            self._header_timer = self.loop.call_later(timeout, self._header_timeout)

    def _disarm_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _header_timeout(self) -> None:
        self._header_timer = None
        transport = self.transport
        if transport.is_closing() or transport.get_protocol() is not cast(Any, self):
            return  # closed, or upgraded to a WebSocket
        cycle = self.cycle
        if cycle is not self._header_cycle or (cycle is not None and not cycle.response_complete):
            return  # a request's headers came in: its own timeouts apply
        if self._header_bytes:
            transport.write(_TIMEOUT_RESPONSE)
        transport.close()

    # --- the protocol methods it hooks -----------------------------------------------------

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)  # type: ignore[misc]
        self._arm_header_timer()

    def data_received(self, data: bytes) -> None:
        self._header_bytes = True
        super().data_received(data)  # type: ignore[misc]

    def on_response_complete(self) -> None:
        super().on_response_complete()  # type: ignore[misc]
        if not self.transport.is_closing():
            self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_timer()
        super().connection_lost(exc)  # type: ignore[misc]


class HeaderTimeoutH11(_HeaderTimeout, H11Protocol):
    """uvicorn's h11 protocol with the header timeout."""


try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # pragma: no cover - httptools is not installed
    HeaderTimeoutHttpTools: type[asyncio.Protocol] = HeaderTimeoutH11
else:

    class HeaderTimeoutHttpTools(_HeaderTimeout, HttpToolsProtocol):  # type: ignore[no-redef]
        """uvicorn's httptools protocol with the header timeout."""


def server_config(app: Any, settings: Settings, **options: Any) -> ServerConfig:
    """The uvicorn config for ``app`` (an app, or an import string with ``factory=True``)
    under ``settings``; ``options`` are more uvicorn options (they win)."""
    values: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_level": settings.log_level,
        "access_log": settings.access_log,
        "server_header": False,
        "http": HeaderTimeoutHttpTools,
        "header_timeout": settings.header_timeout or None,
        "timeout_keep_alive": settings.keep_alive_timeout,
        "limit_concurrency": settings.limit_concurrency or None,
        "backlog": settings.backlog,
        "ws_max_size": settings.max_body_bytes,
    }
    values.update(options)
    return ServerConfig(app, **values)


def run(app: Any, settings: Settings, **options: Any) -> None:
    """Serve like ``uvicorn.run`` with :func:`server_config` (``workers`` > 1 needs ``app``
    as an import string and ``factory=True``)."""
    if options.get("workers", 1) > 1:
        # uvicorn kills a worker that has not answered its health check within 5 s of being
        # spawned; one importing the server and compiling its models on a busy machine takes
        # longer, so `serve --workers 2` killed and respawned its workers forever.
        options.setdefault("timeout_worker_healthcheck", 60)
    config = server_config(app, settings, **options)
    if config.workers > 1:
        from uvicorn.supervisors import Multiprocess

        sock = config.bind_socket()
        Multiprocess(config, sockets=[sock]).run()
        return
    uvicorn.Server(config).run()
