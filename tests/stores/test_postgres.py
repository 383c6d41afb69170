"""PostgreSQL-specific behaviour: connection errors, the schema version, races.

The behaviour every store shares is in the conformance suite; here is what only a networked,
multi-process store has. ``contend`` and ``race_two_stores`` are reused by the Redis tests.
"""

from __future__ import annotations

import asyncio
import sys
from collections import Counter
from pathlib import Path

import pytest

from dialoghub.engine.records import Event, Session
from dialoghub.errors import StoreConfigError, StoreError, VersionConflict
from dialoghub.stores import Store, Write, open_store
from tests.services import POSTGRES, require
from tests.stores.conftest import BACKENDS, PG_DSN

asyncpg = pytest.importorskip("asyncpg")


def new_session(sid: str) -> Write:
    """The create of session ``sid`` with one event."""
    session = Session(
        id=sid,
        model_id="m",
        model_version="1",
        unit="u",
        state="s0",
        version=1,
        seq=1,
        created_at=1.0,
        updated_at=1.0,
    )
    return Write(session, [Event(seq=1, version=1, time=1.0, type="created")], 0)


async def bump(store: Store, sid: str, who: str, times: int) -> int:
    """Apply ``times`` updates to ``sid`` as writer ``who``, retrying lost races; the losses."""
    lost = 0
    done = 0
    while done < times:
        current = await store.load(sid)
        assert current is not None
        v = current.version + 1
        nxt = Session(
            id=sid,
            model_id="m",
            model_version="1",
            unit="u",
            state=f"s{v}",
            version=v,
            seq=current.seq + 2,
            created_at=1.0,
            updated_at=float(v),
        )
        events = [
            Event(seq=current.seq + 1, version=v, time=float(v), type="by", data={"who": who}),
            Event(seq=current.seq + 2, version=v, time=float(v), type="moved"),
        ]
        try:
            await store.write(Write(nxt, events, current.version))
        except VersionConflict as exc:
            assert exc.actual is not None and exc.actual > current.version
            lost += 1
            continue
        done += 1
    return lost


async def check_log(store: Store, sid: str, writers: Counter[str], times: int) -> None:
    """Seqs are 1..n without gaps, one winner per version, each writer won ``times`` times."""
    events: list[Event] = []
    while True:
        page = await store.events(sid, after=len(events), limit=37)
        if not page:
            break
        events += page
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    wins = Counter(e.data["who"] for e in events if e.type == "by")
    assert wins == Counter({w: times for w in writers})
    versions = [e.version for e in events if e.type == "by"]
    assert versions == list(range(2, 2 + len(versions)))  # each version won exactly once
    final = await store.load(sid)
    assert final is not None
    assert final.version == 1 + sum(wins.values()) and final.seq == len(events)


async def contend(store: Store, writers: int = 50, times: int = 2) -> None:
    """``writers`` tasks update one session concurrently."""
    await store.write(new_session("hot"))
    names = Counter(f"w{i}" for i in range(writers))
    losses = await asyncio.gather(*(bump(store, "hot", w, times) for w in names))
    assert sum(losses) > 0  # they really raced
    await check_log(store, "hot", names, times)


async def race_two_stores(url: str, sessions: int = 5, per_store: int = 5, times: int = 3) -> None:
    """Two store instances (as two processes would) update the same sessions."""
    a, b = open_store(url), open_store(url)
    await a.open()
    await b.open()
    try:
        for i in range(sessions):
            await a.write(new_session(f"s{i}"))
        jobs = []
        names: Counter[str] = Counter()
        for i in range(sessions):
            for j in range(per_store):
                for store, tag in ((a, "a"), (b, "b")):
                    names[f"{tag}{j}"] = 1
                    jobs.append(bump(store, f"s{i}", f"{tag}{j}", times))
        await asyncio.gather(*jobs)
        for i in range(sessions):
            await check_log(a, f"s{i}", names, times)
            await check_log(b, f"s{i}", names, times)
    finally:
        await a.close()
        await b.close()


@pytest.fixture
async def pg_url(tmp_path: Path) -> object:
    url, cleanup = BACKENDS["postgres"](tmp_path)
    yield url
    await cleanup()


async def test_fifty_writers_on_one_session(pg_url: str) -> None:
    store = open_store(pg_url)
    await store.open()
    try:
        await contend(store)
    finally:
        await store.close()


async def test_two_stores_race_on_the_same_sessions(pg_url: str) -> None:
    await race_two_stores(pg_url)


async def test_newer_schema_version_is_refused(pg_url: str) -> None:
    store = open_store(pg_url)
    await store.open()
    await store.close()
    schema = pg_url.split("schema=")[1]
    conn = await asyncpg.connect(PG_DSN)
    try:
        await conn.execute(f'UPDATE "{schema}".dialoghub_schema SET version = 99')
    finally:
        await conn.close()
    with pytest.raises(StoreError, match="version 99, written by a newer dialoghub"):
        await open_store(pg_url).open()


async def test_unreachable_server_names_host_and_port() -> None:
    with pytest.raises(StoreError, match=r"127\.0\.0\.1:1\b") as info:
        await open_store("postgresql://postgres@127.0.0.1:1/test").open()
    assert not isinstance(info.value, StoreConfigError)


async def test_bad_password_says_authentication_failed(monkeypatch: pytest.MonkeyPatch) -> None:
    # The test server trusts every local user, so the driver's refusal is simulated.
    async def refuse(*args: object, **kwargs: object) -> None:
        raise asyncpg.InvalidPasswordError('password authentication failed for user "bob"')

    monkeypatch.setattr(asyncpg, "create_pool", refuse)
    with pytest.raises(StoreConfigError, match="authentication failed for user 'bob'"):
        await open_store("postgresql://bob:wrong@127.0.0.1:5432/test").open()


async def test_unknown_role_is_a_config_error() -> None:
    require(*POSTGRES)
    with pytest.raises(StoreConfigError, match="nobody_here"):
        await open_store("postgresql://nobody_here@127.0.0.1:5432/test").open()


async def test_missing_driver_says_which_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "asyncpg", None)  # makes "import asyncpg" fail
    with pytest.raises(StoreConfigError, match=r"pip install 'dialoghub\[postgres\]'"):
        await open_store("postgresql://postgres@127.0.0.1:5432/test").open()


def test_unknown_scheme_and_bad_options() -> None:
    with pytest.raises(StoreConfigError, match="unknown store scheme 'postgresq'"):
        open_store("postgresq://localhost/test")
    with pytest.raises(StoreConfigError, match="plain identifier"):
        open_store("postgres://localhost/test?schema=a;drop")
    with pytest.raises(StoreConfigError, match="writers"):
        open_store("postgres://localhost/test?writers=0")


async def test_write_before_open_is_refused() -> None:
    with pytest.raises(StoreError, match="not open"):
        await open_store("postgresql://localhost/test").write(new_session("x"))
