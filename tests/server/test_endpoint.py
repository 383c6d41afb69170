"""The endpoint wrapper as a plain ASGI app: the request timeout (one watchdog, no timer per
request), unknown query parameters, the response written in two messages."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import msgspec

from dialoghub.server.endpoint import Endpoint, JSONResponse
from dialoghub.server.limits import Deadlines
from dialoghub.server.metrics import Metrics


def _scope(service: Any, query: bytes = b"") -> dict[str, Any]:
    return {"type": "http", "method": "GET", "path": "/x", "query_string": query,
            "headers": [], "app": SimpleNamespace(state=SimpleNamespace(service=service))}


async def _call(endpoint: Endpoint, scope: dict[str, Any]) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await endpoint(scope, receive, send)
    return sent


async def test_a_request_past_its_deadline_gets_504() -> None:
    now = [100.0]
    service = SimpleNamespace(deadlines=Deadlines(10.0, clock=lambda: now[0]),
                              metrics=Metrics())
    started = asyncio.Event()

    async def slow(service: Any, request: Any, who: Any) -> Any:
        started.set()
        await asyncio.Event().wait()

    task = asyncio.create_task(_call(Endpoint(slow, "/x", None, frozenset()), _scope(service)))
    await started.wait()
    assert service.deadlines.check() == 0  # not yet
    now[0] += 10.0
    assert service.deadlines.check() == 1
    start, body = await task
    assert start["status"] == 504
    assert msgspec.json.decode(body["body"])["code"] == "timeout"
    assert not service.deadlines._due and not service.deadlines._expired


async def test_a_cancelled_request_is_not_a_timeout() -> None:
    service = SimpleNamespace(deadlines=Deadlines(10.0), metrics=Metrics())
    started = asyncio.Event()

    async def slow(service: Any, request: Any, who: Any) -> Any:
        started.set()
        await asyncio.Event().wait()

    task = asyncio.create_task(_call(Endpoint(slow, "/x", None, frozenset()), _scope(service)))
    await started.wait()
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
    else:  # pragma: no cover
        raise AssertionError("the cancellation was swallowed")
    assert not service.deadlines._due


async def test_fast_path_response_and_unknown_query() -> None:
    service = SimpleNamespace(deadlines=Deadlines(10.0), metrics=Metrics())

    async def ok(service: Any, request: Any, who: Any) -> Any:
        return JSONResponse({"a": 1}, status_code=201, headers={"X-Thing": "y"})

    endpoint = Endpoint(ok, "/x", None, frozenset({"q"}))
    start, body = await _call(endpoint, _scope(service, b"q=1"))
    assert start["status"] == 201 and body["body"] == b'{"a":1}'
    assert (b"x-thing", b"y") in start["headers"]
    assert (b"content-length", b"7") in start["headers"]
    start, body = await _call(endpoint, _scope(service, b"q=1&z=2"))
    assert start["status"] == 400
    assert msgspec.json.decode(body["body"])["details"] == {"parameters": ["z"]}
    assert b'route="/x",status="201"' in service.metrics.render()
