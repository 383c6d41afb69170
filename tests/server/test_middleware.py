"""Middleware on the app: ``app.add_middleware`` takes effect (the dispatcher used to drop
it), CORS is a setting (off by default; ``cors_origins``, ``DIALOGHUB_CORS_ORIGINS``,
``serve --cors-origin``) answering a browser's preflight, and GZip compresses."""

from __future__ import annotations

import gzip
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.middleware.gzip import GZipMiddleware
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from dialoghub.server import Settings, create_app
from dialoghub.server.keystore import MemoryKeyStore
from dialoghub.server.settings import SettingsError, load_settings
from tests.server.conftest import WEATHER, Keys, make_keys
from tests.server.test_process import CLI, free_port

APP = "https://app.example.com"
PREFLIGHT = {"Origin": APP, "Access-Control-Request-Method": "POST",
             "Access-Control-Request-Headers": "authorization, content-type, idempotency-key"}


def _settings(**changes: object) -> Settings:
    return Settings(store="memory://", models=(WEATHER,), rate_limit=0,
                    token_keys=("k1:0123456789abcdef0123456789abcdef",), **changes)  # type: ignore[arg-type]


@pytest.fixture
def cors() -> Iterator[tuple[TestClient, Keys]]:
    store = MemoryKeyStore()
    keys = make_keys(store)
    with TestClient(create_app(_settings(cors_origins=(APP,)), keystore=store)) as c:
        yield c, keys


def test_preflight_of_an_allowed_origin(cors: tuple[TestClient, Keys]) -> None:
    client, _ = cors
    r = client.options("/v1/sessions", headers=PREFLIGHT)
    assert r.status_code == 200, r.text
    assert r.headers["access-control-allow-origin"] == APP
    assert "POST" in r.headers["access-control-allow-methods"]
    allowed = {h.strip().lower() for h in r.headers["access-control-allow-headers"].split(",")}
    assert {"authorization", "content-type", "idempotency-key"} <= allowed
    assert "access-control-allow-credentials" not in r.headers  # bearer keys, no cookies


def test_cross_origin_request_gets_cors_headers(cors: tuple[TestClient, Keys]) -> None:
    client, keys = cors
    r = client.post("/v1/sessions", json={"model_id": "weather", "session_id": "c1"},
                    headers={**keys.h(), "Origin": APP})
    assert r.status_code == 201
    assert r.headers["access-control-allow-origin"] == APP
    assert "retry-after" in r.headers["access-control-expose-headers"].lower()
    # An error response too (the browser must be able to read the error shape).
    r = client.get("/v1/sessions/nope", headers={**keys.h(), "Origin": APP})
    assert r.status_code == 404 and r.headers["access-control-allow-origin"] == APP
    r = client.get("/health", headers={"Origin": "https://evil.example"})
    assert r.status_code == 200 and "access-control-allow-origin" not in r.headers


def test_preflight_of_another_origin_is_refused_in_the_error_shape(
    cors: tuple[TestClient, Keys],
) -> None:
    client, _ = cors
    r = client.options("/v1/sessions", headers={**PREFLIGHT, "Origin": "https://evil.example"})
    assert r.status_code == 400
    assert r.headers["content-type"] == "application/json"
    body = r.json()
    assert set(body) == {"code", "message", "details"} and body["code"] == "bad_request"
    assert "origin" in body["message"] and "access-control-allow-origin" not in r.headers
    r = client.options("/v1/sessions", headers={**PREFLIGHT, "Access-Control-Request-Method": "PUT"})
    assert r.status_code == 400 and "method" in r.json()["message"]


def test_cors_is_off_by_default() -> None:
    assert Settings().cors_origins == ()
    store = MemoryKeyStore()
    make_keys(store)
    with TestClient(create_app(_settings(), keystore=store)) as client:
        r = client.options("/v1/sessions", headers=PREFLIGHT)
        assert r.status_code == 405 and r.json()["code"] == "method_not_allowed"
        assert "access-control-allow-origin" not in r.headers
        r = client.get("/health", headers={"Origin": APP})
        assert "access-control-allow-origin" not in r.headers


def test_cors_origins_from_environment_and_config(tmp_path: Path) -> None:
    env = {"DIALOGHUB_CORS_ORIGINS": f"{APP}, http://localhost:5173"}
    assert load_settings(env=env).cors_origins == (APP, "http://localhost:5173")
    assert load_settings({"cors_origins": ("*",)}, env={}).cors_origins == ("*",)
    config = tmp_path / "server.toml"
    config.write_text(f'cors_origins = ["{APP}"]\n')
    assert load_settings(env={}, config=str(config)).cors_origins == (APP,)
    for bad in (f"{APP}/", "app.example.com", f"{APP}/path"):
        with pytest.raises(SettingsError, match="not an origin"):
            load_settings(env={"DIALOGHUB_CORS_ORIGINS": bad})


def test_add_middleware_is_honoured_gzip() -> None:
    store = MemoryKeyStore()
    make_keys(store)
    app = create_app(_settings(), keystore=store)
    app.add_middleware(GZipMiddleware, minimum_size=100)
    with TestClient(app) as client:
        r = client.get("/openapi.json", headers={"Accept-Encoding": "gzip"})
        assert r.status_code == 200 and r.headers["content-encoding"] == "gzip"
        assert int(r.headers["content-length"]) < len(r.content)  # httpx decompressed it
        assert r.json()["openapi"].startswith("3.")
        raw = client.get("/openapi.json", headers={"Accept-Encoding": "identity"})
        assert "content-encoding" not in raw.headers and raw.json() == r.json()
        assert len(gzip.compress(raw.content)) < len(raw.content)
        # A WebSocket still reaches the dispatcher through the middleware (4404 close).
        with pytest.raises(WebSocketDisconnect) as info, \
                client.websocket_connect("/v1/nowhere/ws"):
            pass
        assert info.value.code == 4404


def test_serve_cors_origin_flag_over_a_socket(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "DIALOGHUB_STORE": f"sqlite:///{tmp_path / 's.db'}"}
    proc = subprocess.Popen(
        [*CLI, "serve", "--no-auth", "--no-timers", "--models", WEATHER, "--port", str(port),
         "--cors-origin", APP, "--cors-origin", "http://localhost:5173"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                out = proc.stdout.read().decode() if proc.stdout else ""
                raise AssertionError(f"server did not start:\n{out}")
            time.sleep(0.1)
        for origin in (APP, "http://localhost:5173"):
            r = httpx.options(f"{url}/v1/sessions", headers={**PREFLIGHT, "Origin": origin})
            assert r.status_code == 200 and r.headers["access-control-allow-origin"] == origin
        r = httpx.options(f"{url}/v1/sessions",
                          headers={**PREFLIGHT, "Origin": "https://evil.example"})
        assert r.status_code == 400 and r.json()["code"] == "bad_request"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
