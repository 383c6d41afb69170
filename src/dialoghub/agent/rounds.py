"""What a round is: its status, the user's message, its posts and its final reply.

A :class:`Round` is built while the round runs (:mod:`dialoghub.agent.execute`) and read back
from the session's stored events (:func:`rounds_of`), so a round looks the same in the
process that ran it and in one that resumed the session later.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import Any

import msgspec

from dialoghub.engine.records import Event

__all__ = ["Attachment", "Post", "Round", "RoundStatus", "rounds_of"]


class RoundStatus(enum.StrEnum):
    """Where a round is."""

    CREATED = "created"  # accepted, not started yet (it waits for the session's last round)
    RUNNING = "running"  # its planner is working
    FINISHED = "finished"  # it has a final reply
    FAILED = "failed"  # a plugin or the planner failed, or the process running it died
    CANCELLED = "cancelled"  # stopped on request, after the step it was in


class Attachment(msgspec.Struct, kw_only=True, frozen=True):
    """An artifact a plugin attached to its post: text, JSON, or a file in the workspace."""

    type: str  # "text", "json", "file"
    name: str = ""
    content: Any = None  # the text or the JSON value; None for a file
    path: str | None = None  # a file's path inside the workspace


class Post(msgspec.Struct, kw_only=True):
    """One message between two roles: ``user``, ``planner`` (or the dialog), a plugin."""

    id: str
    send_from: str
    send_to: str
    message: str = ""
    status: str = "finished"  # "finished" or "failed"
    attachments: list[Attachment] = []
    args: dict[str, Any] | None = None  # a plugin's post: what it was called with
    result: Any = None  # a plugin's post: what it returned
    error: str | None = None


class Round(msgspec.Struct, kw_only=True):
    """One user message and everything it caused."""

    id: str
    session_id: str
    status: RoundStatus
    user_message: str
    posts: list[Post] = []
    reply: str | None = None  # the final reply to the user (None until finished)
    error: str | None = None  # why it failed or was cancelled
    files: list[str] = []  # paths of the files given with the message, in the workspace
    started_at: float = 0.0
    ended_at: float | None = None

    @property
    def done(self) -> bool:
        """True once the round finished, failed or was cancelled."""
        return self.status in (RoundStatus.FINISHED, RoundStatus.FAILED, RoundStatus.CANCELLED)


def rounds_of(events: Iterable[Event], session_id: str) -> list[Round]:
    """The rounds recorded in a session's events (any page of them, oldest first): a round
    whose start is not among them is left out."""
    rounds: dict[str, Round] = {}
    for e in events:
        d = e.data
        if e.type == "agent_round_started":
            rounds[d["round"]] = Round(
                id=d["round"],
                session_id=session_id,
                status=RoundStatus.RUNNING,
                user_message=d.get("message", ""),
                files=list(d.get("files", ())),
                started_at=e.time,
            )
        elif e.type == "agent_post" and d["round"] in rounds:
            rounds[d["round"]].posts.append(msgspec.convert(d["post"], Post))
        elif e.type == "agent_round_ended" and d["round"] in rounds:
            r = rounds[d["round"]]
            r.status = RoundStatus(d["status"])
            r.reply, r.error, r.ended_at = d.get("reply"), d.get("error"), e.time
            if d.get("post") is not None:  # the reply post: the reply is its message
                post = msgspec.convert(d["post"], Post)
                r.posts.append(post)
                r.reply = post.message
    return list(rounds.values())
