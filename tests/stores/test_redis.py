"""Redis-specific behaviour: connection errors, the key layout version, races, index upkeep."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from dialoghub.errors import (
    SessionExists,
    SessionNotFound,
    StoreConfigError,
    StoreError,
    VersionConflict,
)
from dialoghub.stores import SessionFilter, Write, open_store
from dialoghub.stores.redis import SCHEMA_VERSION
from tests.stores.conftest import BACKENDS, REDIS_URL
from tests.stores.helpers import T0, advance, create, events, key, session, update
from tests.stores.test_postgres import bump, contend, new_session, race_two_stores

aioredis = pytest.importorskip("redis.asyncio")


@pytest.fixture
async def redis_url(tmp_path: Path) -> AsyncIterator[str]:
    url, cleanup = BACKENDS["redis"](tmp_path)
    yield url
    await cleanup()


async def test_fifty_writers_on_one_session(redis_url: str) -> None:
    store = open_store(redis_url)
    await store.open()
    try:
        await contend(store)
    finally:
        await store.close()


async def test_two_stores_race_on_the_same_sessions(redis_url: str) -> None:
    await race_two_stores(redis_url)


async def test_index_sets_follow_state_and_vanish_on_delete(redis_url: str) -> None:
    store = open_store(redis_url)
    await store.open()
    prefix = redis_url.split("prefix=")[1]
    client = aioredis.from_url(REDIS_URL)
    try:
        await store.write(new_session("a"))
        await bump(store, "a", "w", 2)  # state s0 -> s2 -> s3
        page = await store.list_sessions(SessionFilter(state="s3"))
        assert [s.id for s in page.sessions] == ["a"]
        assert (await store.list_sessions(SessionFilter(state="s0"))).sessions == []
        # one sorted set per filter combination, each holding the session once
        assert len([k async for k in client.scan_iter(match=prefix + "default:ix:*")]) == 8
        assert await store.delete("a")
        left = sorted([k async for k in client.scan_iter(match=prefix + "*")])
        assert left == [f"{prefix}dialoghub_schema".encode(), f"{prefix}order".encode()]
    finally:
        await client.aclose()
        await store.close()


async def test_newer_layout_version_is_refused(redis_url: str) -> None:
    prefix = redis_url.split("prefix=")[1]
    client = aioredis.from_url(REDIS_URL)
    try:
        await client.set(prefix + "dialoghub_schema", SCHEMA_VERSION + 1)
    finally:
        await client.aclose()
    with pytest.raises(StoreError, match=f"layout version {SCHEMA_VERSION + 1}, newer"):
        await open_store(redis_url).open()


async def test_layout_1_is_brought_to_2_with_the_state_keys_of_stored_charts(
    redis_url: str,
) -> None:
    """Layout 2 lists a statechart session by its ancestors (hash field sx): a prefix written
    at layout 1 gets them on open, only for sessions still as they were read."""
    prefix = redis_url.split("prefix=")[1]
    store = open_store(redis_url)
    await store.open()
    try:
        conf = ["light", "light.red", "light.red.walk"]
        await create(store, "c", state="red.walk", configuration=conf)
        await create(store, "d", state="red.walk")  # a dialog: no ancestors
    finally:
        await store.close()
    client = aioredis.from_url(REDIS_URL)
    try:  # as layout 1 left them: no sx, no ancestor sets
        await client.hdel(f"{prefix}default:s:c", "sx")
        for key in [k async for k in client.scan_iter(match=prefix + "default:ix:*")]:
            if b"red.walk" not in key and b"|*|" not in key:
                await client.delete(key)
        await client.set(prefix + "dialoghub_schema", 1)
    finally:
        await client.aclose()
    store = open_store(redis_url)
    await store.open()
    try:
        assert [s.id for s in (await store.list_sessions(SessionFilter(state="red"))).sessions] == [
            "c"
        ]
        page = await store.list_sessions(SessionFilter(state="light.red.walk", model_id="pizza"))
        assert [s.id for s in page.sessions] == ["c"]
        assert [
            s.id for s in (await store.list_sessions(SessionFilter(state="red.walk"))).sessions
        ] == ["c", "d"]
    finally:
        await store.close()
    client = aioredis.from_url(REDIS_URL)
    try:
        assert int(await client.get(prefix + "dialoghub_schema")) == SCHEMA_VERSION
    finally:
        await client.aclose()


async def test_layout_2_is_brought_to_3_with_the_set_of_tenants(redis_url: str) -> None:
    """Layout 3 lists tenants from a set the scripts keep: a prefix written at layout 2 (no
    such set) gets it on open, from the tenants' index sets."""
    prefix = redis_url.split("prefix=")[1]
    store = open_store(redis_url)
    await store.open()
    try:
        await create(store, "a", tenant="acme")
        await create(store, "b", tenant="b:2 %")
        assert await store.list_tenants() == ["acme", "b:2 %"]
    finally:
        await store.close()
    client = aioredis.from_url(REDIS_URL)
    try:  # as layout 2 left them
        assert await client.delete(prefix + "tenants") == 1
        await client.set(prefix + "dialoghub_schema", 2)
    finally:
        await client.aclose()
    store = open_store(redis_url)
    await store.open()
    try:
        assert await store.list_tenants() == ["acme", "b:2 %"]
        assert await store.delete("b", tenant="b:2 %")
        assert await store.list_tenants() == ["acme"]
    finally:
        await store.close()
    client = aioredis.from_url(REDIS_URL)
    try:
        assert int(await client.get(prefix + "dialoghub_schema")) == SCHEMA_VERSION == 3
    finally:
        await client.aclose()


