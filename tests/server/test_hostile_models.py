"""Hostile posted models: ``POST /v1/models/validate`` never imports or runs what a model names,
and refuses resource bombs with a 400 at once, while the server keeps answering.

``/v1/models/validate`` is the only route that takes a model's text (sessions name a loaded
model by id). The bomb family runs against a real uvicorn server on a socket, with
``/health`` polled concurrently from another task. Each bomb is refused by a named reading
limit (asserted), so the time bounds are a generous backstop for a loaded 2-core machine.
Measured (2 shared cores, other engineers' tests running): every bomb answered in 3-13 ms,
the slowest ``/health`` during the run 8-10 ms; before the fix 6 levels of aliases took 20 s of the
event loop and 9 levels took it to 16 GB.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.testclient import TestClient

from dialoghub.model.codeunit import NOT_FROM_POSTED
from dialoghub.server import Settings, create_app, routes_models
from dialoghub.server.keystore import MemoryKeyStore
from tests.model.test_hostile_sources import laughs, probe, with_unit
from tests.server.conftest import WEATHER, Keys
from tests.server.test_process import free_port

BOMB_BACKSTOP = 1.0  # seconds; the measured answers are a few milliseconds
HEALTH_BACKSTOP = 0.5


def _settings(tmp_path: Path) -> Settings:
    return Settings(store=f"sqlite:///{tmp_path / 's.db'}", models=(WEATHER,), rate_limit=0,
                    token_keys=("k1:0123456789abcdef0123456789abcdef",))


@pytest.fixture
def local(tmp_path: Path, keystore: MemoryKeyStore, keys: Keys) -> Iterator[TestClient]:
    with TestClient(create_app(_settings(tmp_path), keystore=keystore)) as c:
        yield c


@pytest.fixture
def live(tmp_path: Path, keystore: MemoryKeyStore, keys: Keys) -> Iterator[str]:
    """The app served by uvicorn on a free port of 127.0.0.1, in a thread of its own."""
    port = free_port()
    config = uvicorn.Config(create_app(_settings(tmp_path), keystore=keystore),
                            host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def validate(c: TestClient, keys: Keys, text: str) -> httpx.Response:
    return c.post("/v1/models/validate", content=text.encode(), headers=keys.h(keys.read))


# --- code units ----------------------------------------------------------------------------


def test_validate_never_runs_a_posted_code_unit(local: TestClient, keys: Keys,
                                                tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    code, written = probe(tmp_path)
    module = f"probe_{uuid.uuid4().hex}"
    _, module_written = probe(tmp_path, f"{module}.py")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    for ref in [str(code), "probe.py", module, "this"]:
        r = validate(local, keys, with_unit(ref))
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["valid"] is False
        assert body["problems"] == [{"message": NOT_FROM_POSTED, "file": "<posted>", "line": 7,
                                     "column": 5, "path": "units.u.python"}]
    assert not written.exists() and not module_written.exists()
    assert module not in sys.modules


def test_validate_still_compiles_a_good_model(local: TestClient, keys: Keys) -> None:
    text = (Path(WEATHER) / "weather.yaml").read_text(encoding="utf-8")
    r = validate(local, keys, text)
    assert r.status_code == 200 and r.json()["valid"] is True, r.text


# --- limits --------------------------------------------------------------------------------


def test_deep_json_model_is_a_400_at_its_line(local: TestClient, keys: Keys) -> None:
    # before: a 500 internal_error (RecursionError)
    r = validate(local, keys, '{"id": "x", "states": ' + "[" * 990 + "]" * 990 + "}")
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["code"] == "bad_request"
    assert body["details"] == {"limit": "max_depth", "line": 1, "column": 86}
    assert "nested deeper than 64 levels (line 1, column 86)" in body["message"]


def test_a_compile_past_the_time_bound_is_a_400(local: TestClient, keys: Keys,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()
    compile_text = routes_models.load_model_text

    def stuck(*args: Any, **kwargs: Any) -> Any:  # a compile that ends only when released
        release.wait(timeout=30)
        return compile_text(*args, **kwargs)

    monkeypatch.setattr(routes_models, "load_model_text", stuck)
    monkeypatch.setattr(routes_models, "COMPILE_TIMEOUT", 0.05)
    try:
        r = validate(local, keys, "id: x\nstates:\n  a: {final: true}\n")
    finally:
        release.set()
    assert r.status_code == 400, r.text
    assert r.json()["code"] == "bad_request" and "to compile" in r.json()["message"]
    assert r.json()["details"] == {"timeout": 0.05}


def _family() -> list[tuple[str, str, str]]:
    """(name, text, the limit that refuses it)."""
    out = [(f"laughs-{n}", laughs(n), "max_aliases") for n in range(1, 10)]
    out.append(("recursive-alias", "a: &a [1, *a]\n", "max_aliases"))
    for depth in (65, 990, 20_000):
        out.append((f"flow-{depth}", "[" * depth + "]" * depth, "max_depth"))
    out.append(("json-990", '{"a": ' * 990 + "1" + "}" * 990, "max_depth"))
    out.append(("block-100", "".join("  " * i + f"k{i}:\n" for i in range(100)), "max_depth"))
    for size in (20_000, 60_000):
        out.append((f"string-{size}", f"id: x\ndescription: {'y' * size}\n",
                    "max_scalar_chars"))
    out.append(("body-70000", "id: " + "y" * 70_000, "payload_too_large"))
    return out


async def test_bombs_are_refused_at_once_while_health_answers(live: str, keys: Keys) -> None:
    health: list[float] = []
    answers: dict[str, float] = {}
    stop = asyncio.Event()

    async with httpx.AsyncClient(base_url=live, timeout=30) as client:

        async def poll() -> None:
            while not stop.is_set():
                started = time.perf_counter()
                r = await client.get("/health")
                health.append(time.perf_counter() - started)
                assert r.status_code == 200

        poller = asyncio.create_task(poll())
        try:
            for name, text, limit in _family():
                started = time.perf_counter()
                r = await client.post("/v1/models/validate", content=text.encode(),
                                      headers=keys.h(keys.read))
                answers[name] = time.perf_counter() - started
                body = r.json()
                if limit == "payload_too_large":
                    assert (r.status_code, body["code"]) == (413, limit), (name, body)
                    continue
                assert r.status_code == 400, (name, r.text)
                assert body["code"] == "bad_request"
                assert body["details"]["limit"] == limit, (name, body)
                assert body["details"]["line"] >= 1
        finally:
            stop.set()
            await poller

    print("\nbomb answers (ms):", {k: round(v * 1000, 1) for k, v in answers.items()})
    print(f"/health: {len(health)} requests, slowest {max(health) * 1000:.1f} ms")
    assert len(health) >= 1
    assert max(answers.values()) < BOMB_BACKSTOP, answers
    assert max(health) < HEALTH_BACKSTOP, max(health)
