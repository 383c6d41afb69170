"""Stores: where sessions live, chosen by URL.

``open_store("sqlite:///sessions.db")`` looks the scheme up in a registry and imports the
backend (and its driver) only then, so an unused backend costs nothing and a missing driver
says which extra to install.
"""

from __future__ import annotations

import importlib
from urllib.parse import urlsplit

from dialoghub.errors import StoreConfigError
from dialoghub.stores.base import Idempotency, Page, SessionFilter, Store, Write

__all__ = ["Idempotency", "Page", "SessionFilter", "Store", "Write", "open_store", "register"]

# scheme -> "module:Class"; each class has a ``from_url(url) -> Store`` classmethod.
_REGISTRY: dict[str, str] = {
    "memory": "dialoghub.stores.memory:MemoryStore",
    "sqlite": "dialoghub.stores.sqlite:SQLiteStore",
    "json": "dialoghub.stores.jsonfile:JSONFileStore",
    "postgresql": "dialoghub.stores.postgres:PostgresStore",
    "postgres": "dialoghub.stores.postgres:PostgresStore",
    "redis": "dialoghub.stores.redis:RedisStore",
}


def register(scheme: str, target: str) -> None:
    """Register a store class (``"package.module:Class"``) for a URL scheme."""
    _REGISTRY[scheme] = target


def open_store(url: str) -> Store:
    """Build (not yet open) the store a URL names."""
    scheme = urlsplit(url).scheme
    if not scheme:
        raise StoreConfigError(
            f"store URL {url!r} has no scheme; use one of "
            + ", ".join(f"{s}://" for s in sorted(_REGISTRY))
        )
    target = _REGISTRY.get(scheme)
    if target is None:
        raise StoreConfigError(
            f"unknown store scheme {scheme!r} in {url!r}; known: " + ", ".join(sorted(_REGISTRY))
        )
    module_name, _, cls_name = target.partition(":")
    module = importlib.import_module(module_name)
    store: Store = getattr(module, cls_name).from_url(url)
    return store
