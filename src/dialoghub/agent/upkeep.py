"""Keeping a store of agent sessions clean: rounds left running by a dead process, and the
folders of sessions retention purges.

A round's start records its owner (the process's ``AgentApp.owner``) and deadline. A round
still marked running that no task of this process runs was left by a process that died (or,
with ``shared_store``, may still run elsewhere until its deadline): :func:`recover_round`
marks it failed, numbering its end past any event number the dead process could have given
out, so the session's numbers stay unique and the next round plays.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from dialoghub.agent.execute import MAX_EVENTS_PER_ROUND
from dialoghub.agent.workspace import Workspace
from dialoghub.engine.records import AgentRecord, Session
from dialoghub.errors import UnexpectedInput
from dialoghub.hub import Hub

if TYPE_CHECKING:
    from dialoghub.agent.app import AgentApp

__all__ = ["recover_all", "recover_round", "remove_folders"]


async def recover_round(app: AgentApp, session: Session) -> Session:
    """The session with a round it was left running by a dead process marked failed."""
    agent = session.agent or {}
    key = (session.tenant, session.id)
    if agent.get("status") != "running" or app.runs_here(key):
        return session
    # A round marked running that this process does not run: its process died (or, with
    # several processes on one store, runs it still until its deadline).
    if (
        agent.get("owner") not in (None, app.owner)
        and agent.get("deadline")
        and agent["deadline"] > app.hub.now()
        and app.shared_store
    ):
        return session
    seq = int(agent.get("seq", 0)) + MAX_EVENTS_PER_ROUND  # past any number it gave out
    error = "interrupted: the process running the round stopped"
    try:
        view = await app.hub.update(
            session.id,
            AgentRecord(
                kind="round_ended",
                data={
                    "round": agent["round"],
                    "status": "failed",
                    "seq": seq,
                    "error": error,
                    "reply": None,
                },
            ),
            tenant=session.tenant,
        )
    except UnexpectedInput:  # ended meanwhile
        return await app.hub.get_session(session.id, tenant=session.tenant)
    log = app.live_log(key, view.session)
    log.seq = max(log.seq, seq)
    return view.session


async def recover_all(app: AgentApp, *, tenant: str = "default") -> int:
    """Mark failed every round of ``tenant`` left running by a dead process; how many."""
    count, cursor = 0, None
    while True:
        page = await app.hub.list_sessions(
            tenant=tenant, status="active", limit=1000, cursor=cursor
        )
        for s in page.sessions:
            if (s.agent or {}).get("status") == "running":
                after = await recover_round(app, s)
                count += (after.agent or {}).get("status") != "running"
        cursor = page.next_cursor
        if cursor is None:
            return count


async def remove_folders(
    hub: Hub, workspace: Workspace, *, older_than: float, tenant: str = "default"
) -> None:
    """Remove the folders of the ended and expired sessions ``Hub.purge`` is about to delete."""
    before = hub.now() - older_than
    for status in ("ended", "expired"):
        cursor = None
        while True:
            page = await hub.list_sessions(tenant=tenant, status=status, limit=1000, cursor=cursor)
            for s in page.sessions:
                if s.updated_at < before:
                    await asyncio.to_thread(workspace.remove, tenant, s.id)
            cursor = page.next_cursor
            if cursor is None:
                break
