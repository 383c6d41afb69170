"""The decision routes in an in-process app with API keys: the round's state, human answers
recorded with the key that sent them, the inbox, overrides, the OpenAPI document, and every
bad input refused with a clear 4xx that changes nothing."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from dialoghub.server import Settings, create_app, routes_decisions
from dialoghub.server.auth import create_key
from dialoghub.server.keystore import MemoryKeyStore

TRIAGE = str(Path(__file__).resolve().parents[2] / "examples" / "decisions" / "triage.json")


class App:
    def __init__(self, client: TestClient, keys: dict[str, str]) -> None:
        self.c = client
        self.keys = keys

    def h(self, who: str = "write") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[who]}"}

    def settle(self) -> None:
        """Wait until the server's driver has answered every AI solicitation."""
        for driver in routes_decisions._drivers.values():
            self.c.portal.call(driver.settle)  # type: ignore[union-attr]

    def create(self, **params: Any) -> str:
        r = self.c.post(
            "/v1/sessions", json={"model_id": "ticket-triage", "params": params}, headers=self.h()
        )
        assert r.status_code == 201, r.text
        self.settle()
        return str(r.json()["session"]["id"])

    def round(self, sid: str, who: str = "write") -> Any:
        r = self.c.get(f"/v1/sessions/{sid}/round", headers=self.h(who))
        assert r.status_code == 200, r.text
        return r.json()

    def post(self, sid: str, what: str, body: dict[str, Any], who: str = "write") -> Any:
        return self.c.post(f"/v1/sessions/{sid}/round/{what}", json=body, headers=self.h(who))

    def version(self, sid: str) -> int:
        return int(self.c.get(f"/v1/sessions/{sid}", headers=self.h()).json()["version"])

    def events(self, sid: str) -> list[dict[str, Any]]:
        r = self.c.get(f"/v1/sessions/{sid}/events?limit=1000", headers=self.h())
        return list(r.json()["events"])


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    keystore = MemoryKeyStore()

    async def make() -> dict[str, str]:
        write, _ = await create_key(keystore, "acme", scopes=("write",))
        read, _ = await create_key(keystore, "acme", scopes=("read",))
        other, _ = await create_key(keystore, "other", scopes=("write",))
        return {"write": write, "read": read, "other": other}

    keys = asyncio.run(make())
    settings = Settings(
        store=f"sqlite:///{tmp_path / 's.db'}",
        models=(TRIAGE,),
        rate_limit=0,
        token_keys=("k1:0123456789abcdef0123456789abcdef",),
    )
    with TestClient(create_app(settings, keystore=keystore)) as client:
        yield App(client, keys)


def key_id(key: str) -> str:
    return key.split("_")[1]


def test_rules_propose_and_a_human_vote_decides_with_its_key_recorded(app: App) -> None:
    sid = app.create(known_issue=True, severity=4)  # RESOLVE (known) vs ESCALATE (severe)
    rd = app.round(sid)
    assert rd["round"] == "r1" and rd["phase"] == "vote"
    assert rd["prompt"].startswith("Triage the ticket")
    assert {p["transition"]: p["reasoning"] for p in rd["proposals"]} == {
        "RESOLVE": "a known issue has a known answer",
        "ESCALATE": "severe tickets go to an engineer",
    }
    assert list(rd["waiting"]) == ["editor"] and rd["waiting"]["editor"]["human"]
    r = app.post(
        sid,
        "votes",
        {
            "round": "r1",
            "specialist": "editor",
            "votes": [{"a": "A", "b": "B", "vote": "A"}],
            "reasoning": "customer already has the fix",
        },
    )
    assert r.status_code == 200, r.text
    assert r.json()["session"]["state"] == "resolved"
    (human,) = [
        e
        for e in app.events(sid)
        if e["type"] == "vote_submitted" and e["data"]["specialist"] == "editor"
    ]
    assert human["data"]["by"] == {"key_id": key_id(app.keys["write"]), "tenant": "acme"}
    assert human["data"]["human"] is True


def test_a_human_proposal_in_the_engineer_state(app: App) -> None:
    sid = app.create(severity=5)  # both rules: ESCALATE, alone -> escalated, lead proposes
    rd = app.round(sid)
    assert rd["state"] == "escalated" and list(rd["waiting"]) == ["lead"]
    before = app.version(sid)
    r = app.post(
        sid, "proposals", {"round": rd["round"], "specialist": "lead", "transition": "PUBLISH"}
    )
    assert r.status_code == 422 and r.json()["code"] == "unknown_transition"
    assert "CLOSE" in r.json()["message"]
    assert app.version(sid) == before
    r = app.post(
        sid,
        "proposals",
        {
            "round": rd["round"],
            "specialist": "lead",
            "transition": "CLOSE",
            "reasoning": "fixed in 2.1",
        },
    )
    assert r.status_code == 200 and r.json()["session"]["state"] == "resolved"


