"""Agent rounds over HTTP, SSE and the WebSocket, in process (SQLite store)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from dialoghub.agent import Plugins, RulePlanner, Turn
from dialoghub.server import Settings, create_app
from dialoghub.server.keystore import MemoryKeyStore
from dialoghub.server.routes_messages import AgentConfig, install
from tests.agent.conftest import make_planner, make_plugins
from tests.server.conftest import Keys, make_keys

GATE = threading.Event()  # a sync plugin (in a worker thread) waits on it


def _plugins() -> Plugins:
    plugins = make_plugins()

    @plugins.register()
    def wait(ctx: Any) -> str:
        ctx.status("waiting")
        assert GATE.wait(10), "the test never opened the gate"
        return "opened"

    return plugins


def _planner() -> RulePlanner:
    planner = make_planner()

    async def slow(turn: Turn, m: Any) -> str:
        await turn.call("wait")
        await turn.call("count")
        return "done"

    planner.add("slow", slow)
    return planner


@pytest.fixture
def keys() -> Keys:
    return make_keys(KEYSTORE)


KEYSTORE = MemoryKeyStore()


@pytest.fixture
def client(tmp_path: Path, keys: Keys) -> Iterator[TestClient]:
    GATE.clear()
    settings = Settings(
        store=f"sqlite:///{tmp_path}/s.db",
        rate_limit=0,
        token_keys=("k1:0123456789abcdef0123456789abcdef",),
    )
    app = create_app(settings, keystore=KEYSTORE)
    install(
        app,
        AgentConfig(
            planner=_planner(),
            plugins=_plugins(),
            workspace=str(tmp_path / "ws"),
            max_upload_bytes=4096,
            keepalive=0.05,
        ),
    )
    with TestClient(app) as c:
        yield c
    GATE.set()


def _events(
    client: TestClient,
    keys: Keys,
    sid: str,
    *,
    after: int | None = None,
    last_id: str | None = None,
    until: str = "round_end",
    count: int | None = None,
) -> list[dict[str, Any]]:
    """Read the SSE stream until an event of type ``until`` (or ``count`` events)."""
    headers = keys.h()
    if last_id is not None:
        headers["Last-Event-ID"] = last_id
    url = f"/v1/sessions/{sid}/messages/stream" + (f"?after={after}" if after is not None else "")
    out: list[dict[str, Any]] = []
    with client.stream("GET", url, headers=headers) as r:
        assert r.status_code == 200, r.read()
        assert r.headers["content-type"].startswith("text/event-stream")
        fields: dict[str, str] = {}
        for line in r.iter_lines():
            if line.startswith(":"):
                continue
            if line:
                name, _, value = line.partition(": ")
                fields[name] = value
                continue
            if "data" in fields:
                event = json.loads(fields["data"])
                assert fields["id"] == str(event["seq"]) and fields["event"] == event["type"]
                out.append(event)
                if event["type"] == until or (count is not None and len(out) == count):
                    return out
            fields = {}
    return out


def test_a_message_starts_a_round_and_its_events_stream(client: TestClient, keys: Keys) -> None:
    r = client.post(
        "/v1/sessions/s1/messages", headers=keys.h(), json={"message": "weather in Paris"}
    )
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["created"] is True and body["status"] == "created"
    events = _events(client, keys, "s1", after=0)
    assert events[0]["type"] == "round_start" and events[-1]["type"] == "round_end"
    assert all(e["round_id"] == body["round_id"] for e in events)
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    got = client.get(body["round"], headers=keys.h()).json()
    assert got["status"] == "finished" and got["reply"] == "Paris: sunny (lookup 1)"
    assert [r["id"] for r in client.get("/v1/sessions/s1/rounds", headers=keys.h()).json()] == [
        body["round_id"]
    ]
    # the session is an ordinary session of the API, of the agent model
    assert client.get("/v1/sessions/s1", headers=keys.h()).json()["model_id"] == "agent"


def test_reconnecting_with_last_event_id_gets_exactly_what_was_missed(
    client: TestClient, keys: Keys
) -> None:
    client.post("/v1/sessions/s2/messages", headers=keys.h(), json={"message": "weather in Paris"})
    everything = _events(client, keys, "s2")
    first = _events(client, keys, "s2", count=4)
    rest = _events(client, keys, "s2", last_id=str(first[-1]["seq"]))
    assert first + rest == everything
    assert _events(client, keys, "s2", after=everything[-4]["seq"]) == everything[-3:]


def test_an_idle_stream_gets_keep_alive_pings(client: TestClient, keys: Keys) -> None:
    client.post("/v1/sessions/s3/messages", headers=keys.h(), json={"message": "last"})
    _events(client, keys, "s3")
    url = "/v1/sessions/s3/messages/stream?after=1000000"
    with client.stream("GET", url, headers=keys.h()) as r:
        lines = r.iter_lines()
        assert next(line for line in lines if line) == ": ping"


def test_a_multipart_message_brings_its_files(client: TestClient, keys: Keys) -> None:
    r = client.post(
        "/v1/sessions/s4/messages",
        headers=keys.h(),
        data={"message": "files?"},
        files=[("files", ("a.csv", b"1,2", "text/csv")), ("files", ("b.txt", b"hi", "text/plain"))],
    )
    assert r.status_code == 202, r.text
    events = _events(client, keys, "s4")
    assert events[-1]["data"]["reply"] == "files: a.csv, b.txt"
    r = client.post(
        "/v1/sessions/s4/messages",
        headers=keys.h(),
        json={"message": "files?", "files": [{"name": "c.txt", "content": "text"}]},
    )
    assert r.status_code == 202
    after = events[-1]["seq"]
    assert _events(client, keys, "s4", after=after)[-1]["data"]["reply"] == "files: c.txt"
    # a multipart file name that would leave the folder is refused, and nothing changes
    r = client.post(
        "/v1/sessions/s4/messages",
        headers=keys.h(),
        data={"message": "files?"},
        files=[("files", ("../evil", b"x", "text/plain"))],
    )
    assert r.status_code == 422 and r.json()["code"] == "file_refused"
    assert len(client.get("/v1/sessions/s4/rounds", headers=keys.h()).json()) == 2


def test_files_sent_to_a_server_without_a_workspace(tmp_path: Path, keys: Keys) -> None:
    settings = Settings(
        store=f"sqlite:///{tmp_path}/n.db",
        rate_limit=0,
        token_keys=("k1:0123456789abcdef0123456789abcdef",),
    )
    app = create_app(settings, keystore=KEYSTORE)
    install(app, AgentConfig(planner=_planner(), plugins=_plugins()))
    with TestClient(app) as client:
        r = client.post(
            "/v1/sessions/n/messages",
            headers=keys.h(),
            json={"message": "x", "files": [{"name": "a", "content": "1"}]},
        )
        assert r.status_code == 409 and r.json()["code"] == "files_unavailable"
        assert client.get("/v1/sessions/n", headers=keys.h()).status_code == 404


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"message": ""}, 400, "bad_request"),
        ({"message": "   "}, 400, "bad_request"),
        ({"message": "x", "extra": 1}, 400, "bad_request"),
        ({"text": "x"}, 400, "bad_request"),
        ({"message": 5}, 400, "bad_request"),
        ({"message": "x", "files": [{"name": "../evil", "content": "x"}]}, 400, "bad_request"),
        ({"message": "x", "files": [{"name": "/etc/x", "content": "x"}]}, 400, "bad_request"),
        ({"message": "x", "files": [{"name": "..", "content": "x"}]}, 400, "bad_request"),
        (
            {"message": "x", "files": [{"name": "a", "content": "x", "path": "/etc/passwd"}]},
            400,
            "bad_request",
        ),
        ({"message": "x", "files": [{"name": "a"}]}, 400, "bad_request"),
        (
            {"message": "x", "files": [{"name": f"f{i}", "content": ""} for i in range(21)]},
            400,
            "bad_request",
        ),
        ({"message": "x", "files": [{"name": "a", "content": "y" * 3000}]}, 413, "file_too_large"),
        ({"message": "x" * 5000}, 413, "payload_too_large"),
    ],
)
def test_bad_messages_get_a_4xx_and_change_nothing(
    client: TestClient, keys: Keys, body: dict[str, Any], status: int, code: str
) -> None:
    if code == "file_too_large":  # under the body bound, over the workspace's file bound
        client.portal.call(_shrink_files, client)  # type: ignore[union-attr]
    r = client.post("/v1/sessions/bad/messages", headers=keys.h(), json=body)
    assert r.status_code == status, r.text
    assert r.json()["code"] == code and set(r.json()) == {"code", "message", "details"}
    assert client.get("/v1/sessions/bad", headers=keys.h()).status_code == 404


async def _shrink_files(client: TestClient) -> None:
    from dialoghub.server.routes_messages import agent_of

    app: Any = client.app
    agent, _ = agent_of(app.state.service, app)
    assert agent.workspace is not None
    agent.workspace.max_file_bytes = 1000


def test_other_bad_requests(client: TestClient, keys: Keys) -> None:
    h = keys.h()
    assert client.post("/v1/sessions/x/messages", headers=h, content=b"{").status_code == 400
    r = client.post("/v1/sessions/x/messages", headers=h, data={"nomessage": "x"})
    assert r.status_code == 400
    r = client.post(
        "/v1/sessions/x/messages",
        headers=h,
        content=b"x" * 5000,
    )
    assert r.status_code == 413
    assert client.post("/v1/sessions/x/messages", json={"message": "x"}).status_code == 401
    assert (
        client.post(
            "/v1/sessions/x/messages", headers=keys.h(keys.read), json={"message": "x"}
        ).status_code
        == 403
    )
    assert client.get("/v1/sessions/x", headers=h).status_code == 404
    assert client.get("/v1/sessions/nope/rounds/r1", headers=h).status_code == 404
    assert client.get("/v1/sessions/nope/messages/stream", headers=h).status_code == 404
    assert client.get("/v1/sessions/x/messages/stream?after=-1", headers=h).status_code == 400


def test_a_round_is_cancelled_over_http_and_other_tenants_see_nothing(
    client: TestClient, keys: Keys
) -> None:
    rid = client.post(
        "/v1/sessions/s5/messages", headers=keys.h(), json={"message": "slow"}
    ).json()["round_id"]
    _events(client, keys, "s5", until="post_status")  # inside the waiting plugin
    assert (
        client.get(f"/v1/sessions/s5/rounds/{rid}", headers=keys.h(keys.other)).status_code == 404
    )
    r = client.post(f"/v1/sessions/s5/rounds/{rid}/cancel", headers=keys.h())
    assert r.status_code == 202 and r.json()["cancelled"] is True
    GATE.set()
    events = _events(client, keys, "s5")
    assert events[-1]["data"]["status"] == "cancelled"
    assert "count" not in json.dumps(events)  # nothing ran after the step it was in
    r = client.post(f"/v1/sessions/s5/rounds/{rid}/cancel", headers=keys.h())
    assert r.json()["cancelled"] is False  # ended: left as it is
    assert client.post("/v1/sessions/s5/rounds/nope/cancel", headers=keys.h()).status_code == 404


def test_the_websocket_forwards_round_events_and_a_reconnect_gets_what_it_missed(
    client: TestClient, keys: Keys
) -> None:
    client.post("/v1/sessions/s6/messages", headers=keys.h(), json={"message": "last"})
    last = _events(client, keys, "s6")[-1]["seq"]
    seen: list[dict[str, Any]] = []
    url = f"/v1/sessions/s6/ws?round_after={last}"
    with client.websocket_connect(url, headers=keys.h()) as ws:
        rid = client.post(
            "/v1/sessions/s6/messages", headers=keys.h(), json={"message": "slow"}
        ).json()["round_id"]
        while True:
            frame = ws.receive_json()
            if frame["type"] == "round_event":
                seen.append(frame["event"])
                if frame["event"]["type"] == "post_status":
                    break  # disconnect mid-round
    GATE.set()  # the round goes on without any client
    everything = _events(client, keys, "s6", after=seen[0]["seq"] - 1)
    assert everything[-1]["data"]["status"] == "finished"
    with client.websocket_connect(
        f"/v1/sessions/s6/ws?round_after={seen[-1]['seq']}", headers=keys.h()
    ) as ws:
        missed: list[dict[str, Any]] = []
        while not missed or missed[-1]["type"] != "round_end":
            frame = ws.receive_json()
            if frame["type"] == "round_event":
                missed.append(frame["event"])
    assert seen + missed == everything
    assert all(e["round_id"] == rid for e in everything)
    with client.websocket_connect("/v1/sessions/s6/ws?round_after=x", headers=keys.h()) as ws:
        assert ws.receive_json()["code"] == "bad_request"
