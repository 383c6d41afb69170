"""Reading rounds back from a session's stored events.

A round is stored as a few session events (``agent_round_started``, one ``agent_post`` per
plugin call, ``agent_round_ended`` with the reply post), each carrying the live number of the
round event it stands for. So the store can answer a client that comes back later than the
live log keeps (:func:`stored_events`: the round starts, the completed posts and the ends, with
their numbers, without the chunks) and any round of the session's history
(:func:`stored_round`), in any process.
"""

from __future__ import annotations

from typing import Any

from dialoghub.agent.events import EVENT_SCOPES, AgentEvent, EventType
from dialoghub.agent.rounds import Round, rounds_of
from dialoghub.errors import RoundNotFound
from dialoghub.hub import Hub

__all__ = ["round_events_of", "stored_events", "stored_round"]

#: Session events read per page.
PAGE = 1000


async def stored_events(
    hub: Hub, session_id: str, *, after: int, before: int, tenant: str = "default"
) -> list[AgentEvent]:
    """The round events the store keeps with ``after < seq < before``."""
    out: list[AgentEvent] = []
    cursor = 0
    while True:
        events = await hub.events(session_id, tenant=tenant, after=cursor, limit=PAGE)
        for e in events:
            out += [c for c in round_events_of(e, session_id) if after < c.seq < before]
        if len(events) < PAGE:
            return out
        cursor = events[-1].seq


async def stored_round(
    hub: Hub, session_id: str, round_id: str, *, tenant: str = "default"
) -> Round:
    """Round ``round_id`` as the store has it; RoundNotFound if the session has none."""
    after = 0
    while True:
        events = await hub.events(session_id, tenant=tenant, after=after, limit=PAGE)
        for r in rounds_of(events, session_id):
            if r.id == round_id:
                return await _complete(hub, r, events, session_id, tenant)
        if len(events) < PAGE:
            raise RoundNotFound(session_id, round_id)
        after = events[-1].seq


async def _complete(hub: Hub, r: Round, events: list[Any], sid: str, tenant: str) -> Round:
    """A round whose start was on one page and whose end is on a later one."""
    if r.done or not events:
        return r
    more = await hub.events(sid, tenant=tenant, after=events[-1].seq, limit=10_000)
    for later in rounds_of([e for e in events if e.data.get("round") == r.id] + more, sid):
        if later.id == r.id:
            return later
    return r


def round_events_of(e: Any, sid: str) -> list[AgentEvent]:
    """The round events a stored session event stands for, with their live numbers."""
    d = e.data

    def event(
        kind: EventType, seq: int, message: str, data: dict[str, Any], post: str | None = None
    ) -> AgentEvent:
        return AgentEvent(
            seq=seq,
            time=e.time,
            type=kind,
            scope=EVENT_SCOPES[kind],
            session_id=sid,
            round_id=d.get("round"),
            post_id=post,
            message=message,
            data=data,
        )

    seq = int(d.get("seq", 0))
    if e.type == "agent_round_started":
        message = d.get("message", "")
        return [
            event(
                EventType.ROUND_START,
                seq,
                message,
                {"message": message, "files": d.get("files", [])},
            )
        ]
    if e.type == "agent_post":
        return [
            event(
                EventType.POST_END,
                seq,
                d["post"].get("message", ""),
                {"post": d["post"]},
                d["post"]["id"],
            )
        ]
    if e.type == "agent_round_ended":
        out = []
        reply_post = d.get("post")
        reply = reply_post.get("message") if reply_post else None
        if reply_post is not None:  # its post_end was numbered just before the round_end
            out.append(
                event(
                    EventType.POST_END, seq - 1, reply or "", {"post": reply_post}, reply_post["id"]
                )
            )
        out.append(
            event(
                EventType.ROUND_END,
                seq,
                reply or d.get("error") or "",
                {"status": d["status"], "reply": reply, "error": d.get("error")},
            )
        )
        return out
    return []
