"""``/v1/decisions/ws`` across server processes: two apps on one store and one Redis relay; a
human solicitation made by one app's update is pushed to the inbox socket attached to the
other, once, and only to the tenant's sockets."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from dialoghub.server import Settings, create_app
from dialoghub.server.auth import create_key
from dialoghub.server.keystore import MemoryKeyStore
from tests.decision.test_server import TRIAGE
from tests.services import REDIS, require


@pytest.fixture
def two_apps(tmp_path: Path) -> Iterator[tuple[TestClient, TestClient, dict[str, str]]]:
    """Two apps on one SQLite file and one key store, relaying through one Redis."""
    require(*REDIS)
    keystore = MemoryKeyStore()

    async def make() -> dict[str, str]:
        write, _ = await create_key(keystore, "acme", scopes=("write",))
        other, _ = await create_key(keystore, "other", scopes=("write",))
        return {"write": write, "other": other}

    keys = asyncio.run(make())
    settings = Settings(
        store=f"sqlite:///{tmp_path / 'shared.db'}",
        models=(TRIAGE,),
        rate_limit=0,
        token_keys=("k1:0123456789abcdef0123456789abcdef",),
        broadcast=f"redis://127.0.0.1:6379/0?prefix=t_{uuid.uuid4().hex[:8]}:",
    )
    with (
        TestClient(create_app(settings, keystore=keystore)) as one,
        TestClient(create_app(settings, keystore=keystore)) as two,
    ):
        yield one, two, keys


def _create(client: TestClient, key: str) -> str:
    r = client.post(
        "/v1/sessions",
        json={"model_id": "ticket-triage", "params": {"known_issue": True, "severity": 4}},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert r.status_code == 201, r.text
    return str(r.json()["session"]["id"])


def test_a_solicitation_made_by_another_process_is_pushed(
    two_apps: tuple[TestClient, TestClient, dict[str, str]],
) -> None:
    one, two, keys = two_apps
    h = {"Authorization": f"Bearer {keys['write']}"}
    with one.websocket_connect("/v1/decisions/ws?specialist=editor", headers=h) as ws:
        assert ws.receive_json() == {"type": "attached"}
        # another tenant's solicitation, made through the other app: not pushed here
        _create(two, keys["other"])
        # through the other app: its rules answer there, the editor is asked there, and
        # only the relay brings the push to this app's socket
        sid = _create(two, keys["write"])
        push = ws.receive_json()
        assert push["type"] == "solicited" and push["session_id"] == sid
        assert push["specialist"] == "editor" and push["kind"] == "vote"
        assert push["correlation"] == "r1.1.v.editor"
        # one made here still arrives once (the relay skips this process's own messages)
        mine = _create(one, keys["write"])
        assert ws.receive_json()["session_id"] == mine
