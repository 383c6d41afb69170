"""Bad input to the stores: each case is a specific error that says what to do, and writes
nothing. Cases other files already cover (a PostgreSQL password refusal, simulated because
the test server trusts local users; unknown PostgreSQL roles; a SQLite file from a newer or a
foreign schema) are not repeated here.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

from dialoghub.errors import StoreConfigError, StoreCorrupt, StoreError
from dialoghub.stores import Store, Write, open_store
from tests.services import POSTGRES, REDIS, require
from tests.stores.conftest import BACKENDS, PG_DSN, REDIS_URL
from tests.stores.helpers import advance, create, events, session
from tests.stores.proxy import Proxy


@pytest.mark.parametrize("url", ["mongodb://localhost/x", "sqlite3:///x.db", "x.db"])
def test_unknown_scheme_says_which_are_known(url: str, tmp_path: Path) -> None:
    os.chdir(tmp_path)
    with pytest.raises(StoreConfigError, match=r"sqlite://|known: .*sqlite"):
        open_store(url)
    assert list(tmp_path.iterdir()) == []


async def test_redis_bad_password_says_check_the_url() -> None:
    require(*REDIS)
    with pytest.raises(StoreConfigError, match=r"authentication failed for user 'bob'.*store URL"):
        await open_store("redis://bob:wrong@127.0.0.1:6379/0").open()


async def test_redis_unreachable_names_host_and_port() -> None:
    with pytest.raises(StoreError, match=r"cannot reach Redis at 127\.0\.0\.1:1 .*running"):
        await open_store("redis://127.0.0.1:1/0").open()


async def test_redis_newer_layout_is_refused_untouched(tmp_path: Path) -> None:
    url, cleanup = BACKENDS["redis"](tmp_path)
    import redis.asyncio as aioredis

    prefix = url.split("prefix=")[1]
    client = aioredis.from_url(REDIS_URL)
    try:
        await client.set(prefix + "dialoghub_schema", 99)
        with pytest.raises(StoreError, match="upgrade dialoghub"):
            await open_store(url).open()
        assert [k async for k in client.scan_iter(match=prefix + "*")] == [
            (prefix + "dialoghub_schema").encode()
        ]
    finally:
        await client.aclose()
        await cleanup()


async def test_corrupt_json_file_says_where_and_is_untouched(tmp_path: Path) -> None:
    path = tmp_path / "sessions.json"
    text = '{\n  "alice": {"state": "start",\n  "oops"\n}\n'
    path.write_text(text)
    with pytest.raises(StoreCorrupt, match=rf"{path}:4:1: not valid JSON .*left as it is"):
        await open_store(f"json://{path}").open()
    assert path.read_text() == text
    assert sorted(os.listdir(tmp_path)) == ["sessions.json"]


# --- a full disk ------------------------------------------------------------------------------


@contextlib.contextmanager
def tiny_disk(where: Path, size: str = "1m") -> Iterator[Path]:
    """A real, small file system (tmpfs), so a write really meets ENOSPC / SQLITE_FULL."""
    where.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.decode().strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def big(sid: str, kb: int = 40) -> Write:
    """A create whose snapshot is about ``kb`` KB of incompressible text."""
    snap = msgspec.structs.replace(
        session(sid), variables={"main": {"blob": os.urandom(kb * 512).hex()}}
    )
    return Write(snap, events(1, 1, version=1), 0)


async def fill_until_full(store: Store) -> tuple[list[str], StoreError]:
    """Write big sessions until the disk is full; the ids written and the error."""
    written: list[str] = []
    for i in range(1000):
        try:
            await store.write(big(f"s{i}"))
        except StoreError as exc:
            return written, exc
        written.append(f"s{i}")
    raise AssertionError("the disk never filled up")


async def test_sqlite_full_disk(tmp_path: Path) -> None:
    with tiny_disk(tmp_path / "disk") as disk:
        filler = disk / "filler"
        store = open_store(f"sqlite:///{disk / 'sessions.db'}")
        await store.open()
        try:
            await create(store, "keep")
            filler.write_bytes(b"\0" * 300_000)
            written, error = await fill_until_full(store)
            assert "disk full" in str(error) and "free some space" in str(error)
            failed = f"s{len(written)}"
            assert await store.load(failed) is None  # nothing of the refused write
            assert await store.events(failed) == []
            for sid in ["keep", *written]:  # what was acknowledged is intact
                assert await store.load(sid) is not None
            filler.unlink()  # space again: the store carries on
            await store.write(big(failed, kb=10))
            assert await store.load(failed) is not None
        finally:
            await store.close()


async def test_json_file_full_disk(tmp_path: Path) -> None:
    with tiny_disk(tmp_path / "disk", size="256k") as disk:
        path = disk / "sessions.json"
        store = open_store(f"json://{path}")
        await store.open()
        try:
            await create(store, "keep")
            before = path.read_bytes()
            (disk / "filler").write_bytes(b"\0" * (256 * 1024 - 2 * len(before) - 8192))
            with pytest.raises(StoreError, match=r"nothing was changed.*free disk space"):
                await store.write(big("huge", kb=60))
            assert path.read_bytes() == before
            assert await store.load("huge") is None
            assert [p.name for p in disk.iterdir() if p.name.endswith(".tmp")] == []
        finally:
            (disk / "filler").unlink(missing_ok=True)
            await store.close()


# --- a network drop between client and PostgreSQL ---------------------------------------------


@pytest.mark.parametrize("keep", [0.0, 0.5, 1.0])
async def test_postgres_network_drop_mid_update_is_all_or_nothing(
    tmp_path: Path, keep: float
) -> None:
    """Cut the connection while a batch of updates is on the wire: before it, halfway
    through its message, or after all of it (the server may commit; the client never hears).
    Every session then shows its whole update or none of it, and the store carries on."""
    require(*POSTGRES)
    import asyncpg

    url, cleanup = BACKENDS["postgres"](tmp_path)
    proxy = Proxy("127.0.0.1", 5432)
    await proxy.start()
    via_proxy = url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}") + "&writers=1"
    store = open_store(via_proxy)
    await store.open()
    ids = [f"s{i}" for i in range(20)]
    try:
        current = {sid: await create(store, sid, n=1) for sid in ids}
        proxy.cut_when(lambda chunk: b"after-drop" in chunk, keep=keep)
        writes = [advance(current[sid], n=2, state="after-drop") for sid in ids]
        results = await asyncio.gather(*(store.write(w) for w in writes), return_exceptions=True)
        assert proxy.cuts == 1
        failures = [r for r in results if r is not None]
        assert failures, "the cut failed no write"
        for failure in failures:
            assert isinstance(failure, StoreError), repr(failure)
            assert "PostgreSQL at 127.0.0.1" in str(failure)
            assert "applied whole or not at all" in str(failure)
        # The server finishes what it received on its own: give it a moment.
        await asyncio.sleep(0.5)
        # The truth, read directly: each session has its whole update or none of it.
        schema = url.split("schema=")[1]
        conn = await asyncpg.connect(PG_DSN, server_settings={"search_path": schema})
        try:
            for sid, result in zip(ids, results, strict=True):
                row = await conn.fetchrow(
                    "SELECT sid, version, seq, state FROM sessions WHERE id = $1", sid
                )
                rows = await conn.fetch(
                    "SELECT first_seq, version FROM events WHERE sid = $1 ORDER BY 1", row["sid"]
                )
                if row["version"] == 2:
                    assert (row["seq"], row["state"]) == (3, "after-drop")
                    assert [tuple(r) for r in rows] == [(1, 1), (2, 2)]
                else:
                    assert result is not None, sid  # only a failed write may be missing
                    assert (row["version"], row["seq"], row["state"]) == (1, 1, "start")
                    assert [tuple(r) for r in rows] == [(1, 1)]
        finally:
            await conn.close()
        # The pool reconnects: the next update of a session that missed out goes through.
        stale = next(sid for sid, r in zip(ids, results, strict=True) if r is not None)
        fresh = await store.load(stale)
        assert fresh is not None
        await store.write(advance(fresh, state="later"))
    finally:
        await store.close()
        await proxy.stop()
        await cleanup()
