"""The pure step function: ``step(model, session, input, now) -> Step``.

No I/O, no clock, no randomness: the same model, snapshot, input and time always give the
same new snapshot, actions and events. A refused input raises before anything is returned,
so the caller has nothing to store.

The flow inside one update: the input is recorded, interpreted (intent, slots, command
outputs, ...), and the session moves through states, running each state's instructions,
until it must wait: for the user, for a command result, or forever (it ended). Every change
goes through :meth:`_Run.emit`, which appends an event and applies it with
:func:`dialoghub.engine.fold.apply`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import msgspec

from dialoghub.engine import agent_ops, code, dialog, session_ops
from dialoghub.engine.fold import apply, copy_session
from dialoghub.engine.records import (
    ASR,
    TERMINAL_ACTIONS,
    Action,
    AgentRecord,
    CommandAction,
    CommandResult,
    End,
    EndAction,
    Event,
    EventInput,
    Expire,
    Input,
    Jump,
    Reply,
    Session,
    SetVariables,
    Status,
    Text,
    Timeout,
    Transcribe,
    WaitForUser,
)
from dialoghub.engine.scope import evaluate_value, lookup, lookup_in
from dialoghub.errors import (
    InvalidInput,
    ModelError,
    ModelMismatch,
    NoMatch,
    SessionClosed,
    UnexpectedInput,
    UnknownCommand,
)
from dialoghub.model import spec as m

__all__ = ["MAX_STATE_ENTRIES", "TIMEOUT_NAMES", "Step", "start", "step"]

#: More state entries than this in one update means the model loops without waiting.
MAX_STATE_ENTRIES = 100
#: The names a ``timeout`` input may carry: the timers a session sets (``Session.timer``;
#: a lifetime's ``expire`` is delivered as the ``Expire`` input, not as a timeout).
TIMEOUT_NAMES = frozenset({"prompt"})


@dataclass(frozen=True, slots=True)
class Step:
    """The result of one update: the new snapshot, the actions to carry out, the new events."""

    session: Session
    actions: tuple[Action, ...]
    events: tuple[Event, ...]


def start(
    model: m.Model,
    session_id: str,
    *,
    now: float,
    tenant: str = "default",
    metadata: dict[str, Any] | None = None,
    params: dict[str, Any] | None = None,
    lifetime: dict[str, float] | None = None,
) -> Step:
    """Create a session of ``model`` and run it up to its first wait.

    ``lifetime`` (``{"idle": seconds, "absolute": seconds}``) makes the session expire.
    """
    if model.chart is not None:  # a statechart: one XState macrostep per update
        from dialoghub.engine import chart_session  # the interpreter, only when a chart runs

        return Step(*chart_session.start(
            model, session_id, now=now, tenant=tenant, metadata=metadata or {},
            params=params or {}, lifetime=lifetime,
        ))
    run = _Run(model, None, now, version=1)
    extra: dict[str, Any] = {"lifetime": lifetime} if lifetime else {}
    run.emit(
        "session_started",
        id=session_id,
        tenant=tenant,
        model_id=model.id,
        model_version=model.version,
        unit=model.unit,
        state=model.start,
        metadata=metadata or {},
        params=params or {},
        **extra,
    )
    run.enter(model.start)
    return run.result()


def step(model: m.Model, session: Session, inp: Input, now: float) -> Step:
    """Apply one input to a session; raises an InputError (and returns nothing) if refused."""
    if session_ops.is_routing_input(inp):  # memory, locks, alarms (issue 12): any model
        return Step(*session_ops.step(session, inp, now))
    if isinstance(inp, AgentRecord):  # agent rounds (issue 11): any model
        return Step(*agent_ops.step(session, inp, now))
    if model.chart is None and type(inp).__name__ in ("Propose", "Vote", "Override", "Answers"):
        raise InvalidInput(f"model {model.id!r} has no decision states (issue 10: charts)")
    if model.chart is not None:
        from dialoghub.engine import chart_session

        return Step(*chart_session.step(model, session, inp, now))
    if session.ended:
        if (
            model.restart_on_request
            and session.status is Status.ENDED
            and isinstance(inp, Text | ASR)
        ):
            return _restart(model, session, inp, now)
        raise SessionClosed(session.id, session.status.value)
    if not model.has_state(session.unit, session.state):
        raise ModelMismatch(
            f"session {session.id!r} is in state {session.unit}.{session.state}, which model "
            f"{model.id!r} version {model.version} does not have",
            session_id=session.id,
            state=session.state,
        )
    run = _Run(model, session, now, version=session.version + 1)
    if not isinstance(inp, CommandResult):  # a command result has its own event, below
        run.emit("input_received", input=msgspec.to_builtins(inp))
    _DISPATCH[type(inp)](run, inp)
    return run.result()


def _restart(model: m.Model, session: Session, inp: Text | ASR, now: float) -> Step:
    """A request for an ended dialog starts it again from the model's start, variables kept
    (NaifJs). The request wakes the dialog and is recorded; it is not read as an answer."""
    run = _Run(model, session, now, version=session.version + 1)
    run.emit("input_received", input=msgspec.to_builtins(inp))
    run.emit("session_restarted", unit=model.unit, state=model.start)
    run.enter(model.start)
    return run.result()


class _Run:
    """One update in progress: a working copy of the session plus what it has emitted
    (:class:`dialoghub.engine.run.Run` is what :mod:`~dialoghub.engine.dialog` and
    :mod:`~dialoghub.engine.code` may use of it)."""

    def __init__(self, model: m.Model, session: Session | None, now: float, version: int) -> None:
        self.model = model
        self.s: Session = copy_session(session) if session is not None else None  # type: ignore[assignment]
        self.now = now
        self.version = version
        self.seq = session.seq if session is not None else 0
        self.events: list[Event] = []
        self.actions: list[Action] = []
        self.entries = 0
        self.goal: str | None = None  # the default state, when this update reached it

    # --- recording ------------------------------------------------------------------------

    def emit(self, type: str, **data: Any) -> None:
        self.seq += 1
        event = Event(seq=self.seq, version=self.version, time=self.now, type=type, data=data)
        self.s = apply(self.s, event)
        self.events.append(event)

    def act(self, action: Action, awaiting: dict[str, Any] | None = None) -> None:
        """Emit an action; a wait or a command carries what the session now awaits."""
        self.actions.append(action)
        if awaiting is None:
            self.emit("action_emitted", action=msgspec.to_builtins(action))
        else:
            self.emit("action_emitted", action=msgspec.to_builtins(action), awaiting=awaiting)

    def result(self) -> Step:
        # The contract with every application: the list ends with an action that needs an
        # update (or ends the session). A model that breaks it is a bug, never silent.
        if not self.actions or not isinstance(self.actions[-1], TERMINAL_ACTIONS):
            raise ModelError(f"model {self.model.id!r} produced no action to wait on")
        return Step(self.s, tuple(self.actions), tuple(self.events))

    # --- states and code ------------------------------------------------------------------

    @property
    def state(self) -> m.State:
        s, model = self.s, self.model
        if s.unit == model.unit:  # Model.state's own first case, without the call (hot)
            return model.states[s.state]
        return model.state(s.state, s.unit)

    def count_entry(self, name: str) -> None:
        self.entries += 1
        if self.entries > MAX_STATE_ENTRIES:
            raise ModelError(
                f"model {self.model.id!r} entered {MAX_STATE_ENTRIES} states in one update "
                f"without waiting (last: {name!r}); a loop of jumps needs a wait",
                state=name,
            )

    def enter(self, name: str, unit: str | None = None) -> None:
        """Enter state ``name`` (of ``unit``, when moving into another unit) and run it."""
        self.count_entry(name)
        if unit is not None and unit != self.s.unit:
            self.emit("state_entered", state=name, unit=unit)
        else:
            self.emit("state_entered", state=name)
        if code.is_code_unit(self):
            code.run_state(self, name, text=None)
            return
        # The default state is the goal: reaching it (not starting in it) ends the session.
        goal = name == self.model.default_state and self.s.unit == self.model.unit
        if goal and (self.version > 1 or self.entries > 1):
            self.goal = name
        self.run_block(("do",), 0)

    def block(self, key: Sequence[str]) -> tuple[tuple[m.Instruction, ...], m.Handler | None]:
        """The code a block key names, and the handler it belongs to (None: the state's do)."""
        if key[0] == "do":
            return self.state.code, None
        if key[0] in dialog.HANDLER_BLOCKS:  # global intents, give_up (engine/dialog.py)
            named = dialog.handler_of(self.model, key)
            if named is None:
                raise ModelMismatch(f"model has no handler {'.'.join(key)}", block=list(key))
            return named.code, named
        owner: Any = self.state if key[0] == "state" else self.model
        handler = getattr(owner, key[1])
        if handler is None:
            raise ModelMismatch(f"model has no handler {'.'.join(key)}", block=list(key))
        return handler.code, handler

    def run_block(self, key: Sequence[str], pc: int) -> None:
        code, handler = self.block(key)
        while pc < len(code):
            ins = code[pc]
            pc += 1
            if isinstance(ins, m.Say):
                self.act(Reply(text=ins.text.render(lookup_in(self.s))))
            elif isinstance(ins, m.SetVar):
                self.set_var(ins)
            elif isinstance(ins, m.Clear):
                for name in ins.names:
                    if lookup(self.s, name) is not None:
                        self.emit("variable_cleared", name=name)
            elif isinstance(ins, m.Branch):
                if not ins.when.evaluate(lookup_in(self.s)):
                    pc = ins.target
            elif isinstance(ins, m.Jump):
                pc = ins.target
            elif isinstance(ins, m.Goto):
                self.enter(ins.state)
                return
            elif isinstance(ins, m.End):
                self.finish(ins.reason)
                return
            elif isinstance(ins, m.Transcribe):
                self.act(Transcribe(variable=ins.variable))
            elif isinstance(ins, m.RunCommand):
                self.run_command(ins, key, pc)
                return
            elif isinstance(ins, m.Listen):
                dialog.listen(self, ins, key, pc)
                return
            elif isinstance(ins, m.Call):
                dialog.call(self, ins.unit, key, pc)
                return
            elif isinstance(ins, m.Return):
                dialog.leave_unit(self, f"unit {self.s.unit!r} returned")
                return
        if handler is None:
            self.after_code()
        elif handler.target is not None:
            self.enter(handler.target)
        elif handler.reask:
            dialog.reask(self)
        else:
            self.wait(ask=False)

    def set_var(self, ins: m.SetVar) -> None:
        value = evaluate_value(ins.value, self.s)
        current = lookup(self.s, ins.name)
        if ins.op == "increment":
            base = (
                current if isinstance(current, int | float) and not isinstance(current, bool) else 0
            )
            value = base + value
        elif ins.op == "append":
            value = [*(current if isinstance(current, list) else []), value]
        self.emit("variable_set", name=ins.name, value=value)

    def run_command(self, ins: m.RunCommand, key: Sequence[str], resume: int) -> None:
        spec = self.model.commands[ins.command]
        params = {
            name: evaluate_value(ins.params[name], self.s)
            if name in ins.params
            else lookup(self.s, name)
            for name in spec.inputs
        }
        awaiting = {
            "kind": "command",
            "command": ins.command,
            "params": params,  # to repeat the action if variables are set meanwhile
            "block": list(key),
            "pc": resume,
        }
        if ins.on_error is not None:
            awaiting["on_error"] = ins.on_error
        self.act(CommandAction(id=ins.command, params=params), awaiting)

    def after_code(self) -> None:
        state = self.state
        if self.goal == state.name:
            self.finish(f"reached the default state {state.name!r}")
        elif state.final:
            dialog.leave_unit(self, f"reached final state {state.name!r}")
        elif state.confirm is not None:
            dialog.ask_confirm(self, state.confirm.prompt, {"state": state.name})
        elif state.waits:
            self.wait(ask=True)
        else:
            self.follow(state.next, state)

    def follow(self, transitions: Sequence[m.Transition], state: m.State) -> None:
        lookup_fn = lookup_in(self.s)
        for t in transitions:
            if t.when is None or t.when.evaluate(lookup_fn):
                self.enter(t.target)
                return
        if state.waits:
            self.no_match(state)
        else:
            raise ModelError(
                f"no transition of state {state.name!r} applies and it does not wait; "
                "add a transition without 'when' as the default",
                state=state.name,
            )

    def wait(self, *, ask: bool) -> None:
        """Wait in the current state; ``ask``: put its question (first wording) first."""
        prompt = self.state.prompt
        texts = dialog.render(self, prompt.wordings) if prompt is not None else None
        # Immediate: the user was just asked something and should be listened to now;
        # otherwise the system is idle until spoken to.
        self.wait_for_user(texts, say=ask, immediate=prompt is not None, timing=prompt)

    def wait_for_user(
        self,
        texts: list[str] | None,
        *,
        say: bool,
        immediate: bool,
        timing: m.Prompt | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        """Wait for the user after saying ``texts[0]`` (if ``say``).

        The awaiting record keeps every wording (re-prompts use the next ones) and, for a
        question with a timeout, when it is due (``due_at``), so a timer service finds it.
        """
        if say and texts:
            self.act(Reply(text=texts[0]))
        state = self.state
        wake = self.model.wake_word if state.wake_word is None else state.wake_word
        awaiting: dict[str, Any] = {"kind": "user", "immediate": immediate}
        if wake:
            awaiting["wake"] = True
        if texts:
            awaiting["prompt"] = texts
        if timing is not None and timing.timeout is not None:
            awaiting["timeout"] = timing.timeout
            awaiting["due_at"] = self.now + timing.timeout
            awaiting["retries"] = timing.retries
            if timing.then is not None:
                awaiting["then"] = timing.then
        if extra:
            awaiting.update(extra)
        self.act(WaitForUser(immediate=immediate, requires_wake_word=wake), awaiting)

    def finish(self, reason: str, status: str = "ended") -> None:
        self.act(EndAction(reason=reason))
        self.emit("session_ended", reason=reason, status=status)

    def run_handler(self, key: tuple[str, str]) -> None:
        self.run_block(key, 0)

    # --- understanding text ---------------------------------------------------------------

    def no_match(self, state: m.State, text: str | None = None) -> None:
        if state.no_match is not None:
            self.run_handler(("state", "no_match"))
        elif self.model.no_match is not None:
            self.run_handler(("model", "no_match"))
        else:
            raise NoMatch(
                f"{text!r} matches no intent allowed in state {state.name!r} of model "
                f"{self.model.id!r} (allowed: {', '.join(sorted(state.on)) or 'none'}); "
                "add a 'no_match' handler to the state or the model to answer it",
                state=state.name,
                text=text,
            )

    def not_allowed(self, state: m.State, intent: str, text: str) -> None:
        if state.not_allowed is not None:
            self.run_handler(("state", "not_allowed"))
        elif self.model.not_allowed is not None:
            self.run_handler(("model", "not_allowed"))
        else:
            self.no_match(state, text)

    def text(self, text: str) -> None:
        if not text.strip():
            raise InvalidInput("text is empty")
        aw = self.s.awaiting or {}
        if aw.get("kind") != "user":
            raise UnexpectedInput(
                f"session {self.s.id!r} is waiting for the result of command "
                f"{aw.get('command')!r}, not for text",
                session_id=self.s.id,
                command=aw.get("command"),
            )
        if code.is_code_unit(self):
            code.run_state(self, self.s.state, text=text)
            return
        state = self.state
        rec = self.model.recognizer.recognize(text)
        if dialog.interrupt(self, rec, aw):
            return
        if dialog.global_intent(self, state, rec, aw, text):
            return
        if "confirm" in aw and dialog.answer_confirm(self, aw, text, rec):
            return
        fill = aw.get("fill")
        if fill is not None and self.fill_slot(fill, text, rec.intent):
            return
        if "listen" in aw:
            dialog.heard(self, aw["listen"], rec)
            return
        rec = dialog.bare_value(self, state, rec, text)
        if dialog.is_ambiguous(self, state, rec):
            return
        self.emit("intent_recognized", intent=rec.intent, confidence=round(rec.confidence, 4))
        if rec.intent is None:
            self.no_match(state, text)
        elif rec.intent not in state.on:
            self.not_allowed(state, rec.intent, text)
        else:
            intent = self.model.intents[rec.intent]
            self.continue_fill(intent, dialog.slots_said(self, intent, rec))

    def fill_slot(self, fill: dict[str, Any], text: str, other_intent: str | None) -> bool:
        """Try the answer to a slot question; False if the user said something else instead."""
        intent = self.model.intents[fill["intent"]]
        slot = next(s for s in intent.slots if s.name == fill["slot"])
        found = self.model.recognizer.extract(slot.entity, text)
        if found is None and other_intent is None:  # a value outside an open entity's list
            found = self.model.recognizer.open_answer(slot.entity, text)
        if found is None:
            if other_intent is not None and other_intent != intent.name:
                return False  # the user changed the subject: handle it as a new request
            self.ask_slot(intent, slot, fill["filled"], tries=fill.get("tries", 0) + 1)
            return True
        self.emit("slot_filled", name=slot.name, value=found.value)
        self.continue_fill(intent, [*fill["filled"], slot.name])
        return True

    def continue_fill(self, intent: m.IntentDef, filled: list[str]) -> None:
        for slot in intent.slots:
            if slot.required and slot.name not in filled:
                self.ask_slot(intent, slot, filled)
                return
        if intent.confirm is not None:
            what = {"intent": intent.name, "filled": filled}
            dialog.ask_confirm(self, intent.confirm.prompt, what)
            return
        self.follow(self.state.on[intent.name], self.state)

    def ask_slot(
        self, intent: m.IntentDef, slot: m.SlotSpec, filled: list[str], tries: int = 0
    ) -> None:
        """Ask for a required slot; asked again (``tries``), it uses the next wording."""
        if tries and dialog.gives_up(self, intent, slot, tries):
            return
        wordings = [slot.prompt, *slot.reprompts] if slot.prompt is not None else []
        texts = dialog.render(self, wordings)
        if texts:
            texts = [texts[min(tries, len(texts) - 1)], *texts]
        fill: dict[str, Any] = {"intent": intent.name, "slot": slot.name, "filled": filled}
        if tries:
            fill["tries"] = tries
        self.wait_for_user(texts, say=True, immediate=True, extra={"fill": fill})


# --- one handler per input type -----------------------------------------------------------


def _text(run: _Run, inp: Text) -> None:
    run.text(inp.text)


def _asr(run: _Run, inp: ASR) -> None:
    if not 0.0 <= inp.confidence <= 1.0:
        raise InvalidInput(f"ASR confidence must be in [0, 1], not {inp.confidence}")
    aw = run.s.awaiting or {}
    wake = run.s.metadata.get("wake_word")
    if aw.get("wake") and isinstance(wake, str) and wake.strip():
        # The wait requires the session's wake word (metadata "wake_word", set at creation):
        # an utterance that does not start with it is dropped, recorded, and waited again.
        said, want = _words(inp.text), _words(wake)
        if said[: len(want)] != want or len(said) == len(want):
            run.emit("utterance_dropped", reason="no wake word", text=inp.text, wake_word=wake)
            run.act(WaitForUser(immediate=bool(aw.get("immediate")), requires_wake_word=True),
                    aw)
            return
        run.text(" ".join(said[len(want):]))
        return
    run.text(inp.text)


def _words(text: str) -> list[str]:
    """Lower-case words, punctuation dropped: how a wake word is compared."""
    return "".join(c if c.isalnum() or c == "'" else " " for c in text.lower()).split()


def _command_result(run: _Run, inp: CommandResult) -> None:
    aw = run.s.awaiting or {}
    if aw.get("kind") != "command":
        raise UnknownCommand(
            f"session {run.s.id!r} is not waiting for a command result (got one for {inp.id!r})",
            session_id=run.s.id,
            command=inp.id,
        )
    if inp.id != aw["command"]:
        raise UnknownCommand(
            f"session {run.s.id!r} is waiting for command {aw['command']!r}, not {inp.id!r}",
            session_id=run.s.id,
            command=inp.id,
            awaited=aw["command"],
        )
    spec = run.model.commands[inp.id]
    unknown = sorted(set(inp.outputs) - set(spec.outputs))
    if unknown:
        raise InvalidInput(
            f"command {inp.id!r} has no output{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(map(repr, unknown))}; declared: {', '.join(spec.outputs) or 'none'}",
            command=inp.id,
            outputs=unknown,
        )
    result: dict[str, Any] = {"id": inp.id, "outputs": inp.outputs}
    if inp.error is not None:
        result["error"] = inp.error
    run.emit("command_result_received", **result)
    for name in spec.outputs:
        if name in inp.outputs:
            run.emit("variable_set", name=name, value=inp.outputs[name])
    if inp.error is not None:
        # the error branch (or the handler) can say why: {error}
        run.emit("variable_set", name="error", value=inp.error)
        if aw.get("on_error"):
            run.enter(aw["on_error"])
            return
        if run.model.command_error is not None:
            run.run_handler(("model", "command_error"))
            return
    run.run_block(aw["block"], aw["pc"])


def _jump(run: _Run, inp: Jump) -> None:
    if not run.model.has_state(run.s.unit, inp.state):
        raise InvalidInput(
            f"unit {run.s.unit!r} of model {run.model.id!r} has no state {inp.state!r}",
            state=inp.state,
        )
    if inp.params is not None:
        run.emit("params_set", params=inp.params)
    if inp.variables is not None:
        run.emit("variables_replaced", variables=inp.variables)
    run.enter(inp.state)


def _set_variables(run: _Run, inp: SetVariables) -> None:
    if not inp.variables:
        raise InvalidInput("set_variables needs at least one variable")
    if inp.unit is not None and inp.unit not in run.model.units and inp.unit != run.model.unit:
        raise InvalidInput(
            f"model {run.model.id!r} has no unit {inp.unit!r}; its units: "
            + ", ".join(sorted({run.model.unit, *run.model.units})),
            unit=inp.unit,
        )
    for name, value in inp.variables.items():
        if not name or "." in name:
            raise InvalidInput(f"{name!r} is not a variable name (no dots, not empty)")
        run.emit("variable_set", name=name, value=value, unit=inp.unit or run.s.unit)
    # The flow does not move: repeat what the session was already waiting for.
    aw = run.s.awaiting or {}
    if aw.get("kind") == "command":
        run.act(CommandAction(id=aw["command"], params=aw["params"]), aw)
    else:
        wait = WaitForUser(
            immediate=bool(aw.get("immediate")), requires_wake_word=bool(aw.get("wake"))
        )
        run.act(wait, aw)


def _timeout(run: _Run, inp: Timeout) -> None:
    if inp.name not in TIMEOUT_NAMES:
        raise InvalidInput(
            f"there is no timeout {inp.name!r}; timeouts: {', '.join(sorted(TIMEOUT_NAMES))}",
            name=inp.name,
        )
    aw, count = dialog.timeout_fired(run, inp.name)
    if code.is_code_unit(run):
        code.timed_out(run, aw)
    else:
        dialog.reprompt(run, aw, count)


def _event(run: _Run, inp: EventInput) -> None:
    aw = run.s.awaiting or {}
    if aw.get("kind") != "user":
        raise UnexpectedInput(
            f"session {run.s.id!r} is waiting for command {aw.get('command')!r}, "
            f"not for event {inp.name!r}",
            session_id=run.s.id,
        )
    state = run.state
    transitions = state.on.get(inp.name)
    if transitions is None or inp.name in run.model.intents:
        raise UnexpectedInput(
            f"state {state.name!r} takes no event {inp.name!r}; it takes: "
            + (", ".join(sorted(e for e in state.on if e in run.model.events)) or "none"),
            state=state.name,
            event=inp.name,
        )
    if inp.params is not None:
        run.emit("params_set", params=inp.params)
    run.follow(transitions, state)


def _end(run: _Run, inp: End) -> None:
    run.finish(inp.reason)


def _expire(run: _Run, inp: Expire) -> None:
    run.act(EndAction(reason=inp.reason))
    run.emit("session_expired", reason=inp.reason)


_DISPATCH: dict[type[Any], Any] = {
    Text: _text,
    ASR: _asr,
    CommandResult: _command_result,
    Jump: _jump,
    SetVariables: _set_variables,
    Timeout: _timeout,
    EventInput: _event,
    End: _end,
    Expire: _expire,
}
