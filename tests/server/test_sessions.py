"""Every sessions route in process: create, get (also as of an event), list, inputs, events,
end, delete, fork, stateless, and the refusals that must change nothing."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from tests.server.conftest import Keys

PARIS = {"type": "text", "text": "what's the weather in Paris"}
RESULT = {"type": "command_result", "id": "lookup_weather",
          "outputs": {"forecast": "sunny", "temperature": 21}}


def create(client: TestClient, keys: Keys, sid: str = "s1", **body: Any) -> dict[str, Any]:
    r = client.post("/v1/sessions", json={"model_id": "weather", "session_id": sid, **body},
                    headers=keys.h())
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def send(client: TestClient, keys: Keys, inp: dict[str, Any], sid: str = "s1",
         **body: Any) -> Any:
    return client.post(f"/v1/sessions/{sid}/inputs", json={"input": inp, **body},
                       headers=keys.h())


def test_create_returns_first_actions_and_token(client: TestClient, keys: Keys) -> None:
    out = create(client, keys, metadata={"user": "u1"}, params={"p": 1})
    assert out["actions"][-1]["type"] == "wait_for_user"
    assert out["session"]["metadata"] == {"user": "u1"}
    assert out["session"]["tenant"] == "acme"
    assert out["token"].startswith("r2.") and out["token_size"] == len(out["token"])


def test_turn_with_command(client: TestClient, keys: Keys) -> None:
    create(client, keys)
    r = send(client, keys, PARIS)
    assert r.json()["actions"][-1] == {"type": "command", "id": "lookup_weather",
                                       "params": {"city": "Paris", "day": None}}
    r = send(client, keys, RESULT)
    assert r.json()["actions"][0]["text"] == "In Paris it is sunny and 21 degrees."


def test_get_list_events(client: TestClient, keys: Keys) -> None:
    for i in range(3):
        create(client, keys, f"s{i}")
    send(client, keys, PARIS, "s0")
    assert client.get("/v1/sessions/s0", headers=keys.h()).json()["state"] == "forecast"
    page = client.get("/v1/sessions?limit=2", headers=keys.h()).json()
    assert [s["id"] for s in page["sessions"]] == ["s0", "s1"]
    rest = client.get(f"/v1/sessions?limit=2&cursor={page['next_cursor']}",
                      headers=keys.h()).json()
    assert [s["id"] for s in rest["sessions"]] == ["s2"] and rest["next_cursor"] is None
    by_state = client.get("/v1/sessions?state=forecast", headers=keys.h()).json()
    assert [s["id"] for s in by_state["sessions"]] == ["s0"]
    events = client.get("/v1/sessions/s0/events?limit=2", headers=keys.h()).json()
    assert [e["seq"] for e in events["events"]] == [1, 2] and events["next_after"] == 2
    more = client.get("/v1/sessions/s0/events?after=2&limit=1000", headers=keys.h()).json()
    assert more["events"][0]["seq"] == 3 and more["next_after"] is None


def test_get_as_of_an_event(client: TestClient, keys: Keys) -> None:
    first = create(client, keys)
    send(client, keys, PARIS)
    at = first["session"]["seq"]
    old = client.get(f"/v1/sessions/s1?at={at}", headers=keys.h()).json()
    assert old == first["session"]
    r = client.get("/v1/sessions/s1?at=999", headers=keys.h())
    assert r.status_code == 422 and r.json()["code"] == "invalid_input"


def test_fork(client: TestClient, keys: Keys) -> None:
    first = create(client, keys)
    send(client, keys, PARIS)
    r = client.post("/v1/sessions/s1/fork", json={"at": 2, "session_id": "f1"},
                    headers=keys.h())
    assert r.status_code == 201
    fork = r.json()
    assert fork["at"] == first["session"]["seq"]  # moved to the end of its update
    assert fork["session"]["state"] == first["session"]["state"]
    r = send(client, keys, {"type": "text", "text": "thanks"}, "f1")
    assert r.json()["actions"][0]["text"] == "You're welcome!"
    again = client.post("/v1/sessions/s1/fork", json={"session_id": "f1"}, headers=keys.h())
    assert again.status_code == 409


def test_end_and_delete(client: TestClient, keys: Keys) -> None:
    create(client, keys)
    r = client.post("/v1/sessions/s1/end", headers=keys.h())
    assert r.status_code == 200 and r.json()["session"]["status"] == "ended"
    r = send(client, keys, PARIS)
    assert r.status_code == 409 and r.json()["code"] == "session_closed"
    assert client.delete("/v1/sessions/s1", headers=keys.h()).status_code == 204
    assert client.get("/v1/sessions/s1", headers=keys.h()).status_code == 404
    assert client.delete("/v1/sessions/s1", headers=keys.h()).status_code == 404


def test_expected_version_and_idempotency(client: TestClient, keys: Keys) -> None:
    v = create(client, keys)["session"]["version"]
    r = send(client, keys, PARIS, expected_version=v + 5)
    assert r.status_code == 409 and r.json()["code"] == "version_conflict"
    h = {**keys.h(), "Idempotency-Key": "k-1"}
    a = client.post("/v1/sessions/s1/inputs", json={"input": PARIS}, headers=h).json()
    b = client.post("/v1/sessions/s1/inputs", json={"input": PARIS}, headers=h).json()
    assert a["session"]["version"] == b["session"]["version"] == v + 1
    c = client.post("/v1/sessions/s1/inputs", json={"input": RESULT}, headers=h)
    assert c.status_code == 409 and c.json()["code"] == "idempotency_key_reused"


def test_reference_tokens(client: TestClient, keys: Keys) -> None:
    token = create(client, keys)["token"]
    r = send(client, keys, PARIS, token=token)
    assert r.status_code == 200
    stale = send(client, keys, RESULT, token=token)
    assert stale.status_code == 409 and stale.json()["code"] == "stale_token"
    fresh = r.json()["token"]
    tampered = fresh[:-3] + ("AAA" if not fresh.endswith("AAA") else "BBB")
    r = send(client, keys, RESULT, token=tampered)
    assert r.status_code == 401 and r.json()["code"] == "invalid_token"
    create(client, keys, "s2")
    r = send(client, keys, RESULT, "s2", token=fresh)  # a token of another session
    assert r.status_code == 401
    assert send(client, keys, RESULT, token=fresh).status_code == 200


def test_stateless_sessions_store_nothing(client: TestClient, keys: Keys) -> None:
    out = create(client, keys, "st", token_mode="stateless")
    assert out["token_mode"] == "stateless" and out["token"].startswith("s2.")
    assert client.get("/v1/sessions/st", headers=keys.h()).status_code == 404
    r = client.post("/v1/stateless/inputs", json={"token": out["token"], "input": PARIS},
                    headers=keys.h())
    assert r.status_code == 200 and r.json()["actions"][-1]["type"] == "command"
    token = r.json()["token"]
    r = client.post("/v1/stateless/inputs", json={"token": token, "input": RESULT},
                    headers=keys.h())
    assert r.json()["actions"][0]["text"] == "In Paris it is sunny and 21 degrees."
    assert r.json()["token_size"] == len(r.json()["token"])
    bad = token[:20] + ("x" if token[20] != "x" else "y") + token[21:]
    r = client.post("/v1/stateless/inputs", json={"token": bad, "input": RESULT},
                    headers=keys.h())
    assert r.status_code == 401
    r = client.post("/v1/stateless/inputs", json={"token": token, "input": RESULT},
                    headers=keys.h(keys.other))  # another tenant cannot open it
    assert r.status_code == 401


def test_bad_input_is_4xx_and_changes_nothing(client: TestClient, keys: Keys) -> None:
    before = create(client, keys)["session"]
    h = {**keys.h(), "Content-Type": "application/json"}
    bodies = [
        b"{not json", b'{"input": {"type": "text", "text": 5}}',
        b'{"input": {"type": "text", "text": "hi", "extra": 1}}', b'{"input": {"type": "x"}}',
        b'{"input": {"type": "text", "text": "\xff\xfe"}}', b"", b"[]",
        b'{"input": {"type": "command_result", "id": "nope"}}',
        b'{"input": {"type": "text", "text": "' + b"a" * 5000 + b'"}}',
        b'{"input": {"type": "set_variables", "variables": {'
        + b",".join(b'"v%d": 1' % i for i in range(200)) + b"}}}",
    ]
    for raw in bodies:
        r = client.post("/v1/sessions/s1/inputs", content=raw, headers=h)
        assert 400 <= r.status_code < 500, (raw[:40], r.status_code, r.text)
        assert set(r.json()) == {"code", "message", "details"}
    huge = client.post("/v1/sessions/s1/inputs", content=b" " * 100_000, headers=h)
    assert huge.status_code == 413
    assert client.get("/v1/sessions/s1", headers=keys.h()).json() == before
    for path in ("/v1/sessions/a%2Fb", "/v1/sessions/..%2F..%2Fetc"):
        assert client.get(path, headers=keys.h()).status_code == 404
    r = client.post("/v1/sessions", json={"model_id": "nope"}, headers=keys.h())
    assert r.status_code == 404 and r.json()["code"] == "unknown_model"
    r = client.post("/v1/sessions", json={"model_id": "weather", "session_id": "a\\b"},
                    headers=keys.h())
    assert r.status_code == 400
    r = client.get("/v1/sessions?limit=0", headers=keys.h())
    assert r.status_code == 400
    r = client.get("/v1/sessions?cursor=garbage", headers=keys.h())
    assert r.status_code == 422


def test_stateless_create_refuses_what_cannot_be_sealed(client: TestClient, keys: Keys) -> None:
    # Found by the API fuzzer: the stateless path skipped the Hub's checks (a 500).
    body = {"model_id": "weather", "token_mode": "stateless", "params": {"n": 2**70}}
    r = client.post("/v1/sessions", json=body, headers=keys.h())
    assert r.status_code == 422, r.text  # well-formed JSON, a value the API cannot take
    assert r.json()["code"] == "invalid_input" and "64 bits" in r.json()["message"]
