"""The ``store`` fixture: one open, empty store per test, for every backend.

Tests in this folder take ``store`` and run once per backend: the conformance suite. Each
backend factory returns (url, cleanup) where cleanup removes whatever the test left behind
(its own PostgreSQL schema, its own Redis key prefix, its own files).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from dialoghub.stores import Store, open_store
from tests.services import POSTGRES, REDIS, require

Cleanup = Callable[[], Awaitable[None]]


async def _nothing() -> None:
    return None


def _memory(tmp_path: Path) -> tuple[str, Cleanup]:
    return "memory://", _nothing


def _sqlite(tmp_path: Path) -> tuple[str, Cleanup]:
    return f"sqlite:///{tmp_path / 'sessions.db'}", _nothing


PG_DSN = "postgresql://postgres@127.0.0.1:5432/test"
REDIS_URL = "redis://127.0.0.1:6379/0"


def _postgres(tmp_path: Path) -> tuple[str, Cleanup]:
    require(*POSTGRES)
    schema = unique("t_")

    async def drop() -> None:
        import asyncpg

        conn = await asyncpg.connect(PG_DSN)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await conn.close()

    return f"{PG_DSN}?schema={schema}", drop


def _redis(tmp_path: Path) -> tuple[str, Cleanup]:
    require(*REDIS)
    prefix = unique("t_") + ":"

    async def drop() -> None:
        import redis.asyncio as aioredis

        client = aioredis.from_url(REDIS_URL)
        try:
            keys = [k async for k in client.scan_iter(match=prefix + "*", count=1000)]
            for i in range(0, len(keys), 500):
                await client.delete(*keys[i : i + 500])
        finally:
            await client.aclose()

    return f"{REDIS_URL}?prefix={prefix}", drop


def _json(tmp_path: Path) -> tuple[str, Cleanup]:
    return f"json://{tmp_path / 'sessions.json'}", _nothing


# name -> factory(tmp_path) -> (url, cleanup). Backends add themselves here.
BACKENDS: dict[str, Callable[[Path], tuple[str, Cleanup]]] = {
    "memory": _memory,
    "sqlite": _sqlite,
    "postgres": _postgres,
    "redis": _redis,
    "json": _json,
}


def unique(prefix: str) -> str:
    """A name no other test uses: for schemas and key prefixes."""
    return f"{prefix}{uuid.uuid4().hex[:12]}"


@pytest.fixture(params=sorted(BACKENDS))
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
async def store(backend: str, tmp_path: Path) -> AsyncIterator[Store]:
    url, cleanup = BACKENDS[backend](tmp_path)
    s = open_store(url)
    await s.open()
    try:
        yield s
    finally:
        await s.close()
        await cleanup()


@pytest.fixture
async def store_url(backend: str, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh URL of the backend, for tests that open and reopen stores themselves."""
    url, cleanup = BACKENDS[backend](tmp_path)
    try:
        yield url
    finally:
        await cleanup()
