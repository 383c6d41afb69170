"""The compiled model: immutable plain data the engine runs.

A state's ``do`` list is compiled into a flat list of instructions (a tiny program) with
conditional jumps for ``if``/``else``, so the place where a session paused (for a command
result) is one integer, ``pc``, that survives storage and replay.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dialoghub.model.chart import Chart
from dialoghub.model.conditions import Condition
from dialoghub.model.templates import Template
from dialoghub.nlu.types import EntitySpec

if TYPE_CHECKING:
    from dialoghub.nlu.recognizer import Recognizer

__all__ = [
    "Branch",
    "Call",
    "Clear",
    "CommandSpec",
    "Confirm",
    "End",
    "Goto",
    "Handler",
    "Instruction",
    "IntentDef",
    "Jump",
    "Listen",
    "Model",
    "Prompt",
    "Return",
    "RunCommand",
    "Say",
    "SetVar",
    "SlotSpec",
    "State",
    "Transcribe",
    "Transition",
    "Unit",
    "Webhook",
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


@dataclass(frozen=True, slots=True)
class Prompt:
    """A question: its wordings (the first asks, the others re-ask), and what a timeout does.

    ``timeout`` seconds without an answer re-ask up to ``retries`` times, each time with the
    next wording (the last one repeats); one more timeout enters state ``then`` (None: the
    session ends). Without ``timeout`` the question never times out by itself, though a
    :class:`~dialoghub.engine.records.Timeout` input still re-asks it.
    """

    wordings: tuple[Template, ...]
    timeout: float | None = None
    retries: int = 0
    then: str | None = None


@dataclass(frozen=True, slots=True)
class Listen:
    """Wait for the user in the middle of a state's code (stories: ``ask`` / ``listen`` steps).

    The answer's intent goes to the variable ``intent`` (None when nothing matched) and its
    slots to variables, then the code goes on after this instruction.
    """

    prompt: Prompt | None = None


@dataclass(frozen=True, slots=True)
class Call:
    """Run unit ``unit`` as one step: push a frame, enter its start, resume here on return."""

    unit: str


@dataclass(frozen=True, slots=True)
class Return:
    """Leave the current unit: back to where it was called (or end the session if nobody did)."""


Instruction = (
    Say
    | RunCommand
    | SetVar
    | Clear
    | Branch
    | Jump
    | Goto
    | End
    | Transcribe
    | Listen
    | Call
    | Return
)

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
    #: without a target, ask the question the session was waiting on again (a global
    #: intent's handler: "help" answers, then the pending question comes back)
    reask: bool = False


@dataclass(frozen=True, slots=True)
class Confirm:
    """A yes/no confirmation: on a state (``yes``/``no`` targets) or an intent (targets None)."""

    prompt: Template
    yes: str | None = None
    no: str | None = None


@dataclass(frozen=True, slots=True)
class State:
    """One state of a dialog."""

    name: str
    code: tuple[Instruction, ...] = ()
    ask: Template | None = None  # a question: reply, then wait immediately (prompt's 1st wording)
    prompt: Prompt | None = None  # the whole question: wordings, timeout, retries, then
    confirm: Confirm | None = None  # after the code: ask yes/no, go to confirm.yes / .no
    waits: bool = False  # waits for input after its code (ask, on, or wait: true)
    on: Mapping[str, tuple[Transition, ...]] = field(default_factory=dict)
    next: tuple[Transition, ...] = ()  # taken right after the code when the state does not wait
    final: bool = False
    no_match: Handler | None = None
    not_allowed: Handler | None = None
    timeout: Handler | None = None
    ambiguous: Handler | None = None
    wake_word: bool | None = None  # None: the model's default
    line: int = 0
    #: the model's global intents this state takes (None: all of them; ``global: false``
    #: is the empty set)
    globals: frozenset[str] | None = None


# --- vocabulary -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SlotSpec:
    """A slot of an intent: the entity it holds and, if required, the question asking it."""

    name: str
    entity: str
    required: bool = False
    prompt: Template | None = None
    reprompts: tuple[Template, ...] = ()  # other wordings, used when asking again
    #: a follow-up that does not say this slot keeps its last value ("and tomorrow?" keeps
    #: the city); a slot that does not carry is cleared when its intent comes again
    carry: bool = False
    #: how many times the question is asked before giving up (None: the model's max_tries)
    tries: int | None = None
    give_up: Handler | None = None  # what giving up does (None: the model's give_up)


@dataclass(frozen=True, slots=True)
class IntentDef:
    """An intent with example utterances and slots."""

    name: str
    examples: tuple[str, ...]
    slots: tuple[SlotSpec, ...] = ()
    confirm: Confirm | None = None  # asked once the required slots are filled
    interrupt: str | None = None  # a unit this intent runs from any waiting state, then resumes


@dataclass(frozen=True, slots=True)
class Webhook:
    """Fulfil a command by POSTing its inputs as JSON to ``url``; the JSON answer has outputs."""

    url: str
    timeout: float = 10.0
    #: Redirects are refused (an error) unless the model asks to follow them.
    follow_redirects: bool = False


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """A command the application runs: declared inputs and outputs (outputs become variables)."""

    name: str
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    webhook: Webhook | None = None  # the Runner calls it when no plugin answers the command


@dataclass(frozen=True, slots=True)
class Unit:
    """A dialog unit: its own states and variable scope.

    ``python`` is set for a unit written as Python functions (a
    :class:`~dialoghub.model.codeunit.CodeUnit`); its ``states`` then only name the functions.
    """

    name: str
    start: str
    states: Mapping[str, State]
    python: Any = None


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
    ambiguous: Handler | None = None
    ambiguity_margin: float = 0.0  # two intents closer than this are ambiguous (0: never)
    # Seconds a session may stay idle / exist at all before it expires: {"idle", "absolute"}.
    lifetime: Mapping[str, float] | None = None
    wake_word: bool = False
    # Text (or an ASR result) for an ended session starts its dialog again, variables kept
    # (NaifJs' request(user, text)); without it such input is refused as SessionClosed.
    restart_on_request: bool = False
    source: str = "<model>"
    units: Mapping[str, Unit] = field(default_factory=dict)  # every unit, ``unit`` included
    # A statechart model (an XState machine) runs on the engine's interpreter instead of the
    # dialog steps; ``states`` then lists its node ids. ``chart_registry`` is what the
    # application registered for it (a ``dialoghub.engine.chart.Registry``: guards, actions).
    chart: Chart | None = None
    chart_registry: Any = None
    #: the chart's prompts are reply templates (a dialog model whose states nest), rendered
    #: with the session's variables; an XState machine's ``meta.prompt`` is plain text
    templated_prompts: bool = False
    #: intents every waiting state takes unless it opts out (``global``): cancel, help,
    #: goodbye, start over; each runs its handler (a target state, or code then the pending
    #: question again)
    globals: Mapping[str, Handler] = field(default_factory=dict)
    #: a slot question is asked at most this many times, then ``give_up`` runs (None: ask
    #: for ever)
    max_tries: int | None = 3
    give_up: Handler | None = None
    #: loading notes that do not stop the model (a template that can render blanks ...)
    warnings: tuple[Any, ...] = ()
    # The decision cycle (issue 10): which states specialists decide, who they are, the
    # consensus policy (a ``dialoghub.model.decisions.DecisionSpec``); None: no decisions.
    decision: Any = None

    def state(self, name: str, unit: str | None = None) -> State:
        """The state called ``name`` of ``unit`` (the main unit); KeyError if there is none."""
        if unit is None or unit == self.unit:
            return self.states[name]
        return self.units[unit].states[name]

    def has_state(self, unit: str, name: str) -> bool:
        """True when ``unit`` exists and has a state ``name``."""
        u = self.units.get(unit)
        if u is None:
            return unit == self.unit and name in self.states
        return name in u.states
