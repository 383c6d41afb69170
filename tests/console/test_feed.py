"""``/v1/feed`` over a real socket: every update of the caller's tenant, live, and nothing of
another tenant's."""

from __future__ import annotations

import contextlib
import json
import queue
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
from benchmarks.console import serving

from dialoghub.server.keystore import MemoryKeyStore
from tests.console.conftest import Live
from tests.server.conftest import make_keys
from tests.services import REDIS, require


def _follow(live: Live, key: str, out: queue.Queue[tuple[str, Any]],
            stop: threading.Event) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.stream("GET", f"{live.url}/v1/feed", headers=headers, timeout=20) as res:
        out.put(("status", res.status_code))
        name = None
        try:
            for line in res.iter_lines():
                if stop.is_set():
                    return
                if line.startswith("event: "):
                    name = line[7:]
                elif line.startswith("data: "):
                    out.put((name or "message", json.loads(line[6:])))
        except httpx.RemoteProtocolError:
            # the test's server shut down under an open feed (an endless stream)
            if not stop.is_set():
                out.put(("closed", None))


@contextlib.contextmanager
def _feed(live: Live, key: str) -> Iterator[queue.Queue[tuple[str, Any]]]:
    out: queue.Queue[tuple[str, Any]] = queue.Queue()
    stop = threading.Event()
    thread = threading.Thread(target=_follow, args=(live, key, out, stop), daemon=True)
    thread.start()
    assert out.get(timeout=10) == ("status", 200)
    assert out.get(timeout=10)[0] == "open"
    try:
        yield out
    finally:
        stop.set()  # the thread returns at the next line the server sends (a ping at most)


def _next_session(out: queue.Queue[tuple[str, Any]], sid: str) -> dict[str, Any]:
    while True:
        name, data = out.get(timeout=10)
        if name == "session" and data["id"] == sid:
            return data  # type: ignore[no-any-return]


def test_the_feed_pushes_creates_and_updates_of_the_tenant_only(live: Live) -> None:
    with (_feed(live, live.keys.read) as ours, _feed(live, live.keys.other) as others,
          httpx.Client(base_url=live.url, timeout=10) as http):
        made = http.post("/v1/sessions", headers={"Authorization": f"Bearer {live.keys.write}"},
                         json={"model_id": "weather", "session_id": "fed",
                               "metadata": {"secret": "not in the feed"}})
        assert made.status_code == 201
        first = _next_session(ours, "fed")
        assert first["type"] == "session"
        assert (first["model_id"], first["version"], first["status"]) == ("weather", 1, "active")
        assert "metadata" not in first and "variables" not in first
        moved = http.post("/v1/sessions/fed/inputs",
                          headers={"Authorization": f"Bearer {live.keys.write}"},
                          json={"input": {"type": "text", "text": "weather in Rome"}})
        second = _next_session(ours, "fed")
        assert second["version"] == moved.json()["session"]["version"] == 2
        assert second["state"] == moved.json()["session"]["state"]
        # the other tenant's session reaches the other tenant's feed, and only it
        http.post("/v1/sessions", headers={"Authorization": f"Bearer {live.keys.other}"},
                  json={"model_id": "weather", "session_id": "theirs-fed"})
        assert _next_session(others, "theirs-fed")["version"] == 1
    assert all(data["id"] != "theirs-fed" for name, data in list(ours.queue)
               if name == "session")
    assert all(data["id"] != "fed" for name, data in list(others.queue) if name == "session")


def test_the_feed_needs_a_key(live: Live) -> None:
    res = httpx.get(f"{live.url}/v1/feed", timeout=10)
    assert res.status_code == 401
    assert res.json()["code"] in ("unauthorized", "missing_key")


def test_the_feed_crosses_server_processes_through_the_broadcast_relay(
    tmp_path: Path,
) -> None:
    # Two servers (each its own app, hub, broadcaster and relay connection) on one store and
    # one Redis: a session made through the second reaches a feed opened on the first.
    require(*REDIS)
    store = f"sqlite:///{tmp_path / 'shared.db'}"
    prefix = f"dialoghub:test:{uuid.uuid4().hex}:"
    broadcast = f"redis://127.0.0.1:6379/0?prefix={prefix}"
    keystore = MemoryKeyStore()
    # in a thread of its own: Playwright's sync API (tests/console's browser) may be holding
    # an event loop on this one
    with ThreadPoolExecutor(1) as pool:
        keys = pool.submit(make_keys, keystore).result()
    with (serving(store, keystore, broadcast) as first,
          serving(store, keystore, broadcast) as second,
          _feed(Live(first, keys), keys.read) as feed, httpx.Client(timeout=10) as http):
        made = http.post(f"{second}/v1/sessions", json={"model_id": "weather",
                         "session_id": "across"}, headers=keys.h(keys.write))
        assert made.status_code == 201
        assert _next_session(feed, "across")["version"] == 1
