"""Opening the routing bus a URL names (the adapters' drivers imported only when used)."""

from __future__ import annotations

from urllib.parse import urlsplit

from dialoghub.errors import BusError
from dialoghub.routing.bus import Bus, LocalBus

__all__ = ["open_bus"]


def open_bus(url: str, process: str) -> Bus:
    """The bus a URL names: ``local://`` (or empty), ``redis://…``, ``nats://…``."""
    scheme = urlsplit(url).scheme if url else "local"
    if scheme == "local":
        return LocalBus(process)
    if scheme in ("redis", "rediss"):
        from dialoghub.routing.bus_redis import RedisBus

        return RedisBus(url, process)
    if scheme in ("nats", "tls"):
        from dialoghub.routing.bus_nats import NatsBus

        return NatsBus(url, process)
    raise BusError(
        f"unknown bus URL scheme {scheme!r}: use local://, redis://host:port/db or nats://host:port"
    )
