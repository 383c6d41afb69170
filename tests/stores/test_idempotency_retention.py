"""Idempotency records have a retention (issue 8, item 5), on every store.

``Store.purge_idempotency(before)`` deletes the records written before ``before`` (a record's
time is the ``updated_at`` of the snapshot written with it), oldest first, at most ``limit``,
and nothing else: sessions, logs and younger records stay. ``Hub.purge`` (the retention pass)
calls it with ``idempotency_retention`` (24 hours unless configured).
"""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from dialoghub import Hub
from dialoghub.errors import IdempotencyKeyReused, InvalidInput
from dialoghub.model.spec import Model
from dialoghub.stores import Store, Write, open_store
from tests.stores.helpers import T0, create, events, key, session, update
from tests.stores.test_jsonfile import crash
from tests.stores.test_migrations import pg_v1  # noqa: F401  (a fixture)

VOLATILE = {"memory"}


async def _three_updates(store: Store) -> None:
    """Session a: k1 at T0+1, k2 at T0+2, k3 at T0+3; session b of tenant x: k1 at T0+1."""
    a = await create(store, "a", idem=key("k1"))
    a = await update(store, a, idem=key("k2"))
    await update(store, a, idem=key("k3"))
    await create(store, "b", tenant="x", idem=key("k1"))


async def test_purge_deletes_only_older_records(store: Store) -> None:
    await _three_updates(store)
    before_a = await store.load("a")
    log_a = await store.events("a", limit=100)
    assert await store.purge_idempotency(T0 + 2.5) == 3
    assert await store.idempotent("a", "k1") is None
    assert await store.idempotent("a", "k2") is None
    assert await store.idempotent("b", "k1", tenant="x") is None
    assert await store.idempotent("a", "k3") == key("k3")
    # the sessions and their logs are untouched
    assert await store.load("a") == before_a
    assert await store.events("a", limit=100) == log_a
    assert (await store.load("b", tenant="x")) is not None
    assert await store.purge_idempotency(T0 + 2.5) == 0
    assert await store.purge_idempotency(T0 + 100) == 1
    assert await store.idempotent("a", "k3") is None


async def test_purge_takes_the_oldest_first_up_to_limit(store: Store) -> None:
    a = await create(store, "a", idem=key("k1"))  # T0+1
    a = await update(store, a, idem=key("k2"))  # T0+2
    a = await update(store, a, idem=key("k3"))  # T0+3
    assert await store.purge_idempotency(T0 + 10, limit=2) == 2
    assert await store.idempotent("a", "k1") is None
    assert await store.idempotent("a", "k2") is None
    assert await store.idempotent("a", "k3") == key("k3")


async def test_a_purged_key_can_be_used_again(store: Store) -> None:
    a = await create(store, "a")
    a = await update(store, a, idem=key("k"))
    with pytest.raises(IdempotencyKeyReused):
        await update(store, a, idem=key("k"))
    assert await store.purge_idempotency(T0 + 10) == 1
    a = await update(store, a, idem=key("k", "fp2"))
    assert await store.idempotent("a", "k") == key("k", "fp2")


async def test_a_key_written_again_after_a_delete_keeps_its_new_time(store: Store) -> None:
    await create(store, "a", idem=key("k"))  # T0+1
    assert await store.delete("a")
    again = msgspec.structs.replace(session("a", seq=1), updated_at=T0 + 50)
    await store.write(Write(again, events(1, 1, version=1, time=T0 + 50), 0, key("k")))
    assert await store.purge_idempotency(T0 + 10) == 0
    assert await store.idempotent("a", "k") == key("k")
    assert await store.purge_idempotency(T0 + 51) == 1


async def test_purged_records_stay_purged_after_reopening(backend: str, store_url: str) -> None:
    if backend in VOLATILE:
        pytest.skip("keeps nothing across close()")
    store = open_store(store_url)
    await store.open()
    try:
        await _three_updates(store)
        assert await store.purge_idempotency(T0 + 2.5) == 3
    finally:
        await store.close()
    store = open_store(store_url)
    await store.open()
    try:
        assert await store.idempotent("a", "k1") is None
        assert await store.idempotent("a", "k2") is None
        assert await store.idempotent("b", "k1", tenant="x") is None
        assert await store.idempotent("a", "k3") == key("k3")
        assert await store.purge_idempotency(T0 + 2.5) == 0
        assert await store.purge_idempotency(T0 + 3.5) == 1  # its time survived too
    finally:
        await store.close()


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


