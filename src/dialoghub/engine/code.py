"""Running dialog units written as Python functions (see :mod:`dialoghub.model.codeunit`).

A session in a code unit is in one of its states; each input calls that state's function
with a fresh :class:`Context` (never a global: it says which session is served). The
function acts only through the context, and each act is an event of the update, exactly
like a data unit's steps: ``say`` replies, ``set``/``delete`` change the unit's variables,
``ask`` replies and makes the session wait (optionally with a timeout and a handler),
``next`` picks the state that takes the next input, ``run`` runs another state now, ``end``
finishes the unit (back to its caller, or the end of the session).

The functions run inside the pure step function, so they must be deterministic: no I/O, no
clock (use ``ctx.now``), no randomness. A replay of the log never calls them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import msgspec

from dialoghub.engine import dialog
from dialoghub.engine.records import Reply
from dialoghub.engine.run import Run
from dialoghub.engine.scope import lookup
from dialoghub.errors import DialoghubError, InvalidInput, ModelError

__all__ = ["Context", "Slots", "is_code_unit", "run_state", "timed_out"]


class Slots(dict[str, str]):
    """The named groups of a regex match; true even without groups (it matched)."""

    def __bool__(self) -> bool:
        return True


class Context:
    """What a state function of a code unit gets: the session it serves and the dialog API."""

    def __init__(self, run: Run, *, text: str | None, timed_out: bool) -> None:
        self._run = run
        #: the user's text (None when the state is entered, or on a timeout)
        self.text = text
        #: True when the function runs because the user did not answer in time
        self.timed_out = timed_out
        self._next: str | None = None
        self._goto: str | None = None
        self._ask: dict[str, Any] | None = None
        self._end: str | None = None

    # --- what is served -------------------------------------------------------------------

    @property
    def session_id(self) -> str:
        """The id of the session this call serves."""
        return self._run.s.id

    @property
    def unit(self) -> str:
        """The unit the session is in."""
        return self._run.s.unit

    @property
    def state(self) -> str:
        """The state (function) the session is in."""
        return self._run.s.state

    @property
    def now(self) -> float:
        """The update's time (seconds since the epoch): the only clock a unit may read."""
        return self._run.now

    @property
    def timeouts(self) -> int:
        """How many times in a row the current question has timed out (0 after any answer)."""
        return self._run.s.counters.get("prompt", 0)

    @property
    def params(self) -> Mapping[str, Any]:
        """The session's params (read only)."""
        return self._run.s.params

    @property
    def metadata(self) -> Mapping[str, Any]:
        """The session's metadata (read only)."""
        return self._run.s.metadata

    # --- variables ------------------------------------------------------------------------

    def get(self, name: str, default: Any = None) -> Any:
        """A variable of this unit, or ``other_unit.name`` of another one; ``default`` if unset."""
        value = lookup(self._run.s, name)
        return default if value is None else value

    def set(self, name: str, value: Any) -> None:
        """Set a variable of this unit (a JSON-like value)."""
        if not isinstance(name, str) or not name or "." in name:
            raise InvalidInput(f"{name!r} is not a variable name (no dots, not empty)")
        try:
            value = msgspec.to_builtins(value)
        except TypeError as exc:
            raise InvalidInput(f"variable {name!r} cannot hold {type(value).__name__}") from exc
        self._run.emit("variable_set", name=name, value=value)

    def delete(self, name: str) -> None:
        """Unset a variable of this unit."""
        if name in self._run.s.unit_variables():
            self._run.emit("variable_cleared", name=name)

    @property
    def variables(self) -> dict[str, Any]:
        """A copy of this unit's variables."""
        return dict(self._run.s.unit_variables())

    # --- saying and asking ----------------------------------------------------------------

    def say(self, text: str) -> None:
        """Reply ``text`` now."""
        self._run.act(Reply(text=str(text)))

    def ask(
        self, prompt: str, *, timeout: float | None = None, on_timeout: str | None = None
    ) -> None:
        """Reply ``prompt`` and wait for the answer (in this state, or the one ``next`` names).

        With ``timeout`` (seconds) the wait is due then; a timeout input runs state function
        ``on_timeout`` (default: this state's) with ``ctx.timed_out`` and ``ctx.timeouts``.
        """
        if timeout is not None and (not isinstance(timeout, int | float) or timeout <= 0):
            raise InvalidInput(f"timeout must be a positive number of seconds, not {timeout!r}")
        self.say(prompt)
        self._ask = {"prompt": [str(prompt)], "timeout": timeout, "on_timeout": on_timeout}

    def next(self, state: str) -> None:
        """The next input goes to ``state``."""
        self._next = self._check(state)

    def run(self, state: str) -> None:
        """Run ``state`` now (after this function returns), with the same input."""
        self._goto = self._check(state)

    def end(self, reason: str = "dialog ended") -> None:
        """This unit is done: back to the unit that called it, or the end of the session."""
        self._end = reason

    # --- helpers --------------------------------------------------------------------------

    def match(self, pattern: str, text: str | None = None) -> Slots | None:
        """Search ``pattern`` in ``text`` (the input, case-insensitive).

        Returns the named groups as slots (a dict that is true even when empty), or None.
        """
        subject = self.text if text is None else text
        if subject is None:
            return None
        found = re.search(pattern, subject, re.IGNORECASE)
        if found is None:
            return None
        return Slots({k: v for k, v in found.groupdict().items() if v is not None})

    def _check(self, state: str) -> str:
        unit = self._run.model.units[self._run.s.unit]
        if state not in unit.states:
            raise ModelError(
                f"code unit {unit.name!r} has no state {state!r}; it has: "
                + ", ".join(unit.states),
                unit=unit.name,
                state=state,
            )
        return state


