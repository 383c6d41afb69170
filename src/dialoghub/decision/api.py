"""The decision cycle's operations on a Hub, as functions (the Hub's own module stays the
session API; these are its decision face): answer a round, override it, read it, list the
inbox. Each answer is one :meth:`~dialoghub.hub.Hub.update`, so it takes the same
``expected_version`` and ``idempotency_key`` and returns the same view.

``by`` is who answered (the server passes the API key's identity; in-process callers say
who they are, e.g. ``{"user": "jane@example.com"}``); it is recorded on the event.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from dialoghub.decision.inbox import inbox, round_view
from dialoghub.engine.records import Override, PairVote, Propose, Vote
from dialoghub.hub import Hub
from dialoghub.hub.view import SessionView

__all__ = ["inbox", "override", "propose", "round_view", "vote"]


async def propose(
    hub: Hub,
    session_id: str,
    round: str,
    specialist: str,
    transition: str,
    *,
    reasoning: str = "",
    params: dict[str, Any] | None = None,
    by: dict[str, Any] | None = None,
    tenant: str = "default",
    **options: Any,
) -> SessionView:
    """``specialist`` proposes ``transition`` for ``round`` (``options``: ``expected_version``,
    ``idempotency_key``)."""
    inp = Propose(
        round=round,
        specialist=specialist,
        transition=transition,
        reasoning=reasoning,
        params=params,
        by=by,
    )
    return await hub.update(session_id, inp, tenant=tenant, **options)


async def vote(
    hub: Hub,
    session_id: str,
    round: str,
    specialist: str,
    votes: Mapping[tuple[str, str], str] | Iterable[tuple[str, str, str]],
    *,
    reasoning: str = "",
    by: dict[str, Any] | None = None,
    tenant: str = "default",
    **options: Any,
) -> SessionView:
    """``specialist``'s pair votes: ``{("A", "B"): "A"}`` or ``[("A", "B", "both")]``."""
    triples = (
        [(k[0], k[1], v) for k, v in votes.items()] if isinstance(votes, Mapping) else list(votes)
    )
    inp = Vote(
        round=round,
        specialist=specialist,
        reasoning=reasoning,
        by=by,
        votes=[PairVote(a=a, b=b, vote=v) for a, b, v in triples],
    )
    return await hub.update(session_id, inp, tenant=tenant, **options)


async def override(
    hub: Hub,
    session_id: str,
    transition: str,
    *,
    reason: str = "",
    params: dict[str, Any] | None = None,
    round: str | None = None,
    by: dict[str, Any] | None = None,
    tenant: str = "default",
    **options: Any,
) -> SessionView:
    """Decide the decided state's ``transition`` directly (recorded as an override)."""
    inp = Override(transition=transition, params=params, reason=reason, round=round, by=by)
    return await hub.update(session_id, inp, tenant=tenant, **options)
