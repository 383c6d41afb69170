"""The plain records the engine works on: sessions, inputs, actions and events.

They are msgspec structs so every store and the server encode them the same way, fast, and
decode them strictly. Inputs and actions are *tagged* unions: ``{"type": "text", ...}``.

The :class:`Session` is a snapshot: the fold of its events (see :mod:`dialoghub.engine.fold`).
Nothing but :func:`dialoghub.engine.fold.apply` changes one.

The records every update makes and keeps alive while its write is in flight (sessions, events,
commands) are declared ``gc=False``: they hold plain data (builtins and other records), never
a reference back to themselves, so they cannot close a reference cycle, and leaving them out
of the cyclic garbage collector's generations makes its collections fewer and shorter (they
cost the event loop about a fifth of its time under load). A caller that builds a cycle
through one (a dict stored in a session's variables that holds the session) leaks it.
"""

from __future__ import annotations

import enum
from typing import Any

import msgspec

__all__ = [
    "ASR",
    "Action",
    "AgentRecord",
    "Answers",
    "CommandAction",
    "CommandResult",
    "End",
    "EndAction",
    "Event",
    "EventInput",
    "Expire",
    "Input",
    "Jump",
    "MemoryOp",
    "Override",
    "PairVote",
    "Propose",
    "Reply",
    "Session",
    "SetAlarm",
    "SetLock",
    "SetVariables",
    "Status",
    "Text",
    "Timeout",
    "Timer",
    "Transcribe",
    "Vote",
    "WaitForUser",
]


class Status(enum.StrEnum):
    """Lifecycle of a session."""

    ACTIVE = "active"  # takes input
    ENDED = "ended"  # reached a final state or was ended explicitly
    EXPIRED = "expired"  # idle or absolute lifetime ran out


# --- inputs -----------------------------------------------------------------------------


class Text(msgspec.Struct, tag="text", kw_only=True, frozen=True):
    """What the user typed."""

    text: str


class ASR(msgspec.Struct, tag="asr", kw_only=True, frozen=True):
    """A speech recognizer's final transcript, with its confidence in [0, 1]."""

    text: str
    confidence: float = 1.0


class CommandResult(msgspec.Struct, tag="command_result", kw_only=True, frozen=True):
    """The answer to a :class:`CommandAction`; ``id`` must be the awaited command's."""

    id: str
    outputs: dict[str, Any] = {}
    error: str | None = None


class Jump(msgspec.Struct, tag="jump", kw_only=True, frozen=True):
    """Move the session to ``state`` (set story), optionally replacing its memory."""

    state: str
    params: dict[str, Any] | None = None
    variables: dict[str, Any] | None = None  # replaces the current unit's variables if given


class SetVariables(msgspec.Struct, tag="set_variables", kw_only=True, frozen=True):
    """Set variables of a unit (the current one if ``unit`` is None); the flow does not move."""

    variables: dict[str, Any]
    unit: str | None = None


class Timeout(msgspec.Struct, tag="timeout", kw_only=True, frozen=True):
    """The user did not answer in time (delivered by the application or a timer)."""

    name: str = "prompt"


class EventInput(msgspec.Struct, tag="event", kw_only=True, frozen=True):
    """A named event, as the transitions of an XState-style machine expect."""

    name: str
    params: dict[str, Any] | None = None


class End(msgspec.Struct, tag="end", kw_only=True, frozen=True):
    """End the session now."""

    reason: str = "ended by request"


class Expire(msgspec.Struct, tag="expire", kw_only=True, frozen=True):
    """The session's idle or absolute lifetime ran out (delivered by the timer service)."""

    reason: str = "lifetime ran out"


# --- routing (issue 12): session memory, session locks, alarms -------------------------
# Each is an update like any other (one compare-and-set), recorded as events the fold
# applies; the flow does not move: the update repeats what the session was waiting for.


class MemoryOp(msgspec.Struct, tag="memory", kw_only=True, frozen=True):
    """Change the session's memory namespace: ``op`` is ``set`` (``key`` to ``value``),
    ``delete`` (``key``), or ``increment`` (``key`` by ``value``, 1 if None; a missing key
    counts from 0). ``expected`` (``set`` only, when given) is a compare-and-set on the
    key's current value (None: absent)."""

    op: str
    key: str
    value: Any = None
    expected: Any = None
    check: bool = False  # True: compare against ``expected`` before setting


class SetLock(msgspec.Struct, tag="lock", kw_only=True, frozen=True):
    """Set or release client ``client``'s session locks (Galaxy's): ``read`` (the client
    reads only this session's messages), ``write`` (this session writes only to it),
    ``assign`` (its new messages belong to this session), ``permanent`` (kept when the
    session ends, until released). ``release`` drops the client's locks. ``fence`` is the
    routing layer's fencing token of the client-wide lock record, recorded for audit."""

    client: str
    read: bool = False
    write: bool = False
    assign: bool = False
    permanent: bool = False
    release: bool = False
    fence: int = 0


