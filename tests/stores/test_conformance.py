"""The behaviour every store must have, run once per backend (see ``conftest.BACKENDS``).

Written only against the :class:`~dialoghub.stores.Store` protocol: a new backend passes this
file unchanged or it is not done.
"""

from __future__ import annotations

import asyncio

import msgspec
import pytest

from dialoghub.engine.records import Session, Status
from dialoghub.errors import (
    IdempotencyKeyReused,
    InvalidInput,
    SessionExists,
    SessionNotFound,
    VersionConflict,
)
from dialoghub.stores import SessionFilter, Store, Write, open_store
from tests.stores.helpers import advance, create, events, key, session, update

# Backends that keep nothing across close(): the durability test does not apply to them.
VOLATILE = {"memory"}


async def all_events(store: Store, sid: str, tenant: str = "default") -> list[int]:
    return [e.seq for e in await store.events(sid, tenant=tenant, limit=10_000)]


async def walk(store: Store, flt: SessionFilter, limit: int) -> list[list[str]]:
    """Every page of a listing, as lists of ids."""
    pages: list[list[str]] = []
    cursor: str | None = None
    while True:
        page = await store.list_sessions(flt, limit=limit, cursor=cursor)
        pages.append([s.id for s in page.sessions])
        assert len(page.sessions) <= limit
        if page.next_cursor is None:
            return pages
        assert isinstance(page.next_cursor, str)
        cursor = page.next_cursor


# --- create and read -----------------------------------------------------------------------


async def test_store_satisfies_the_protocol(store: Store) -> None:
    assert isinstance(store, Store)
    assert isinstance(store.url, str) and "://" in store.url


async def test_create_then_load_round_trips_the_snapshot(store: Store) -> None:
    snap = await create(
        store,
        "a",
        n=2,
        metadata={"channel": "web"},
        awaiting={"kind": "text"},
        stack=[{"unit": "main", "state": "s", "step": 1}],
        counters={"re": 2},
    )
    loaded = await store.load("a")
    assert loaded == snap
    assert loaded is not snap
    assert loaded.status is Status.ACTIVE


async def test_load_missing_session_is_none(store: Store) -> None:
    assert await store.load("nope") is None
    assert await store.events("nope") == []
    assert await store.idempotent("nope", "k") is None


async def test_stored_state_cannot_be_mutated_through_objects(store: Store) -> None:
    snap = await create(store, "a")
    snap.variables["main"]["turn"] = 99  # the caller's object, after the write
    loaded = await store.load("a")
    assert loaded is not None and loaded.variables == {"main": {"turn": 1}}
    loaded.variables["main"]["turn"] = 42  # a loaded copy
    again = await store.load("a")
    assert again is not None and again.variables == {"main": {"turn": 1}}


async def test_update_replaces_snapshot_and_appends_events(store: Store) -> None:
    snap = await create(store, "a", n=2)
    snap = await update(store, snap, n=3, state="ask_size")
    loaded = await store.load("a")
    assert loaded == snap
    assert (loaded.version, loaded.seq, loaded.state) == (2, 5, "ask_size")
    log = await store.events("a")
    assert [e.seq for e in log] == [1, 2, 3, 4, 5]
    assert [e.version for e in log] == [1, 1, 2, 2, 2]
    assert log == events(1, 2, version=1) + events(3, 3, version=2)  # every field kept


async def test_write_without_events_updates_only_the_snapshot(store: Store) -> None:
    snap = await create(store, "a", n=1)
    w = advance(snap, n=0, state="quiet")
    await store.write(w)
    assert await store.load("a") == w.session
    assert await all_events(store, "a") == [1]


# --- compare-and-set ------------------------------------------------------------------------


async def test_stale_version_conflicts_and_writes_nothing(store: Store) -> None:
    v1 = await create(store, "a", n=1)
    v2 = await update(store, v1, n=1)
    stale = advance(v1, n=1, state="lost")  # expects version 1; stored is 2
    stale = Write(stale.session, events(3, 2, version=2), 1, key("k-stale"))
    with pytest.raises(VersionConflict) as info:
        await store.write(stale)
    assert (info.value.session_id, info.value.expected, info.value.actual) == ("a", 1, 2)
    assert await store.load("a") == v2
    assert await all_events(store, "a") == [1, 2]
    assert await store.idempotent("a", "k-stale") is None


