"""Who may get a session's message: Galaxy's session locks as pure functions.

A session's locks live in its snapshot (``Session.locks``: client name -> flags, each change
an event); the client-wide side of a read or assign lock (a client reads from one session
only, its messages go to one session only) is a lock record on the bus, acquired with a
fencing token, mirrored here as :class:`ClientLocks`. The rules, for a message of session S:

- a client holding a *read* lock on another session never gets S's messages;
- if S has a *write* lock on a client able to take the message, only that client gets it;
- a command goes to one provider offering it, chosen at random among the eligible (those
  connected to the dispatching process first);
- replies go to the user interfaces (ui, audio) locked to S; with none, to one user
  interface chosen at random among those not read-locked elsewhere (as Galaxy does without
  locks: the reply may reach any interface);
- observers watching S get everything.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from dialoghub.routing.bus import ClientRecord

__all__ = ["ClientLocks", "choose_provider", "reply_targets"]

USER_ROLES = ("ui", "audio")


@dataclass(slots=True)
class ClientLocks:
    """The client-wide locks this process knows: (tenant, client) -> session, with the
    fencing token that set it; a notice with an older token than the one kept is stale."""

    read: dict[tuple[str, str], tuple[str, int]] = field(default_factory=dict)
    assign: dict[tuple[str, str], tuple[str, int]] = field(default_factory=dict)

    def table(self, kind: str) -> dict[tuple[str, str], tuple[str, int]]:
        """The table of lock ``kind`` (read or assign)."""
        return self.read if kind == "read" else self.assign

    def set(self, kind: str, who: tuple[str, str], session_id: str, fence: int) -> bool:
        """Record a lock unless an acquisition with a larger token is already known."""
        table = self.table(kind)
        current = table.get(who)
        if current is not None and current[1] > fence:
            return False
        table[who] = (session_id, fence)
        return True

    def drop(self, kind: str, who: tuple[str, str], fence: int) -> None:
        """Forget a lock released under token ``fence`` (or older)."""
        table = self.table(kind)
        current = table.get(who)
        if current is not None and current[1] <= fence:
            del table[who]

    def reads_elsewhere(self, who: tuple[str, str], session_id: str) -> bool:
        """True if the client is read-locked to a session other than ``session_id``."""
        held = self.read.get(who)
        return held is not None and held[0] != session_id


def _writer(locks: Mapping[str, Mapping[str, Any]], names: Iterable[str]) -> str | None:
    wanted = set(names)
    for client, flags in locks.items():
        if flags.get("write") and client in wanted:
            return client
    return None


def choose_provider(
    candidates: Iterable[ClientRecord],
    command: str,
    tenant: str,
    session_id: str,
    session_locks: Mapping[str, Mapping[str, Any]],
    client_locks: ClientLocks,
    busy: Mapping[str, bool],
    rng: random.Random,
    here: str = "",
) -> ClientRecord | None:
    """The provider a command goes to, random among the eligible; None if none is."""
    offering = [
        r
        for r in candidates
        if r.tenant == tenant
        and r.role == "provider"
        and command in r.commands
        and not client_locks.reads_elsewhere((tenant, r.name), session_id)
    ]
    writer = _writer(session_locks, (r.name for r in offering))
    if writer is not None:
        offering = [r for r in offering if r.name == writer]
    free = [r for r in offering if not busy.get(r.name, False)]
    if not free:
        return None
    # Among the eligible, those connected to this process first: a command then costs no
    # hop through the bus (with several processes each serves its own providers' share).
    near = [r for r in free if r.process == here] if here else []
    free = near or free
    return free[0] if len(free) == 1 else rng.choice(free)


def reply_targets(
    candidates: Iterable[ClientRecord],
    tenant: str,
    session_id: str,
    session_locks: Mapping[str, Mapping[str, Any]],
    client_locks: ClientLocks,
    rng: random.Random,
) -> list[ClientRecord]:
    """The user interfaces a session's replies go to (see the module docstring)."""
    uis = [r for r in candidates if r.tenant == tenant and r.role in USER_ROLES]
    writer = _writer(session_locks, (r.name for r in uis))
    if writer is not None:
        return [r for r in uis if r.name == writer]
    locked = [r for r in uis if r.name in session_locks]
    if locked:
        return locked
    free = [r for r in uis if not client_locks.reads_elsewhere((tenant, r.name), session_id)]
    return [rng.choice(free)] if free else []
