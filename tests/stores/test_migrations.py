"""Schema migrations: a database created by the first released schema (fixtures/*_v1.sql,
with sessions and events written by that code) is refused until migrated, then upgraded in
place with its data intact, readable, replayable and able to continue."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from dialoghub import Hub
from dialoghub.cli import main
from dialoghub.engine.fold import replay
from dialoghub.engine.records import Event
from dialoghub.errors import StoreConfigError
from dialoghub.stores import open_store
from dialoghub.stores.migrations import SchemaTooNew, SchemaTooOld, Step
from dialoghub.stores.migrations import postgres as pg_migrations
from dialoghub.stores.migrations import sqlite as sqlite_migrations
from dialoghub.stores.sqlite import SQLiteStore
from tests.stores.conftest import BACKENDS, PG_DSN

FIXTURES = Path(__file__).parent / "fixtures"
WEATHER = Path(__file__).parents[2] / "examples" / "weather"
# What the v1 fixture holds: session id -> (version, ended).
V1_SESSIONS = {"alice": 6, "bob": 5, "carol": 3}


def v1_sqlite(path: Path) -> str:
    """A SQLite file at schema version 1 with the fixture's sessions; its URL."""
    conn = sqlite3.connect(path)
    conn.executescript((FIXTURES / "sqlite_v1.sql").read_text())
    conn.close()
    return f"sqlite:///{path}"


async def invoke(*args: str) -> Result:
    """Run the CLI in a thread (it runs its own event loop)."""
    return await asyncio.to_thread(CliRunner().invoke, main, list(args))


async def all_events(hub: Hub, sid: str) -> list[Event]:
    out: list[Event] = []
    while page := await hub.events(sid, after=len(out), limit=7):
        out += page
    return out


async def check_v1_data_and_continue(hub: Hub) -> None:
    """Every fixture session reads back, replays to its snapshot, and alice continues."""
    page = await hub.list_sessions(limit=10)
    assert [s.id for s in page.sessions] == list(V1_SESSIONS)
    for sid in V1_SESSIONS:
        snapshot = await hub.get_session(sid)
        events = await all_events(hub, sid)
        assert [e.seq for e in events] == list(range(1, snapshot.seq + 1))
        assert events[-1].version == snapshot.version
        assert replay(events) == snapshot
    assert (await hub.get_session("carol")).ended
    before = await hub.get_session("alice")
    view = await hub.process_text("alice", "what's the weather in Tokyo")
    assert view.session.version > before.version
    assert replay(await all_events(hub, "alice")) == await hub.get_session("alice")
    await hub.create_session("weather", session_id="dave")  # new sessions work too


async def test_fixture_versions_are_what_the_test_expects(tmp_path: Path) -> None:
    url = v1_sqlite(tmp_path / "v1.db")
    conn = sqlite3.connect(url.removeprefix("sqlite:///"))
    rows = dict(conn.execute("SELECT id, version FROM sessions").fetchall())
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    conn.close()
    assert set(rows) == set(V1_SESSIONS)


# --- SQLite -----------------------------------------------------------------------------------


async def test_sqlite_v1_is_refused_untouched_until_migrated(tmp_path: Path) -> None:
    path = tmp_path / "v1.db"
    url = v1_sqlite(path)
    before = path.read_bytes()
    with pytest.raises(SchemaTooOld, match="dialoghub store migrate") as info:
        await open_store(url).open()
    assert info.value.details["schema_version"] == 1
    assert path.read_bytes() == before  # nothing written, not even the WAL switch

    result = await invoke("store", "migrate", "--store", url)
    assert result.exit_code == 0, result.output
    assert "applied step 2" in result.output
    assert f"version {sqlite_migrations.LATEST}" in result.output
    again = await invoke("store", "migrate", "--store", url)
    assert "up to date" in again.output

    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == sqlite_migrations.LATEST
    indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    conn.close()
    assert {"sessions_by_updated", "timers_due", "sessions_closed"} <= indexes
    async with Hub(url) as hub:
        hub.load_models(WEATHER)
        await check_v1_data_and_continue(hub)


