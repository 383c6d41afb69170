"""Fixtures of the server tests: an in-process app with two tenants' keys, on SQLite and on
PostgreSQL (a schema of its own per test; skipped locally when PostgreSQL is down, failed
under ``CI=true``), as the design asks of the server's tests."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from dialoghub.server import Settings, create_app
from dialoghub.server.auth import create_key
from dialoghub.server.keystore import MemoryKeyStore
from tests.stores.conftest import BACKENDS

WEATHER = str(Path(__file__).resolve().parents[2] / "examples" / "weather")


@dataclass
class Keys:
    """API keys of the test app: tenant acme (admin, write, read) and tenant other."""

    admin: str
    write: str
    read: str
    other: str

    def h(self, key: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {key or self.write}"}


def make_keys(store: MemoryKeyStore) -> Keys:
    async def run() -> Keys:
        admin, _ = await create_key(store, "acme", scopes=("admin",))
        write, _ = await create_key(store, "acme", scopes=("write",))
        read, _ = await create_key(store, "acme", scopes=("read",))
        other, _ = await create_key(store, "other", scopes=("write",))
        return Keys(admin, write, read, other)

    return asyncio.run(run())


@pytest.fixture
def keystore() -> MemoryKeyStore:
    return MemoryKeyStore()


@pytest.fixture
def keys(keystore: MemoryKeyStore) -> Keys:
    return make_keys(keystore)


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh session store of each backend the server's tests run on."""
    url, cleanup = BACKENDS[request.param](tmp_path)
    try:
        yield url
    finally:
        asyncio.run(cleanup())


@pytest.fixture
def settings(store_url: str) -> Settings:
    return Settings(store=store_url, models=(WEATHER,), rate_limit=0,
                    token_keys=("k1:0123456789abcdef0123456789abcdef",))


@pytest.fixture
def client(settings: Settings, keystore: MemoryKeyStore, keys: Keys) -> Iterator[TestClient]:
    with TestClient(create_app(settings, keystore=keystore)) as c:
        yield c
