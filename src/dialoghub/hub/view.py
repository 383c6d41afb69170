"""What every update returns: the session as it now is, with the actions to carry out."""

from __future__ import annotations

from typing import Any

import msgspec

from dialoghub.engine.records import Action, CommandAction, Event, Reply, Session

__all__ = ["SessionView"]


class SessionView(msgspec.Struct, kw_only=True, frozen=True, gc=False):
    """The result of creating or updating a session.

    ``actions`` are what the application must do next, in order; the last one always needs an
    update (wait for the user, run a command) or ends the session. ``events`` are the log
    entries this update appended. Untracked by the cyclic garbage collector, like the records
    it holds (see :mod:`dialoghub.engine.records`).

    A view is the caller's own: the hub keeps a deep copy of the snapshot, so changing
    anything a view holds (``session.metadata``, :attr:`variables`, a command's params, an
    event's data) changes nothing the hub or the store keeps.
    """

    session: Session
    actions: tuple[Action, ...] = ()
    events: tuple[Event, ...] = ()

    @property
    def id(self) -> str:
        """The session id."""
        return self.session.id

    @property
    def state(self) -> str:
        """The state the session is in now."""
        return self.session.state

    @property
    def version(self) -> int:
        """The session version after this update; pass it as ``expected_version`` next time."""
        return self.session.version

    @property
    def replies(self) -> list[str]:
        """The texts of this update's reply actions."""
        return [a.text for a in self.actions if isinstance(a, Reply)]

    @property
    def command(self) -> CommandAction | None:
        """The command the application must run now, if the update ends with one."""
        last = self.actions[-1] if self.actions else None
        return last if isinstance(last, CommandAction) else None

    @property
    def variables(self) -> dict[str, Any]:
        """The variables of the session's current unit."""
        return self.session.unit_variables()

    @property
    def ended(self) -> bool:
        """True when the session takes no more input."""
        return self.session.ended
