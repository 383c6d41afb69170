"""Text search in a listing (``SessionFilter.text``), on every backend: the id or the
metadata, case-insensitive, with the other filters, paged by the store's cursors, bounded
per page (a short page with a cursor is not the end), bad text refused."""

from __future__ import annotations

import pytest

from dialoghub.errors import InvalidInput
from dialoghub.stores import SessionFilter, Store
from dialoghub.stores import _search as search
from tests.stores.helpers import create


async def walk(store: Store, flt: SessionFilter, limit: int) -> list[list[str]]:
    pages: list[list[str]] = []
    cursor: str | None = None
    while True:
        page = await store.list_sessions(flt, limit=limit, cursor=cursor)
        pages.append([s.id for s in page.sessions])
        if page.next_cursor is None:
            return pages
        cursor = page.next_cursor


async def _made(store: Store) -> None:
    await create(store, "order-Alpha-1", metadata={"customer": "Zoë Martin"})
    await create(store, "order-beta-2", metadata={"customer": "Bob", "tags": ["vip", 42]})
    await create(store, "call-3", model_id="other", metadata={"nested": {"city": "Paris"}})
    await create(store, "call-4", metadata={"flag": True, "none": None})
    await create(store, "x%_5", metadata={"note": "100% off_now"})
    await create(store, "order-6", tenant="elsewhere", metadata={"customer": "Zoë"})


@pytest.mark.parametrize(
    ("text", "ids"),
    [
        ("order", ["order-Alpha-1", "order-beta-2"]),  # the id, this tenant only
        ("ALPHA", ["order-Alpha-1"]),  # case-insensitive
        ("zoë", ["order-Alpha-1"]),  # a metadata value, not ASCII
        ("customer", ["order-Alpha-1", "order-beta-2"]),  # a metadata key
        ("vip", ["order-beta-2"]),  # inside a list
        ("42", ["order-beta-2"]),  # a number as text
        ("paris", ["call-3"]),  # nested
        ("true", ["call-4"]),
        ("null", ["call-4"]),
        ("%", ["x%_5"]),  # no pattern language: % and _ are plain characters
        ("_", ["x%_5"]),
        ("off_n", ["x%_5"]),
        ("nothing-like-it", []),
    ],
)
async def test_search_finds_id_and_metadata(store: Store, text: str, ids: list[str]) -> None:
    await _made(store)
    page = await store.list_sessions(SessionFilter(text=text))
    assert [s.id for s in page.sessions] == ids
    assert page.next_cursor is None


async def test_search_with_other_filters(store: Store) -> None:
    await _made(store)
    page = await store.list_sessions(SessionFilter(text="call", model_id="other"))
    assert [s.id for s in page.sessions] == ["call-3"]
    page = await store.list_sessions(SessionFilter(text="zoë", tenant="elsewhere"))
    assert [s.id for s in page.sessions] == ["order-6"]


@pytest.mark.parametrize("limit", [1, 2, 3, 7])
async def test_search_pages_in_creation_order(store: Store, limit: int) -> None:
    for i in range(14):
        await create(store, f"s{i:02d}", metadata={"odd": "yes" if i % 2 else "no"})
    pages = await walk(store, SessionFilter(text="yes"), limit)
    assert [sid for page in pages for sid in page] == [f"s{i:02d}" for i in range(1, 14, 2)]
    assert all(len(page) == limit for page in pages[:-1])


async def test_a_search_page_is_bounded(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    # A budget of 3 sessions examined per page: a page may come back short, even empty, with
    # a cursor that continues after the last session examined; the walk still finds all.
    monkeypatch.setattr(search, "SCAN_BUDGET", 3)
    monkeypatch.setattr(search, "_BATCH", 2)
    for i in range(8):
        await create(store, f"s{i}", metadata={"hit": "yes" if i in (0, 6, 7) else "no"})
    pages = await walk(store, SessionFilter(text="yes"), 2)
    assert pages == [["s0"], [], ["s6", "s7"]]


async def test_a_search_cursor_is_the_listing_cursor(store: Store) -> None:
    for i in range(4):
        await create(store, f"s{i}")
    first = await store.list_sessions(SessionFilter(), limit=2)
    assert first.next_cursor is not None
    rest = await store.list_sessions(SessionFilter(text="s"), cursor=first.next_cursor)
    assert [s.id for s in rest.sessions] == ["s2", "s3"]


@pytest.mark.parametrize("text", ["", "x" * 101, "a\x00b", "line\nbreak", "\x1b[31m"])
async def test_bad_search_text_is_refused(store: Store, text: str) -> None:
    await create(store, "s1")
    with pytest.raises(InvalidInput):
        await store.list_sessions(SessionFilter(text=text))


async def test_search_across_tenants(store: Store) -> None:
    await _made(store)
    page = await store.list_sessions(SessionFilter(tenant=None, text="zoë"))
    assert [(s.tenant, s.id) for s in page.sessions] == [
        ("default", "order-Alpha-1"), ("elsewhere", "order-6"),
    ]  # fmt: skip
