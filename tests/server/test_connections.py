"""Connections over a real socket: a uvicorn server (the config ``dialoghub serve`` uses) in a
thread on a free port. Idle and trickling connections are closed after the header timeout, a
slow body is a 408, an oversized WebSocket frame is refused with 1009 from its header, failed
API key attempts are limited per address, the per-key rate is shared through Redis, and a
WebSocket client that does not read is dropped with what was queued for it."""

from __future__ import annotations

import base64
import gc
import json
import os
import select
import socket
import struct
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass

import httpx
import pytest
import uvicorn

from dialoghub.server import Settings, create_app
from dialoghub.server.app import App
from dialoghub.server.connections import server_config
from dialoghub.server.keystore import KeyRecord, MemoryKeyStore
from dialoghub.server.service import Service
from tests.server.conftest import WEATHER, Keys, make_keys

REDIS = "redis://127.0.0.1:6379/0"
BASE = Settings(store="memory://", models=(WEATHER,), rate_limit=0, timers=False,
                token_keys=("k1:0123456789abcdef0123456789abcdef",))


class CountingKeyStore(MemoryKeyStore):
    """The in-memory key store, counting its key reads."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    async def get_key(self, key_id: str) -> KeyRecord | None:
        self.reads += 1
        return await super().get_key(key_id)


@dataclass
class Running:
    url: str
    port: int
    app: App
    server: uvicorn.Server

    @property
    def service(self) -> Service:
        service: Service = self.app.state.service
        return service


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll ``condition`` until it holds (fails after ``timeout`` seconds)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


@contextmanager
def serving(settings: Settings, keystore: MemoryKeyStore) -> Iterator[Running]:
    app = create_app(settings, keystore=keystore)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(server_config(app, settings, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        wait_for(lambda: server.started or not thread.is_alive(), 30)
        assert server.started, "server did not start"
        yield Running(f"http://127.0.0.1:{port}", port, app, server)
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()


@pytest.fixture
def keystore() -> CountingKeyStore:
    return CountingKeyStore()


@pytest.fixture
def keys(keystore: CountingKeyStore) -> Keys:
    return make_keys(keystore)


def connect(port: int, *, rcvbuf: int | None = None) -> socket.socket:
    s = socket.socket()
    if rcvbuf is not None:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(10)
    s.connect(("127.0.0.1", port))
    return s


def read_all(s: socket.socket, timeout: float = 10.0) -> bytes:
    """Everything the server sends until it closes the connection."""
    s.settimeout(timeout)
    data = b""
    while chunk := s.recv(65536):
        data += chunk
    return data


# --- header timeout -----------------------------------------------------------------------


def test_idle_and_trickling_connections_are_closed_after_the_header_timeout(
    keystore: CountingKeyStore,
) -> None:
    with serving(BASE.replace(header_timeout=1.0), keystore) as srv:
        started = time.monotonic()
        idle = [connect(srv.port) for _ in range(10)]
        partial = [connect(srv.port) for _ in range(10)]
        for s in partial:
            s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        trickler = connect(srv.port)
        trickler.sendall(b"GET /health HTTP/1.1\r\n")
        # Trickle a header byte at a time: every byte would restart uvicorn's own clock.
        while not select.select([trickler], [], [], 0.1)[0]:
            trickler.sendall(b"X")
            assert time.monotonic() - started < 10, "the trickling connection stays open"
        assert b" 408 " in read_all(trickler)
        for s in idle:
            assert read_all(s) == b""  # closed without a word: it never asked anything
        for s in partial:
            reply = read_all(s)
            assert reply.startswith(b"HTTP/1.1 408 ")
            assert json.loads(reply.split(b"\r\n\r\n", 1)[1])["code"] == "header_timeout"
        assert time.monotonic() - started < 5
        # A complete request is served; the kept-alive connection then idles and is closed.
        s = connect(srv.port)
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        assert s.recv(65536).startswith(b"HTTP/1.1 200 ")
        assert read_all(s) == b""
        for s in [*idle, *partial, trickler]:
            s.close()


def test_connection_settings_reach_uvicorn() -> None:
    settings = BASE.replace(header_timeout=2.5, keep_alive_timeout=7, limit_concurrency=50,
                            backlog=16, max_body_bytes=1234)
    config = server_config(create_app(settings), settings)
    assert config.header_timeout == 2.5 and config.timeout_keep_alive == 7
    assert config.limit_concurrency == 50 and config.backlog == 16
    assert config.ws_max_size == 1234


# --- slow body ----------------------------------------------------------------------------


def test_a_body_that_arrives_too_slowly_is_a_408(keystore: CountingKeyStore, keys: Keys) -> None:
    with serving(BASE.replace(request_timeout=0.5), keystore) as srv:
        s = connect(srv.port)
        s.sendall(b"POST /v1/sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
                  b"\r\nContent-Length: 100\r\nAuthorization: Bearer " + keys.write.encode()
                  + b"\r\n\r\n{\"model_id\":")
        reply = read_all(s)
        head, body = reply.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 408 ")
        error = json.loads(body)
        assert error["code"] == "body_timeout" and set(error) == {"code", "message", "details"}
        with httpx.Client(base_url=srv.url) as c:
            assert c.get("/v1/sessions", headers=keys.h()).json()["sessions"] == []


# --- WebSocket frames ---------------------------------------------------------------------


def ws_open(port: int, path: str, key: str, *, rcvbuf: int | None = None) -> socket.socket:
    s = connect(port, rcvbuf=rcvbuf)
    nonce = base64.b64encode(os.urandom(16)).decode()
    s.sendall((f"GET {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {nonce}\r\n"
               f"Sec-WebSocket-Version: 13\r\nAuthorization: Bearer {key}\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += s.recv(1)
    assert head.startswith(b"HTTP/1.1 101 "), head
    return s


def recv_exactly(s: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data


def read_frame(s: socket.socket) -> tuple[int, bytes]:
    b0, b1 = recv_exactly(s, 2)
    length = b1 & 0x7F
    if length == 126:
        length = struct.unpack("!H", recv_exactly(s, 2))[0]
    elif length == 127:
        length = struct.unpack("!Q", recv_exactly(s, 8))[0]
    return b0 & 0x0F, recv_exactly(s, length)


def close_code(s: socket.socket) -> int:
    """Read frames until the close frame; its code."""
    while True:
        opcode, payload = read_frame(s)
        if opcode == 8:
            return int(struct.unpack("!H", payload[:2])[0])


def test_an_oversized_websocket_frame_is_refused_from_its_header(
    keystore: CountingKeyStore, keys: Keys,
) -> None:
    with serving(BASE.replace(max_body_bytes=65536), keystore) as srv:
        httpx.post(f"{srv.url}/v1/sessions", json={"model_id": "weather", "session_id": "w"},
                   headers=keys.h())
        s = ws_open(srv.port, "/v1/sessions/w/ws", keys.write)
        # A text frame announcing 10 MB, of which only 1 KiB is ever sent.
        mask = os.urandom(4)
        s.sendall(bytes([0x81, 0x80 | 127]) + struct.pack("!Q", 10 * 2**20) + mask
                  + bytes(1024))
        assert close_code(s) == 1009
        assert read_all(s) == b""  # and the server closed the connection
        wait_for(lambda: not srv.service.broadcaster.has_subscribers(("acme", "w")))


# --- failed API key attempts --------------------------------------------------------------


def test_bad_keys_are_limited_per_address(keystore: CountingKeyStore, keys: Keys) -> None:
    with serving(BASE.replace(auth_failures=5, auth_failure_window=60), keystore) as srv, \
            httpx.Client(base_url=srv.url) as c:
        reads = keystore.reads
        bad = {"Authorization": "Bearer dh_0123456789ab_wrongsecret"}
        codes = [c.get("/v1/sessions", headers=bad).status_code for _ in range(5)]
        assert codes == [401] * 5
        for _ in range(20):
            r = c.get("/v1/sessions", headers=bad)
            assert r.status_code == 429
            assert r.json()["code"] == "rate_limited" and set(r.json()) == {
                "code", "message", "details"}
            assert int(r.headers["Retry-After"]) >= 1
        assert keystore.reads - reads == 5  # the refused attempts read nothing
        # the address is refused whatever key it sends now, on the WebSocket too
        assert c.get("/v1/sessions", headers=keys.h()).status_code == 429
        s = ws_open(srv.port, "/v1/sessions/w/ws", "dh_x_y")
        assert close_code(s) == 4429


# --- the rate limit shared through Redis --------------------------------------------------


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    redis = pytest.importorskip("redis")
    client = redis.Redis.from_url(REDIS)
    try:
        client.ping()
    except redis.RedisError:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip("Redis is not running")
    prefix = f"dhtest-limits-{uuid.uuid4().hex[:8]}"
    try:
        yield prefix
    finally:
        for key in client.scan_iter(match=f"*{prefix}*"):
            client.delete(key)
        client.close()


def test_the_rate_limit_is_shared_through_redis(
    keystore: CountingKeyStore, keys: Keys, redis_prefix: str,
) -> None:
    settings = BASE.replace(rate_limit=1.0, rate_burst=4, auth_failures=3,
                            rate_limit_store=f"{REDIS}?prefix={redis_prefix}:")
    with serving(settings, keystore) as a, serving(settings, keystore) as b, \
            httpx.Client() as c:
        statuses = [c.get(f"{srv.url}/v1/sessions", headers=keys.h()).status_code
                    for srv in (a, b, a, b, a, b)]
        assert statuses == [200, 200, 200, 200, 429, 429]  # 4 in all, not 4 per process
        # another key has its own allowance
        assert c.get(f"{b.url}/v1/sessions", headers=keys.h(keys.read)).status_code == 200
        # failed attempts count across processes too
        bad = {"Authorization": "Bearer dh_0123456789ab_wrongsecret"}
        assert [c.get(f"{srv.url}/v1/models", headers=bad).status_code
                for srv in (a, b, a, b)] == [401, 401, 401, 429]
        r = c.get(f"{a.url}/v1/models", headers=bad)
        assert r.status_code == 429 and r.json()["code"] == "rate_limited"
    import redis

    client = redis.Redis.from_url(REDIS)
    assert list(client.scan_iter(match=f"*{redis_prefix}*"))  # the counts were in Redis
    client.close()


# --- a WebSocket client that does not read ------------------------------------------------


def test_a_websocket_client_that_does_not_read_is_dropped(
    keystore: CountingKeyStore, keys: Keys,
) -> None:
    with serving(BASE.replace(ws_send_queue=4), keystore) as srv, \
            httpx.Client(base_url=srv.url, headers=keys.h()) as c:
        c.post("/v1/sessions", json={"model_id": "weather", "session_id": "w"})
        broadcaster = srv.service.broadcaster
        s = ws_open(srv.port, "/v1/sessions/w/ws", keys.write, rcvbuf=4096)
        wait_for(lambda: broadcaster.has_subscribers(("acme", "w")))
        (sub,) = broadcaster._subs[("acme", "w")]
        queue = weakref.ref(sub.queue)
        del sub
        blob = "x" * 30_000
        updates = 0
        while broadcaster.has_subscribers(("acme", "w")):
            r = c.post("/v1/sessions/w/inputs", json={"input": {
                "type": "set_variables", "variables": {"blob": blob, "n": updates}}})
            assert r.status_code == 200, r.text
            updates += 1
            assert updates < 500, "the client that does not read is never dropped"
        print(f"dropped after {updates} updates of ~30 KB")
        assert len(broadcaster) == 0

        def freed() -> bool:
            gc.collect()
            return queue() is None

        wait_for(freed)
        # the client, reading at last, gets what was in flight and then the end
        s.settimeout(10)
        code = None
        with suppress(EOFError, ConnectionResetError):
            code = close_code(s)
        assert code in (None, 1008)
        # the session went on for everyone else
        assert c.get("/v1/sessions/w").json()["version"] >= updates
        s.close()
