"""A local server speaking OpenAI's chat-completions protocol (and a webhook), for tests.

``POST /v1/chat/completions`` answers with the next scripted reply: a completion whose
message content is the scripted text (JSON or not), an HTTP error status, or, when the
request asks ``stream: true``, the same content as server-sent ``chat.completion.chunk``
events ending with ``data: [DONE]``. With no script left it answers by a rule: propose the
first allowed transition, vote A on every pair. ``POST /hook`` does the same in the webhook
format. Every request body is kept in ``requests``.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Stub:
    def __init__(self) -> None:
        self.script: list[tuple[int, str]] = []  # (status, content)
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.url = ""

    def next(self) -> tuple[int, str] | None:
        with self.lock:
            return self.script.pop(0) if self.script else None


def _default(body: dict[str, Any]) -> str:
    """Propose the first allowed transition; vote A on every pair asked."""
    text = body["messages"][-1]["content"] if "messages" in body else ""
    if "pairs" in body:  # the webhook format
        if body["kind"] == "proposal":
            return json.dumps({"transition": body["transitions"][0], "reasoning": "stub"})
        return json.dumps({"votes": [{"a": a, "b": b, "vote": "A"} for a, b in body["pairs"]]})
    if "Compare each pair" in text:
        pairs = re.findall(r"(\w+) vs (\w+)", text.split("Compare each pair", 1)[1])
        return json.dumps(
            {
                "votes": [{"a": a, "b": b, "vote": "A"} for a, b in pairs],
                "reasoning": "stub prefers A",
            }
        )
    allowed = re.search(r"Allowed transitions: (.*)", text)
    first = allowed.group(1).split(", ")[0] if allowed else "APPROVE"
    return json.dumps({"transition": first, "reasoning": "stub picks the first"})


def _handler(stub: Stub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _send(self, status: int, body: bytes, kind: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length) or b"{}")
            with stub.lock:
                stub.requests.append(body)
            scripted = stub.next()
            status, content = scripted if scripted is not None else (200, _default(body))
            if status != 200:
                self._send(status, json.dumps({"error": {"message": content}}).encode())
                return
            if self.path == "/hook":
                self._send(200, content.encode())
                return
            if body.get("stream"):
                chunks = [content[i : i + 7] for i in range(0, len(content), 7)]
                events = [
                    {
                        "id": "c1",
                        "object": "chat.completion.chunk",
                        "choices": [{"index": 0, "delta": {"content": c}}],
                    }
                    for c in chunks
                ]
                events.append(
                    {
                        "id": "c1",
                        "object": "chat.completion.chunk",
                        "choices": [],
                        "usage": {"prompt_tokens": 30, "completion_tokens": 10, "total_tokens": 40},
                    }
                )
                raw = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
                self._send(200, raw.encode(), "text/event-stream")
                return
            reply = {
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "model": body.get("model"),
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": "stop",
                        "message": {"role": "assistant", "content": content},
                    }
                ],
                "usage": {"prompt_tokens": 30, "completion_tokens": 10, "total_tokens": 40},
            }
            self._send(200, json.dumps(reply).encode())

    return Handler


@contextmanager
def stub_server() -> Iterator[Stub]:
    """Start the stub on a free loopback port; ``stub.url`` is its ``…/v1`` base URL."""
    stub = Stub()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(stub))
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    stub.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    try:
        yield stub
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