async def test_future_version_conflicts(store: Store) -> None:
    v1 = await create(store, "a")
    w = advance(v1)
    with pytest.raises(VersionConflict) as info:
        await store.write(Write(w.session, w.events, 7))
    assert (info.value.expected, info.value.actual) == (7, 1)
    assert await store.load("a") == v1


async def test_update_of_missing_session_is_not_found(store: Store) -> None:
    w = advance(session("ghost", version=1, seq=1))
    with pytest.raises(SessionNotFound) as info:
        await store.write(w)
    assert info.value.session_id == "ghost"
    assert await store.load("ghost") is None
    assert await store.events("ghost") == []


async def test_create_of_existing_session_raises_and_keeps_the_original(store: Store) -> None:
    v1 = await create(store, "a", n=2)
    other = session("a", version=1, seq=1, state="impostor")
    with pytest.raises(SessionExists) as info:
        await store.write(Write(other, events(1, 1, version=1), 0, key("k-dup")))
    assert info.value.session_id == "a"
    assert await store.load("a") == v1
    assert await all_events(store, "a") == [1, 2]
    assert await store.idempotent("a", "k-dup") is None


async def test_events_must_continue_the_log(store: Store) -> None:
    v1 = await create(store, "a", n=2)
    w = advance(v1, n=1)
    gap = Write(w.session, events(5, 1, version=2), 1)  # stored seq is 2: 3 must come next
    with pytest.raises(ValueError, match="seq"):
        await store.write(gap)
    assert await store.load("a") == v1
    assert await all_events(store, "a") == [1, 2]


# --- idempotency ----------------------------------------------------------------------------


async def test_idempotency_record_round_trips(store: Store) -> None:
    rec = key("k1", fingerprint="sha256:abc")
    v1 = await create(store, "a", idem=rec)
    assert await store.idempotent("a", "k1") == rec
    rec2 = key("k2")
    await update(store, v1, idem=rec2)
    assert await store.idempotent("a", "k2") == rec2
    assert await store.idempotent("a", "k1") == rec
    assert await store.idempotent("a", "other") is None
    assert await store.idempotent("b", "k1") is None
    assert await store.idempotent("a", "k1", tenant="acme") is None


async def test_idempotency_key_reuse_is_refused_and_writes_nothing(store: Store) -> None:
    v1 = await create(store, "a", idem=key("k1"))
    v2 = await update(store, v1, idem=key("k2"))
    again = advance(v2, n=2, state="twice")
    with pytest.raises(IdempotencyKeyReused) as info:
        await store.write(Write(again.session, again.events, 2, key("k2", fingerprint="new")))
    assert (info.value.session_id, info.value.key) == ("a", "k2")
    assert await store.load("a") == v2
    assert await all_events(store, "a") == [1, 2]
    assert await store.idempotent("a", "k2") == key("k2")


async def test_same_key_on_another_session_is_independent(store: Store) -> None:
    await create(store, "a", idem=key("k"))
    await create(store, "b", idem=key("k", fingerprint="other"))
    assert await store.idempotent("a", "k") == key("k")
    assert await store.idempotent("b", "k") == key("k", fingerprint="other")


# --- the event log --------------------------------------------------------------------------


async def three_batches(store: Store) -> Session:
    """Session "a" with events 1-3 (v1), 4-6 (v2), 7-9 (v3)."""
    snap = await create(store, "a", n=3)
    snap = await update(store, snap, n=3)
    return await update(store, snap, n=3)


async def test_events_page_by_limit(store: Store) -> None:
    await three_batches(store)
    assert [e.seq for e in await store.events("a", limit=4)] == [1, 2, 3, 4]
    assert [e.seq for e in await store.events("a", after=4, limit=4)] == [5, 6, 7, 8]
    assert [e.seq for e in await store.events("a", after=8, limit=4)] == [9]
    assert await store.events("a", after=9) == []
    assert await store.events("a", after=100) == []


