"""Conformance for the indexes every store keeps in its writes: timers, kept snapshots for
time travel, and closed sessions for retention. Runs once per backend (see conftest)."""

from __future__ import annotations

import pytest

from dialoghub.engine.records import Session, Status
from dialoghub.stores import Store, open_store
from dialoghub.stores.base import SNAPSHOT_EVERY, DueTimer
from tests.stores.helpers import T0, create, update

VOLATILE = {"memory"}


async def grow(store: Store, sid: str, versions: int, *, n: int = 2) -> Session:
    """Session ``sid`` at ``versions`` versions, ``n`` events per update."""
    snap = await create(store, sid, n=n)
    for _ in range(versions - 1):
        snap = await update(store, snap, n=n)
    return snap


# --- time travel ----------------------------------------------------------------------------


async def test_rewind_starts_at_the_nearest_kept_snapshot(store: Store) -> None:
    snap = await grow(store, "a", 2 * SNAPSHOT_EVERY + 30)
    found = await store.rewind("a", at=snap.seq - 5)
    assert found.snapshot is not None
    assert found.snapshot.version == 2 * SNAPSHOT_EVERY
    assert found.snapshot.seq == 2 * 2 * SNAPSHOT_EVERY
    seqs = [e.seq for e in found.events]
    assert seqs == list(range(found.snapshot.seq + 1, snap.seq - 5 + 2))  # to its update's end


async def test_rewind_before_the_first_snapshot_starts_from_the_log(store: Store) -> None:
    await grow(store, "a", SNAPSHOT_EVERY + 10)
    found = await store.rewind("a", at=7)
    assert found.snapshot is None
    assert [e.seq for e in found.events] == list(range(1, 9))  # seq 7 is in update 4 (7, 8)


async def test_rewind_exactly_at_a_snapshot_reads_no_events(store: Store) -> None:
    await grow(store, "a", SNAPSHOT_EVERY + 3)
    found = await store.rewind("a", at=2 * SNAPSHOT_EVERY)
    assert found.snapshot is not None and found.snapshot.seq == 2 * SNAPSHOT_EVERY
    assert found.events == []


async def test_rewind_of_a_missing_session_is_empty(store: Store) -> None:
    found = await store.rewind("nope", at=3)
    assert (found.snapshot, found.events) == (None, [])


async def test_rewind_reads_the_same_amount_whatever_the_history(store: Store) -> None:
    await grow(store, "short", SNAPSHOT_EVERY + 40)
    await grow(store, "long", 5 * SNAPSHOT_EVERY + 40)
    costs = []
    for sid, versions in (("short", SNAPSHOT_EVERY + 40), ("long", 5 * SNAPSHOT_EVERY + 40)):
        before = store.events_read
        await store.rewind(sid, at=2 * versions - 3)
        costs.append(store.events_read - before)
    assert costs[0] == costs[1] <= 2 * SNAPSHOT_EVERY


async def test_delete_removes_kept_snapshots(store: Store) -> None:
    await grow(store, "a", SNAPSHOT_EVERY + 1)
    assert await store.delete("a")
    assert (await store.rewind("a", at=SNAPSHOT_EVERY)).snapshot is None


# --- timers ---------------------------------------------------------------------------------


async def test_a_due_timer_is_claimed_once_then_hidden_for_its_lease(store: Store) -> None:
    snap = await create(store, "a", due_at=T0 + 30)
    assert await store.claim_timers(T0 + 29) == []
    claimed = await store.claim_timers(T0 + 30, lease=60)
    assert claimed == [DueTimer("default", "a", snap.version, "prompt", T0 + 30)]
    assert await store.claim_timers(T0 + 31, lease=60) == []  # leased
    again = await store.claim_timers(T0 + 90, lease=60)  # the lease ran out: due again
    assert [(t.session_id, t.version) for t in again] == [("a", snap.version)]


