"""The decision routes in the Python client: a mixin of :class:`dialoghub.client.Client`
(and its blocking twin of :class:`dialoghub.client.SyncClient`).

``await client.round(session_id)`` reads the open round; :meth:`~DecisionsClient.propose`,
:meth:`~DecisionsClient.vote` and :meth:`~DecisionsClient.override` answer it (the server
records the API key as who answered); :meth:`~DecisionsClient.inbox` lists the rounds
waiting for human answers. Imports only httpx-free shapes (``dialoghub.decision.wire``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol
from urllib.parse import quote

import httpx
import msgspec

from dialoghub.blocking import BlockingFace, blocking
from dialoghub.decision.wire import InboxPage, RoundOut
from dialoghub.wire import ViewOut

__all__ = ["DecisionsClient", "SyncDecisions"]


class _Caller(Protocol):
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


def _path(session_id: str, tail: str = "") -> str:
    return f"/v1/sessions/{quote(session_id, safe='')}/round{tail}"


def _key(idempotency_key: str | None) -> dict[str, str] | None:
    return {"Idempotency-Key": idempotency_key} if idempotency_key else None


def _pairs(votes: Mapping[Any, str] | Iterable[Any]) -> list[dict[str, str]]:
    if isinstance(votes, Mapping):
        return [{"a": k[0], "b": k[1], "vote": v} for k, v in votes.items()]
    out = []
    for item in votes:
        if isinstance(item, Mapping):
            out.append({"a": item["a"], "b": item["b"], "vote": item["vote"]})
        else:
            a, b, v = item
            out.append({"a": a, "b": b, "vote": v})
    return out


class DecisionsClient:
    """The decision methods of :class:`~dialoghub.client.Client`."""

    async def round(self: _Caller, session_id: str) -> RoundOut:
        """The session's open round: prompt, proposals with reasoning, who is asked."""
        r = await self._call("GET", _path(session_id))
        return msgspec.json.decode(r.content, type=RoundOut)

    async def propose(
        self: _Caller,
        session_id: str,
        round: str,
        specialist: str,
        transition: str,
        *,
        reasoning: str = "",
        params: dict[str, Any] | None = None,
        correlation: str | None = None,
        expected_version: int | None = None,
        idempotency_key: str | None = None,
    ) -> ViewOut:
        """Propose ``transition`` for ``round`` as ``specialist``."""
        body: dict[str, Any] = {
            "round": round,
            "specialist": specialist,
            "transition": transition,
            "reasoning": reasoning,
        }
        for name, value in (
            ("params", params),
            ("correlation", correlation),
            ("expected_version", expected_version),
        ):
            if value is not None:
                body[name] = value
        r = await self._call(
            "POST", _path(session_id, "/proposals"), json=body, headers=_key(idempotency_key)
        )
        return msgspec.json.decode(r.content, type=ViewOut)

    async def vote(
        self: _Caller,
        session_id: str,
        round: str,
        specialist: str,
        votes: Mapping[tuple[str, str], str] | Iterable[Any],
        *,
        reasoning: str = "",
        correlation: str | None = None,
        expected_version: int | None = None,
        idempotency_key: str | None = None,
    ) -> ViewOut:
        """Vote on pairs of proposals: ``{("A", "B"): "A"}`` or ``[("A", "B", "both")]``."""
        body: dict[str, Any] = {
            "round": round,
            "specialist": specialist,
            "votes": _pairs(votes),
            "reasoning": reasoning,
        }
        if correlation is not None:
            body["correlation"] = correlation
        if expected_version is not None:
            body["expected_version"] = expected_version
        r = await self._call(
            "POST", _path(session_id, "/votes"), json=body, headers=_key(idempotency_key)
        )
        return msgspec.json.decode(r.content, type=ViewOut)

    async def override(
        self: _Caller,
        session_id: str,
        transition: str,
        *,
        reason: str = "",
        params: dict[str, Any] | None = None,
        round: str | None = None,
        expected_version: int | None = None,
        idempotency_key: str | None = None,
    ) -> ViewOut:
        """Decide the decided state's ``transition`` directly (recorded as an override)."""
        body: dict[str, Any] = {"transition": transition, "reason": reason}
        for name, value in (
            ("params", params),
            ("round", round),
            ("expected_version", expected_version),
        ):
            if value is not None:
                body[name] = value
        r = await self._call(
            "POST", _path(session_id, "/override"), json=body, headers=_key(idempotency_key)
        )
        return msgspec.json.decode(r.content, type=ViewOut)

    async def inbox(
        self: _Caller,
        *,
        model: str | None = None,
        state: str | None = None,
        specialist: str | None = None,
        limit: int = 50,
        scan: int | None = None,
        cursor: str | None = None,
    ) -> InboxPage:
        """Rounds of this key's tenant waiting for human answers (or parked)."""
        params = {
            "model": model,
            "state": state,
            "specialist": specialist,
            "limit": limit,
            "scan": scan,
            "cursor": cursor,
        }
        r = await self._call("GET", "/v1/decisions/inbox", params=params)
        return msgspec.json.decode(r.content, type=InboxPage)


class SyncDecisions(BlockingFace[Any]):
    """The blocking twins of :class:`DecisionsClient` (a base of ``SyncClient``)."""

    round = blocking(DecisionsClient.round)
    propose = blocking(DecisionsClient.propose)
    vote = blocking(DecisionsClient.vote)
    override = blocking(DecisionsClient.override)
    inbox = blocking(DecisionsClient.inbox)
