"""Commands fulfilled by an HTTP webhook, against a real local HTTP server (stdlib)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from dialoghub import Hub
from dialoghub.agent.runner import Runner
from dialoghub.errors import ModelValidationError
from dialoghub.model.loader import load_model_text

RELEASE = threading.Event()  # holds the "slow" endpoint until the test is done with it
RECEIVED: list[dict[str, Any]] = []


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        RECEIVED.append({"path": self.path, "body": body})
        if self.path == "/slow":
            RELEASE.wait(10)
        if self.path == "/fail":
            self.send_response(500)
            self.end_headers()
            return
        answer: Any = {"total": len(body["item"]) * 2, "ignored": 1}
        if self.path == "/notjson":
            answer = "nope"
        data = json.dumps(answer).encode() if self.path != "/garbage" else b"<html>"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    RELEASE.set()
    httpd.shutdown()
    httpd.server_close()


def _model(url: str, timeout: float = 5) -> str:
    return f"""
id: shop
intents:
  buy: [buy it]
commands:
  price:
    inputs: [item]
    outputs: [total]
    webhook: {{url: "{url}", timeout: {timeout}}}
states:
  start:
    do:
      - set: {{item: lamp}}
      - command: price
        on_error: failed
      - say: "Total: {{total}}."
    final: true
  failed:
    say: "No price: {{error}}."
    final: true
"""


async def _run(url: str, hook_timeout: float = 5) -> list[str]:
    async with Hub("memory://") as hub:
        hub.add_model(load_model_text(_model(url, hook_timeout)))
        view = await Runner(hub).start("shop", session_id="w")
        return view.replies


async def test_webhook_posts_inputs_and_sets_declared_outputs(server: str) -> None:
    RECEIVED.clear()
    assert await _run(server + "/ok") == ["Total: 8."]
    assert RECEIVED == [{"path": "/ok", "body": {"item": "lamp"}}]


@pytest.mark.parametrize(
    ("path", "error"),
    [
        ("/fail", "answered HTTP 500"),
        ("/garbage", "not JSON"),
        ("/notjson", "not an object"),
    ],
)
async def test_webhook_failure_takes_the_error_branch(server: str, path: str, error: str) -> None:
    replies = await _run(server + path)
    assert replies[0].startswith("No price: webhook for 'price'") and error in replies[0]


async def test_webhook_timeout_takes_the_error_branch(server: str) -> None:
    replies = await _run(server + "/slow", hook_timeout=0.2)
    assert replies == ["No price: webhook for 'price' timed out after 0.2s."]


async def test_unreachable_webhook_takes_the_error_branch() -> None:
    replies = await _run("http://127.0.0.1:9/nothing-listens-here")
    assert replies[0].startswith("No price: webhook for 'price' failed")


def test_webhook_url_is_checked_when_loading() -> None:
    with pytest.raises(ModelValidationError, match="must be an http:// or https:// URL"):
        load_model_text(_model("ftp://example.com/x"))


# --- the pooled client: connection reuse, answer cap, redirects --------------------------

PORTS: list[int] = []  # the client port of every request the keep-alive server served


class _KeepAlive(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keeps connections open, so a pool can reuse them

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        PORTS.append(self.client_address[1])
        if self.path.startswith("/redirect"):
            self.send_response(307)  # keeps the POST and its body
            self.send_header("Location", "/ok")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.path == "/big":  # a total of 2 MiB announced as chunks, never all at once
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            chunk = b" " * 65536
            try:
                for _ in range(32):
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.write(b"0\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # the client stopped reading: as it should
            return
        data = json.dumps({"total": 8}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def keepalive() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _KeepAlive)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _hook_model(url: str, follow: bool | None = None) -> str:
    extra = "" if follow is None else f", follow_redirects: {str(follow).lower()}"
    return _model(url).replace("timeout: 5}", "timeout: 5" + extra + "}")


async def test_webhook_calls_reuse_one_pooled_connection(keepalive: str) -> None:
    PORTS.clear()
    async with Hub("memory://") as hub, Runner(hub) as runner:
        hub.add_model(load_model_text(_model(keepalive + "/ok")))
        for i in range(5):
            view = await runner.start("shop", session_id=f"p{i}")
            assert view.replies == ["Total: 8."]
    assert len(PORTS) == 5
    assert len(set(PORTS)) == 1  # five calls, one TCP connection


async def test_an_answer_over_the_cap_is_the_commands_error(keepalive: str) -> None:
    async with Hub("memory://") as hub, Runner(hub) as runner:
        hub.add_model(load_model_text(_model(keepalive + "/big")))
        view = await runner.start("shop", session_id="big")
    assert view.replies == ["No price: webhook for 'price' answered more than 1048576 bytes."]


async def test_the_cap_is_configurable(keepalive: str) -> None:
    from dialoghub.agent.webhook import WebhookClient

    async with (
        Hub("memory://") as hub,
        Runner(hub, webhooks=WebhookClient(max_answer_bytes=5)) as runner,
    ):
        hub.add_model(load_model_text(_model(keepalive + "/ok")))
        view = await runner.start("shop", session_id="small")
    assert view.replies == ["No price: webhook for 'price' answered more than 5 bytes."]


async def test_a_redirect_is_not_followed_unless_the_model_asks(keepalive: str) -> None:
    async with Hub("memory://") as hub, Runner(hub) as runner:
        hub.add_model(load_model_text(_hook_model(keepalive + "/redirect")))
        view = await runner.start("shop", session_id="r1")
        assert view.replies == [
            "No price: webhook for 'price' answered a redirect to '/ok'; "
            "set follow_redirects: true on the webhook to follow it."
        ]
    PORTS.clear()
    async with Hub("memory://") as hub, Runner(hub) as runner:
        hub.add_model(load_model_text(_hook_model(keepalive + "/redirect", follow=True)))
        view = await runner.start("shop", session_id="r2")
        assert view.replies == ["Total: 8."]
    assert len(PORTS) == 2  # the redirect, then /ok


def test_follow_redirects_must_be_a_boolean() -> None:
    with pytest.raises(ModelValidationError, match="follow_redirects must be true or false"):
        load_model_text(
            _model("http://x.example/a").replace(
                "timeout: 5}", 'timeout: 5, follow_redirects: "yes"}'
            )
        )
