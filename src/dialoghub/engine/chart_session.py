"""Sessions of statechart models: the bridge between the session engine and the interpreter.

A model with a :attr:`~dialoghub.model.spec.Model.chart` (an XState machine) runs on
:mod:`dialoghub.engine.chart` instead of the dialog steps. One update is one XState macrostep,
recorded as events like every other update, so a chart session replays, forks, exports and
lists like a dialog session:

* ``chart_stepped`` carries the new configuration (every active node id), the state value as
  text (``Session.state``), the interpreter's bookkeeping (history, armed delays, running
  invocations: ``Session.chart``), and the microsteps (states exited and entered) for audits;
* context changes are ``variable_set`` / ``variables_replaced`` events of the model's unit
  (the context *is* the session's variables);
* an event no active state takes is ``chart_event_ignored`` (XState ignores it; a strict
  chart refuses it instead), and reaching the root's final state ends the session with its
  output.

Inputs: an ``event`` input is the XState event ``{"type": name, **params}``; a ``timeout``
input names an armed delayed event (the timer service delivers them through the store's timer
index, exactly once); a ``command_result`` answers an ``invoke`` (``xstate.done.actor.<id>``,
or ``xstate.error.actor.<id>`` when it carries an error) or acknowledges a fire-and-forget
action; ``set_variables`` changes the context; ``end`` and ``expire`` end the session. A
``jump`` moves to a state (its path or id) as a root-level transition to it would (exits,
entries, delays, invocations; ``engine.chart.jump``), ``variables`` replacing the context. Text
and ASR are recognised when the model has intents (a dialog whose states nest: the intent is
the event) and refused otherwise: a machine takes events.

What the application must do comes back as actions: an action the application did not
register becomes a ``command`` action (``id`` the action's name, ``params`` its parameters and
``{"action": true}``), an invocation a ``command`` whose ``id`` is the invoke id and whose
``params`` carry ``src`` and ``input``. An invocation whose state is left (or whose session
ends) is stopped, as XState stops the actor: ``chart_invoke_stopped`` (``id``, ``src``) says so,
and an answer arriving after it is recorded and moves nothing. The list ends with
``wait_for_user`` (the machine waits for its next event) or ``end``.
"""

from __future__ import annotations

from typing import Any

import msgspec

from dialoghub.engine import chart as sc
from dialoghub.engine import decision
from dialoghub.engine.fold import apply
from dialoghub.engine.records import (
    ASR,
    DECISION_TIMER,
    Action,
    Answers,
    CommandAction,
    CommandResult,
    End,
    EndAction,
    Event,
    EventInput,
    Expire,
    Input,
    Jump,
    Override,
    Propose,
    Reply,
    Session,
    SetVariables,
    Text,
    Timeout,
    Vote,
    WaitForUser,
)
from dialoghub.errors import InvalidInput, SessionClosed, UnexpectedInput, UnknownCommand
from dialoghub.model import spec as m
from dialoghub.model.chart import DONE_INVOKE_PREFIX, ERROR_PREFIX, Chart
from dialoghub.model.templates import Template

__all__ = ["is_chart", "start", "step"]


def is_chart(model: m.Model) -> bool:
    """True when ``model`` runs as a statechart."""
    return model.chart is not None


class _Update:
    """One chart update in progress: the working session and what it emitted."""

    def __init__(self, session: Session | None, now: float, version: int) -> None:
        self.s: Session = session  # type: ignore[assignment]
        self.now = now
        self.version = version
        self.seq = session.seq if session is not None else 0
        self.events: list[Event] = []
        self.actions: list[Action] = []

    def emit(self, type: str, **data: Any) -> None:
        self.seq += 1
        event = Event(seq=self.seq, version=self.version, time=self.now, type=type, data=data)
        self.s = apply(self.s, event)
        self.events.append(event)

    def act(self, action: Action, awaiting: dict[str, Any] | None = None) -> None:
        self.actions.append(action)
        data: dict[str, Any] = {"action": msgspec.to_builtins(action)}
        if awaiting is not None:
            data["awaiting"] = awaiting
        self.emit("action_emitted", **data)


