"""What is specific to the SQLite store: WAL, group commit, the schema, and bad files.

The behaviour every store shares is in ``test_conformance.py``. To make batching
deterministic without sleeping, several tests hold SQLite's write lock from a second
connection: the store's writer then waits in BEGIN while writes pile up on its queue.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from dialoghub.errors import (
    SessionExists,
    StoreConfigError,
    StoreCorrupt,
    StoreError,
    VersionConflict,
)
from dialoghub.stores import Idempotency, Write, open_store
from dialoghub.stores.sqlite import SCHEMA_VERSION, SQLiteStore
from tests.stores.helpers import advance, create, key, update


@pytest.fixture
def db(tmp_path: Path) -> str:
    return str(tmp_path / "sessions.db")


@pytest.fixture
async def sqlite_store(db: str) -> AsyncIterator[SQLiteStore]:
    store = SQLiteStore(db)
    await store.open()
    try:
        yield store
    finally:
        await store.close()


def raw(db: str) -> sqlite3.Connection:
    return sqlite3.connect(db, isolation_level=None)


def take_write_lock(db: str) -> Callable[[], None]:
    """Take the database's write lock now; the returned function releases it."""
    conn = raw(db)
    conn.execute("BEGIN IMMEDIATE")

    def release() -> None:
        conn.execute("COMMIT")
        conn.close()

    return release


def release_once_queued(release: Callable[[], None]) -> None:
    """Release after every task created so far has run up to its first await (FIFO order).

    Each write is on the writer's queue by then, while the writer waits for the lock: the
    batching is deterministic, with no sleep.
    """
    asyncio.get_running_loop().call_soon(release)


@contextmanager
def write_lock(db: str) -> Iterator[sqlite3.Connection]:
    """Hold the database's write lock (the store's writer waits) until the block ends."""
    conn = raw(db)
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    finally:
        conn.execute("COMMIT")
        conn.close()


# --- URLs -----------------------------------------------------------------------------------


def test_url_forms(tmp_path: Path) -> None:
    absolute = open_store(f"sqlite:///{tmp_path}/a.db")
    assert isinstance(absolute, SQLiteStore)
    assert absolute.path == f"{tmp_path}/a.db"
    assert absolute.synchronous == "full"  # acknowledged means durable unless asked otherwise
    assert SQLiteStore.from_url("sqlite:///data/x.db").path == "data/x.db"
    assert SQLiteStore.from_url("sqlite:///my%20file.db").path == "my file.db"
    normal = SQLiteStore.from_url("sqlite:///x.db?synchronous=NORMAL")
    assert normal.synchronous == "normal"
    assert normal.url == "sqlite:///x.db?synchronous=NORMAL"


@pytest.mark.parametrize(
    ("url", "match"),
    [
        ("sqlite://host/x.db", "host"),
        ("sqlite://", "no file"),
        ("sqlite:///", "no file"),
        ("sqlite:///:memory:", "memory://"),
        ("sqlite:///x.db?synchronous=off", "synchronous"),
        ("sqlite:///x.db?journal=delete", "unknown option 'journal'"),
    ],
)
def test_bad_urls_say_what_to_do(url: str, match: str) -> None:
    with pytest.raises(StoreConfigError, match=match):
        open_store(url)


async def test_relative_path_is_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = open_store("sqlite:///rel.db")
    await store.open()
    await create(store, "a")
    await store.close()
    assert (tmp_path / "rel.db").is_file()


# --- opening bad files ------------------------------------------------------------------------


async def test_missing_directory_is_a_config_error_naming_the_path(tmp_path: Path) -> None:
    path = tmp_path / "no" / "such" / "dir" / "s.db"
    store = SQLiteStore(str(path))
    with pytest.raises(StoreConfigError, match=str(path)) as info:
        await store.open()
    assert "does not exist" in str(info.value)
    assert not (tmp_path / "no").exists()


async def test_directory_instead_of_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(StoreConfigError, match="is a directory"):
        await SQLiteStore(str(tmp_path)).open()


