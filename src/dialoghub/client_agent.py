"""The client's agent methods (issue 11): send a message, follow its round, cancel it.

``await client.send_message(session_id, "hi", files=[...])`` starts a round on the server
(creating the session if it is new) and returns at once with its id; :meth:`AgentMethods.
round_events` follows the session's round events over server-sent events from a sequence
number (give the last one seen to get exactly what was missed after a disconnect);
:meth:`AgentMethods.run_message` does both and returns the ended round. Rounds and events
come back as plain JSON dicts (this module imports no server library and no agent code).
:class:`AgentMethods` is mixed into :class:`dialoghub.client.Client`, :class:`SyncAgent`
into :class:`dialoghub.client.SyncClient`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from dialoghub.blocking import BlockingFace, blocking, blocking_iter
from dialoghub.errors import APIError

if TYPE_CHECKING:
    import httpx

__all__ = ["AgentMethods", "SyncAgent"]


def _sid(value: str) -> str:
    return quote(value, safe="")


def _error(status: int, body: bytes) -> APIError:
    try:
        err = json.loads(body)
        return APIError(
            status, str(err["code"]), str(err["message"]), dict(err.get("details") or {})
        )
    except (ValueError, KeyError, TypeError):
        return APIError(status, "http_error", body[:200].decode(errors="replace"), {})


def _file_part(f: Mapping[str, Any]) -> tuple[str, tuple[str, bytes]]:
    """A file as a multipart part: a local ``path`` is read here."""
    name = str(f.get("name") or "")
    if "path" in f:
        return ("files", (name, Path(str(f["path"])).read_bytes()))
    content = f.get("content", b"")
    return ("files", (name, content if isinstance(content, bytes) else str(content).encode()))


class AgentMethods:
    """The agent methods of :class:`dialoghub.client.Client` (a mixin: it needs the
    client's ``_call`` and ``_http``)."""

    _http: httpx.AsyncClient

    if TYPE_CHECKING:  # the Client's own

        async def _call(
            self,
            method: str,
            path: str,
            *,
            json: Any = None,
            content: bytes | str | None = None,
            params: dict[str, Any] | None = None,
            headers: dict[str, str] | None = None,
        ) -> httpx.Response: ...

    async def send_message(
        self, session_id: str, message: str, *, files: list[Mapping[str, Any]] | None = None
    ) -> dict[str, Any]:
        """Start a round (``{"round_id", "session_id", "status", "created", ...}``); files
        are ``{"name", "path" | "content"}`` (a path is read by this client; files are sent as
        ``multipart/form-data``)."""
        path = f"/v1/sessions/{_sid(session_id)}/messages"
        if files:  # as multipart/form-data: binary files as they are, no base64
            response = await self._http.post(
                path, data={"message": message}, files=[_file_part(f) for f in files]
            )
            if response.status_code >= 400:
                raise _error(response.status_code, response.content)
        else:
            response = await self._call("POST", path, json={"message": message})
        result: dict[str, Any] = response.json()
        return result

    async def get_round(self, session_id: str, round_id: str) -> dict[str, Any]:
        """One round: its status, user message, posts, reply."""
        response = await self._call(
            "GET", f"/v1/sessions/{_sid(session_id)}/rounds/{_sid(round_id)}"
        )
        result: dict[str, Any] = response.json()
        return result

    async def list_rounds(self, session_id: str) -> list[dict[str, Any]]:
        """The session's recorded rounds, oldest first."""
        response = await self._call("GET", f"/v1/sessions/{_sid(session_id)}/rounds")
        result: list[dict[str, Any]] = response.json()
        return result

    async def cancel_round(self, session_id: str, round_id: str) -> bool:
        """Ask a running round to stop after its current step; False if it had ended."""
        response = await self._call(
            "POST", f"/v1/sessions/{_sid(session_id)}/rounds/{_sid(round_id)}/cancel"
        )
        return bool(response.json()["cancelled"])

    async def round_events(
        self, session_id: str, *, after: int = 0, until_round_end: str | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """The session's round events with ``seq > after``, then each new one, as they
        come (keep-alive pings are skipped). With ``until_round_end`` (a round id), stop
        after that round's ``round_end``."""
        path = f"/v1/sessions/{_sid(session_id)}/messages/stream"
        headers = {"Accept": "text/event-stream"}
        async with self._http.stream(
            "GET", path, params={"after": after}, headers=headers, timeout=None
        ) as response:
            if response.status_code >= 400:
                raise _error(response.status_code, await response.aread())
            data: list[str] = []
            async for line in response.aiter_lines():
                if line.startswith("data:"):
                    data.append(line[5:].strip())
                elif not line and data:
                    event: dict[str, Any] = json.loads("\n".join(data))
                    data = []
                    yield event
                    if (
                        until_round_end is not None
                        and event["type"] == "round_end"
                        and event["round_id"] == until_round_end
                    ):
                        return

    async def run_message(
        self,
        session_id: str,
        message: str,
        *,
        files: list[Mapping[str, Any]] | None = None,
        after: int | None = None,
    ) -> dict[str, Any]:
        """Send a message and wait for its round to end; the round (its ``events``, as
        streamed, added under that key)."""
        accepted = await self.send_message(session_id, message, files=files)
        rid = accepted["round_id"]
        if after is None:  # start from the newest stored events: only this round's matter
            after = 0
        events = [
            e
            async for e in self.round_events(session_id, after=after, until_round_end=rid)
            if e.get("round_id") == rid
        ]
        result = await self.get_round(session_id, rid)
        result["events"] = events
        return result


class SyncAgent(BlockingFace[Any]):
    """The blocking agent methods of :class:`dialoghub.client.SyncClient`."""

    send_message = blocking(AgentMethods.send_message)
    get_round = blocking(AgentMethods.get_round)
    list_rounds = blocking(AgentMethods.list_rounds)
    cancel_round = blocking(AgentMethods.cancel_round)
    run_message = blocking(AgentMethods.run_message)
    round_events = blocking_iter(AgentMethods.round_events)