async def test_the_earlier_of_prompt_and_expiry_is_the_timer(store: Store) -> None:
    await create(store, "a", due_at=T0 + 30, expires_at=T0 + 20)
    await create(store, "b", due_at=T0 + 10, expires_at=T0 + 20)
    claimed = await store.claim_timers(T0 + 100)
    assert [(t.session_id, t.name, t.due_at) for t in claimed] == [
        ("b", "prompt", T0 + 10),
        ("a", "expire", T0 + 20),
    ]


async def test_a_write_replaces_or_removes_the_timer(store: Store) -> None:
    snap = await create(store, "a", due_at=T0 + 30)
    snap = await update(store, snap, due_at=T0 + 50)
    assert await store.claim_timers(T0 + 40) == []
    claimed = await store.claim_timers(T0 + 50)
    assert [(t.version, t.due_at) for t in claimed] == [(2, T0 + 50)]
    await update(store, snap, due_at=None)
    assert await store.claim_timers(T0 + 10_000) == []


async def test_ended_sessions_have_no_timer(store: Store) -> None:
    snap = await create(store, "a", due_at=T0 + 30)
    await update(store, snap, status=Status.ENDED, active=False)
    assert await store.claim_timers(T0 + 100) == []


async def test_drop_timer_removes_only_the_version_it_names(store: Store) -> None:
    snap = await create(store, "a", due_at=T0 + 30)
    [stale] = await store.claim_timers(T0 + 30, lease=1)
    snap = await update(store, snap, due_at=T0 + 40)
    await store.drop_timer(stale)  # the session moved on: its new timer stays
    assert [t.version for t in await store.claim_timers(T0 + 40, lease=1)] == [2]
    [current] = await store.claim_timers(T0 + 45)
    await store.drop_timer(current)
    assert await store.claim_timers(T0 + 10_000) == []


async def test_claims_are_bounded_and_earliest_first(store: Store) -> None:
    for i in range(5):
        await create(store, f"s{i}", due_at=T0 + 10 - i)
    first = await store.claim_timers(T0 + 10, limit=2)
    assert [t.session_id for t in first] == ["s4", "s3"]
    rest = await store.claim_timers(T0 + 10, limit=10)
    assert [t.session_id for t in rest] == ["s2", "s1", "s0"]


async def test_tenants_are_kept_apart_in_timers(store: Store) -> None:
    await create(store, "a", tenant="acme", due_at=T0 + 1)
    [timer] = await store.claim_timers(T0 + 1)
    assert (timer.tenant, timer.session_id) == ("acme", "a")


async def test_delete_removes_the_timer(store: Store) -> None:
    await create(store, "a", due_at=T0 + 1)
    await store.delete("a")
    assert await store.claim_timers(T0 + 100) == []


async def test_timers_survive_a_reopen(store_url: str, backend: str) -> None:
    if backend in VOLATILE:
        pytest.skip("memory keeps nothing across close() by design")
    store = open_store(store_url)
    await store.open()
    await create(store, "a", due_at=T0 + 30)
    await store.close()
    store = open_store(store_url)
    await store.open()
    try:
        assert [t.session_id for t in await store.claim_timers(T0 + 30)] == ["a"]
        snap = await store.load("a")
        assert snap is not None and snap.due_at == T0 + 30
    finally:
        await store.close()


# --- retention ------------------------------------------------------------------------------


async def test_purge_deletes_closed_sessions_in_bounded_batches(store: Store) -> None:
    for i in range(5):
        snap = await create(store, f"done{i}", n=2)
        await update(store, snap, status=Status.ENDED if i % 2 else Status.EXPIRED, active=False)
    live = await create(store, "live")
    recent = await update(store, await create(store, "recent"))
    await update(store, recent, status=Status.ENDED, active=False)  # at T0 + 3
    cutoff = T0 + 2.5  # the others ended at T0 + 2
    assert await store.purge(cutoff, limit=2) == 2
    assert await store.purge(cutoff, limit=2) == 2
    assert await store.purge(cutoff, limit=2) == 1
    assert await store.purge(cutoff, limit=2) == 0
    for i in range(5):
        assert await store.load(f"done{i}") is None
        assert await store.events(f"done{i}") == []
    assert await store.load("live") == live
    assert await store.load("recent") is not None
