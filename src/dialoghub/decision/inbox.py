"""The inbox of human specialists, and a round as a reviewer reads it.

Built from what the stores already index, with no schema of its own: the listing of a
tenant's *active* sessions (filtered by model and state, keyset-paginated) and each listed
snapshot's open round (``Session.decision``). So one inbox page costs one listing query per
``scan`` sessions plus decoding those snapshots, O(active sessions scanned), not O(rounds
waiting). A page stops at ``limit`` items or ``scan`` sessions read, whichever comes first,
and its cursor continues the scan.
"""

from __future__ import annotations

from typing import Any

from dialoghub.decision.driver import _prompt
from dialoghub.decision.wire import InboxItem, InboxPage, ProposalOut, RoundOut
from dialoghub.engine.decision import correlation, open_round, pairs_of
from dialoghub.engine.decision import proposals as proposals_of
from dialoghub.engine.records import Session
from dialoghub.errors import InvalidInput, UnknownModel
from dialoghub.hub import Hub

__all__ = ["inbox", "round_view", "waiting_for_humans"]


def waiting_for_humans(session: Session, specialist: str | None = None) -> InboxItem | None:
    """The inbox item of ``session`` if its open round waits for a human (``specialist``:
    for that one), or is parked; else None."""
    rd = open_round(session)
    if rd is None:
        return None
    humans = [sid for sid, p in rd["pending"].items() if p.get("h")]
    parked = rd["phase"] == "attention"
    if specialist is not None:
        humans = [h for h in humans if h == specialist]
        parked = False  # a parked round waits for an override, not for this specialist
    if not humans and not parked:
        return None
    first = rd["pending"][humans[0]] if humans else None
    return InboxItem(
        session_id=session.id,
        model_id=session.model_id,
        state=rd["state"],
        round=rd["id"],
        phase=rd["phase"],
        waiting=humans,
        kind=None if first is None else ("proposal" if first["k"] == "p" else "vote"),
        due_at=None if first is None else first["due"],
        version=session.version,
    )


async def inbox(
    hub: Hub,
    *,
    tenant: str = "default",
    model: str | None = None,
    state: str | None = None,
    specialist: str | None = None,
    limit: int = 50,
    scan: int = 1000,
    cursor: str | None = None,
) -> InboxPage:
    """The rounds of ``tenant`` waiting for human answers, oldest session first."""
    if not isinstance(limit, int) or not 1 <= limit <= 1000:
        raise InvalidInput(f"limit must be an integer from 1 to 1000, not {limit!r}")
    items: list[InboxItem] = []
    scanned = 0
    while True:
        page = await hub.list_sessions(
            model=model,
            state=state,
            status="active",
            tenant=tenant,
            limit=min(scan, 1000),
            cursor=cursor,
        )
        scanned += len(page.sessions)
        for session in page.sessions:
            item = waiting_for_humans(session, specialist)
            if item is not None:
                items.append(item)
        cursor = page.next_cursor
        if cursor is None or len(items) >= limit or scanned >= scan:
            break
    return InboxPage(items=items[:limit], next_cursor=cursor, scanned=scanned)


async def round_view(hub: Hub, session_id: str, *, tenant: str = "default") -> RoundOut:
    """A session's open round as a reviewer sees it: the prompt, the proposals with their
    reasoning (one bounded read of the round's own events), who is still asked."""
    session = await hub.get_session(session_id, tenant=tenant)
    rd = open_round(session)
    history = list((session.decision or {}).get("history", ()))
    base: dict[str, Any] = {
        "session_id": session.id,
        "model_id": session.model_id,
        "version": session.version,
        "params": session.params,
        "history": history,
    }
    if rd is None:
        return RoundOut(round=None, state=session.state, **base)
    try:
        model = hub.model(session.model_id)
    except UnknownModel:
        model = None
    reasoning: dict[str, str] = {}
    events = await hub.events(
        session.id, after=max(rd.get("seq", 1) - 1, 0), limit=10_000, tenant=tenant
    )
    for e in events:
        if (
            e.type == "proposal_submitted"
            and e.data.get("round") == rd["id"]
            and "proposal" in e.data
        ):
            reasoning[e.data["proposal"]] = e.data.get("reasoning", "")
    spec = model.decision if model is not None else None
    return RoundOut(
        round=rd["id"],
        state=rd["state"],
        phase=rd["phase"],
        attempt=rd["attempt"],
        prompt=_prompt(model, rd["state"]) if model is not None else None,
        transitions=list(spec.transitions.get(rd["state"], ())) if spec is not None else [],
        waiting={
            sid: {
                "kind": "proposal" if p["k"] == "p" else "vote",
                "correlation": correlation(rd, sid),
                "due_at": p["due"],
                "human": bool(p.get("h")),
                "pairs": pairs_of(rd, sid) if p["k"] == "v" else [],
            }
            for sid, p in rd["pending"].items()
        },
        proposals=[
            ProposalOut(
                id=p["id"],
                specialist=p["by"],
                transition=p["t"],
                reasoning=reasoning.get(p["id"], ""),
                params=p.get("params") or {},
            )
            for p in proposals_of(rd)
        ],
        votes=[{"specialist": v[0], "a": v[1], "b": v[2], "vote": v[3]} for v in rd["votes"]],
        **base,
    )