async def test_file_that_is_not_a_database_is_corrupt_and_untouched(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    content = b"these are my notes, not a database\n" * 200
    path.write_bytes(content)
    with pytest.raises(StoreCorrupt, match=str(path)) as info:
        await SQLiteStore(str(path)).open()
    assert "not a SQLite database" in str(info.value)
    assert isinstance(info.value.__cause__, sqlite3.DatabaseError)  # wrapped, not leaked
    assert path.read_bytes() == content


async def test_newer_schema_version_is_refused(db: str) -> None:
    with raw(db) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(StoreError, match="upgrade dialoghub") as info:
        await SQLiteStore(db).open()
    assert info.value.details["schema_version"] == SCHEMA_VERSION + 1


async def test_foreign_database_is_refused(db: str) -> None:
    with raw(db) as conn:
        conn.execute("CREATE TABLE invoices (n INTEGER)")
    with pytest.raises(StoreConfigError, match="not a dialoghub one"):
        await SQLiteStore(db).open()
    with raw(db) as conn:  # and it was left alone
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master")]
    assert tables == ["invoices"]


# --- schema and modes -------------------------------------------------------------------------


async def test_new_database_is_wal_with_schema_version(sqlite_store: SQLiteStore, db: str) -> None:
    conn = raw(db)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {"sessions", "events", "idempotency"} <= names
    finally:
        conn.close()


async def test_one_event_row_per_update(sqlite_store: SQLiteStore, db: str) -> None:
    v1 = await create(sqlite_store, "a", n=3)
    await update(sqlite_store, v1, n=4)
    conn = raw(db)
    try:
        rows = conn.execute("SELECT first_seq, version FROM events ORDER BY first_seq").fetchall()
    finally:
        conn.close()
    assert rows == [(1, 1), (4, 2)]


async def test_undecodable_snapshot_is_store_corrupt(sqlite_store: SQLiteStore, db: str) -> None:
    await create(sqlite_store, "a")
    with raw(db) as conn:
        conn.execute("UPDATE sessions SET body = x'c1'")  # 0xc1: invalid in every codec format
    with pytest.raises(StoreCorrupt):
        await sqlite_store.load("a")


# --- group commit -----------------------------------------------------------------------------


async def test_group_commit_puts_many_writes_in_few_transactions(
    sqlite_store: SQLiteStore, db: str
) -> None:
    before = sqlite_store.commits
    release = take_write_lock(db)
    tasks = [asyncio.create_task(create(sqlite_store, f"g{i}", n=2)) for i in range(200)]
    release_once_queued(release)
    await asyncio.gather(*tasks)
    # The writer may have taken the first few before it blocked; the rest go in one more.
    assert sqlite_store.commits - before <= 2
    assert all([await sqlite_store.load(f"g{i}") for i in range(200)])


async def test_failing_writes_in_a_batch_leave_nothing_and_spare_the_others(
    sqlite_store: SQLiteStore, db: str
) -> None:
    v1 = await create(sqlite_store, "x", n=1, idem=key("k0"))
    v2 = await update(sqlite_store, v1, n=1)
    stale = advance(v1, n=3)  # expects version 1, stored is 2
    # Fails at the LAST statement (the idempotency insert), after the snapshot and events:
    # only the savepoint can undo those.
    late = advance(v2, n=2, state="half")
    unbindable = Write(late.session, late.events, 2, Idempotency("kx", "fp", object()))  # type: ignore[arg-type]
    good = [create(sqlite_store, f"ok{i}") for i in range(50)]

    before = sqlite_store.commits
    release = take_write_lock(db)
    bad = [
        asyncio.create_task(sqlite_store.write(stale)),
        asyncio.create_task(sqlite_store.write(unbindable)),
        asyncio.create_task(create(sqlite_store, "x")),
    ]
    fine = [asyncio.create_task(c) for c in good]
    release_once_queued(release)
    results = await asyncio.gather(*bad, return_exceptions=True)
    await asyncio.gather(*fine)
    assert sqlite_store.commits - before <= 2

    assert isinstance(results[0], VersionConflict)
    assert isinstance(results[1], StoreError) and not isinstance(results[1], StoreCorrupt)
    assert isinstance(results[1].__cause__, sqlite3.Error)
    assert isinstance(results[2], SessionExists)
    assert await sqlite_store.load("x") == v2
    assert [e.seq for e in await sqlite_store.events("x")] == [1, 2]
    assert await sqlite_store.idempotent("x", "kx") is None
    for i in range(50):
        assert await sqlite_store.load(f"ok{i}") is not None
    await update(sqlite_store, v2, n=1)  # the session is fully usable afterwards


async def test_reads_do_not_wait_for_the_writer(sqlite_store: SQLiteStore, db: str) -> None:
    v1 = await create(sqlite_store, "a")
    with write_lock(db):
        pending = asyncio.create_task(update(sqlite_store, v1))
        # The writer is stuck behind the lock; a read still answers, with committed state.
        assert await sqlite_store.load("a") == v1
        assert not pending.done()
    assert (await pending).version == 2


async def test_lock_timeout_fails_the_batch_with_a_store_error(db: str) -> None:
    store = SQLiteStore(db, timeout=0)
    await store.open()
    try:
        v1 = await create(store, "a")
        with write_lock(db), pytest.raises(StoreError, match="locked") as info:
            await update(store, v1)
        assert isinstance(info.value.__cause__, sqlite3.OperationalError)
        assert await store.load("a") == v1
        await update(store, v1)  # the writer recovers once the lock is gone
    finally:
        await store.close()


# --- lifecycle --------------------------------------------------------------------------------


async def test_closed_store_refuses_work_and_close_is_idempotent(db: str) -> None:
    store = SQLiteStore(db)
    with pytest.raises(StoreError, match="not open"):
        await store.load("a")
    await store.open()
    with pytest.raises(StoreError, match="already open"):
        await store.open()
    await create(store, "a")
    await store.close()
    await store.close()
    with pytest.raises(StoreError, match="not open"):
        await create(store, "b")


async def test_close_commits_everything_queued(db: str) -> None:
    store = SQLiteStore(db)
    await store.open()
    # gather starts its tasks in order: every write is queued before close() begins.
    await asyncio.gather(*(create(store, f"q{i}") for i in range(100)), store.close())
    again = SQLiteStore(db)
    await again.open()
    try:
        assert all([await again.load(f"q{i}") for i in range(100)])
    finally:
        await again.close()