def _chart_of(model: m.Model) -> Chart:
    chart = model.chart
    assert chart is not None
    return chart


def _registry(model: m.Model) -> sc.Registry | None:
    return model.chart_registry  # type: ignore[no-any-return]


def _state_text(chart: Chart, configuration: tuple[str, ...]) -> str:
    """The state value as ``Session.state``: ``"a.b"`` for one active path, the value's
    compact JSON for parallel regions (``{"p":{"r1":"x","r2":"y"}}``)."""
    value = sc.value(chart, configuration)
    if isinstance(value, str):
        return value
    path: list[str] = []
    while isinstance(value, dict) and len(value) == 1:
        ((key, value),) = value.items()
        path.append(key)
    if isinstance(value, str):
        return ".".join([*path, value])
    return msgspec.json.encode(sc.value(chart, configuration)).decode()


def _bookkeeping(
    state: sc.ChartState, now: float, previous: dict[str, Any] | None
) -> dict[str, Any]:
    """``Session.chart`` for ``state``: armed delays get their due time when first armed."""
    before = {(a["event"], a["n"]): a["due_at"] for a in (previous or {}).get("armed", ())}
    armed = [
        {
            "event": a.event,
            "n": a.counter,
            "delay_ms": a.delay_ms,
            "node": a.node,
            "due_at": before.get((a.event, a.counter), now + a.delay_ms / 1000.0),
            **({} if a.registered else {"registered": False}),
        }
        for a in state.armed
    ]
    book: dict[str, Any] = {
        "history": {k: list(v) for k, v in state.history.items()},
        "armed": armed,
        "invoked": list(state.invoked),
        "counter": state.counter,
        "output": state.output,
    }
    if state.order:
        book["order"] = list(state.order)
    if state.error is not None:
        book["error"] = state.error
    return book


def _restore(session: Session) -> sc.ChartState:
    """The interpreter's state of a stored session (the context is its variables)."""
    book = session.chart or {}
    return sc.ChartState(
        configuration=tuple(session.configuration),
        history={k: tuple(v) for k, v in book.get("history", {}).items()},
        context=dict(session.variables.get(session.unit, {})),
        done=session.ended,
        output=book.get("output"),
        armed=tuple(
            sc.Armed(
                event=a["event"],
                delay_ms=a["delay_ms"],
                node=a["node"],
                counter=a["n"],
                registered=a.get("registered", True),
            )
            for a in book.get("armed", ())
        ),
        invoked=tuple(book.get("invoked", ())),
        counter=book.get("counter", 0),
        error=book.get("error"),
        order=tuple(book.get("order", ())),
    )


_TEMPLATES: dict[str, Template] = {}


def _said(model: m.Model, session: Session, context: dict[str, Any], prompt: str) -> str:
    """A state's prompt as said: a dialog model's ``say`` is a reply template (``{city}``
    from the variables, ``{params.x}``, ``{metadata.x}``), checked when it loaded; an XState
    machine's ``meta.prompt`` is text."""
    if not model.templated_prompts:
        return prompt
    template = _TEMPLATES.get(prompt)
    if template is None:
        template = Template.parse(prompt)
        if len(_TEMPLATES) < 4096:
            _TEMPLATES[prompt] = template

    def lookup(name: str) -> Any:
        head, _, rest = name.partition(".")
        if head in ("params", "metadata") and rest:
            value: Any = session.params if head == "params" else session.metadata
        else:
            value, rest = context.get(head), rest
        for key in rest.split(".") if rest else ():
            value = value.get(key) if isinstance(value, dict) else None
        return value

    return template.render(lookup)


