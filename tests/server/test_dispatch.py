"""The dispatcher: static and parametrized routes, JSON 404 and 405 (with ``Allow``), root
paths, headers read straight from the scope, and the last-resort 500."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.responses import Response
from starlette.routing import Route, Router, WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from dialoghub.server.dispatch import Dispatcher, header, route_path
from tests.server.conftest import Keys


def test_unknown_route_and_wrong_method_are_json(client: TestClient, keys: Keys) -> None:
    r = client.get("/nowhere")
    assert r.status_code == 404 and r.json()["code"] == "not_found"
    r = client.put("/v1/sessions", headers=keys.h())
    assert r.status_code == 405 and r.json()["code"] == "method_not_allowed"
    assert r.headers["allow"] == "GET, HEAD, POST"
    r = client.get("/v1/sessions/x/inputs", headers=keys.h())
    assert r.status_code == 405 and r.headers["allow"] == "POST"
    assert r.headers["content-type"] == "application/json"


def test_parametrized_routes_match_by_segment_count(client: TestClient, keys: Keys) -> None:
    client.post("/v1/sessions", json={"model_id": "weather", "session_id": "a b:c"},
                headers=keys.h())
    assert client.get("/v1/sessions/a%20b%3Ac", headers=keys.h()).json()["id"] == "a b:c"
    assert client.get("/v1/sessions/a%20b%3Ac/events", headers=keys.h()).status_code == 200
    assert client.get("/v1/sessions/a/b/events", headers=keys.h()).status_code == 404
    assert client.head("/health").status_code == 200


def _endpoint(name: str) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await Response(f"{name} {scope['path_params']}")(scope, receive, send)

    return app


def test_match_and_route_path() -> None:
    async def ws(websocket: Any) -> None:  # pragma: no cover - never called
        pass

    router = Router([
        Route("/a", _endpoint("a"), methods=["GET"]),
        Route("/a/{x}", _endpoint("ax"), methods=["GET"]),
        Route("/a/{x}/b", _endpoint("axb"), methods=["GET"]),
        Route("/n/{k:int}", _endpoint("n"), methods=["GET"]),
        WebSocketRoute("/a/{x}", ws),
    ])
    d = Dispatcher(router)
    found = d.match("http", "/a/1/b")
    assert found is not None and found[1] == {"x": "1"}
    found = d.match("http", "/n/7")
    assert found is not None and found[1] == {"k": 7}
    assert d.match("http", "/n/x") is None
    found = d.match("websocket", "/a/z")
    assert found is not None and isinstance(found[0], WebSocketRoute)
    assert d.match("websocket", "/a") is None
    assert route_path({"path": "/api/v1/x", "root_path": "/api"}) == "/v1/x"
    assert route_path({"path": "/apix", "root_path": "/api"}) == "/apix"
    assert route_path({"path": "/api", "root_path": "/api"}) == "/"
    scope = {"headers": [(b"a", b"1"), (b"b", b"2"), (b"a", b"3")]}
    assert header(scope, b"a") == "1" and header(scope, b"c") is None


def test_a_crash_outside_an_endpoint_is_a_json_500() -> None:
    async def boom(scope: Any, receive: Any, send: Any) -> None:
        raise RuntimeError("secret detail")

    router = Router([Route("/boom", boom, methods=["GET"])])
    with TestClient(Dispatcher(router), raise_server_exceptions=False) as c:
        r = c.get("/boom")
    assert r.status_code == 500 and r.json()["code"] == "internal_error"
    assert "secret" not in r.text


def test_unknown_websocket_route_closes_4404(client: TestClient, keys: Keys) -> None:
    with pytest.raises(WebSocketDisconnect) as info, \
            client.websocket_connect("/v1/nowhere/ws", headers=keys.h()):
        pass
    assert info.value.code == 4404
