"""Tenants, API keys and scopes: 401 without or with a revoked key, 403 without the scope,
404 (not 403) for another tenant's session; the keys routes (admin)."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from dialoghub.server.auth import Authenticator, create_key
from dialoghub.server.errors import Unauthorized
from dialoghub.server.keystore import KeyRecord, MemoryKeyStore
from tests.server.conftest import Keys


def test_no_key_bad_key_revoked_key(client: TestClient, keys: Keys) -> None:
    assert client.get("/v1/models").status_code == 401
    r = client.get("/v1/models", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401 and "WWW-Authenticate" in r.headers
    forged = keys.write.rsplit("_", 1)[0] + "_forged"
    assert client.get("/v1/models", headers={"Authorization": f"Bearer {forged}"}).status_code == 401
    key_id = keys.write.split("_")[1]
    assert client.delete(f"/v1/keys/{key_id}", headers=keys.h(keys.admin)).status_code == 204
    assert client.get("/v1/models", headers=keys.h(keys.write)).status_code == 401


def test_scopes(client: TestClient, keys: Keys) -> None:
    assert client.get("/v1/models", headers=keys.h(keys.read)).status_code == 200
    r = client.post("/v1/sessions", json={"model_id": "weather"}, headers=keys.h(keys.read))
    assert r.status_code == 403 and r.json()["code"] == "forbidden"
    assert client.get("/v1/keys", headers=keys.h(keys.write)).status_code == 403
    r = client.post("/v1/sessions", json={"model_id": "weather"}, headers=keys.h(keys.admin))
    assert r.status_code == 201  # admin implies write


def test_tenants_do_not_see_each_other(client: TestClient, keys: Keys) -> None:
    client.post("/v1/sessions", json={"model_id": "weather", "session_id": "x"},
                headers=keys.h())
    other = keys.h(keys.other)
    assert client.get("/v1/sessions/x", headers=other).status_code == 404
    assert client.get("/v1/sessions", headers=other).json()["sessions"] == []
    r = client.post("/v1/sessions/x/inputs", json={"input": {"type": "text", "text": "hi"}},
                    headers=other)
    assert r.status_code == 404
    assert client.delete("/v1/sessions/x", headers=other).status_code == 404
    assert client.get("/v1/sessions/x/events", headers=other).status_code == 404
    # the same id in another tenant is another session
    r = client.post("/v1/sessions", json={"model_id": "weather", "session_id": "x"},
                    headers=other)
    assert r.status_code == 201


def test_keys_routes(client: TestClient, keys: Keys) -> None:
    admin = keys.h(keys.admin)
    listed = client.get("/v1/keys", headers=admin).json()["keys"]
    assert {k["tenant"] for k in listed} == {"acme"} and len(listed) == 3
    assert all("secret" not in str(k) and "key" not in k for k in listed)
    r = client.post("/v1/keys", json={"scopes": ["read"], "name": "ci"}, headers=admin)
    assert r.status_code == 201
    new = r.json()["key"]
    assert client.get("/v1/models", headers=keys.h(new)).status_code == 200
    other_id = keys.other.split("_")[1]
    assert client.delete(f"/v1/keys/{other_id}", headers=admin).status_code == 404
    r = client.post("/v1/keys", json={"scopes": ["root"]}, headers=admin)
    assert r.status_code == 400


def test_rate_limit(keystore, keys: Keys, settings) -> None:  # type: ignore[no-untyped-def]
    from dialoghub.server import create_app

    app = create_app(settings.replace(rate_limit=1.0, rate_burst=2), keystore=keystore)
    with TestClient(app) as c:
        codes = [c.get("/v1/models", headers=keys.h()).status_code for _ in range(3)]
        assert codes == [200, 200, 429]
        r = c.get("/v1/models", headers=keys.h())
        assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
        assert r.json()["code"] == "rate_limited"
        assert c.get("/v1/models", headers=keys.h(keys.read)).status_code == 200  # per key


def test_auth_off(keystore, settings) -> None:  # type: ignore[no-untyped-def]
    from dialoghub.server import create_app

    with TestClient(create_app(settings.replace(auth=False))) as c:
        r = c.post("/v1/sessions", json={"model_id": "weather"})
        assert r.status_code == 201 and r.json()["session"]["tenant"] == "default"


class _CountingStore(MemoryKeyStore):
    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    async def get_key(self, key_id: str) -> KeyRecord | None:
        self.reads += 1
        return await super().get_key(key_id)


async def test_verified_keys_are_cached_and_revocations_seen() -> None:
    store = _CountingStore()
    key, record = await create_key(store, "acme", scopes=("read",))
    now = [0.0]
    auth = Authenticator(store, cache_seconds=5.0, clock=lambda: now[0])
    first = await auth.authenticate(f"Bearer {key}")
    again = await auth.authenticate(f"Bearer {key}")
    assert first == again and first.tenant == "acme" and store.reads == 1
    with pytest.raises(Unauthorized):  # a wrong secret for a cached key id
        await auth.authenticate(f"Bearer dh_{record.key_id}_wrong")
    # Revoked in another process: seen once the cache entry expires.
    await store.revoke_key(record.key_id, 1.0)
    assert (await auth.authenticate(f"Bearer {key}")).key_id == record.key_id
    now[0] += 5.0
    with pytest.raises(Unauthorized):
        await auth.authenticate(f"Bearer {key}")
    # Revoked through this process: forget() makes it immediate.
    key2, record2 = await create_key(store, "acme", scopes=("read",))
    await auth.authenticate(f"Bearer {key2}")
    await store.revoke_key(record2.key_id, 2.0)
    auth.forget(record2.key_id)
    with pytest.raises(Unauthorized):
        await auth.authenticate(f"Bearer {key2}")
