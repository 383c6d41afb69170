"""Request bodies, WebSocket frames and path ids the server must refuse: each gets a 4xx in
the one error shape (a WebSocket frame: an error frame) and the store is left exactly as it
was (read back from the store itself, not from the hub's cache)."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from dialoghub.stores.base import SessionFilter
from tests.server.conftest import Keys

JSON = {"Content-Type": "application/json"}


def stored(client: TestClient) -> list[tuple[Any, list[Any]]]:
    """Every session of every test tenant in the app's store, each with its whole log."""
    store = client.app.state.service.hub.store  # type: ignore[attr-defined]

    async def read() -> list[tuple[Any, list[Any]]]:
        out = []
        for tenant in ("acme", "other", "default"):
            page = await store.list_sessions(SessionFilter(tenant=tenant), limit=1000)
            for s in page.sessions:
                out.append((s, await store.events(s.id, tenant=tenant, limit=10_000)))
        return out

    return client.portal.call(read)  # type: ignore[union-attr, no-any-return]


def refused(r: Any, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["content-type"] == "application/json"
    body: dict[str, Any] = r.json()
    assert set(body) == {"code", "message", "details"} and body["code"] == code, body
    return body


@pytest.fixture
def ready(client: TestClient, keys: Keys) -> TestClient:
    for sid in ("s1", "s2"):
        r = client.post("/v1/sessions", json={"model_id": "weather", "session_id": sid},
                        headers=keys.h())
        assert r.status_code == 201, r.text
    return client


# --- duplicate keys -----------------------------------------------------------------------


DUPLICATE_CREATES = [
    b'{"model_id": "weather", "session_id": "d1", "session_id": "d2"}',
    b'{"model_id": "weather", "session_id": "d1", "metadata": {"user": "a", "user": "b"}}',
    b'{"model_id": "weather", "session_id": "d1", "params": {"p": {"x": 1, "x": 2}}}',
    b'{"model_id": "weather", "session_id": "d1", "params": {"p": [{"x": 1, "\\u0078": 2}]}}',
]
DUPLICATE_INPUTS = [
    b'{"input": {"type": "text", "text": "hi"}, "input": {"type": "end"}}',
    b'{"input": {"type": "text", "text": "hi", "text": "what is the weather in Paris"}}',
    b'{"input": {"type": "set_variables", "variables": {"a": 1, "a": 2}}}',
    b'{"input": {"type": "set_variables", "variables": {"a": {"b": [{"c": 1, "c": 2}]}}}}',
]


def test_duplicate_keys_are_400(ready: TestClient, keys: Keys) -> None:
    before = stored(ready)
    for raw in DUPLICATE_CREATES:
        body = refused(ready.post("/v1/sessions", content=raw, headers={**keys.h(), **JSON}),
                       400, "bad_request")
        assert "twice" in body["message"], raw
    for raw in DUPLICATE_INPUTS:
        body = refused(ready.post("/v1/sessions/s1/inputs", content=raw,
                                  headers={**keys.h(), **JSON}), 400, "bad_request")
        assert "twice" in body["message"], raw
    assert stored(ready) == before
    # The same key in two different objects is fine.
    ok = b'{"input": {"type": "set_variables", "variables": {"a": {"a": 1}, "b": {"a": 2}}}}'
    r = ready.post("/v1/sessions/s1/inputs", content=ok, headers={**keys.h(), **JSON})
    assert r.status_code == 200, r.text


def test_duplicate_keys_in_a_websocket_frame(ready: TestClient, keys: Keys) -> None:
    before = stored(ready)
    with ready.websocket_connect("/v1/sessions/s1/ws", headers=keys.h()) as ws:
        while ws.receive_json()["type"] != "attached":
            pass
        frames = [
            '{"type": "input", "request_id": "r1", "request_id": "r2",'
            ' "input": {"type": "text", "text": "hi"}}',
            '{"type": "input", "request_id": "r3",'
            ' "input": {"type": "set_variables", "variables": {"a": 1, "a": 2}}}',
        ]
        for frame in frames:
            ws.send_text(frame)
            reply = ws.receive_json()
            assert reply["type"] == "error" and reply["code"] == "bad_request", reply
            assert "twice" in reply["message"]
        ws.send_json({"type": "ping"})
        assert ws.receive_json()["type"] == "pong"  # the socket is still fine
    assert stored(ready) == before


# --- values the engine or the hub refuses ---------------------------------------------------


def test_refused_values_store_nothing(ready: TestClient, keys: Keys) -> None:
    before = stored(ready)
    h = keys.h()
    body = refused(ready.post("/v1/sessions", json={"model_id": "", "session_id": "e1"},
                              headers=h), 400, "bad_request")
    assert "model_id" in body["message"]
    for sid in (".", ".."):
        refused(ready.post("/v1/sessions", json={"model_id": "weather", "session_id": sid},
                           headers=h), 400, "bad_request")
        refused(ready.post("/v1/sessions/s1/fork", json={"session_id": sid}, headers=h),
                400, "bad_request")
    body = refused(ready.post("/v1/sessions/s1/inputs", json={"input": {
        "type": "set_variables", "variables": {"x": 1}, "unit": "nope"}}, headers=h),
        422, "invalid_input")
    assert body["details"] == {"unit": "nope"}
    body = refused(ready.post("/v1/sessions/s1/inputs",
                              json={"input": {"type": "timeout", "name": "nope"}}, headers=h),
                   422, "invalid_input")
    assert body["details"] == {"name": "nope"}
    assert stored(ready) == before
    # The well-formed versions go through.
    r = ready.post("/v1/sessions/s1/inputs", json={"input": {"type": "timeout"}}, headers=h)
    assert r.status_code == 200, r.text
    r = ready.post("/v1/sessions/s1/inputs", json={"input": {
        "type": "set_variables", "variables": {"x": 1}, "unit": "main"}}, headers=h)
    assert r.status_code == 200, r.text


# --- malformed session ids in the path ------------------------------------------------------


BAD_PATH_IDS = ["%2e", "%2E%2E", "a%5Cb", "a%01b", "a%7Fb", "x" * 201]


def test_a_malformed_path_id_is_400(ready: TestClient, keys: Keys) -> None:
    before = stored(ready)
    h = keys.h()
    for sid in BAD_PATH_IDS:
        for method, path, body in (
            ("GET", f"/v1/sessions/{sid}", None),
            ("DELETE", f"/v1/sessions/{sid}", None),
            ("GET", f"/v1/sessions/{sid}/events", None),
            ("POST", f"/v1/sessions/{sid}/inputs", {"input": {"type": "text", "text": "hi"}}),
            ("POST", f"/v1/sessions/{sid}/end", {}),
            ("POST", f"/v1/sessions/{sid}/fork", {}),
        ):
            r = ready.request(method, path, json=body, headers=h)
            detail = refused(r, 400, "bad_request")
            assert "invalid session id" in detail["message"], (method, path)
        with pytest.raises(WebSocketDisconnect) as info, \
                ready.websocket_connect(f"/v1/sessions/{sid}/ws", headers=h) as ws:
            frame = ws.receive_json()
            assert frame["type"] == "error" and frame["code"] == "bad_request"
            ws.receive_json()
        assert info.value.code == 4400
    assert stored(ready) == before
    # Without a key the malformed id is refused all the same (it names nothing).
    refused(ready.get(f"/v1/sessions/{BAD_PATH_IDS[2]}"), 400, "bad_request")


def test_docs_say_400_for_a_bad_session_id() -> None:
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "http.md").read_text()
    row = next(line for line in text.splitlines() if line.startswith("| 400 |"))
    assert "bad session id" in row


