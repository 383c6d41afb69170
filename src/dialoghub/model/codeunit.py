"""Dialog units written as Python functions, one per state.

A :class:`CodeUnit` is a named set of state functions. Each takes one argument, the per-call
:class:`~dialoghub.engine.code.Context`, which says which session is served and is the only
way the function acts: it says, asks (with a timeout and a timeout handler that sees a
counter), picks the state for the next input, runs another state now, ends, reads and writes
the unit's variables and matches regular expressions. Every one of those becomes an event,
exactly like a data unit's steps, so code units are stored and replayed the same way.

**Code units must be deterministic**: they run inside the pure step function, and replaying a
log never calls them again, but a retried update (after losing a compare-and-set) does. Use
only the context (``ctx.now`` for the time, the variables for memory); no I/O, no clock, no
randomness, no globals that change. Work that needs I/O is a command.

Example::

    unit = CodeUnit("getname")

    @unit.state
    def start(ctx):
        ctx.ask("What's your name?", timeout=10, on_timeout="no_answer")
        ctx.next("got_name")
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, overload

from dialoghub.errors import CodeUnitError
from dialoghub.model.spec import State, Unit

if TYPE_CHECKING:
    from dialoghub.model.spec import Model

__all__ = [
    "NOT_FROM_POSTED",
    "CodeUnit",
    "CodeUnitError",
    "load_code_unit",
    "model_from_code",
    "unit_of_code",
]

StateFunction = Callable[[Any], None]
F = TypeVar("F", bound=StateFunction)

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class CodeUnit:
    """A dialog unit whose states are Python functions.

    ``start`` is the state a session (or a call of the unit) begins in; by default the first
    function registered.
    """

    def __init__(self, name: str, *, start: str | None = None, description: str = "") -> None:
        if not _NAME.fullmatch(name):
            raise CodeUnitError(f"unit name {name!r} may use letters, digits and '_' only")
        self.name = name
        self._start = start
        self.description = description
        self.functions: dict[str, StateFunction] = {}

    @overload
    def state(self, fn: F) -> F: ...
    @overload
    def state(self, fn: None = None, *, name: str | None = None) -> Callable[[F], F]: ...
    def state(self, fn: F | None = None, *, name: str | None = None) -> F | Callable[[F], F]:
        """Register a state function (a decorator, with or without ``name=``)."""

        def register(f: F) -> F:
            key = name or f.__name__
            if key in self.functions:
                raise CodeUnitError(f"unit {self.name!r} already has a state {key!r}")
            self.functions[key] = f
            return f

        return register(fn) if fn is not None else register

    @property
    def start(self) -> str:
        """The first state."""
        if self._start is not None:
            if self._start not in self.functions:
                raise CodeUnitError(f"unit {self.name!r} has no state {self._start!r} to start in")
            return self._start
        if not self.functions:
            raise CodeUnitError(f"unit {self.name!r} has no state functions")
        return next(iter(self.functions))

    def __repr__(self) -> str:
        return f"CodeUnit({self.name!r}, states={list(self.functions)})"


#: why a model that did not come from a file the operator loaded has no code units
NOT_FROM_POSTED = "code units are not loaded from posted models"


def load_code_unit(
    ref: str, *, base: Path | None = None, from_model: bool = False
) -> CodeUnit:
    """The CodeUnit of a module (``pkg.module``) or a file (``dialog.py``, relative to ``base``).

    The module's ``unit`` attribute is used if it is a CodeUnit; otherwise its only CodeUnit.
    ``from_model``: ``ref`` is a model's ``python:``, so importing it runs code the model
    names. It is loaded only if ``base`` is given (the folder of the model file the operator
    loaded, against which a relative file is found, never the working directory); a model
    without one (posted over the network) is refused before anything is imported.
    """
    if from_model and base is None:
        raise CodeUnitError(NOT_FROM_POSTED)
    if ref.endswith(".py"):
        path = Path(ref) if base is None or Path(ref).is_absolute() else base / ref
        if not path.is_file():
            raise CodeUnitError(f"no Python file {str(path)!r}")
        modname = f"dialoghub_unit_{abs(hash(str(path.resolve())))}"
        module = sys.modules.get(modname)
        if module is None:
            spec = importlib.util.spec_from_file_location(modname, path)
            if spec is None or spec.loader is None:
                raise CodeUnitError(f"cannot load {str(path)!r}")
            module = importlib.util.module_from_spec(spec)
            try:
                spec.loader.exec_module(module)
            except Exception as exc:
                raise CodeUnitError(f"{str(path)!r} raised {type(exc).__name__}: {exc}") from exc
            sys.modules[modname] = module
    else:
        try:
            module = importlib.import_module(ref)
        except Exception as exc:
            raise CodeUnitError(f"cannot import {ref!r}: {type(exc).__name__}: {exc}") from None
    found = getattr(module, "unit", None)
    if not isinstance(found, CodeUnit):
        units = [v for v in vars(module).values() if isinstance(v, CodeUnit)]
        if len(units) != 1:
            raise CodeUnitError(
                f"{ref!r} must define one CodeUnit (or one named 'unit'); found {len(units)}"
            )
        found = units[0]
    try:
        found.start  # noqa: B018 - checks the unit has states
    except CodeUnitError as exc:
        raise CodeUnitError(f"{ref!r}: {exc}") from None
    return found


def unit_of_code(code_unit: CodeUnit, name: str | None = None) -> Unit:
    """The Unit of a CodeUnit: one waiting state per function."""
    states = {fn: State(name=fn, waits=True) for fn in code_unit.functions}
    return Unit(name or code_unit.name, code_unit.start, states, python=code_unit)


def model_from_code(
    code_unit: CodeUnit, *, model_id: str | None = None, version: str = "1"
) -> Model:
    """A model made of one code unit (what ``Hub.add_code_unit`` registers)."""
    from dialoghub.model.spec import Model
    from dialoghub.nlu.recognizer import Recognizer

    unit = unit_of_code(code_unit)
    return Model(
        id=model_id or code_unit.name,
        version=version,
        start=unit.start,
        states=unit.states,
        intents={},
        entities={},
        commands={},
        recognizer=Recognizer([], []),
        unit=unit.name,
        description=code_unit.description,
        source=f"<code unit {code_unit.name}>",
        units={unit.name: unit},
    )
