"""The client's routing methods (issue 12): a session's memory over HTTP, the connected
clients. (Routed clients themselves, providers and user interfaces on ``/v1/clients/ws``,
are :mod:`dialoghub.provider`.) :class:`RoutingMethods` is mixed into
:class:`dialoghub.client.Client`, :class:`SyncRouting` into
:class:`dialoghub.client.SyncClient`; plain JSON only, no server library.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from dialoghub.blocking import BlockingFace, blocking

if TYPE_CHECKING:
    import httpx

__all__ = ["RoutingMethods", "SyncRouting"]


class RoutingMethods:
    """Session memory and connected clients (a mixin: it needs the client's ``_call``)."""

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

    async def get_memory(self, session_id: str) -> dict[str, Any]:
        """The session's memory namespace (``{"memory": {...}, "version": n}``)."""
        response = await self._call("GET", f"/v1/sessions/{quote(session_id, safe='')}/memory")
        result: dict[str, Any] = response.json()
        return result

    async def change_memory(
        self,
        session_id: str,
        op: str,
        key: str,
        value: Any = None,
        *,
        expected: Any = None,
        check: bool = False,
    ) -> dict[str, Any]:
        """Set, delete or increment ``key`` (one compare-and-set update of the session);
        ``{"key", "value", "version"}``. ``check``: set only if the value is ``expected``."""
        body = {"op": op, "key": key, "value": value, "expected": expected, "check": check}
        response = await self._call(
            "POST", f"/v1/sessions/{quote(session_id, safe='')}/memory", json=body
        )
        result: dict[str, Any] = response.json()
        return result

    async def list_clients(self) -> list[dict[str, Any]]:
        """The routed clients connected to the server (every process's), of this tenant."""
        response = await self._call("GET", "/v1/clients")
        result: list[dict[str, Any]] = response.json()["clients"]
        return result


class SyncRouting(BlockingFace[Any]):
    """The blocking routing methods of :class:`dialoghub.client.SyncClient`."""

    get_memory = blocking(RoutingMethods.get_memory)
    change_memory = blocking(RoutingMethods.change_memory)
    list_clients = blocking(RoutingMethods.list_clients)
