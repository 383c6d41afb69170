"""The update in progress, as the dialog features and code units see it.

:func:`dialoghub.engine.step.step` makes one ``_Run`` per update (a working copy of the
session plus the events and actions emitted so far) and hands it to
:mod:`dialoghub.engine.dialog` and :mod:`dialoghub.engine.code`, which change the session
only through it. :class:`Run` is what they may use of it, so they import this module and
not :mod:`~dialoghub.engine.step`, which imports them: the engine has no import cycle.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from dialoghub.engine.records import Action, Session
from dialoghub.model import spec as m

__all__ = ["Run"]


class Run(Protocol):
    """One update in progress (implemented by ``dialoghub.engine.step._Run``)."""

    #: the model the session runs
    model: m.Model
    #: the working copy of the session, with every event emitted so far applied
    s: Session
    #: the update's time (seconds since the epoch)
    now: float

    @property
    def state(self) -> m.State:
        """The state the session is in."""
        ...

    # --- recording ------------------------------------------------------------------------

    def emit(self, type: str, **data: Any) -> None:
        """Append an event to the update and apply it to the working copy."""
        ...

    def act(self, action: Action, awaiting: dict[str, Any] | None = None) -> None:
        """Emit an action; a wait or a command carries what the session now awaits."""
        ...

    # --- moving through states ------------------------------------------------------------

    def count_entry(self, name: str) -> None:
        """Count a state entry; too many in one update is a model that loops (ModelError)."""
        ...

    def enter(self, name: str, unit: str | None = None) -> None:
        """Enter state ``name`` (of ``unit``, when moving into another unit) and run it."""
        ...

    def run_block(self, key: Sequence[str], pc: int) -> None:
        """Run the code of the block ``key`` names from instruction ``pc``."""
        ...

    def run_handler(self, key: tuple[str, str]) -> None:
        """Run a handler (``("state" | "model", name)``) from its start."""
        ...

    def follow(self, transitions: Sequence[m.Transition], state: m.State) -> None:
        """Take the first transition that applies (no match: the no_match handling)."""
        ...

    def continue_fill(self, intent: m.IntentDef, filled: list[str]) -> None:
        """Ask the next required slot of ``intent``, else confirm it or follow it."""
        ...

    # --- waiting and ending ---------------------------------------------------------------

    def wait(self, *, ask: bool) -> None:
        """Wait in the current state; ``ask``: put its question first."""
        ...

    def wait_for_user(
        self,
        texts: list[str] | None,
        *,
        say: bool,
        immediate: bool,
        timing: m.Prompt | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        """Wait for the user after saying ``texts[0]`` (if ``say``)."""
        ...

    def finish(self, reason: str, status: str = "ended") -> None:
        """End the session."""
        ...