def test_bad_answers_get_a_clear_4xx_and_change_nothing(app: App) -> None:
    sid = app.create(known_issue=True, severity=4)
    before = app.version(sid)
    vote = {"round": "r1", "specialist": "editor", "votes": [{"a": "A", "b": "B", "vote": "A"}]}
    cases = [
        ({**vote, "votes": [{"a": "A", "b": "Z", "vote": "A"}]}, "write", 422, "unknown_proposal"),
        ({**vote, "specialist": "zed"}, "write", 422, "not_solicited"),
        ({**vote, "specialist": "rule.known"}, "write", 422, "not_solicited"),  # answered
        ({**vote, "round": "r0"}, "write", 422, "stale_round"),
        ({**vote, "votes": [{"a": "A", "b": "B", "vote": "maybe"}]}, "write", 400, "bad_request"),
        ({**vote, "by": {"key_id": "someone-else"}}, "write", 400, "bad_request"),
        ({**vote, "votes": []}, "write", 400, "bad_request"),
        (vote, "other", 404, "session_not_found"),  # a key of another tenant
        (vote, "read", 403, "forbidden"),
    ]
    for body, who, status, code in cases:
        r = app.post(sid, "votes", body, who)
        assert (r.status_code, r.json()["code"]) == (status, code), (body, who, r.text)
    r = app.post(sid, "proposals", {"round": "r1", "specialist": "editor", "transition": "RESOLVE"})
    assert (r.status_code, r.json()["code"]) == (422, "not_solicited")
    r = app.c.post(f"/v1/sessions/{sid}/round/votes", content=b"{not json", headers=app.h())
    assert r.status_code == 400
    assert app.version(sid) == before
    assert app.c.get(f"/v1/sessions/{sid}/round", headers=app.h("other")).status_code == 404


def test_inbox_by_tenant_and_specialist_and_the_override(app: App) -> None:
    waiting = app.create(known_issue=True, severity=4)
    app.create(severity=5)  # escalated: waits for lead
    r = app.c.get("/v1/decisions/inbox?specialist=editor", headers=app.h("read"))
    assert r.status_code == 200
    assert [i["session_id"] for i in r.json()["items"]] == [waiting]
    r = app.c.get("/v1/decisions/inbox", headers=app.h())
    assert len(r.json()["items"]) == 2
    r = app.c.get("/v1/decisions/inbox?state=escalated", headers=app.h())
    assert [i["waiting"] for i in r.json()["items"]] == [["lead"]]
    assert app.c.get("/v1/decisions/inbox", headers=app.h("other")).json()["items"] == []
    assert app.c.get("/v1/decisions/inbox?limit=0", headers=app.h()).status_code == 400
    r = app.post(waiting, "override", {"transition": "ESCALATE", "reason": "VIP customer"})
    assert r.status_code == 200 and r.json()["session"]["state"] == "escalated"
    te = [e for e in app.events(waiting) if e["type"] == "transition_executed"][-1]
    assert te["data"]["source"] == "override" and te["data"]["why"] == "VIP customer"
    r = app.post(waiting, "override", {"transition": "NOPE"})
    assert (r.status_code, r.json()["code"]) == (422, "unknown_transition")


def test_the_routes_are_in_the_openapi_document(app: App) -> None:
    doc = app.c.get("/openapi.json").json()
    for path in (
        "/v1/sessions/{session_id}/round",
        "/v1/sessions/{session_id}/round/proposals",
        "/v1/sessions/{session_id}/round/votes",
        "/v1/sessions/{session_id}/round/override",
        "/v1/decisions/inbox",
    ):
        assert path in doc["paths"], path
    assert doc["paths"]["/v1/decisions/inbox"]["get"]["operationId"] == "inbox"


def test_the_inbox_socket_pushes_new_human_solicitations(app: App) -> None:
    with app.c.websocket_connect("/v1/decisions/ws?specialist=editor", headers=app.h("read")) as ws:
        assert ws.receive_json() == {"type": "attached"}
        sid = app.create(known_issue=True, severity=4)  # the rules answer: editor is asked
        push = ws.receive_json()
        assert push["type"] == "solicited" and push["session_id"] == sid
        assert push["specialist"] == "editor" and push["kind"] == "vote"
        assert push["correlation"] == "r1.1.v.editor" and push["round"] == "r1"
    with app.c.websocket_connect("/v1/decisions/ws", headers=app.h("other")) as ws:
        assert ws.receive_json() == {"type": "attached"}
        app.create(known_issue=True, severity=4)  # acme's: not pushed to tenant other
        r = app.c.post(
            "/v1/sessions",
            headers=app.h("other"),
            json={"model_id": "ticket-triage", "params": {"known_issue": True, "severity": 4}},
        )
        app.settle()
        assert ws.receive_json()["session_id"] == r.json()["session"]["id"]
    with app.c.websocket_connect("/v1/decisions/ws") as ws:  # no key
        first = ws.receive_json()
        assert first["type"] == "error" and first["code"] == "unauthorized"