async def test_hub_purge_keeps_records_for_the_retention(store_url: str, weather: Model) -> None:
    """The retention pass: a record younger than 24 hours answers the retry; once older, it
    is gone and the key is a new request."""
    clock = Clock()
    async with Hub(store_url, clock=clock) as hub:
        hub.add_model(weather)
        await hub.create_session(session_id="s")
        first = await hub.process_text("s", "hello", idempotency_key="k")
        clock.now += 23 * 3600
        assert await hub.purge(older_than=3600) == 0
        assert await hub.process_text("s", "hello", idempotency_key="k") == first
        with pytest.raises(IdempotencyKeyReused):
            await hub.process_text("s", "thanks", idempotency_key="k")
        clock.now += 2 * 3600  # 25 hours after the update
        await hub.purge(older_than=3600)
        assert await hub.store.idempotent("s", "k") is None
        again = await hub.process_text("s", "thanks", idempotency_key="k")
        assert again.version == first.version + 1
        assert await hub.process_text("s", "thanks", idempotency_key="k") == again


async def test_hub_retention_is_configurable(store_url: str, weather: Model) -> None:
    clock = Clock()
    async with Hub(store_url, clock=clock, idempotency_retention=60) as hub:
        hub.add_model(weather)
        await hub.create_session(session_id="s", idempotency_key="c")
        await hub.process_text("s", "hello", idempotency_key="k")
        clock.now += 30
        await hub.purge(older_than=3600)
        assert await hub.store.idempotent("s", "k") is not None
        clock.now += 31
        await hub.purge(older_than=3600, batch=1)  # one record per transaction: both go
        assert await hub.store.idempotent("s", "k") is None
        assert await hub.store.idempotent("s", "c") is None
        assert (await hub.get_session("s")).version == 2  # the session stays


@pytest.mark.parametrize("bad", [0, -1, True, "1", None])
def test_retention_must_be_positive_seconds(bad: object) -> None:
    with pytest.raises(InvalidInput):
        Hub("memory://", idempotency_retention=bad)  # type: ignore[arg-type]


async def test_json_store_purge_survives_a_crash(tmp_path: Path) -> None:
    """The JSON store's log lines hold the records they wrote: the purge rewrites the log, so
    a kill -9 right after it (no shutdown compaction) does not bring them back."""
    url = f"json://{tmp_path / 'sessions.json'}"
    store = open_store(url)
    await store.open()
    await _three_updates(store)
    assert await store.purge_idempotency(T0 + 2.5) == 3
    await crash(store)
    store = open_store(url)
    await store.open()
    try:
        assert await store.idempotent("a", "k1") is None
        assert await store.idempotent("b", "k1", tenant="x") is None
        assert await store.idempotent("a", "k3") == key("k3")
    finally:
        await store.close()


async def test_sqlite_upgrade_gives_old_records_their_sessions_last_update(
    tmp_path: Path,
) -> None:
    """Schema step 4 on a database with records: each gets its session's ``updated_at``
    (kept at least as long as it should be), and purging works on them."""
    import sqlite3

    from tests.stores.test_migrations import v1_sqlite

    path = tmp_path / "v1.db"
    url = v1_sqlite(path)
    conn = sqlite3.connect(path)
    sid, updated = conn.execute(
        "SELECT sid, updated_at FROM sessions WHERE id = 'alice'"
    ).fetchone()
    conn.execute("INSERT INTO idempotency VALUES (?, 'old', 'fp', x'00')", (sid,))
    conn.commit()
    conn.close()
    store = open_store(url + "?migrate=true")
    await store.open()
    try:
        assert (await store.idempotent("alice", "old")) is not None
        assert await store.purge_idempotency(updated) == 0
        assert await store.purge_idempotency(updated + 1) == 1
        assert (await store.idempotent("alice", "old")) is None
    finally:
        await store.close()


async def test_postgres_upgrade_gives_old_records_their_sessions_last_update(
    pg_v1: str,  # noqa: F811  (the fixture imported above)
) -> None:
    import asyncpg

    from tests.stores.conftest import PG_DSN

    schema = pg_v1.split("schema=")[1]
    conn = await asyncpg.connect(PG_DSN)
    try:
        row = await conn.fetchrow(
            f"SELECT sid, updated_at FROM \"{schema}\".sessions WHERE id = 'alice'"
        )
        await conn.execute(
            f"INSERT INTO \"{schema}\".idempotency VALUES ($1, 'old', 'fp', '\\x00')", row["sid"]
        )
    finally:
        await conn.close()
    store = open_store(pg_v1 + "&migrate=true")
    await store.open()
    try:
        assert (await store.idempotent("alice", "old")) is not None
        assert await store.purge_idempotency(row["updated_at"]) == 0
        assert await store.purge_idempotency(row["updated_at"] + 1) == 1
    finally:
        await store.close()
