"""The OpenAPI document is generated from what the endpoints declare (issue 9, item 7): a
declared parameter, body or answer shows in it, a route that declares too little stops it
from being built, the server enforces what it documents; and settings converted by msgspec.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import msgspec
import pytest
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient

from dialoghub.errors import InvalidInput
from dialoghub.server import Settings, create_app
from dialoghub.server.auth import Principal
from dialoghub.server.endpoint import Body, Endpoint, Param, by_method, endpoint
from dialoghub.server.errors import BadRequest
from dialoghub.server.keystore import MemoryKeyStore
from dialoghub.server.openapi import endpoints, openapi_document
from dialoghub.server.service import Service
from dialoghub.server.settings import SettingsError, load_settings
from tests.server.conftest import WEATHER, Keys, make_keys


class Thing(msgspec.Struct):
    name: str


class NewThing(msgspec.Struct, forbid_unknown_fields=True):
    name: str


COUNT = Param.query("count", "How many.", kind=int, low=1, high=5, default=2)
THING = Param.path("thing_id", "The thing.")


@endpoint("/things/{thing_id}", "read", tag="things", params=[THING, COUNT])
async def get_thing(service: Service, request: Request, who: Principal) -> Thing:
    """One thing.

    Read it as often as you like."""
    return Thing(name=THING.read(request) * COUNT.read(request))


@endpoint("/things", "write", tag="things", body=NewThing, status=201)
async def make_thing(service: Service, request: Request, who: Principal) -> Thing:
    """Make a thing."""
    raise NotImplementedError


@endpoint("/things", "read", tag="things")
async def list_things(service: Service, request: Request, who: Principal) -> None:
    """List nothing."""


def _doc(*routes: Any) -> dict[str, Any]:
    return openapi_document("1", list(routes))


def test_a_declared_parameter_body_and_answer_show_in_the_document() -> None:
    doc = _doc(Route("/things/{thing_id}", get_thing, methods=["GET"]),
               Route("/things", by_method(POST=make_thing, GET=list_things),
                     methods=["GET", "POST"]))
    op = doc["paths"]["/things/{thing_id}"]["get"]
    assert op["operationId"] == "getThing" and op["tags"] == ["things"]
    assert op["summary"] == "One thing."
    assert op["description"].startswith("Read it as often as you like. Needs an API key")
    assert op["parameters"] == [
        {"name": "thing_id", "in": "path", "required": True, "schema": {"type": "string"},
         "description": "The thing."},
        {"name": "count", "in": "query", "required": False,
         "schema": {"type": "integer", "minimum": 1, "maximum": 5}, "description": "How many."},
    ]
    assert op["security"] == [{"apiKey": ["read"]}]
    assert op["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Thing"}
    assert {"400", "401", "403", "404", "429", "503", "504"} <= set(op["responses"])
    post = doc["paths"]["/things"]["post"]
    assert post["requestBody"] == {"required": True, "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/NewThing"}}}}
    assert "201" in post["responses"] and "200" not in post["responses"]
    assert "content" not in doc["paths"]["/things"]["get"]["responses"]["200"]
    assert {"Thing", "NewThing", "ErrorBody"} <= set(doc["components"]["schemas"])
    assert doc["tags"] == [{"name": "things"}]


async def _plain(request: Request) -> Response:
    return Response()


@endpoint("/x", None)
async def no_doc(service: Service, request: Request, who: Principal) -> Thing:
    return Thing(name="x")


@endpoint("/x", None)
async def no_answer(service: Service, request: Request, who: Principal):
    """No return annotation."""


@endpoint("/x", None)
async def raw(service: Service, request: Request, who: Principal) -> Response:
    """A Response of an undeclared media type."""
    return Response()


@endpoint("/x/{y}", None)
async def undeclared_path(service: Service, request: Request, who: Principal) -> None:
    """The path parameter y is not declared."""


async def _q(service: Service, request: Request, who: Principal) -> None:
    """Takes q without describing it."""


@pytest.mark.parametrize(("route", "why"), [
    (Route("/x", _plain, methods=["GET"]), "not an Endpoint"),
    (Route("/x", no_doc, methods=["GET"]), "no docstring"),
    (Route("/x", no_answer, methods=["GET"]), "no return annotation"),
    (Route("/x", raw, methods=["GET"]), "declare the media type"),
    (Route("/x/{y}", undeclared_path, methods=["GET"]), "declares path parameters"),
    (Route("/x", Endpoint(_q, "/x", None, frozenset({"q"})), methods=["GET"]),
     r"does not declare: \['q'\]"),
    (Route("/elsewhere", get_thing, methods=["GET"]), "serves the endpoint of"),
    (Route("/x", Endpoint(_q, "/x", None, errors=(418,)), methods=["GET"]), "418"),
])
def test_a_route_that_declares_too_little_stops_the_document(route: Route, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        _doc(route)


def test_routes_left_out_of_the_document_and_websockets_need_no_declaration() -> None:
    doc = _doc(Route("/hidden", _plain, methods=["GET"], include_in_schema=False),
               WebSocketRoute("/ws", _plain))
    assert doc["paths"] == {}


# --- the app's own document -------------------------------------------------------------


@pytest.fixture
def app_client() -> Iterator[tuple[TestClient, Keys]]:
    keystore = MemoryKeyStore()
    keys = make_keys(keystore)
    app = create_app(Settings(store="memory://", models=(WEATHER,), rate_limit=0,
                              token_keys=("k1:0123456789abcdef0123456789abcdef",)),
                     keystore=keystore)
    with TestClient(app) as client:
        yield client, keys


def test_the_app_document_is_what_its_endpoints_declare(
    app_client: tuple[TestClient, Keys],
) -> None:
    client, _ = app_client
    app: Any = client.app
    doc = client.get("/openapi.json").json()
    assert doc == app.state.openapi
    ids = []
    for path, method, ep in endpoints(app.routes):
        op = doc["paths"][path][method]
        ids.append(op["operationId"])
        assert op["summary"] and op["tags"] == [ep.tag]
        assert op["security"] == ([] if ep.scope is None else [{"apiKey": [ep.scope]}])
        assert str(ep.status) in op["responses"]
        names = [(p["in"], p["name"]) for p in op.get("parameters", [])]
        assert sorted(names) == sorted((p.where, p.name) for p in ep.params)
        assert ("requestBody" in op) == (ep.body is not None)
    assert len(ids) == len(set(ids))
    sockets = {r.path for r in app.routes if isinstance(r, WebSocketRoute)}
    stream = doc["paths"]["/v1/sessions/{session_id}/stream"]["get"]
    assert stream["x-websocket"] in sockets


# The operations of the hand-written document, pinned: (operationId, parameters, body,
# statuses); new since: the Last-Event-ID header of the stream, the 400 and 404 of /metrics,
# and the operations of the console, the decision cycle, routing and agent rounds.
_ALL = ["400", "401", "403", "404", "409", "413", "422", "429", "503", "504"]
PINNED = {
    ("/health", "get"): ("health", [], None, ["200", "400", "404"]),
    ("/version", "get"): ("version", [], None, ["200", "400", "404"]),
    ("/metrics", "get"): ("metrics", [], None, ["200", "400", "404"]),
    ("/v1/models", "get"): ("listModels", [], None, ["200", *_ALL]),
    ("/v1/models/{model_id}", "get"): ("getModel", ["model_id"], None, ["200", *_ALL]),
    ("/v1/models/validate", "post"): ("validateModel", [], "application/yaml",
                                      ["200", *_ALL]),
    ("/v1/sessions", "post"): ("createSession", ["Idempotency-Key"], "CreateSession",
                               ["201", *_ALL]),
    ("/v1/sessions", "get"): ("listSessions", ["model", "state", "status", "q", "tenant",
                                               "limit", "cursor"], None, ["200", *_ALL]),
    ("/v1/sessions/{session_id}", "get"): ("getSession", ["session_id", "at"], None,
                                           ["200", *_ALL]),
    ("/v1/sessions/{session_id}", "delete"): ("deleteSession", ["session_id"], None,
                                              ["204", *_ALL]),
    ("/v1/sessions/{session_id}/inputs", "post"): (
        "updateSession", ["session_id", "Idempotency-Key"], "UpdateSession", ["200", *_ALL]),
    ("/v1/sessions/{session_id}/end", "post"): (
        "endSession", ["session_id", "Idempotency-Key"], "EndSession?", ["200", *_ALL]),
    ("/v1/sessions/{session_id}/events", "get"): (
        "listEvents", ["session_id", "after", "limit"], None, ["200", *_ALL]),
    ("/v1/sessions/{session_id}/fork", "post"): ("forkSession", ["session_id"], "ForkSession?",
                                                 ["201", *_ALL]),
    ("/v1/sessions/{session_id}/stream", "get"): (
        "streamSession", ["session_id", "after", "Last-Event-ID"], None, ["200", *_ALL]),
    ("/v1/stateless/inputs", "post"): ("statelessInput", [], "StatelessUpdate", ["200", *_ALL]),
    ("/v1/keys", "get"): ("listKeys", [], None, ["200", *_ALL]),
    ("/v1/keys", "post"): ("createKey", [], "CreateKey", ["201", *_ALL]),
    ("/v1/keys/{key_id}", "delete"): ("revokeKey", ["key_id"], None, ["204", *_ALL]),
    # the console (issue 14), decisions (10), routing (12), agent rounds (11)
    ("/v1/models/{model_id}/diagram", "get"): ("drawModel", ["model_id", "format"], None,
        ["200", *_ALL]),
    ("/v1/sessions/{session_id}/round", "get"): ("getRound", ["session_id"], None,
        ["200", *_ALL]),
    ("/v1/sessions/{session_id}/round/proposals", "post"): ("propose", ["session_id", "Idempotency-Key"], "ProposeIn",
        ["200", *_ALL]),
    ("/v1/sessions/{session_id}/round/votes", "post"): ("vote", ["session_id", "Idempotency-Key"], "VoteIn",
        ["200", *_ALL]),
    ("/v1/sessions/{session_id}/round/override", "post"): ("override", ["session_id", "Idempotency-Key"], "OverrideIn",
        ["200", *_ALL]),
    ("/v1/decisions/inbox", "get"): ("inbox", ["model", "state", "specialist", "limit", "scan", "cursor"], None,
        ["200", *_ALL]),
    ("/v1/sessions/{session_id}/memory", "get"): ("getMemory", ["session_id"], None,
        ["200", *_ALL]),
    ("/v1/sessions/{session_id}/memory", "post"): ("changeMemory", ["session_id"], "MemoryRequest",
        ["200", *_ALL]),
    ("/v1/clients", "get"): ("listClients", [], None,
        ["200", *_ALL]),
    ("/v1/sessions/{session_id}/messages", "post"): ("sendMessage", ["session_id"], "MessageIn",
        ["202", *_ALL]),
    ("/v1/sessions/{session_id}/messages/stream", "get"): ("streamRounds", ["session_id", "after", "Last-Event-ID"], None,
        ["200", *_ALL]),
    ("/v1/sessions/{session_id}/rounds", "get"): ("listAgentRounds", ["session_id", "after"], None,
        ["200", *_ALL]),
    ("/v1/sessions/{session_id}/rounds/{round_id}", "get"): ("getAgentRound", ["session_id", "round_id"], None,
        ["200", *_ALL]),
    ("/v1/sessions/{session_id}/rounds/{round_id}/cancel", "post"): ("cancelAgentRound", ["session_id", "round_id"], None,
        ["202", *_ALL]),
    ("/v1/feed", "get"): ("feed", [], None,
        ["200", *_ALL]),

}


def _body(op: dict[str, Any]) -> str | None:
    body = op.get("requestBody")
    if body is None:
        return None
    (media, content), = body["content"].items()
    ref = content["schema"].get("$ref")
    name = ref.rsplit("/", 1)[-1] if ref else media
    return name + ("" if body["required"] else "?")


def test_the_operations_of_the_hand_written_document_are_kept() -> None:
    doc = create_app(Settings(store="memory://")).state.openapi
    found = {
        (path, method): (op["operationId"], [p["name"] for p in op.get("parameters", [])],
                         _body(op), list(op["responses"]))
        for path, item in doc["paths"].items() for method, op in item.items()
    }
    assert found == PINNED


# --- the server enforces what the parameters document -------------------------------------


def _request(query: bytes = b"", headers: list[tuple[bytes, bytes]] | None = None) -> Request:
    return Request({"type": "http", "method": "GET", "path": "/", "query_string": query,
                    "headers": headers or [], "path_params": {}})


def test_a_parameter_reads_what_it_documents() -> None:
    assert COUNT.read(_request()) == 2 and COUNT.read(_request(b"count=5")) == 5
    for bad, message in [(b"count=6", "from 1 to 5, not 6"), (b"count=x", "an integer"),
                         (b"count=", "an integer, not ''")]:
        with pytest.raises(BadRequest, match=message) as info:
            COUNT.read(_request(bad))
        assert info.value.details == {"parameter": "count"}
    word = Param.query("word", "A word.", choices=("a", "b"), error=InvalidInput)
    assert word.schema() == {"type": "string", "enum": ["a", "b"]}
    with pytest.raises(InvalidInput, match="must be a or b, not 'c'"):
        word.read(_request(b"word=c"))
    key = Param.header("X-Key", "A key.", min_len=1, max_len=3, pattern="^[a-z]+$")
    assert key.schema() == {"type": "string", "minLength": 1, "maxLength": 3,
                            "pattern": "^[a-z]+$"}
    assert key.read(_request(headers=[(b"x-key", b"abc")])) == "abc"
    with pytest.raises(BadRequest, match="the X-Key header must be 1 to 3 characters"):
        key.read(_request(headers=[(b"x-key", b"abcd")]))
    with pytest.raises(BadRequest, match="must match"):
        key.read(_request(headers=[(b"x-key", b"AB")]))
    free = Param.query("q", "Free text.")
    assert free.schema() == {"type": "string", "maxLength": 500}
    with pytest.raises(BadRequest, match="too long"):
        free.read(_request(b"q=" + b"x" * 501))


def test_the_app_refuses_what_its_document_refuses(app_client: tuple[TestClient, Keys]) -> None:
    client, keys = app_client
    h = keys.h()
    assert client.get("/v1/sessions?limit=1001", headers=h).status_code == 400
    # Found by the API fuzzer: an empty integer was taken as absent, which the schema denies.
    assert client.get("/v1/sessions?limit=", headers=h).status_code == 400
    r = client.get("/v1/sessions?status=bogus", headers=h)
    assert r.status_code == 422 and r.json()["details"] == {"parameter": "status"}
    assert client.get("/v1/sessions?cursor=a.b", headers=h).status_code == 422
    assert client.get("/v1/sessions?cursor=garbage", headers=h).status_code == 422
    assert client.get("/v1/sessions?nope=1", headers=h).status_code == 400
    created = client.post("/v1/sessions", json={"model_id": "weather"}, headers=h)
    assert created.status_code == 201
    sid = created.json()["session"]["id"]
    assert client.get(f"/v1/sessions/{sid}/events?after=-1", headers=h).status_code == 400
    end = client.post(f"/v1/sessions/{sid}/end", headers=h)  # the optional body left out
    assert end.status_code == 200 and end.json()["session"]["status"] == "ended"
    assert client.delete(f"/v1/sessions/{sid}", headers=h).status_code == 204
    page = client.get("/docs")
    assert page.status_code == 200 and "Last-Event-ID" in page.text


def test_the_body_reader_honours_the_declaration() -> None:
    declared = Endpoint(make_thing.fn, "/things", "write", body=Body(NewThing, required=False))
    assert declared.body == Body(NewThing, required=False)
    assert Endpoint(make_thing.fn, "/t", None, body=NewThing).body == Body(NewThing)


# --- settings through msgspec -------------------------------------------------------------


def test_settings_from_the_environment() -> None:
    s = load_settings(env={
        "DIALOGHUB_PORT": " 9100 ", "DIALOGHUB_AUTH": "no", "DIALOGHUB_TIMERS": "Yes",
        "DIALOGHUB_ACCESS_LOG": "1", "DIALOGHUB_MODELS": "a, b,,c",
        "DIALOGHUB_RATE_LIMIT": "2.5", "DIALOGHUB_TOKEN_MODE": "stateless",
        "DIALOGHUB_STORE": "",  # empty: not given
    })
    assert (s.port, s.auth, s.timers, s.access_log, s.models, s.rate_limit, s.token_mode,
            s.store) == (9100, False, True, True, ("a", "b", "c"), 2.5, "stateless",
                         Settings().store)
    assert load_settings({"models": ["x"], "auth": True, "port": 0}, env={}).models == ("x",)


@pytest.mark.parametrize(("env", "setting", "shown"), [
    ({"DIALOGHUB_PORT": "many"}, "port", "'many'"),
    ({"DIALOGHUB_PORT": "70000"}, "port", "<= 65535"),
    ({"DIALOGHUB_WORKERS": "0"}, "workers", ">= 1"),
    ({"DIALOGHUB_AUTH": "maybe"}, "auth", "'maybe'"),
    ({"DIALOGHUB_TOKEN_MODE": "sealed"}, "token_mode", "'sealed'"),
    ({"DIALOGHUB_REQUEST_TIMEOUT": "0"}, "request_timeout", "> 0"),
])
def test_a_wrong_setting_names_itself_and_its_value(
    env: dict[str, str], setting: str, shown: str,
) -> None:
    with pytest.raises(SettingsError) as info:
        load_settings(env=env)
    message = str(info.value)
    assert f"setting {setting!r} from DIALOGHUB_{setting.upper()}" in message
    assert shown in message
    assert info.value.details["setting"] == setting


def test_each_source_is_checked_on_its_own(tmp_path: Any) -> None:
    cfg = tmp_path / "dialoghub.toml"
    cfg.write_text('port = "high"\n')
    # A wrong value in the file is refused even when the environment overrides it.
    with pytest.raises(SettingsError, match=f"setting 'port' from {cfg}"):
        load_settings(env={"DIALOGHUB_PORT": "9000"}, config=str(cfg))
    with pytest.raises(SettingsError, match="setting 'max_body_bytes' from the flags"):
        load_settings({"max_body_bytes": -1}, env={})