def is_code_unit(run: Run) -> bool:
    """True when the session is in a unit written as Python functions."""
    unit = run.model.units.get(run.s.unit)
    return unit is not None and unit.python is not None


def run_state(
    run: Run, state: str, *, text: str | None, handler: str | None = None, timeout: bool = False
) -> None:
    """Call a state function (or a timeout handler) and carry out what it decided."""
    unit = run.model.units[run.s.unit]
    name = handler or state
    while True:
        fn = unit.python.functions.get(name)
        if fn is None:
            raise ModelError(f"code unit {unit.name!r} has no state {name!r}", state=name)
        ctx = Context(run, text=text, timed_out=timeout)
        try:
            fn(ctx)
        except DialoghubError:
            raise
        except Exception as exc:
            raise ModelError(
                f"state {name!r} of code unit {unit.name!r} raised {type(exc).__name__}: {exc}",
                unit=unit.name,
                state=name,
            ) from exc
        if ctx._end is not None:
            dialog.leave_unit(run, ctx._end)
            return
        if ctx._goto is not None:
            run.count_entry(ctx._goto)
            run.emit("state_entered", state=ctx._goto)
            name, timeout = ctx._goto, False
            continue
        break
    if ctx._next is not None and ctx._next != run.s.state:
        run.emit("state_entered", state=ctx._next)
    asked = ctx._ask or {}
    extra: dict[str, Any] = {}
    if asked.get("timeout") is not None:
        extra = {"timeout": asked["timeout"], "due_at": run.now + asked["timeout"]}
        if asked.get("on_timeout") is not None:
            extra["on_timeout"] = ctx._check(asked["on_timeout"])
    run.wait_for_user(asked.get("prompt"), say=False, immediate=bool(asked), extra=extra)


def timed_out(run: Run, aw: dict[str, Any]) -> None:
    """A timeout in a code unit: run the question's handler (or the state) with timed_out."""
    run_state(run, run.s.state, text=None, handler=aw.get("on_timeout"), timeout=True)
