"""Fulfilling a command by an HTTP webhook: POST the inputs as JSON, outputs from the answer.

This is I/O, so it lives in the shells (the :class:`~dialoghub.agent.runner.Runner` calls it), never
in the pure engine. A :class:`WebhookClient` keeps one pooled ``httpx.AsyncClient`` per event
loop (connections are reused across calls and sessions), bounds every call by the model's
timeout and every answer by a byte cap (read as a stream, abandoned past the cap, so a hostile
endpoint cannot make the process buffer gigabytes), and follows no redirect unless the
model's webhook says ``follow_redirects: true``.

A failure of any kind (refused connection, timeout, an HTTP error status, a redirect not
followed, an answer too large or not a JSON object) becomes the command's ``error``, so the
model's error branch runs; keys of the answer that are not declared outputs are left out.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from dialoghub.model.spec import Webhook

if TYPE_CHECKING:
    import httpx

__all__ = ["MAX_ANSWER_BYTES", "WebhookClient", "call_webhook"]

#: The largest webhook answer read (1 MiB): command outputs are small JSON objects.
MAX_ANSWER_BYTES = 1 << 20


class WebhookClient:
    """A pool of HTTP connections for webhook calls, with a cap on each answer.

    ``max_answer_bytes`` bounds what one answer may hold; ``max_connections`` bounds the pool.
    The ``httpx`` client is made on first use, in the running event loop (an httpx client
    cannot move between loops; a call from another loop gets a client of its own). Call
    :meth:`aclose` when done.
    """

    def __init__(
        self, *, max_answer_bytes: int = MAX_ANSWER_BYTES, max_connections: int = 20
    ) -> None:
        self.max_answer_bytes = max_answer_bytes
        self.max_connections = max_connections
        self._client: httpx.AsyncClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _pool(self) -> httpx.AsyncClient:
        try:
            import httpx
        except ImportError:  # pragma: no cover - httpx is a core dependency
            raise RuntimeError("webhooks need httpx: pip install httpx") from None
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            limits = httpx.Limits(
                max_connections=self.max_connections,
                max_keepalive_connections=self.max_connections,
            )
            # Redirects are decided per request (the model's option), never by the client.
            self._client = httpx.AsyncClient(limits=limits, follow_redirects=False)
            self._loop = loop
        return self._client

    async def aclose(self) -> None:
        """Close the pooled connections (only from the loop that made them)."""
        client, self._client = self._client, None
        if client is not None and self._loop is asyncio.get_running_loop():
            await client.aclose()

    async def call(
        self, hook: Webhook, command: str, params: dict[str, Any], outputs: Collection[str]
    ) -> tuple[dict[str, Any], str | None]:
        """POST the command's inputs as a JSON object; return (declared outputs, error)."""
        import httpx

        client = self._pool()
        name = f"webhook for {command!r}"
        try:
            async with asyncio.timeout(hook.timeout):
                request = client.build_request(
                    "POST",
                    hook.url,
                    content=json.dumps(params).encode(),
                    headers={"Content-Type": "application/json", "Accept": "application/json"},
                    timeout=hook.timeout,
                )
                response = await client.send(
                    request, stream=True, follow_redirects=hook.follow_redirects
                )
                try:
                    if response.is_redirect:
                        where = response.headers.get("location", "?")
                        return {}, (
                            f"{name} answered a redirect to {where!r}; "
                            "set follow_redirects: true on the webhook to follow it"
                        )
                    if not 200 <= response.status_code < 300:
                        return {}, f"{name} answered HTTP {response.status_code}"
                    data = bytearray()
                    async for chunk in response.aiter_raw():
                        data += chunk
                        if len(data) > self.max_answer_bytes:
                            return {}, (f"{name} answered more than {self.max_answer_bytes} bytes")
                finally:
                    await response.aclose()
        except (TimeoutError, httpx.TimeoutException):
            return {}, f"{name} timed out after {hook.timeout:g}s"
        except httpx.TooManyRedirects:
            return {}, f"{name} redirected too many times"
        except httpx.HTTPError as exc:
            return {}, f"{name} failed: {exc or type(exc).__name__}"
        return _outputs(name, bytes(data), outputs)


def _outputs(name: str, data: bytes, outputs: Collection[str]) -> tuple[dict[str, Any], str | None]:
    try:
        answer = json.loads(data or b"{}")
    except (ValueError, RecursionError):  # RecursionError: nested past what json parses
        return {}, f"{name} answered something that is not JSON"
    if not isinstance(answer, dict):
        return {}, f"{name} answered JSON that is not an object"
    return {k: v for k, v in answer.items() if k in outputs}, None


async def call_webhook(
    hook: Webhook,
    command: str,
    params: dict[str, Any],
    outputs: Collection[str],
    *,
    client: WebhookClient | None = None,
) -> tuple[dict[str, Any], str | None]:
    """One webhook call; with no ``client``, a pool used for this call only."""
    if client is not None:
        return await client.call(hook, command, params, outputs)
    once = WebhookClient()
    try:
        return await once.call(hook, command, params, outputs)
    finally:
        await once.aclose()
