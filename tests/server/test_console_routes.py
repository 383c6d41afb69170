"""The console's files and the routes it reads that no other client did: what is served, under
which policy, and what is refused."""

from __future__ import annotations

import re

import httpx
import pytest
from starlette.testclient import TestClient

from dialoghub.server import Settings, create_app
from dialoghub.server.console import CSP
from dialoghub.server.keystore import MemoryKeyStore
from tests.server.conftest import Keys


def test_the_console_page_and_its_files_are_served_under_a_strict_policy(
    client: TestClient,
) -> None:
    page = client.get("/console")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["content-security-policy"] == CSP
    assert "script-src 'self'" in CSP and "unsafe-inline" not in CSP
    assert page.headers["x-content-type-options"] == "nosniff"
    version = re.search(r'<script type="module" src="/console/([0-9a-f]+)/app.js">',
                        page.text)
    assert version is not None  # the page names its files under their version
    assert page.headers["cache-control"] == "no-cache"
    preloaded = re.findall(r'<link rel="modulepreload" href="/console/[0-9a-f]+/(\w+)\.js">',
                           page.text)
    # the shell and the landing view, one round trip; the other views load when shown
    assert preloaded == ["api", "app", "dom", "sessions"]
    for name, kind in [("app.js", "text/javascript"), ("console.css", "text/css")]:
        res = client.get(f"/console/{version.group(1)}/{name}")
        assert res.status_code == 200 and res.headers["content-type"].startswith(kind)
        assert res.headers["content-security-policy"] == CSP
        assert "immutable" in res.headers["cache-control"]
        plain = client.get(f"/console/{name}")  # by name alone: the same file, revalidated
        assert plain.content == res.content and plain.headers["cache-control"] == "no-cache"
    stale = client.get("/console/0123456789ab/app.js")
    assert stale.status_code == 404 and stale.json()["details"] == {"version": "0123456789ab"}
    # nothing the page loads comes from elsewhere
    for name in ["index.html", "app.js", "api.js", "sessions.js", "session.js", "chat.js"]:
        text = client.get(f"/console/{name}").text
        assert "http://" not in text.replace("http://www.w3.org", "")
        assert "https://" not in text