@pytest.mark.parametrize("how", ["hub", "url"])
async def test_sqlite_migrate_on_open(tmp_path: Path, how: str) -> None:
    url = v1_sqlite(tmp_path / "v1.db")
    hub = Hub(url, migrate=True) if how == "hub" else Hub(url + "?migrate=true")
    async with hub:
        hub.load_models(WEATHER)
        await check_v1_data_and_continue(hub)


async def test_sqlite_failed_step_leaves_the_last_whole_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "v1.db"
    url = v1_sqlite(path)
    broken = Step(sqlite_migrations.LATEST + 1, "broken", ("CREATE TABLE t3 (x)", "NOT SQL"))
    monkeypatch.setattr(sqlite_migrations, "STEPS", (*sqlite_migrations.STEPS, broken))
    with pytest.raises(Exception, match="syntax error"):
        await SQLiteStore.from_url(url).migrate()
    conn = sqlite3.connect(path)
    # every real step stayed, the broken one left nothing
    assert conn.execute("PRAGMA user_version").fetchone()[0] == sqlite_migrations.LATEST
    assert not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 't3'").fetchone()
    conn.close()


async def test_sqlite_newer_schema_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "v1.db"
    url = v1_sqlite(path)
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {sqlite_migrations.LATEST + 1}")
    conn.close()
    before = path.read_bytes()
    for attempt in (open_store(url).open(), SQLiteStore.from_url(url).migrate()):
        with pytest.raises(SchemaTooNew, match="upgrade dialoghub"):
            await attempt
    assert path.read_bytes() == before