async def test_unreachable_server_names_host_and_port() -> None:
    with pytest.raises(StoreError, match=r"127\.0\.0\.1:1\b") as info:
        await open_store("redis://127.0.0.1:1/0").open()
    assert not isinstance(info.value, StoreConfigError)


async def test_bad_password_says_authentication_failed(redis_url: str) -> None:
    bad = redis_url.replace("redis://", "redis://bob:wrong@")
    with pytest.raises(StoreConfigError, match="authentication failed for user 'bob'"):
        await open_store(bad).open()


async def test_missing_driver_says_which_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "redis.asyncio", None)  # makes the import fail
    with pytest.raises(StoreConfigError, match=r"pip install 'dialoghub\[redis\]'"):
        await open_store("redis://127.0.0.1:6379/0").open()


def test_unknown_scheme_and_bad_options() -> None:
    with pytest.raises(StoreConfigError, match="unknown store scheme 'redi'"):
        open_store("redi://127.0.0.1:6379/0")
    with pytest.raises(StoreConfigError, match="max_batch"):
        open_store("redis://127.0.0.1:6379/0?max_batch=x")


async def test_survives_a_flushed_script_cache(redis_url: str) -> None:
    store = open_store(redis_url)
    await store.open()
    client = aioredis.from_url(REDIS_URL)
    try:
        await client.script_flush()
        await store.write(new_session("a"))  # NOSCRIPT: reloaded and sent again
        await client.script_flush()
        assert [s.id for s in (await store.list_sessions(SessionFilter())).sessions] == ["a"]
    finally:
        await client.aclose()
        await store.close()


async def test_one_batch_mixes_outcomes_and_a_failed_write_writes_nothing(redis_url: str) -> None:
    """Writes sent in one script call succeed or fail each on its own."""
    store = open_store(redis_url)
    await store.open()
    prefix = redis_url.split("prefix=")[1]
    client = aioredis.from_url(REDIS_URL)
    try:
        a = await create(store, "a")
        b = await create(store, "b")
        c = await create(store, "c")
        f = await create(store, "f")
        # c's stream is not a stream: XADD fails inside the script, after c's checks passed
        await client.delete(f"{prefix}default:e:c")
        await client.set(f"{prefix}default:e:c", "not a stream")
        stale = advance(a)
        no_events = advance(f, n=0)
        results = await asyncio.gather(
            store.write(advance(a)),  # ok
            store.write(advance(b, state="moved")),  # ok, moves b between index sets
            store.write(advance(c)),  # error in Redis
            store.write(Write(session("d", version=2, seq=2), events(2, 1, version=2), 1)),
            store.write(Write(session("a", version=1, seq=1), events(1, 1, version=1), 0)),
            store.write(Write(no_events.session, [], 1, key("k"))),  # ok, a record, no entry
            return_exceptions=True,
        )
        assert results[0] is None and results[1] is None
        assert isinstance(results[2], StoreError) and "WRONGTYPE" in str(results[2])
        assert isinstance(results[3], SessionNotFound)
        assert isinstance(results[4], SessionExists)
        assert results[5] is None
        assert await store.load("f") == no_events.session
        assert await store.idempotent("f", "k") == key("k")
        assert [e.seq for e in await store.events("f")] == [1]
        with pytest.raises(VersionConflict):
            await store.write(stale)  # a is at version 2 now
        assert (await store.load("a")) == stale.session
        assert [
            s.id for s in (await store.list_sessions(SessionFilter(state="moved"))).sessions
        ] == ["b"]
        assert (await store.load("c")) == c  # its failed write changed nothing
        assert (await store.load("d")) is None
    finally:
        await client.aclose()
        await store.close()


async def test_timer_field_goes_with_the_timer(redis_url: str) -> None:
    store = open_store(redis_url)
    await store.open()
    prefix = redis_url.split("prefix=")[1]
    client = aioredis.from_url(REDIS_URL)
    try:
        s1 = await create(store, "a", due_at=T0 + 60)
        assert await client.zscore(f"{prefix}timers", f"{prefix}default:s:a") == T0 + 60
        assert await client.hget(f"{prefix}default:s:a", "tn") == b"prompt"
        await update(store, s1, due_at=None)
        assert await client.zcard(f"{prefix}timers") == 0
        assert await client.hget(f"{prefix}default:s:a", "tn") is None
    finally:
        await client.aclose()
        await store.close()


async def test_index_keys_built_at_once_match_one_by_one() -> None:
    """``ixkeys`` (the write script's) gives exactly the names ``ixkey`` gives per mask."""
    from dialoghub.stores import _redis_scripts as scripts

    client = aioredis.from_url(REDIS_URL)
    try:
        script = (
            scripts._INDEX
            + """
local out = {}
local keys = ixkeys(ARGV[1], ARGV[2], ARGV[3], ARGV[4])
for mask = 0, 7 do
    out[#out + 1] = keys[mask + 1]
    out[#out + 1] = ixkey(ARGV[1], mask, ARGV[2], ARGV[3], ARGV[4])
end
return out
"""
        )
        flat = await client.eval(script, 0, "p:t:", "weather", "état", "active")
        pairs = [(flat[i], flat[i + 1]) for i in range(0, len(flat), 2)]
        assert all(x == y for x, y in pairs) and len(set(pairs)) == 8
        assert pairs[7][0] == "p:t:ix:#7:weather|#5:état|#6:active".encode()
    finally:
        await client.aclose()
