"""The server's parts on their own: tokens and key rotation, settings, the error shape, the
OpenAPI document against the app's routes."""

from __future__ import annotations

import os

import pytest
from starlette.routing import Route
from starlette.testclient import TestClient

from dialoghub.engine.records import Session
from dialoghub.server import Settings, create_app, load_settings
from dialoghub.server.errors import error_body
from dialoghub.server.settings import SettingsError
from dialoghub.server.tokens import (
    InvalidToken,
    Keyring,
    StaleToken,
    TokenExpired,
    TokenTooLarge,
)
from tests.server.conftest import Keys

S = Session(id="s", tenant="t", model_id="m", model_version="1", unit="main", state="a",
            version=3)


def test_rotation_keeps_live_tokens_valid() -> None:
    old = Keyring([("k1", b"x" * 32)])
    ref, sealed = old.reference(S), old.seal(S)
    rotated = Keyring([("k2", b"y" * 32), ("k1", b"x" * 32)])
    assert rotated.read_reference(ref).version == 3
    assert rotated.open(sealed, tenant="t") == S
    assert rotated.reference(S).startswith("r2.k2.")
    retired = Keyring([("k2", b"y" * 32)])
    with pytest.raises(InvalidToken):
        retired.read_reference(ref)
    with pytest.raises(InvalidToken):
        retired.open(sealed, tenant="t")


def test_reference_checks() -> None:
    ring = Keyring([("k", b"z" * 32)])
    token = ring.reference(S)
    ring.check_reference(token, tenant="t", session=S)
    with pytest.raises(StaleToken):
        ring.check_reference(token, tenant="t", session=Session(**{**_fields(S), "version": 4}))
    with pytest.raises(InvalidToken):
        ring.check_reference(token, tenant="u", session=S)


def _fields(s: Session) -> dict[str, object]:
    import msgspec

    return msgspec.structs.asdict(s)


def test_stateless_size_is_bounded() -> None:
    big = Session(**{**_fields(S), "variables": {"main": {"x": os.urandom(5000).hex()}}})
    with pytest.raises(TokenTooLarge):
        Keyring([("k", b"z" * 32)], max_stateless_bytes=2048).seal(big)


def test_stateless_tokens_expire() -> None:
    now = [1000.0]
    ring = Keyring([("k", b"z" * 32)], stateless_ttl=60.0, clock=lambda: now[0])
    token = ring.seal(S)
    assert token.startswith("s2.k.")
    now[0] += 59.0
    assert ring.open(token, tenant="t") == S  # as often as it is sent: replay is possible
    assert ring.open(token, tenant="t") == S
    now[0] += 1.0
    with pytest.raises(TokenExpired) as info:
        ring.open(token, tenant="t")
    assert info.value.code == "token_expired" and info.value.details["expired_at"] == 1060.0
    with pytest.raises(InvalidToken):  # the old format, without an expiry, is refused
        ring.open("s1." + token[3:], tenant="t")


def test_settings_precedence(tmp_path) -> None:  # type: ignore[no-untyped-def]
    cfg = tmp_path / "dialoghub.toml"
    cfg.write_text('[server]\nport = 9000\nstore = "memory://"\nmodels = ["a", "b"]\n')
    env = {"DIALOGHUB_PORT": "9100", "DIALOGHUB_AUTH": "off"}
    s = load_settings({"port": None, "host": "0.0.0.0"}, env=env, config=str(cfg))
    assert (s.port, s.store, s.models, s.auth, s.host) == (9100, "memory://", ("a", "b"),
                                                          False, "0.0.0.0")
    with pytest.raises(SettingsError):
        load_settings(env={"DIALOGHUB_PORT": "many"})
    cfg.write_text("nonsense = 1\n")
    with pytest.raises(SettingsError):
        load_settings(env={}, config=str(cfg))


def test_error_shape_never_leaks_a_trace() -> None:
    body = error_body(RuntimeError("secret internals"))
    assert body.code == "internal_error" and "secret" not in body.message


def test_error_shape_pinned(client: TestClient, keys: Keys) -> None:
    for method, path, kw in [
        ("GET", "/v1/nowhere", {}),
        ("PUT", "/v1/sessions", {}),
        ("GET", "/v1/sessions/x", {}),
        ("GET", "/v1/sessions/x", {"headers": keys.h()}),
        ("POST", "/v1/sessions", {"headers": keys.h(), "content": b"{"}),
    ]:
        r = client.request(method, path, **kw)
        assert r.status_code >= 400
        assert r.headers["content-type"] == "application/json"
        assert set(r.json()) == {"code", "message", "details"}, r.json()


def test_openapi_documents_every_route(settings: Settings) -> None:
    app = create_app(settings)
    doc = app.state.openapi
    assert doc["openapi"].startswith("3.1")
    documented = {(p, m.upper()) for p, ops in doc["paths"].items() for m in ops}
    served = {
        (r.path, m) for r in app.routes if isinstance(r, Route) and r.include_in_schema
        for m in (r.methods or ()) if m != "HEAD"
    }
    assert served == documented


def test_docs_and_version(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    # Self-contained: nothing is loaded from anywhere, not even from this server.
    assert "<script" not in page.text and "https://" not in page.text and "src=" not in page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert "/v1/sessions/{session_id}/inputs" in page.text
    assert 'href="#schema-ViewOut"' in page.text and 'id="schema-ViewOut"' in page.text
    assert client.get("/version").json()["api"] == "v1"