def _record(up: _Update, model: m.Model, result: sc.Step, before: sc.ChartState | None) -> None:
    """Emit what one macrostep did: context changes, the new configuration, the effects,
    and the final action (wait for the next event, or end)."""
    chart = _chart_of(model)
    new = result.state
    old_ctx = before.context if before is not None else {}
    removed = set(old_ctx) - set(new.context)
    if removed:
        up.emit("variables_replaced", variables=dict(new.context))
    else:
        for name, value in new.context.items():
            if name not in old_ctx or old_ctx[name] != value:
                up.emit("variable_set", name=name, value=value)
    up.emit(
        "chart_stepped",
        configuration=list(new.configuration),
        state=_state_text(chart, new.configuration),
        chart=_bookkeeping(new, up.now, up.s.chart),
        microsteps=[{"exited": list(x), "entered": list(e)} for x, e in result.microsteps],
    )
    for _exited, entered in result.microsteps:
        for node_id in entered:  # meta.prompt: the state's question, said on entry
            meta = chart.nodes[node_id].meta
            if isinstance(meta, dict) and isinstance(meta.get("prompt"), str):
                up.act(Reply(text=_said(model, up.s, new.context, meta["prompt"])))
    for effect in result.effects:
        if effect.kind == "action":
            up.act(CommandAction(id=effect.name, params={**(effect.params or {}), "action": True}))
        elif effect.kind == "invoke":
            params = dict(effect.params or {})
            up.act(CommandAction(id=str(params.pop("id")), params={"src": effect.name, **params}))
        elif effect.kind == "stop":
            # XState stops an invoked actor when its state is left: the application stops the
            # command it is running; an answer arriving later is dropped (_event_of)
            params = effect.params or {}
            up.emit("chart_invoke_stopped", id=str(params.get("id", effect.name)),
                    src=params.get("src"))  # fmt: skip
    goal = model.default_state
    # A decided model rests in its goal, active, and an event starts its next cycle (seed 001).
    if (
        goal is not None
        and model.decision is None
        and not new.done
        and f"{chart.root}.{goal}" in new.configuration
        and before is not None
    ):  # the goal state, reached (not started in): done
        up.emit("session_ended", reason="done")
        up.act(EndAction(reason="done"))
        return
    if new.done or new.error is not None:
        reason = "done" if new.done else "error"
        up.emit("session_ended", reason=reason, output=new.output, error=new.error)
        up.act(EndAction(reason=reason))
    else:
        if model.decision is not None:  # resting in a decided state opens its round
            node = chart.nodes.get(f"{chart.root}.{up.s.state}")
            meta = node.meta if node is not None else None
            prompt = meta.get("prompt") if isinstance(meta, dict) else None
            decision.entered(up, model, prompt if isinstance(prompt, str) else None)
        up.act(WaitForUser(), awaiting={"chart": True, "invoked": list(new.invoked)})


def _decide(
    model: m.Model,
    session: Session,
    inp: Propose | Vote | Override | Answers | Timeout,
    now: float,
) -> tuple[Session, tuple[Action, ...], tuple[Event, ...]]:
    """A decision input (or the ``decision`` timer): the round moves on, and a decided
    round's transition is taken in the same update (engine/decision.py)."""
    if model.decision is None:
        raise InvalidInput(f"model {model.id!r} has no decision states")
    up = _Update(msgspec.structs.replace(session), now, version=session.version + 1)
    if isinstance(inp, Timeout):
        fire = decision.timeout(up, model)
    else:
        fire = decision.step(up, model, inp)
    if fire is None:
        # What the session awaits is unchanged: the action is returned, no event recorded.
        up.actions.append(WaitForUser())
        return up.s, tuple(up.actions), tuple(up.events)
    chart = _chart_of(model)
    before = _restore(up.s)
    result = sc.send(
        chart, before, {**(fire.params or {}), "type": fire.transition}, registry=_registry(model)
    )
    if not result.handled:  # a guard refused the decided transition: a new round opens
        up.emit("chart_event_ignored", event=fire.transition)
    elif fire.params:
        up.emit("params_set", params=dict(fire.params))
    _record(up, model, result, before)
    return up.s, tuple(up.actions), tuple(up.events)


