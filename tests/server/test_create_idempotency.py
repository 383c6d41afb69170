"""``POST /v1/sessions`` with an ``Idempotency-Key`` and no ``session_id`` (issue 8, item 5):
a retry returns the first answer (same session id, same body) instead of creating another
session; the same key with another body is refused and creates nothing. On SQLite and
PostgreSQL (the ``client`` fixture), and through the Hub when two processes race."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from starlette.testclient import TestClient

from dialoghub import Hub
from dialoghub.errors import IdempotencyKeyReused
from dialoghub.model.spec import Model
from dialoghub.stores import Idempotency
from dialoghub.stores.memory import MemoryStore
from tests.server.conftest import Keys


def post(
    client: TestClient, keys: Keys, key: str | None, key_header: str | None = None, **body: Any
) -> Any:
    headers = keys.h(key_header)
    if key is not None:
        headers["Idempotency-Key"] = key
    return client.post("/v1/sessions", json={"model_id": "weather", **body}, headers=headers)


def session_ids(client: TestClient, keys: Keys, key_header: str | None = None) -> list[str]:
    page = client.get("/v1/sessions?limit=1000", headers=keys.h(key_header)).json()
    return [s["id"] for s in page["sessions"]]


def test_a_retried_create_returns_the_first_answer(client: TestClient, keys: Keys) -> None:
    first = post(client, keys, "create-1", metadata={"user": "u1"})
    assert first.status_code == 201, first.text
    again = post(client, keys, "create-1", metadata={"user": "u1"})
    assert again.status_code == 201
    assert again.content == first.content  # same session id, same body (token included)
    assert session_ids(client, keys) == [first.json()["session"]["id"]]
    # the token of the retry works like the first one
    token = again.json()["token"]
    r = client.post(
        f"/v1/sessions/{first.json()['session']['id']}/inputs",
        json={"input": {"type": "text", "text": "hello"}, "token": token},
        headers=keys.h(),
    )
    assert r.status_code == 200, r.text


def test_the_same_key_with_another_body_is_refused(client: TestClient, keys: Keys) -> None:
    first = post(client, keys, "create-2", metadata={"user": "u1"})
    assert first.status_code == 201
    other = post(client, keys, "create-2", metadata={"user": "u2"})
    assert other.status_code == 409
    assert other.json()["code"] == "idempotency_key_reused"
    assert session_ids(client, keys) == [first.json()["session"]["id"]]


def test_other_keys_and_other_tenants_get_their_own_sessions(
    client: TestClient, keys: Keys
) -> None:
    a = post(client, keys, "k-a").json()["session"]["id"]
    b = post(client, keys, "k-b").json()["session"]["id"]
    c = post(client, keys, "k-a", key_header=keys.other).json()["session"]["id"]
    no_key = [post(client, keys, None).json()["session"]["id"] for _ in range(2)]
    assert len({a, b, c, *no_key}) == 5  # without a key every create is a new session
    assert sorted(session_ids(client, keys)) == sorted([a, b, *no_key])
    assert session_ids(client, keys, keys.other) == [c]


def test_a_bad_key_is_refused_and_creates_nothing(client: TestClient, keys: Keys) -> None:
    r = post(client, keys, "x" * 201)
    assert r.status_code == 422 and r.json()["code"] == "invalid_input"
    assert session_ids(client, keys) == []


class SlowIdempotencyReads(MemoryStore):
    """A memory store whose idempotency look-up lets other tasks run first: two hubs on it
    both find no record, then both create (what two server processes can do)."""

    async def idempotent(
        self, session_id: str, key: str, *, tenant: str = "default"
    ) -> Idempotency | None:
        found = await super().idempotent(session_id, key, tenant=tenant)
        await asyncio.sleep(0)  # answered as of before the other hub's write
        return found


def test_two_hubs_racing_on_one_key_give_one_session(weather: Model) -> None:
    async def main() -> None:
        store = SlowIdempotencyReads()
        async with Hub(store) as one, Hub(store) as two:
            one.add_model(weather)
            two.add_model(weather)
            a, b = await asyncio.gather(
                one.create_session(idempotency_key="race", metadata={"m": 1}),
                two.create_session(idempotency_key="race", metadata={"m": 1}),
            )
            assert a == b
            page = await one.list_sessions()
            assert [s.id for s in page.sessions] == [a.id]
            with pytest.raises(IdempotencyKeyReused):
                await two.create_session(idempotency_key="race", metadata={"m": 2})

    asyncio.run(main())
