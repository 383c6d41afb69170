"""Will a new version of a model break the sessions of the old one?

A session rests in a state: one that waits for the user, a question, a confirmation, or a
paused command whose result is awaited. It is stored as (unit, state, step), so deploying a
new model version that removes or renames that state, or moves the step a command paused
at, leaves every session resting there pointing at nothing. :func:`compare` lists what
changed between two versions, each :class:`Change` marked breaking or not;
:func:`dialoghub.hub.compat.count_waiting` asks a hub how many active sessions actually rest
in each state a change concerns.

``dialoghub validate --against OLD NEW`` prints these and exits 1 when something breaks.

What breaks:

* a removed state in which sessions may rest (a rename is reported as such when the new
  version has one new state that looks like the old one);
* in a state that stays, a moved resume point: the command, question or unit call at step
  ``n`` of the old code is no longer at step ``n`` in the new;
* a removed intent or event that a resting state listens for;
* a removed command that a state runs (its pending results would be refused), and a
  removed output of a command that stays (the application still sends it).

Removing a state sessions only pass through is reported, but does not break anything.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from dialoghub.model.spec import Call, Instruction, Listen, Model, RunCommand, Say, State

__all__ = ["Change", "compare"]

_MAIN = "main"


@dataclass(frozen=True, slots=True)
class Change:
    """One difference between two versions of a model, and whether it breaks sessions."""

    kind: str  # state_removed, state_renamed, resume_moved, intent_removed, ...
    message: str
    breaking: bool
    unit: str = _MAIN
    state: str | None = None  # the old state sessions may rest in, if the change is about one
    sessions: int | None = None  # active sessions resting there (None: not counted)

    def __str__(self) -> str:
        mark = "BREAKING" if self.breaking else "note"
        count = "" if self.sessions is None else f" [{self.sessions} active session(s) there]"
        return f"{mark}: {self.message}{count}"


def _units(model: Model) -> dict[str, Mapping[str, State]]:
    units: dict[str, Mapping[str, State]] = {_MAIN: model.states}
    for name, unit in model.units.items():
        if name not in (_MAIN, model.unit) and unit.python is None:
            units[name] = unit.states
    return units


def _resume_points(state: State) -> tuple[tuple[int, str], ...]:
    """Where a session can pause inside the state's code: (step after it, what it waits for)."""
    out = []
    for pc, ins in enumerate(state.code):
        if isinstance(ins, RunCommand):
            out.append((pc + 1, f"command {ins.command}"))
        elif isinstance(ins, Listen):
            out.append((pc + 1, "an answer"))
        elif isinstance(ins, Call):
            out.append((pc + 1, f"unit {ins.unit}"))
    return tuple(out)


def _rests(state: State) -> bool:
    """Whether a session can be stored while in this state."""
    return bool(state.waits or state.confirm is not None or _resume_points(state))


def _fingerprint(state: State) -> str:
    """What a state says and does, without its name, to recognize it under a new name."""
    parts: list[str] = []
    if state.ask is not None:
        parts.append("ask " + state.ask.source)
    parts += [f"on {k}" for k in sorted(state.on)]
    parts += [_describe(i) for i in state.code]
    parts += [f"next {t.target}" for t in state.next]
    return "\n".join(parts)


def _describe(ins: Instruction) -> str:
    if isinstance(ins, Say):
        return "say " + ins.text.source
    if isinstance(ins, RunCommand):
        return "command " + ins.command
    return type(ins).__name__


def _renamed(old: State, added: Mapping[str, State]) -> str | None:
    """The one new state that looks most like ``old`` (None: none does, or two do equally)."""
    mine = _fingerprint(old)
    scored = sorted(
        (
            (difflib.SequenceMatcher(None, mine, _fingerprint(s)).ratio(), n)
            for n, s in added.items()
        ),
        reverse=True,
    )
    if not scored or scored[0][0] < 0.75:
        return None
    if len(scored) > 1 and scored[1][0] == scored[0][0]:
        return None
    return scored[0][1]


def _where(unit: str, state: str) -> str:
    return f"state {state!r}" if unit == _MAIN else f"state {state!r} of unit {unit!r}"


def _state_changes(old: Model, new: Model) -> Iterator[Change]:
    new_units = _units(new)
    for unit, states in _units(old).items():
        if unit not in new_units:
            for name, state in states.items():
                yield Change(
                    "state_removed",
                    f"{_where(unit, name)}: unit {unit!r} was removed",
                    _rests(state),
                    unit,
                    name,
                )
            continue
        new_states = new_units[unit]
        added = {n: s for n, s in new_states.items() if n not in states}
        for name, state in states.items():
            if name in new_states:
                before, after = _resume_points(state), _resume_points(new_states[name])
                if before and before != after:
                    was = ", ".join(f"{what} at step {pc}" for pc, what in before)
                    now = ", ".join(f"{what} at step {pc}" for pc, what in after) or "nothing"
                    yield Change(
                        "resume_moved",
                        f"{_where(unit, name)} pauses at other steps now ({was} -> {now}): "
                        "sessions paused there would resume at the wrong step",
                        True,
                        unit,
                        name,
                    )
                continue
            rests = _rests(state)
            why = "sessions may be waiting in it" if rests else "no session rests in it"
            target = _renamed(state, added)
            if target is not None:
                yield Change(
                    "state_renamed",
                    f"{_where(unit, name)} was renamed to {target!r} ({why})",
                    rests,
                    unit,
                    name,
                )
            else:
                yield Change(
                    "state_removed", f"{_where(unit, name)} was removed ({why})", rests, unit, name
                )


def _listeners(model: Model, name: str) -> list[tuple[str, str]]:
    return [
        (unit, s.name)
        for unit, states in _units(model).items()
        for s in states.values()
        if name in s.on and _rests(s)
    ]


def _vocabulary_changes(old: Model, new: Model) -> Iterator[Change]:
    for kind, old_names, new_names in (
        ("intent", set(old.intents), set(new.intents)),
        ("event", set(old.events), set(new.events)),
    ):
        for name in sorted(old_names - new_names):
            users = _listeners(old, name)
            where = ", ".join(_where(u, s) for u, s in users)
            yield Change(
                f"{kind}_removed",
                f"{kind} {name!r} was removed"
                + (f"; sessions waiting in {where} listen for it" if users else ""),
                bool(users),
                *(users[0] if users else (_MAIN, None)),
            )
    runs: dict[str, list[tuple[str, str]]] = {}
    for unit, states in _units(old).items():
        for s in states.values():
            for ins in s.code:
                if isinstance(ins, RunCommand):
                    runs.setdefault(ins.command, []).append((unit, s.name))
    for name, spec in sorted(old.commands.items()):
        if name not in new.commands:
            users = runs.get(name, [])
            where = ", ".join(_where(u, s) for u, s in users)
            yield Change(
                "command_removed",
                f"command {name!r} was removed"
                + (
                    f"; {where} run(s) it, so results still pending would be refused"
                    if users
                    else ""
                ),
                bool(users),
                *(users[0] if users else (_MAIN, None)),
            )
            continue
        gone = [o for o in spec.outputs if o not in new.commands[name].outputs]
        if gone:
            yield Change(
                "output_removed",
                f"command {name!r} no longer declares output(s) {gone}; results that still "
                "carry them would be refused",
                True,
            )


def compare(old: Model, new: Model) -> list[Change]:
    """Every change from ``old`` to ``new`` that matters to sessions, breaking ones first."""
    changes = [*_state_changes(old, new), *_vocabulary_changes(old, new)]
    return sorted(changes, key=lambda c: not c.breaking)
