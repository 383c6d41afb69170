"""A local stand-in for an OpenAI-compatible chat-completions endpoint, started by the tests.

It speaks the real streaming protocol: ``POST /v1/chat/completions`` with ``"stream": true``
answers ``text/event-stream`` chunks (``data: {"choices": [{"delta": ...}]}``), tool calls
split over several deltas by ``index`` (id and name first, the arguments in pieces), a
``finish_reason``, then ``data: [DONE]``. What it answers is scripted per request: a list of
steps, each either ``{"tool": name, "args": {...}}`` or ``{"text": "..."}``; every request it
received is kept in ``requests``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route


class StubLLM:
    """The stub: ``script`` is consumed one step per request."""

    def __init__(self, script: list[dict[str, Any]]) -> None:
        self.script = list(script)
        self.requests: list[dict[str, Any]] = []
        self.url = ""

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> bytes:
        body = {
            "id": "chatcmpl-stub",
            "object": "chat.completion.chunk",
            "model": "stub",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        return b"data: " + json.dumps(body).encode() + b"\n\n"

    async def completions(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append(body)
        if not body.get("stream"):
            return JSONResponse({"error": "this stub streams only"}, status_code=400)
        if not self.script:
            return JSONResponse({"error": {"message": "script exhausted"}}, status_code=500)
        step = self.script.pop(0)

        async def stream() -> AsyncIterator[bytes]:
            yield self._chunk({"role": "assistant", "content": ""})
            yield b": keep-alive\n\n"
            if "tool" in step:
                args = json.dumps(step["args"])
                half = len(args) // 2
                yield self._chunk(
                    {
                        "tool_calls": [
                            {
                                "index": 0,
                                "id": "call_1",
                                "type": "function",
                                "function": {"name": step["tool"], "arguments": ""},
                            }
                        ]
                    }
                )
                for piece in (args[:half], args[half:]):
                    await asyncio.sleep(0)
                    yield self._chunk(
                        {"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}
                    )
                yield self._chunk({}, "tool_calls")
            else:
                for word in step["text"].split(" "):
                    yield self._chunk({"content": word + " "})
                yield self._chunk({}, "stop")
            yield b"data: [DONE]\n\n"

        return StreamingResponse(stream(), media_type="text/event-stream")


@contextlib.asynccontextmanager
async def serve(stub: StubLLM) -> AsyncIterator[StubLLM]:
    """Run the stub on a free local port for the block."""
    app = Starlette(routes=[Route("/v1/chat/completions", stub.completions, methods=["POST"])])
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:  # noqa: ASYNC110 - uvicorn sets a flag, not an event
        await asyncio.sleep(0.01)
    stub.url = f"http://127.0.0.1:{port}/v1"
    try:
        yield stub
    finally:
        server.should_exit = True
        await task
        sock.close()