class SetAlarm(msgspec.Struct, tag="alarm", kw_only=True, frozen=True):
    """Arm the session's alarm ``name`` to fire ``seconds`` from now (re-arming moves it);
    ``seconds`` None cancels it. The timer service delivers it once, as ``alarm_fired``."""

    name: str
    seconds: float | None = None


# --- agent rounds (issue 11): what a round keeps on its session ------------------------


class AgentRecord(msgspec.Struct, tag="agent_record", kw_only=True, frozen=True):
    """A durable fact of an agent round (:mod:`dialoghub.agent`), recorded on its session.

    ``kind`` is ``round_started``, ``post`` (one completed post, stored once),
    ``round_ended``, ``variables`` (session variables set between rounds) or ``stopped``;
    ``data`` is what
    the agent keeps of it; ``variables`` are set in the session's current unit in the same
    update. Streamed chunks never come here, only what a round completed.
    """

    kind: str
    data: dict[str, Any] = {}
    variables: dict[str, Any] = {}


# --- decision cycle (issue 10): engine/decision.py ------------------------------------
# ``by`` is who sent an answer (the server sets it from the API key: {"key_id", "tenant"});
# it is recorded on the event, and no request body over the network may set it.


class Propose(msgspec.Struct, tag="propose", kw_only=True, frozen=True):
    """A specialist's proposal for the open decision round: a transition, why, its params.

    ``invalid`` records an answer that was no valid proposal (an LLM's unreadable reply):
    kept on the log and counted against the solicitation's retries."""

    round: str
    specialist: str
    transition: str | None = None
    reasoning: str = ""
    params: dict[str, Any] | None = None
    correlation: str | None = None
    invalid: str | None = None
    cost: float | None = None
    latency: float | None = None
    tokens: int | None = None
    by: dict[str, Any] | None = None


class PairVote(msgspec.Struct, kw_only=True, frozen=True):
    """One pairwise vote: proposals ``a`` and ``b`` compared; ``vote`` is A, B, both, neither."""

    a: str
    b: str
    vote: str


class Vote(msgspec.Struct, tag="vote", kw_only=True, frozen=True):
    """A specialist's pairwise votes between the open round's proposals."""

    round: str
    specialist: str
    votes: list[PairVote] = []
    reasoning: str = ""
    correlation: str | None = None
    invalid: str | None = None  # an unusable reply, recorded and counted like a proposal's
    cost: float | None = None
    latency: float | None = None
    tokens: int | None = None
    by: dict[str, Any] | None = None


class Override(msgspec.Struct, tag="override", kw_only=True, frozen=True):
    """A person decides a decision state's transition directly (a parked round, an urgent
    case); recorded as ``transition_executed`` with source ``override``."""

    transition: str
    params: dict[str, Any] | None = None
    reason: str = ""
    round: str | None = None
    by: dict[str, Any] | None = None


class Answers(msgspec.Struct, tag="answers", kw_only=True, frozen=True):
    """Several specialists' answers to one round in one update (the driver gathers its AI
    specialists' answers of a phase): each is applied, and recorded, as if sent alone."""

    items: list[Propose | Vote]


Input = (
    Text | ASR | CommandResult | Jump | SetVariables | Timeout | EventInput | End | Expire
    | MemoryOp | SetLock | SetAlarm | AgentRecord | Propose | Vote | Override | Answers
)


# --- actions ----------------------------------------------------------------------------


class WaitForUser(msgspec.Struct, tag="wait_for_user", kw_only=True, frozen=True):
    """Get the next input from the user; needs an update.

    ``immediate`` means the user was just asked something and should be listened to now;
    otherwise the system is idle. ``requires_wake_word`` asks the front end to wait for its
    wake word before listening.
    """

    immediate: bool = False
    requires_wake_word: bool = False


class CommandAction(msgspec.Struct, tag="command", kw_only=True, frozen=True, gc=False):
    """Run command ``id`` with ``params``; its result must come back as a CommandResult."""

    id: str
    params: dict[str, Any] = {}


class Reply(msgspec.Struct, tag="reply", kw_only=True, frozen=True):
    """Show or speak ``text``; needs no update."""

    text: str


class Transcribe(msgspec.Struct, tag="transcribe", kw_only=True, frozen=True):
    """Take free dictation into variable ``variable``; needs no update of the flow."""

    variable: str = "transcript"


class EndAction(msgspec.Struct, tag="end", kw_only=True, frozen=True):
    """The session is over."""

    reason: str = ""


Action = WaitForUser | CommandAction | Reply | Transcribe | EndAction

#: Actions after which the application must call back (or stop): every list ends with one.
TERMINAL_ACTIONS = (WaitForUser, CommandAction, EndAction)


# --- events -----------------------------------------------------------------------------


class Event(msgspec.Struct, kw_only=True, frozen=True, array_like=True, gc=False):
    """One immutable entry of a session's log.

    ``seq`` numbers a session's events 1, 2, 3, ... without gaps; ``version`` is the session
    version the event produced (every event of one update shares it); ``time`` is seconds
    since the epoch; ``type`` and ``data`` say what happened.
    """

    seq: int
    version: int
    time: float
    type: str
    data: dict[str, Any] = {}