@pytest.mark.parametrize("after", range(0, 10))
async def test_events_after_any_seq_including_inside_a_batch(store: Store, after: int) -> None:
    await three_batches(store)
    got = await store.events("a", after=after)
    assert [e.seq for e in got] == list(range(after + 1, 10))
    assert all(e.version == (e.seq - 1) // 3 + 1 for e in got)


async def test_walking_the_log_in_pages_of_two_sees_every_event_once(store: Store) -> None:
    await three_batches(store)
    seen: list[int] = []
    after = 0
    while page := await store.events("a", after=after, limit=2):
        assert len(page) <= 2
        seen += [e.seq for e in page]
        after = page[-1].seq
    assert seen == list(range(1, 10))


# --- listing --------------------------------------------------------------------------------


async def test_listing_filters_in_creation_order(store: Store) -> None:
    await create(store, "s1", model_id="pizza", state="menu")
    await create(store, "s2", model_id="taxi", state="menu")
    await create(store, "s3", model_id="pizza", state="pay", status=Status.ENDED)
    await create(store, "s4", model_id="pizza", state="menu", tenant="acme")
    await create(store, "s5", model_id="pizza", state="menu")

    async def ids(**kw: str) -> list[str]:
        page = await store.list_sessions(SessionFilter(**kw), limit=50)
        assert page.next_cursor is None
        return [s.id for s in page.sessions]

    assert await ids() == ["s1", "s2", "s3", "s5"]
    assert await ids(model_id="pizza") == ["s1", "s3", "s5"]
    assert await ids(state="menu") == ["s1", "s2", "s5"]
    assert await ids(status="ended") == ["s3"]
    assert await ids(status="active", model_id="pizza", state="menu") == ["s1", "s5"]
    assert await ids(model_id="nothing") == []
    assert await ids(tenant="acme") == ["s4"]
    assert await ids(tenant="nobody") == []


async def test_listing_follows_updates_of_filtered_columns(store: Store) -> None:
    v1 = await create(store, "a", state="menu")
    await update(store, v1, state="pay", status=Status.ENDED)
    assert (await store.list_sessions(SessionFilter(state="menu"))).sessions == []
    page = await store.list_sessions(SessionFilter(state="pay", status="ended"))
    assert [(s.id, s.version) for s in page.sessions] == [("a", 2)]


CHART = ["light", "light.red", "light.red.walk"]  # a statechart configuration, root first
PARALLEL = ["p", "p.media", "p.media.playing", "p.volume", "p.volume.loud"]


async def test_listing_by_state_matches_a_state_or_any_ancestor(store: Store) -> None:
    """A statechart session is listed by every state it is in: its state value's paths and its
    active node ids (issue 18); a dialog session by its state alone, dots or not."""
    walk_ = await create(store, "c1", model_id="light", state="red.walk", configuration=CHART)
    await create(store, "d1", model_id="light", state="red")  # a dialog's state named "red"
    await create(store, "d2", model_id="light", state="red.walk.x")  # a dialog: no ancestors
    both = '{"media":"playing","volume":"loud"}'
    await create(store, "c2", model_id="tv", state=both, configuration=PARALLEL)
    await create(
        store, "c3", model_id="light", state="green", configuration=["light", "light.green"]
    )

    async def ids(**kw: str) -> list[str]:
        page = await store.list_sessions(SessionFilter(**kw), limit=50)
        return [x.id for x in page.sessions]

    assert await ids(state="red") == ["c1", "d1"]
    assert await ids(state="red.walk") == ["c1"]
    assert await ids(state="light.red") == ["c1"]  # by node id
    assert await ids(state="light.red.walk", model_id="light", status="active") == ["c1"]
    assert await ids(state="red", model_id="tv") == []
    assert await ids(state="media") == ["c2"] and await ids(state="volume.loud") == ["c2"]
    assert await ids(state=both) == ["c2"] and await ids(state="p.media.playing") == ["c2"]
    assert await ids(state="green") == ["c3"] and await ids(state="light") == []
    assert await ids(state="red", status="ended") == []
    # the index follows the configuration: leaving red drops its keys, every one
    await update(store, walk_, state="green", configuration=["light", "light.green"])
    assert await ids(state="red") == ["d1"] and await ids(state="light.red") == []
    assert await ids(state="green") == ["c1", "c3"]
    # pages across both kinds of keys keep creation order, each session once
    pages = await walk(store, SessionFilter(state="green"), 1)
    assert [sid for page in pages for sid in page] == ["c1", "c3"]
    assert await store.delete("c3")
    assert await ids(state="light.green") == ["c1"]


@pytest.mark.parametrize("limit", [1, 5, 7, 23, 24])
async def test_cursor_walks_every_session_once(store: Store, limit: int) -> None:
    created = [f"s{i:02d}" for i in range(23)]
    for i, sid in enumerate(created):
        await create(store, sid, model_id="even" if i % 2 == 0 else "odd")
    pages = await walk(store, SessionFilter(), limit)
    assert [sid for page in pages for sid in page] == created
    assert all(len(page) == limit for page in pages[:-1])
    assert len(pages) == max(1, -(-len(created) // limit))  # no trailing empty page
    evens = await walk(store, SessionFilter(model_id="even"), limit)
    assert [sid for page in evens for sid in page] == created[::2]


async def test_listing_order_is_stable_under_updates_and_deletes(store: Store) -> None:
    snaps = [await create(store, f"s{i}") for i in range(6)]
    first = await store.list_sessions(SessionFilter(), limit=3)
    assert [s.id for s in first.sessions] == ["s0", "s1", "s2"]
    await update(store, snaps[0])  # updated sessions do not move to the end
    await store.delete("s3")  # the page boundary's successor disappears
    await create(store, "s6")
    rest = await store.list_sessions(SessionFilter(), limit=10, cursor=first.next_cursor)
    assert [s.id for s in rest.sessions] == ["s4", "s5", "s6"]


async def test_cursor_survives_deleting_the_newest_sessions(store: Store) -> None:
    for sid in ("s0", "s1", "s2"):
        await create(store, sid)
    first = await store.list_sessions(SessionFilter(), limit=2)
    assert [s.id for s in first.sessions] == ["s0", "s1"]
    await store.delete("s2")
    await store.delete("s1")  # the cursor's own session, and everything after it, are gone
    await create(store, "late")  # must not take an identity at or before the cursor
    rest = await store.list_sessions(SessionFilter(), cursor=first.next_cursor)
    assert [s.id for s in rest.sessions] == ["late"]


async def test_invalid_cursor_is_a_store_error(store: Store) -> None:
    await create(store, "a")
    with pytest.raises(InvalidInput, match="cursor"):
        await store.list_sessions(SessionFilter(), cursor="not a cursor!")


# --- tenants and delete ---------------------------------------------------------------------


async def test_tenants_are_isolated(store: Store) -> None:
    a = await create(store, "same", tenant="a", state="in_a", idem=key("k", "fa"))
    b = await create(store, "same", tenant="b", n=2, state="in_b", idem=key("k", "fb"))
    assert await store.load("same", tenant="a") == a
    assert await store.load("same", tenant="b") == b
    assert await store.load("same") is None
    assert await all_events(store, "same", tenant="a") == [1]
    assert await all_events(store, "same", tenant="b") == [1, 2]
    assert (await store.idempotent("same", "k", tenant="b")) == key("k", "fb")
    await update(store, a)  # versions are per (tenant, id)
    assert await store.delete("same", tenant="a")
    assert await store.load("same", tenant="b") == b
    assert await all_events(store, "same", tenant="b") == [1, 2]


async def test_delete_cascades_and_the_id_can_be_reused(store: Store) -> None:
    v1 = await create(store, "a", n=2, idem=key("k1"))
    await update(store, v1, n=2, idem=key("k2"))
    await create(store, "b")
    assert await store.delete("a") is True
    assert await store.load("a") is None
    assert await store.events("a") == []
    assert await store.idempotent("a", "k1") is None
    assert [s.id for s in (await store.list_sessions(SessionFilter())).sessions] == ["b"]
    assert await store.delete("a") is False
    fresh = await create(store, "a", n=1, idem=key("k1"))  # a new life starts from scratch
    assert await store.load("a") == fresh
    assert await all_events(store, "a") == [1]
    assert [s.id for s in (await store.list_sessions(SessionFilter())).sessions] == ["b", "a"]


async def test_delete_missing_is_false(store: Store) -> None:
    assert await store.delete("never") is False


# --- durability and concurrency ---------------------------------------------------------------


async def test_everything_survives_close_and_reopen(store_url: str, backend: str) -> None:
    if backend in VOLATILE:
        pytest.skip(f"{backend} keeps nothing across close() by design")
    first = open_store(store_url)
    await first.open()
    v1 = await create(first, "a", n=2, idem=key("k1"))
    v2 = await update(first, v1, n=1)
    await create(first, "b", tenant="t")
    await first.close()

    second = open_store(store_url)
    await second.open()
    try:
        assert await second.load("a") == v2
        assert await all_events(second, "a") == [1, 2, 3]
        assert await second.idempotent("a", "k1") == key("k1")
        assert [s.id for s in (await second.list_sessions(SessionFilter(tenant="t"))).sessions] == [
            "b"
        ]
        await update(second, v2)  # and it keeps working on top of the old data
        assert (await second.load("a")) is not None
    finally:
        await second.close()


async def test_concurrent_writes_to_different_sessions_all_land(store: Store) -> None:
    ids = [f"c{i:03d}" for i in range(200)]
    await asyncio.gather(*(create(store, sid, n=2) for sid in ids))
    snaps = await asyncio.gather(*(store.load(sid) for sid in ids))
    assert all(s is not None and s.version == 1 for s in snaps)
    updated = await asyncio.gather(*(update(store, s, n=1) for s in snaps if s is not None))
    for snap in updated:
        assert await store.load(snap.id) == snap
        assert await all_events(store, snap.id) == [1, 2, 3]
    listed = await walk(store, SessionFilter(), 64)
    assert sorted(sid for page in listed for sid in page) == ids


async def test_concurrent_conflicting_writes_exactly_one_wins_per_version(store: Store) -> None:
    current = await create(store, "hot", n=1)
    for _round in range(5):
        contenders = [advance(current, n=2, state=f"by_{i}") for i in range(20)]
        results = await asyncio.gather(
            *(store.write(w) for w in contenders), return_exceptions=True
        )
        winners = [w for w, r in zip(contenders, results, strict=True) if r is None]
        losers = [r for r in results if r is not None]
        assert len(winners) == 1
        assert all(isinstance(r, VersionConflict) for r in losers), losers
        assert all(r.actual == current.version + 1 for r in losers)  # type: ignore[union-attr]
        current = winners[0].session
        assert await store.load("hot") == current
    assert current.version == 6
    assert await all_events(store, "hot") == list(range(1, 12))


async def test_concurrent_creates_of_one_id_exactly_one_wins(store: Store) -> None:
    rivals = [session("dup", version=1, seq=1, state=f"by_{i}") for i in range(20)]
    results = await asyncio.gather(
        *(store.write(Write(s, events(1, 1, version=1), 0)) for s in rivals),
        return_exceptions=True,
    )
    assert sum(r is None for r in results) == 1
    assert all(isinstance(r, SessionExists) for r in results if r is not None)
    winner = rivals[results.index(None)]
    assert await store.load("dup") == winner
    assert await all_events(store, "dup") == [1]


async def test_snapshot_and_log_agree_after_concurrent_sessions(store: Store) -> None:
    async def drive(sid: str) -> Session:
        snap = await create(store, sid, n=1)
        for _ in range(5):
            snap = await update(store, snap, n=2)
        return snap

    finals = await asyncio.gather(*(drive(f"d{i}") for i in range(30)))
    for snap in finals:
        log = await store.events(snap.id, limit=1000)
        assert [e.seq for e in log] == list(range(1, snap.seq + 1))
        assert log[-1].version == snap.version == 6
        loaded = await store.load(snap.id)
        assert loaded is not None
        assert msgspec.structs.asdict(loaded) == msgspec.structs.asdict(snap)