def test_an_unchanged_file_is_not_sent_again(client: TestClient) -> None:
    first = client.get("/console/app.js")
    again = client.get("/console/app.js", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and again.content == b""


@pytest.mark.parametrize("path", [
    "/console/nope.js",
    "/console/..%2F..%2Fpyproject.toml",
    "/console/%2e%2e%2fapp.py",
    "/console/__init__.py",
    "/console/APP.JS",
    "/console/static",
    "/console/abc/../../pyproject.toml",
    "/console/xyz/app.js",
])
def test_only_the_consoles_own_files_can_be_named(client: TestClient, path: str) -> None:
    res = client.get(path)
    assert res.status_code in (400, 404)
    body = res.json()
    assert set(body) == {"code", "message", "details"}
    assert "import" not in res.text  # no file content leaks


def test_a_models_diagram_in_three_formats(client: TestClient, keys: Keys) -> None:
    svg = client.get("/v1/models/weather/diagram", headers=keys.h(keys.read))
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    assert "<title>main/listen</title>" in svg.text  # what the console marks states by
    dot = client.get("/v1/models/weather/diagram?format=dot", headers=keys.h(keys.read))
    assert dot.text.startswith('digraph "weather"')
    mermaid = client.get("/v1/models/weather/diagram?format=mermaid", headers=keys.h(keys.read))
    assert mermaid.text.startswith("stateDiagram-v2")


def test_diagram_refusals(client: TestClient, keys: Keys) -> None:
    assert client.get("/v1/models/weather/diagram").status_code == 401
    unknown = client.get("/v1/models/nope/diagram", headers=keys.h(keys.read))
    assert unknown.status_code == 404 and unknown.json()["code"] == "unknown_model"
    bad = client.get("/v1/models/weather/diagram?format=png", headers=keys.h(keys.read))
    assert bad.status_code == 400 and bad.json()["details"] == {"parameter": "format"}
    extra = client.get("/v1/models/weather/diagram?size=9", headers=keys.h(keys.read))
    assert extra.status_code == 400


def test_the_feed_and_the_diagram_are_in_the_openapi_document(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert "/v1/feed" in paths and "/v1/models/{model_id}/diagram" in paths
    assert "/console" not in paths


WARNED_MODEL = """\
id: w
entities:
  day: [today, tomorrow]
intents:
  ask:
    examples: ["weather {day}", "weather please"]
    slots:
      day: day
states:
  start:
    wait: true
    on:
      ask: answer
  answer:
    say: "Weather {day}."
    next: start
"""


def test_validation_returns_the_warnings_of_a_valid_model_at_their_place(
    client: TestClient, keys: Keys,
) -> None:
    res = client.post("/v1/models/validate", content=WARNED_MODEL,
                      headers={**keys.h(keys.read), "Content-Type": "application/yaml"})
    assert res.status_code == 200
    body = res.json()
    assert body["valid"] is True and body["problems"] == []
    (warning,) = body["warnings"]
    assert "shows optional slot {day}" in warning["message"]
    assert (warning["line"], warning["path"]) == (15, "states.answer.say")
    line = WARNED_MODEL.splitlines()[warning["line"] - 1]
    assert line[warning["column"] - 1:].startswith("{day}")
    clean = client.post("/v1/models/validate",
                        content=WARNED_MODEL.replace("Weather {day}.", "Weather {day|today}."),
                        headers={**keys.h(keys.read), "Content-Type": "application/yaml"})
    assert clean.json()["warnings"] == []


# --- the sessions list's search and an operator's tenant filter ------------------------------


def _start(client: TestClient, key: str, sid: str, **metadata: str) -> None:
    res = client.post("/v1/sessions", json={"model_id": "weather", "session_id": sid,
                                            "metadata": metadata}, headers={
        "Authorization": f"Bearer {key}"})
    assert res.status_code == 201, res.text


def _ids(res: httpx.Response) -> list[str]:
    assert res.status_code == 200, res.text
    return [s["id"] for s in res.json()["sessions"]]


def test_search_by_id_and_metadata(client: TestClient, keys: Keys) -> None:
    _start(client, keys.write, "order-1", customer="Zoë Martin")
    _start(client, keys.write, "call-2", city="Paris")
    _start(client, keys.other, "order-3", customer="Zoë")  # another tenant: never listed
    h = keys.h(keys.read)
    assert _ids(client.get("/v1/sessions?q=ORDER", headers=h)) == ["order-1"]
    assert _ids(client.get("/v1/sessions?q=zo%C3%AB", headers=h)) == ["order-1"]
    assert _ids(client.get("/v1/sessions?q=paris&status=active", headers=h)) == ["call-2"]
    assert _ids(client.get("/v1/sessions?q=%25", headers=h)) == []  # no pattern language
    assert _ids(client.get("/v1/sessions?q=zo%C3%AB", headers=keys.h(keys.other))) == ["order-3"]


@pytest.mark.parametrize("query", ["q=", "q=" + "x" * 101, "q=a%00b", "q=a%0Ab", "q=%C2%85",
                                   "tenant=", "tenant=a%00"])
def test_bad_search_text_is_a_4xx_in_the_one_shape(
    client: TestClient, keys: Keys, query: str,
) -> None:
    res = client.get("/v1/sessions?" + query, headers=keys.h(keys.read))
    assert res.status_code in (400, 422), res.text
    assert set(res.json()) == {"code", "message", "details"}
    assert res.json()["code"] == "invalid_input"


@pytest.fixture
def operator_settings(settings: Settings) -> Settings:
    return settings.replace(operator_tenants=("acme",))


def test_an_operators_admin_key_lists_another_tenant(
    operator_settings: Settings, keystore: MemoryKeyStore, keys: Keys,
) -> None:
    with TestClient(create_app(operator_settings, keystore=keystore)) as client:
        _start(client, keys.write, "mine")
        _start(client, keys.other, "theirs")
        admin = keys.h(keys.admin)
        assert _ids(client.get("/v1/sessions?tenant=other", headers=admin)) == ["theirs"]
        every = client.get("/v1/sessions?tenant=*", headers=admin).json()["sessions"]
        assert [(s["tenant"], s["id"]) for s in every] == [("acme", "mine"), ("other", "theirs")]
        assert _ids(client.get("/v1/sessions?tenant=acme", headers=admin)) == ["mine"]
        # a write key of the operator tenant is no operator; nor is another tenant's admin
        refused = client.get("/v1/sessions?tenant=other", headers=keys.h(keys.write))
        assert refused.status_code == 403 and refused.json()["code"] == "forbidden"
        # reading another tenant's session is still not found: the listing is read-only
        assert client.get("/v1/sessions/theirs", headers=admin).status_code == 404


def test_without_operator_tenants_no_key_lists_another_tenant(
    client: TestClient, keys: Keys,
) -> None:
    _start(client, keys.other, "theirs")
    for key in (keys.admin, keys.other):
        res = client.get("/v1/sessions?tenant=*", headers=keys.h(key))
        assert res.status_code == 403 and set(res.json()) == {"code", "message", "details"}
    own = client.get("/v1/sessions?tenant=other", headers=keys.h(keys.other))
    assert _ids(own) == ["theirs"]  # naming one's own tenant is allowed
