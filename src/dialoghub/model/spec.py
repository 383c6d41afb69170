"""The compiled model: immutable plain data the engine runs.

A state's ``do`` list is compiled into a flat list of instructions (a tiny program) with
conditional jumps for ``if``/``else``, so the place where a session paused (for a command
result) is one integer, ``pc``, that survives storage and replay.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dialoghub.model.conditions import Condition
from dialoghub.model.templates import Template
from dialoghub.nlu.types import EntitySpec

if TYPE_CHECKING:
    from dialoghub.nlu.recognizer import Recognizer

__all__ = [
    "Branch",
    "Clear",
    "CommandSpec",
    "End",
    "Goto",
    "Handler",
    "Instruction",
    "IntentDef",
    "Jump",
    "Model",
    "RunCommand",
    "Say",
    "SetVar",
    "SlotSpec",
    "State",
    "Transcribe",
    "Transition",
]

# --- instructions -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Say:
    """Reply with the rendered template."""

    text: Template


@dataclass(frozen=True, slots=True)
class RunCommand:
    """Emit a command action and pause until its result arrives.

    ``params`` maps each declared input to a literal or a Template; inputs not given are taken
    from the variables of the same name. ``on_error`` is the state entered when the result
    carries an error (None: the model's default).
    """

    command: str
    params: Mapping[str, Any]
    on_error: str | None = None


@dataclass(frozen=True, slots=True)
class SetVar:
    """Change one variable: ``op`` is ``set``, ``increment`` or ``append``."""

    name: str
    value: Any  # a literal, or a Template rendered at run time
    op: str = "set"


@dataclass(frozen=True, slots=True)
class Clear:
    """Unset variables."""

    names: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Branch:
    """Continue at ``target`` (an instruction index) unless ``when`` holds."""

    when: Condition
    target: int


@dataclass(frozen=True, slots=True)
class Jump:
    """Continue at instruction ``target``."""

    target: int


@dataclass(frozen=True, slots=True)
class Goto:
    """Enter another state now (its instructions run in the same update)."""

    state: str


@dataclass(frozen=True, slots=True)
class End:
    """End the session."""

    reason: str = "dialog ended"


@dataclass(frozen=True, slots=True)
class Transcribe:
    """Ask the front end for free dictation into ``variable``."""

    variable: str


Instruction = Say | RunCommand | SetVar | Clear | Branch | Jump | Goto | End | Transcribe

# --- states ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Transition:
    """Go to ``target`` when ``when`` holds (None: always). First match wins."""

    target: str
    when: Condition | None = None


@dataclass(frozen=True, slots=True)
class Handler:
    """What to do on no match, a not-allowed intent or a timeout: run code, then go or stay."""

    code: tuple[Instruction, ...] = ()
    target: str | None = None  # None: stay in the state and wait again


@dataclass(frozen=True, slots=True)
class State:
    """One state of a dialog."""

    name: str
    code: tuple[Instruction, ...] = ()
    ask: Template | None = None  # a question: reply, then wait immediately
    waits: bool = False  # waits for input after its code (ask, on, or wait: true)
    on: Mapping[str, tuple[Transition, ...]] = field(default_factory=dict)
    next: tuple[Transition, ...] = ()  # taken right after the code when the state does not wait
    final: bool = False
    no_match: Handler | None = None
    not_allowed: Handler | None = None
    timeout: Handler | None = None
    wake_word: bool | None = None  # None: the model's default
    line: int = 0


# --- vocabulary -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SlotSpec:
    """A slot of an intent: the entity it holds and, if required, the question asking it."""

    name: str
    entity: str
    required: bool = False
    prompt: Template | None = None


@dataclass(frozen=True, slots=True)
class IntentDef:
    """An intent with example utterances and slots."""

    name: str
    examples: tuple[str, ...]
    slots: tuple[SlotSpec, ...] = ()


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """A command the application runs: declared inputs and outputs (outputs become variables)."""

    name: str
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()


# --- the model ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, eq=False)
class Model:
    """A loaded, validated, runnable model."""

    id: str
    version: str
    start: str
    states: Mapping[str, State]
    intents: Mapping[str, IntentDef]
    entities: Mapping[str, EntitySpec]
    commands: Mapping[str, CommandSpec]
    recognizer: Recognizer
    events: frozenset[str] = frozenset()
    unit: str = "main"
    language: str = "en-US"
    sample_rate: int = 16000
    description: str = ""
    default_state: str | None = None  # the goal state: reaching it means "done"
    no_match: Handler | None = None
    not_allowed: Handler | None = None
    command_error: Handler | None = None
    wake_word: bool = False
    source: str = "<model>"

    def state(self, name: str) -> State:
        """The state called ``name``; KeyError if there is none."""
        return self.states[name]