async def test_sqlite_foreign_database_is_not_migrated(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE invoices (n)")
    conn.close()
    with pytest.raises(StoreConfigError, match="not a dialoghub one"):
        await SQLiteStore.from_url(f"sqlite:///{path}").migrate()


def test_migrate_command_reports_bad_urls() -> None:
    result = CliRunner().invoke(main, ["store", "migrate", "--store", "nope://x"])
    assert result.exit_code == 1
    assert "unknown store scheme 'nope'" in result.output


# --- PostgreSQL -------------------------------------------------------------------------------


@pytest.fixture
async def pg_v1(tmp_path: Path) -> object:
    """A PostgreSQL schema at version 1 holding the fixture's sessions; its store URL."""
    import asyncpg

    url, cleanup = BACKENDS["postgres"](tmp_path)
    schema = url.split("schema=")[1]
    conn = await asyncpg.connect(PG_DSN)
    try:
        await conn.execute(f'CREATE SCHEMA "{schema}"')
        await conn.execute(f'SET search_path TO "{schema}"')
        await conn.execute((FIXTURES / "postgres_v1.sql").read_text())
    finally:
        await conn.close()
    yield url
    await cleanup()


async def pg_versions(url: str) -> list[int]:
    import asyncpg

    schema = url.split("schema=")[1]
    conn = await asyncpg.connect(PG_DSN)
    try:
        rows = await conn.fetch(f'SELECT version FROM "{schema}".dialoghub_schema ORDER BY 1')
    finally:
        await conn.close()
    return [r["version"] for r in rows]


async def test_postgres_v1_is_refused_until_migrated(pg_v1: str) -> None:
    with pytest.raises(SchemaTooOld, match="dialoghub store migrate"):
        await open_store(pg_v1).open()
    assert await pg_versions(pg_v1) == [1]  # nothing written

    result = await invoke("store", "migrate", "--store", pg_v1)
    assert result.exit_code == 0, result.output
    assert "applied step 2" in result.output
    assert await pg_versions(pg_v1) == list(range(1, pg_migrations.LATEST + 1))
    async with Hub(pg_v1) as hub:
        hub.load_models(WEATHER)
        await check_v1_data_and_continue(hub)


@pytest.mark.parametrize("how", ["hub", "url"])
async def test_postgres_migrate_on_open(pg_v1: str, how: str) -> None:
    hub = Hub(pg_v1, migrate=True) if how == "hub" else Hub(pg_v1 + "&migrate=true")
    async with hub:
        hub.load_models(WEATHER)
        await check_v1_data_and_continue(hub)


async def test_postgres_concurrent_migrations_apply_each_step_once(pg_v1: str) -> None:
    stores = [open_store(pg_v1) for _ in range(4)]
    results = await asyncio.gather(*(s.migrate() for s in stores))  # type: ignore[attr-defined]
    applied = sorted(step.version for steps in results for step in steps)
    assert applied == list(range(2, pg_migrations.LATEST + 1))
    assert await pg_versions(pg_v1) == list(range(1, pg_migrations.LATEST + 1))


async def test_postgres_newer_schema_is_refused(pg_v1: str) -> None:
    import asyncpg

    schema = pg_v1.split("schema=")[1]
    conn = await asyncpg.connect(PG_DSN)
    try:
        await conn.execute(
            f'INSERT INTO "{schema}".dialoghub_schema VALUES ({pg_migrations.LATEST + 5})'
        )
    finally:
        await conn.close()
    with pytest.raises(SchemaTooNew, match="upgrade dialoghub"):
        await open_store(pg_v1).open()
    with pytest.raises(SchemaTooNew, match="upgrade dialoghub"):
        await open_store(pg_v1).migrate()  # type: ignore[attr-defined]


# --- step 5: statechart sessions listed by their ancestors --------------------------------

CHART_CONFIGURATION = ["light", "light.red", "light.red.walk"]


async def _chart_sessions(url: str) -> None:
    """A statechart session and a dialog one, written by this code."""
    from dialoghub.stores import Write
    from tests.stores.helpers import events, session

    store = open_store(url)
    await store.open()
    try:
        chart = session("c", state="red.walk", configuration=CHART_CONFIGURATION, seq=1)
        await store.write(Write(chart, events(1, 1, version=1), 0))
        await store.write(Write(session("d", state="red.walk", seq=1), events(1, 1, version=1), 0))
    finally:
        await store.close()


async def _listed(url: str, state: str) -> list[str]:
    from dialoghub.stores import SessionFilter

    store = open_store(url)
    await store.open()
    try:
        return [s.id for s in (await store.list_sessions(SessionFilter(state=state))).sessions]
    finally:
        await store.close()


async def test_sqlite_step_5_backfills_the_state_keys_of_stored_charts(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/c.db"
    await _chart_sessions(url)
    # as a database of step 4 holds them: no session_states
    conn = sqlite3.connect(tmp_path / "c.db")
    conn.executescript("DROP TABLE session_states; PRAGMA user_version = 4;")
    conn.close()
    with pytest.raises(SchemaTooOld):
        await open_store(url).open()
    assert [s.version for s in await open_store(url).migrate()] == [5]  # type: ignore[attr-defined]
    assert await _listed(url, "red") == ["c"]  # the dialog's "red.walk" has no ancestors
    assert await _listed(url, "light.red.walk") == ["c"]
    assert await _listed(url, "red.walk") == ["c", "d"]


async def test_postgres_step_5_backfills_the_state_keys_of_stored_charts(tmp_path: Path) -> None:
    import asyncpg

    url, cleanup = BACKENDS["postgres"](tmp_path)
    try:
        await _chart_sessions(url)
        schema = url.split("schema=")[1]
        conn = await asyncpg.connect(PG_DSN)
        try:
            await conn.execute(f'DROP TABLE "{schema}".session_states')
            await conn.execute(f'DELETE FROM "{schema}".dialoghub_schema WHERE version = 5')
        finally:
            await conn.close()
        steps = await open_store(url).migrate()  # type: ignore[attr-defined]
        assert [s.version for s in steps] == [5]
        assert await _listed(url, "red") == ["c"]
        assert await _listed(url, "red.walk") == ["c", "d"]
    finally:
        await cleanup()
