"""Listing every tenant's sessions at once (``SessionFilter(tenant=None)``), for operators.

Every store keeps its listing indexes per tenant (tenant leads every SQL index; Redis keeps
one set of sorted sets per tenant), so a listing across tenants walks the tenants in order
and, inside each, the store's own one-tenant listing: pages are ordered by (tenant,
creation). No extra index is written on the hot write path for it. A page costs what the
one-tenant pages it is made of cost, plus one probe per tenant it passes (a loose index
scan for the SQL stores): a tenant with nothing matching the filter costs one probe.

The cursor is opaque: the tenant the page stopped in and that tenant's own listing cursor
(itself checked by the store), so a cursor of one store or one kind of listing is refused
by another with :class:`~dialoghub.errors.InvalidInput`.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from dialoghub.engine.records import Session
from dialoghub.errors import InvalidInput
from dialoghub.stores.base import Page, SessionFilter

if TYPE_CHECKING:
    from dialoghub.stores.base import Store

__all__ = ["decode_across", "encode_across", "list_across"]

_TAG = "x1"
#: Tenants asked of :meth:`Store.list_tenants` at a time while a page is filled.
_TENANT_BATCH = 100


def encode_across(tenant: str, inner: str | None) -> str:
    """The cursor of a page that stopped in ``tenant`` (``inner``: that tenant's cursor;
    None: the tenant's first session is next)."""
    raw = json.dumps([_TAG, tenant, inner], ensure_ascii=False, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_across(cursor: str) -> tuple[str, str | None]:
    """(tenant, inner cursor) of a cursor of :func:`encode_across`; InvalidInput if not one."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        tag, tenant, inner = json.loads(raw)
        if tag != _TAG or not isinstance(tenant, str) or not isinstance(inner, str | None):
            raise ValueError(raw)
        return tenant, inner
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidInput(
            f"invalid listing cursor {cursor!r}; pass back the next_cursor of a previous "
            "page of the same listing across tenants"
        ) from exc


async def _tenants(store: Store, first: str | None) -> AsyncIterator[str]:
    """``first`` (when given), then every tenant after it, in the store's order."""
    after = first
    if first is not None:
        yield first
    while True:
        batch = await store.list_tenants(after=after, limit=_TENANT_BATCH)
        for tenant in batch:
            yield tenant
        if len(batch) < _TENANT_BATCH:
            return
        after = batch[-1]


async def list_across(
    store: Store, filter: SessionFilter, *, limit: int, cursor: str | None
) -> Page:
    """One page of ``filter`` (whose tenant is ignored) across every tenant of ``store``."""
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    first, inner = decode_across(cursor) if cursor is not None else (None, None)
    found: list[Session] = []
    async for tenant in _tenants(store, first):
        one = dataclasses.replace(filter, tenant=tenant)
        if len(found) == limit:
            # The page is full and ended with a tenant: is anything left after it? A probe
            # of one session, so the last page is never an empty one.
            probe = await store.list_sessions(one, limit=1)
            if probe.sessions:
                return Page(found, encode_across(tenant, None))
            continue
        page = await store.list_sessions(one, limit=limit - len(found), cursor=inner)
        inner = None
        found.extend(page.sessions)
        if page.next_cursor is not None:  # the tenant has more: the page is full
            return Page(found, encode_across(tenant, page.next_cursor))
    return Page(found, None)