def start(
    model: m.Model,
    session_id: str,
    *,
    now: float,
    tenant: str,
    metadata: dict[str, Any],
    params: dict[str, Any],
    lifetime: dict[str, float] | None,
) -> tuple[Session, tuple[Action, ...], tuple[Event, ...]]:
    """Start a chart session: enter the initial configuration (with its entry actions,
    eventless transitions and delays) and wait for the first event."""
    chart = _chart_of(model)
    up = _Update(None, now, version=1)
    extra: dict[str, Any] = {"lifetime": lifetime} if lifetime else {}
    up.emit(
        "session_started",
        id=session_id,
        tenant=tenant,
        model_id=model.id,
        model_version=model.version,
        unit=model.unit,
        state=chart.root,
        metadata=metadata,
        params=params,
        **extra,
    )
    result = sc.start(chart, context=dict(chart.context), registry=_registry(model))
    _record(up, model, result, None)
    return up.s, tuple(up.actions), tuple(up.events)


def _event_of(session: Session, inp: Input) -> dict[str, Any] | None:
    """The XState event an input stands for (None: an input that moves no state)."""
    book = session.chart or {}
    if isinstance(inp, EventInput):
        return {**(inp.params or {}), "type": inp.name}
    if isinstance(inp, Timeout):
        for armed in book.get("armed", ()):
            if armed["event"] == inp.name:
                return {"type": inp.name, "counter": armed["n"]}
        raise InvalidInput(
            f"there is no timeout {inp.name!r} armed; armed: "
            + (", ".join(a["event"] for a in book.get("armed", ())) or "none"),
            name=inp.name,
        )
    if isinstance(inp, CommandResult):
        if inp.id in book.get("invoked", ()):
            if inp.error is not None:
                return {"type": ERROR_PREFIX + inp.id, "error": inp.error}
            return {"type": DONE_INVOKE_PREFIX + inp.id, "output": dict(inp.outputs)}
        if inp.id.startswith("xstate."):
            raise UnknownCommand(
                f"session {session.id!r} runs no invocation {inp.id!r}; running: "
                + (", ".join(book.get("invoked", ())) or "none"),
                session_id=session.id,
                id=inp.id,
            )
        return None  # a fire-and-forget action's acknowledgement: recorded, nothing moves
    return None


def _jump_target(chart: Chart, session: Session, name: str) -> str:
    """The node a jump names: its id, or its path below the root (``red.walk``)."""
    for node_id in (f"{chart.root}.{name}", name):
        if node_id in chart.nodes and node_id != chart.root:
            return node_id
    raise InvalidInput(
        f"session {session.id!r}: the statechart {chart.id!r} has no state {name!r} to jump "
        "to (name a state by its path, 'a.b', or its id)",
        session_id=session.id,
        state=name,
    )


def _jump(
    model: m.Model, session: Session, inp: Jump, now: float
) -> tuple[Session, tuple[Action, ...], tuple[Event, ...]]:
    """A jump: a root-level transition to the named state (engine/chart.py ``jump``: XState
    has none of its own, so its exits, entries, delays and invocations are a transition's),
    with ``variables`` as the new context and ``params`` as the session's."""
    chart = _chart_of(model)
    target = _jump_target(chart, session, inp.state)
    up = _Update(msgspec.structs.replace(session), now, version=session.version + 1)
    up.emit("input_received", input=msgspec.to_builtins(inp))
    before = _restore(up.s)
    moved = before
    if inp.variables is not None:
        moved = msgspec.structs.replace(before, context=dict(inp.variables))
    result = sc.jump(chart, moved, target, registry=_registry(model))
    if inp.params:
        up.emit("params_set", params=dict(inp.params))
    _record(up, model, result, before)
    return up.s, tuple(up.actions), tuple(up.events)


def _stop_all(up: _Update) -> None:
    """A session ended from outside stops what it invoked, as XState's ``actor.stop()``."""
    for invoke_id in (up.s.chart or {}).get("invoked", ()):
        up.emit("chart_invoke_stopped", id=invoke_id, src=None)