# --- the session ------------------------------------------------------------------------

#: The timer name that delivers :class:`Expire`; any other name delivers ``Timeout(name)``.
EXPIRE = "expire"
#: Timer names of session alarms: ``alarm:NAME``, delivered as ``Timeout("alarm:NAME")``.
ALARM_PREFIX = "alarm:"
#: The timer name of a decision round's solicitation deadline (``Timeout("decision")``).
DECISION_TIMER = "decision"


class Timer(msgspec.Struct, array_like=True, frozen=True):
    """A session's next timer: at ``due_at``, deliver the input ``name`` stands for."""

    due_at: float
    name: str


class Session(msgspec.Struct, kw_only=True, gc=False):
    """The snapshot of one session: exactly the fold of its events."""

    id: str
    tenant: str = "default"
    model_id: str
    model_version: str
    unit: str  # the unit (dialog) the session is in
    state: str  # the state within that unit
    params: dict[str, Any] = {}
    variables: dict[str, dict[str, Any]] = {}  # unit -> name -> value
    metadata: dict[str, Any] = {}  # fixed at creation
    status: Status = Status.ACTIVE
    active: bool = True  # NaifJs' flag: a dialog is running for this user
    version: int = 0  # +1 per update
    seq: int = 0  # sequence number of the last event
    created_at: float = 0.0
    updated_at: float = 0.0
    last_request: dict[str, Any] | None = None
    last_response: dict[str, Any] | None = None
    # What the session waits for and where the flow resumes; engine-private but stored.
    awaiting: dict[str, Any] | None = None
    # Call stack of sub-dialogs: each frame is {"unit", "state", "step"} to return to.
    stack: list[dict[str, Any]] = []
    counters: dict[str, int] = {}  # e.g. re-prompts of the current question
    # Lifetimes in seconds ({"idle": ..., "absolute": ...}), fixed at creation.
    lifetime: dict[str, float] | None = None
    # When the session expires (idle or absolute, whichever comes first); None: never/ended.
    expires_at: float | None = None
    # When the awaited question times out (the awaiting record's ``due_at``); None: no timeout.
    due_at: float | None = None
    # A statechart session (a model with a chart): every active state node id, ancestors
    # included, in document order; ``state`` is then the XState state value as text. Empty
    # for a dialog model, which pays nothing for it.
    configuration: list[str] = []
    # A statechart's bookkeeping, engine-private but stored: {"history": {node: [ids]},
    # "armed": [{"event", "due_at", "n"}], "invoked": [ids], "counter": n, "output": ...}.
    chart: dict[str, Any] | None = None
    # Routing (issue 12): the session memory namespace (shared by every client serving the
    # session); locks by client name ({"read", "write", "assign", "permanent", "fence"});
    # armed alarms by name (when each is due).
    memory: dict[str, Any] = {}
    locks: dict[str, dict[str, Any]] = {}
    alarms: dict[str, float] = {}
    # Agent rounds (issue 11): {"round": the last round's id, "status", "rounds": how many,
    # "seq": the last live event number, "owner", "deadline"}; None until a first round.
    agent: dict[str, Any] | None = None
    # Decision cycle (issue 10): {"n": rounds opened, "round": the open round (id, state,
    # phase, attempt, pending solicitations, proposals, votes, due_at), "history": the last
    # decisions}; None for a model without decision states.
    decision: dict[str, Any] | None = None

    @property
    def ended(self) -> bool:
        """True when the session takes no more input."""
        return self.status is not Status.ACTIVE

    @property
    def timer(self) -> Timer | None:
        """The next timer input this session needs, derived from the snapshot; None if none.

        Stores index it (due time, name, version) in the same write as the snapshot, so a
        timer service finds due sessions without decoding any.
        """
        if self.ended:
            return None
        timer: Timer | None = None
        if self.due_at is not None:
            timer = Timer(self.due_at, "prompt")
        if self.chart is not None:  # a statechart's delayed (``after``) events
            for armed in self.chart.get("armed", ()):
                if timer is None or armed["due_at"] < timer.due_at:
                    timer = Timer(armed["due_at"], armed["event"])
        for name, due in self.alarms.items():  # routing's session alarms (issue 12)
            if timer is None or due < timer.due_at:
                timer = Timer(due, ALARM_PREFIX + name)
        if self.decision is not None:  # the open round's next solicitation deadline
            due_at = (self.decision.get("round") or {}).get("due_at")
            if due_at is not None and (timer is None or due_at < timer.due_at):
                timer = Timer(due_at, DECISION_TIMER)
        if self.expires_at is not None and (timer is None or self.expires_at <= timer.due_at):
            timer = Timer(self.expires_at, EXPIRE)
        return timer

    def unit_variables(self, unit: str | None = None) -> dict[str, Any]:
        """The variables of ``unit`` (the current unit by default)."""
        return self.variables.get(unit or self.unit, {})
