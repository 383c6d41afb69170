"""Listing across every tenant (``SessionFilter(tenant=None)``) and ``list_tenants``, on
every backend: ordered by tenant then creation, keyset-paged, filtered, cursors checked."""

from __future__ import annotations

import pytest

from dialoghub.engine.records import Status
from dialoghub.errors import InvalidInput
from dialoghub.stores import SessionFilter, Store
from tests.stores.helpers import create, events, session

ALL = SessionFilter(tenant=None)


async def walk(store: Store, flt: SessionFilter, limit: int) -> list[list[tuple[str, str]]]:
    pages: list[list[tuple[str, str]]] = []
    cursor: str | None = None
    while True:
        page = await store.list_sessions(flt, limit=limit, cursor=cursor)
        pages.append([(s.tenant, s.id) for s in page.sessions])
        if page.next_cursor is None:
            return pages
        cursor = page.next_cursor


async def _interleaved(store: Store) -> list[tuple[str, str]]:
    """Sessions of three tenants created interleaved; (tenant, id) in listing order."""
    made: list[tuple[str, str, int]] = []
    for i in range(12):
        tenant = ("beta", "acme", "cargo")[i % 3]
        await create(
            store, f"s{i:02d}", tenant=tenant, model_id="even" if i % 2 == 0 else "odd",
            status=Status.ENDED if i % 4 == 0 else Status.ACTIVE,
        )  # fmt: skip
        made.append((tenant, f"s{i:02d}", i))
    return [(t, sid) for t, sid, _ in sorted(made, key=lambda m: (m[0], m[2]))]


@pytest.mark.parametrize("limit", [1, 3, 4, 5, 12, 13])
async def test_pages_cross_tenants_in_tenant_then_creation_order(store: Store, limit: int) -> None:
    expected = await _interleaved(store)
    pages = await walk(store, ALL, limit)
    assert [row for page in pages for row in page] == expected
    assert all(len(page) == limit for page in pages[:-1])
    assert len(pages) == -(-len(expected) // limit)  # no trailing empty page


@pytest.mark.parametrize("limit", [1, 2, 50])
async def test_filters_apply_across_tenants(store: Store, limit: int) -> None:
    expected = await _interleaved(store)
    evens = [r for r in expected if int(r[1][1:]) % 2 == 0]
    pages = await walk(store, SessionFilter(tenant=None, model_id="even"), limit)
    assert [row for page in pages for row in page] == evens
    ended = [r for r in expected if int(r[1][1:]) % 4 == 0]
    pages = await walk(store, SessionFilter(tenant=None, status="ended"), limit)
    assert [row for page in pages for row in page] == ended
    none = await store.list_sessions(SessionFilter(tenant=None, model_id="nope"))
    assert none.sessions == [] and none.next_cursor is None


async def test_a_tenant_listing_still_sees_one_tenant(store: Store) -> None:
    await _interleaved(store)
    page = await store.list_sessions(SessionFilter(tenant="acme"))
    assert {s.tenant for s in page.sessions} == {"acme"} and len(page.sessions) == 4


async def test_same_id_in_two_tenants_listed_twice(store: Store) -> None:
    await create(store, "x", tenant="b")
    await create(store, "x", tenant="a")
    page = await store.list_sessions(ALL)
    assert [(s.tenant, s.id) for s in page.sessions] == [("a", "x"), ("b", "x")]


async def test_cursor_survives_its_tenant_emptied(store: Store) -> None:
    for sid, tenant in (("a1", "a"), ("a2", "a"), ("b1", "b")):
        await create(store, sid, tenant=tenant)
    first = await store.list_sessions(ALL, limit=1)
    assert [s.id for s in first.sessions] == ["a1"]
    await store.delete("a1", tenant="a")
    await store.delete("a2", tenant="a")
    rest = await store.list_sessions(ALL, cursor=first.next_cursor)
    assert [s.id for s in rest.sessions] == ["b1"] and rest.next_cursor is None


async def test_bad_cursors_are_refused(store: Store) -> None:
    await create(store, "a", tenant="t1")
    await create(store, "b", tenant="t1")
    one = await store.list_sessions(SessionFilter(tenant="t1"), limit=1)
    across = await store.list_sessions(ALL, limit=1)
    assert one.next_cursor is not None and across.next_cursor is not None
    for bad in ("not a cursor!", one.next_cursor, "eyJ4IjoxfQ"):
        with pytest.raises(InvalidInput, match="cursor"):
            await store.list_sessions(ALL, cursor=bad)
    with pytest.raises(InvalidInput, match="cursor"):  # and the other way round
        await store.list_sessions(SessionFilter(tenant="t1"), cursor=across.next_cursor)


async def test_list_tenants(store: Store) -> None:
    assert await store.list_tenants() == []
    await _interleaved(store)
    assert await store.list_tenants() == ["acme", "beta", "cargo"]
    assert await store.list_tenants(after="acme") == ["beta", "cargo"]
    assert await store.list_tenants(after="acme", limit=1) == ["beta"]
    for sid in ("s01", "s04", "s07", "s10"):
        assert await store.delete(sid, tenant="acme")
    assert await store.list_tenants() == ["beta", "cargo"]


async def test_a_tenant_goes_with_its_last_session_purged_or_comes_with_an_import(
    store: Store,
) -> None:
    odd = "a:b c/%"  # escaped in the key layouts that need it, listed as it is
    ended = await create(store, "x", tenant=odd, status=Status.ENDED)
    await create(store, "y", tenant="beta")
    assert await store.list_tenants() == [odd, "beta"]
    assert await store.purge(ended.updated_at + 1) == 1
    assert await store.list_tenants() == ["beta"]
    await store.import_session(session("z", tenant="cargo", version=1, seq=1), events(1, 1, version=1))
    assert await store.list_tenants() == ["beta", "cargo"]

