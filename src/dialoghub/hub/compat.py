"""How many sessions a model change would break: :func:`count_waiting` weighs the changes
:func:`dialoghub.model.compat.compare` lists against the active sessions a hub's store holds.
It lives here, not in :mod:`dialoghub.model`, because it reads the store (the model layer
does no I/O)."""

from __future__ import annotations

from dataclasses import replace

from dialoghub.hub.core import Hub
from dialoghub.model.compat import Change

__all__ = ["count_waiting"]


async def count_waiting(hub: Hub, model_id: str, changes: list[Change]) -> list[Change]:
    """``changes`` with the number of active sessions resting in each state they concern.

    A state change that no active session rests in is no longer breaking: nothing is there
    to break. Changes that are not about a state are returned as they are.
    """
    out = []
    for change in changes:
        if change.state is None or not change.kind.startswith(("state_", "resume_")):
            out.append(change)
            continue
        count = 0
        cursor: str | None = None
        while True:
            page = await hub.list_sessions(
                model=model_id, state=change.state, status="active", limit=1000, cursor=cursor
            )
            count += sum(1 for s in page.sessions if s.unit == change.unit)
            cursor = page.next_cursor
            if cursor is None:
                break
        out.append(replace(change, sessions=count, breaking=change.breaking and count > 0))
    return sorted(out, key=lambda c: not c.breaking)
