"""Fulfilling a command by an HTTP webhook: POST the inputs as JSON, outputs from the answer.

This is I/O, so it lives in the shells (the :class:`~dialoghub.runner.Runner` calls it), never
in the pure engine. A failure of any kind (refused connection, timeout, an HTTP error status,
an answer that is not a JSON object) becomes the command's ``error``, so the model's error
branch runs; keys of the answer that are not declared outputs are left out.
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from collections.abc import Collection
from typing import Any

from dialoghub.model.spec import Webhook

__all__ = ["call_webhook"]


def _post(url: str, body: bytes, timeout: float) -> tuple[int, bytes]:
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "Accept": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return int(response.status), bytes(response.read())
    except urllib.error.HTTPError as exc:
        return int(exc.code), b""


async def call_webhook(
    hook: Webhook, command: str, params: dict[str, Any], outputs: Collection[str]
) -> tuple[dict[str, Any], str | None]:
    """POST the command's inputs as a JSON object; return (declared outputs, error)."""
    body = json.dumps(params).encode()
    try:
        status, data = await asyncio.to_thread(_post, hook.url, body, hook.timeout)
    except TimeoutError:
        return {}, f"webhook for {command!r} timed out after {hook.timeout:g}s"
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, TimeoutError):
            return {}, f"webhook for {command!r} timed out after {hook.timeout:g}s"
        return {}, f"webhook for {command!r} failed: {reason}"
    except OSError as exc:
        return {}, f"webhook for {command!r} failed: {exc}"
    if not 200 <= status < 300:
        return {}, f"webhook for {command!r} answered HTTP {status}"
    try:
        answer = json.loads(data or b"{}")
    except ValueError:
        return {}, f"webhook for {command!r} answered something that is not JSON"
    if not isinstance(answer, dict):
        return {}, f"webhook for {command!r} answered JSON that is not an object"
    return {k: v for k, v in answer.items() if k in outputs}, None
