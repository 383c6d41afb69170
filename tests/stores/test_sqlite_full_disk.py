"""SQLite on a disk that really fills up (a small tmpfs; needs root to mount it).

While the disk fills, the write-ahead log grows up to the last free byte. SQLite only reuses
a WAL's space, never gives it back, so once space is freed the store must checkpoint and
truncate the log itself, on its first write that works again.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from dialoghub.errors import StoreError
from dialoghub.stores.sqlite import SQLiteStore
from tests.stores.helpers import create

DISK = 3 * 1024 * 1024


def size(path: Path) -> int:
    return path.stat().st_size


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 3 MiB tmpfs, mounted for this test only."""
    where = tmp_path / "disk"
    where.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={DISK}", "tmpfs", str(where)],
        capture_output=True,
        text=True,
    )
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", str(where)], check=True)


async def test_wal_is_truncated_when_writes_work_again_after_a_full_disk(
    small_disk: Path,
) -> None:
    db = small_disk / "s.db"
    wal = Path(f"{db}-wal")
    ballast = small_disk / "ballast"
    store = SQLiteStore(str(db))
    await store.open()
    try:
        await create(store, "first")
        # Leave about 1.2 MiB free, then write until the disk is full.
        free = os.statvfs(small_disk).f_bavail * os.statvfs(small_disk).f_frsize
        ballast.write_bytes(b"\0" * (free - 1_200_000))
        full = None
        for i in range(10_000):
            try:
                await create(store, f"s{i}", n=40)
            except StoreError as exc:
                full = exc
                break
        assert full is not None and "disk full" in str(full), full
        grown = size(wal)
        assert grown > 500_000  # the log took the space that was left

        ballast.unlink()  # space is freed
        await create(store, "after")  # the first write that works again
        assert size(wal) == 0
        assert await store.load("after") is not None
        assert await store.load("first") is not None
        await create(store, "later")
        assert await store.load("later") is not None
    finally:
        await store.close()