# --- values nested too deep ------------------------------------------------------------------


def deep_json(depth: int) -> str:
    if depth > 5000:  # arrays, to stay within the 64 KiB body limit
        return "[" * depth + "]" * depth
    return '{"k": ' * depth + "1" + "}" * depth


DEPTHS = (64, 990, 30_000)  # past the limit (a body's value sits a level or more below the
# top), where Python's json recursion gave up, and past msgspec's own recursion limit too


def test_deep_bodies_are_400(ready: TestClient, keys: Keys) -> None:
    before = stored(ready)
    h = {**keys.h(), **JSON}
    for depth in DEPTHS:
        deep = deep_json(depth)
        for path, raw in (
            ("/v1/sessions", f'{{"model_id": "weather", "session_id": "x", "metadata": {deep}}}'),
            ("/v1/sessions", f'{{"model_id": "weather", "session_id": "x", "params": {deep}}}'),
            ("/v1/sessions/s1/inputs",
             f'{{"input": {{"type": "set_variables", "variables": {{"v": {deep}}}}}}}'),
            ("/v1/sessions/s1/inputs",
             f'{{"input": {{"type": "event", "name": "e", "params": {deep}}}}}'),
            ("/v1/sessions/s1/fork", f'{{"session_id": "x", "metadata": {deep}}}'),
        ):
            body = refused(ready.post(path, content=raw.encode(), headers=h), 400, "bad_request")
            assert "deeper than 64 levels" in body["message"], (path, depth)
            assert body["details"] == {"max_depth": 64}
    assert stored(ready) == before
    # Just within the limit: accepted.
    ok = f'{{"input": {{"type": "set_variables", "variables": {{"v": {deep_json(61)}}}}}}}'
    r = ready.post("/v1/sessions/s1/inputs", content=ok.encode(), headers=h)
    assert r.status_code == 200, r.text


def test_deep_websocket_frames_are_refused(ready: TestClient, keys: Keys) -> None:
    before = stored(ready)
    with ready.websocket_connect("/v1/sessions/s1/ws", headers=keys.h()) as ws:
        while ws.receive_json()["type"] != "attached":
            pass
        for depth in DEPTHS:
            ws.send_text('{"type": "input", "request_id": "r", "input": {"type": "set_variables",'
                         f' "variables": {{"v": {deep_json(depth)}}}}}}}')
            reply = ws.receive_json()
            assert reply["type"] == "error" and reply["code"] == "bad_request", reply
            assert "deeper than 64 levels" in reply["message"]
        ws.send_json({"type": "ping"})
        assert ws.receive_json()["type"] == "pong"
    assert stored(ready) == before


def test_versions_out_of_range_are_400(ready: TestClient, keys: Keys) -> None:
    # Found by the API fuzzer: with an Idempotency-Key, a version below -2**63 reached the
    # request fingerprint (msgpack cannot encode it) and answered 500.
    before = stored(ready)
    h = {**keys.h(), "Idempotency-Key": "k1"}
    for bad in (-1, -(2**64), 2**63):
        refused(ready.post("/v1/sessions/s1/inputs", json={
            "input": {"type": "text", "text": "hi"}, "expected_version": bad}, headers=h),
            400, "bad_request")
        refused(ready.post("/v1/sessions/s1/end", json={"expected_version": bad}, headers=h),
                400, "bad_request")
    assert stored(ready) == before
