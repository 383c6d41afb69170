"""The session WebSocket and the SSE stream: push to every attached client, inputs on the
socket, reattach with the last seen seq, refusals."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from tests.server.conftest import Keys

PARIS = {"type": "text", "text": "what's the weather in Paris"}
RESULT = {"type": "command_result", "id": "lookup_weather",
          "outputs": {"forecast": "sunny", "temperature": 21}}


def start(client: TestClient, keys: Keys) -> dict[str, Any]:
    r = client.post("/v1/sessions", json={"model_id": "weather", "session_id": "w"},
                    headers=keys.h())
    return r.json()  # type: ignore[no-any-return]


def attach(ws: Any) -> dict[str, Any]:
    """Read the backlog and the attached message; return the latter."""
    while True:
        m = ws.receive_json()
        if m["type"] == "attached":
            return m  # type: ignore[no-any-return]
        assert m["type"] == "events"


def test_inputs_on_the_socket_and_push_to_others(client: TestClient, keys: Keys) -> None:
    first = start(client, keys)
    url = "/v1/sessions/w/ws"
    with client.websocket_connect(url, headers=keys.h()) as a, \
            client.websocket_connect(url, headers=keys.h()) as b:
        assert attach(a)["last_seq"] == first["session"]["seq"]
        attach(b)
        a.send_json({"type": "input", "input": PARIS, "request_id": "q1"})
        mine = a.receive_json()
        assert mine["type"] == "update" and mine["request_id"] == "q1"
        theirs = b.receive_json()
        assert theirs["type"] == "update" and theirs.get("request_id") is None
        assert theirs["events"] == mine["events"]
        # an HTTP update is pushed to both sockets too
        client.post("/v1/sessions/w/inputs", json={"input": RESULT}, headers=keys.h())
        for ws in (a, b):
            m = ws.receive_json()
            assert m["actions"][0]["text"] == "In Paris it is sunny and 21 degrees."
        a.send_json({"type": "input", "input": PARIS, "request_id": "q2",
                     "expected_version": 1})
        err = a.receive_json()
        assert err["type"] == "error" and err["request_id"] == "q2"
        assert err["code"] == "version_conflict"
        a.send_text("{nope")
        assert a.receive_json()["code"] == "bad_request"
        a.send_json({"type": "ping"})
        assert a.receive_json()["type"] == "pong"


def test_reattach_gets_what_was_missed(client: TestClient, keys: Keys) -> None:
    start(client, keys)
    with client.websocket_connect("/v1/sessions/w/ws", headers=keys.h()) as ws:
        seen = attach(ws)["last_seq"]
    client.post("/v1/sessions/w/inputs", json={"input": PARIS}, headers=keys.h())
    client.post("/v1/sessions/w/inputs", json={"input": RESULT}, headers=keys.h())
    with client.websocket_connect(f"/v1/sessions/w/ws?after={seen}", headers=keys.h()) as ws:
        missed = []
        while (m := ws.receive_json())["type"] == "events":
            missed.extend(m["events"])
        assert m["type"] == "attached"
        assert [e["seq"] for e in missed] == list(range(seen + 1, m["last_seq"] + 1))
    # the session outlives its sockets
    assert client.get("/v1/sessions/w", headers=keys.h()).json()["status"] == "active"


def test_refusals(client: TestClient, keys: Keys) -> None:
    start(client, keys)
    for url, headers, code in [
        ("/v1/sessions/w/ws", {}, 4401),
        ("/v1/sessions/nope/ws", keys.h(), 4404),
        ("/v1/sessions/w/ws", keys.h(keys.other), 4404),
    ]:
        with client.websocket_connect(url, headers=headers) as ws:
            assert ws.receive_json()["type"] == "error"
            with pytest.raises(WebSocketDisconnect) as info:
                ws.receive_json()
            assert info.value.code == code
    with client.websocket_connect(f"/v1/sessions/w/ws?access_token={keys.read}") as ws:
        attach(ws)
        ws.send_json({"type": "input", "input": PARIS, "request_id": "r"})
        assert ws.receive_json()["code"] == "forbidden"


def test_sse_stream(client: TestClient, keys: Keys) -> None:
    start(client, keys)
    with client.stream("GET", "/v1/sessions/w/stream?after=0", headers=keys.h()) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        lines = r.iter_lines()
        kinds = []
        for line in lines:
            if line.startswith("event: "):
                kinds.append(line[7:])
                if kinds[-1] == "attached":
                    break
        assert kinds == ["events", "attached"]
    assert client.get("/v1/sessions/nope/stream", headers=keys.h()).status_code == 404
