"""The API keys routes of ``/v1`` (admin scope): list, create and revoke the keys of the
caller's own tenant. ``dialoghub keys`` does the same from the command line for any tenant.
"""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.routing import Route

from dialoghub.errors import KeysDisabled
from dialoghub.server.auth import Principal, create_key
from dialoghub.server.endpoint import Param, body, by_method, endpoint
from dialoghub.server.errors import NotFound
from dialoghub.server.keystore import KeyRecord, KeyStore
from dialoghub.server.schemas import CreatedKey, CreateKey, KeyList, KeyOut
from dialoghub.server.service import Service

__all__ = ["key_out", "routes"]

_KEY_ID = Param.path("key_id", "The key id.")


def _keystore(service: Service) -> KeyStore:
    if service.keystore is None or not service.auth.enabled:
        raise KeysDisabled("this server runs without API keys (auth is off)")
    return service.keystore


def key_out(record: KeyRecord) -> KeyOut:
    """The listed form of a key."""
    return KeyOut(
        key_id=record.key_id, tenant=record.tenant, scopes=list(record.scopes),
        name=record.name, created_at=record.created_at, revoked_at=record.revoked_at,
    )


@endpoint("/v1/keys", "admin", tag="keys")
async def list_keys(service: Service, request: Request, who: Principal) -> KeyList:
    """The tenant's keys, revoked ones included, never their secrets."""
    records = await _keystore(service).list_keys(who.tenant)
    return KeyList(keys=[key_out(r) for r in records])


@endpoint("/v1/keys", "admin", tag="keys", body=CreateKey, status=201,
          operation_id="createKey")
async def add_key(service: Service, request: Request, who: Principal) -> CreatedKey:
    """A new key of the tenant; its secret is in this response only."""
    req = await body(service, request)
    key, record = await create_key(
        _keystore(service), who.tenant, scopes=tuple(req.scopes), name=req.name
    )
    out = key_out(record)
    return CreatedKey(
        key=key, key_id=out.key_id, tenant=out.tenant, scopes=out.scopes, name=out.name,
        created_at=out.created_at, revoked_at=None,
    )


@endpoint("/v1/keys/{key_id}", "admin", tag="keys", params=[_KEY_ID], status=204)
async def revoke_key(service: Service, request: Request, who: Principal) -> None:
    """Revoke a key of the tenant; it gets 401 from now on."""
    key_id: str = _KEY_ID.read(request)
    if not await _keystore(service).revoke_key(key_id, time.time(), tenant=who.tenant):
        raise NotFound(f"no live API key {key_id!r} in this tenant", key_id=key_id)
    service.auth.forget(key_id)


routes = [
    Route("/v1/keys", by_method(GET=list_keys, POST=add_key), methods=["GET", "POST"],
          name="keys"),
    Route("/v1/keys/{key_id}", revoke_key, methods=["DELETE"], name="revoke_key"),
]