def step(
    model: m.Model, session: Session, inp: Input, now: float
) -> tuple[Session, tuple[Action, ...], tuple[Event, ...]]:
    """Apply one input to a chart session (one XState macrostep)."""
    if session.ended:
        raise SessionClosed(session.id, session.status.value)
    if isinstance(inp, Text | ASR) and not model.intents:
        raise UnexpectedInput(
            f"session {session.id!r} runs the statechart {model.id!r}: it takes events "
            "(an 'event' input), not text (its model declares no intents to recognise)",
            session_id=session.id,
        )
    if isinstance(inp, Jump):
        return _jump(model, session, inp, now)
    if isinstance(inp, decision.INPUTS) or (
        isinstance(inp, Timeout) and inp.name == DECISION_TIMER and model.decision is not None
    ):
        return _decide(model, session, inp, now)
    chart = _chart_of(model)
    up = _Update(msgspec.structs.replace(session), now, version=session.version + 1)
    if isinstance(inp, CommandResult):
        up.emit("command_result_received", id=inp.id, outputs=dict(inp.outputs), error=inp.error)
    else:
        up.emit("input_received", input=msgspec.to_builtins(inp))
    if isinstance(inp, End | Expire):
        _stop_all(up)
    if isinstance(inp, End):
        up.emit("session_ended", reason=inp.reason or "ended")
        up.act(EndAction(reason=inp.reason))
        return up.s, tuple(up.actions), tuple(up.events)
    if isinstance(inp, Expire):
        up.emit("session_expired")
        up.act(EndAction(reason="expired"))
        return up.s, tuple(up.actions), tuple(up.events)
    before = _restore(up.s)
    if isinstance(inp, SetVariables):
        if not inp.variables:
            raise InvalidInput("set_variables needs at least one variable")
        for name, value in inp.variables.items():
            up.emit("variable_set", name=name, value=value)
        up.act(WaitForUser(), awaiting={"chart": True, "invoked": list(before.invoked)})
        return up.s, tuple(up.actions), tuple(up.events)
    if isinstance(inp, Text | ASR):
        # a model with intents (a dialog whose states nest): the recognised intent is the
        # event, its slots the payload; text no intent fits moves nothing
        rec = model.recognizer.recognize(inp.text)
        up.emit("intent_recognized", intent=rec.intent, confidence=round(rec.confidence, 4))
        slots = {k: v.value for k, v in rec.slots.items()} if rec.intent is not None else {}
        event = {**slots, "type": rec.intent} if rec.intent is not None else None
        if event is None:
            up.emit("chart_event_ignored", event=None)
    else:
        slots = {}
        event = _event_of(up.s, inp)
    if event is None:
        up.act(WaitForUser(), awaiting={"chart": True, "invoked": list(before.invoked)})
        return up.s, tuple(up.actions), tuple(up.events)
    # The dialog language keeps the slots an intent carries as variables, as flat dialogs do:
    # set before the transition is chosen (its conditions read them), kept only if it is taken.
    sent = msgspec.structs.replace(before, context={**before.context, **slots}) if slots \
        else before  # fmt: skip
    result = sc.send(chart, sent, event, registry=_registry(model))
    if not result.handled and slots:
        result = result._replace(
            state=msgspec.structs.replace(result.state, context=before.context)
        )
    if not result.handled:
        up.emit("chart_event_ignored", event=event["type"])
    else:
        if model.decision is not None and isinstance(inp, EventInput):
            decision.manual(up, model, inp.name, inp.params)  # a decided state moved by hand
        if isinstance(inp, EventInput) and inp.params:
            # The decision framework's transitions carry params: they become the session's
            # params (the opaque JSON a session type keeps beside its state), as in dialogs.
            up.emit("params_set", params=dict(inp.params))
    _record(up, model, result, before)
    return up.s, tuple(up.actions), tuple(up.events)
