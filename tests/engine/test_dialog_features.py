"""The language's dialog features in the pure step function: each replayed after every step."""

from __future__ import annotations

from typing import Any

import pytest

from dialoghub import errors
from dialoghub.engine.fold import replay
from dialoghub.engine.records import (
    EndAction,
    Event,
    EventInput,
    Input,
    Reply,
    Session,
    Text,
    Timeout,
    WaitForUser,
)
from dialoghub.engine.step import start, step
from dialoghub.model.codeunit import CodeUnit, model_from_code
from dialoghub.model.loader import load_model_text
from dialoghub.model.spec import Model

T0 = 1_700_000_000.0


class Talk:
    """A session driven through the pure engine; replay is checked after every step."""

    def __init__(self, model: Model, **kw: Any) -> None:
        self.model = model
        self.now = T0
        r = start(model, "t", now=self.now, **kw)
        self.session: Session = r.session
        self.events: list[Event] = list(r.events)
        self.actions = r.actions
        self._check()

    def _check(self) -> None:
        assert replay(self.events) == self.session

    def send(self, inp: Input | str) -> list[str]:
        self.now += 1
        inp = Text(text=inp) if isinstance(inp, str) else inp
        r = step(self.model, self.session, inp, self.now)
        self.session, self.actions = r.session, r.actions
        self.events.extend(r.events)
        self._check()
        return self.replies

    @property
    def replies(self) -> list[str]:
        return [a.text for a in self.actions if isinstance(a, Reply)]

    @property
    def var(self) -> dict[str, Any]:
        return self.session.unit_variables()


STORY = """
id: story
entities:
  drink: [tea, coffee]
intents:
  order: ["I want a {drink}", "a {drink} please", "{drink}"]
  help: [help, what can I say]
init:
  - say: Hi!
  - set: {served: 0}
main:
  - ask: What would you like?
  - switch:
      - when: intent == "order" and drink == "tea"
        do: [{say: "One tea."}, {increment: served}]
      - when: intent == "order"
        do: [{run: coffee}]
      - when: intent == "help"
        do: [{say: "Say: a tea please."}]
      - else: [{say: "Sorry?"}]
  - if: served >= 2
    then: [{say: "That's plenty."}, {end: enough}]
actions:
  coffee:
    - say: "One coffee."
    - increment: served
"""


def test_init_runs_once_and_main_loops_with_switch_and_action_list() -> None:
    t = Talk(load_model_text(STORY))
    assert t.replies == ["Hi!", "What would you like?"]
    assert t.session.state == "main"
    assert t.send("help") == ["Say: a tea please.", "What would you like?"]
    assert t.send("blah") == ["Sorry?", "What would you like?"]
    assert t.var["intent"] is None
    assert t.send("a tea please") == ["One tea.", "What would you like?"]
    assert t.var["served"] == 1 and t.var["intent"] == "order"
    assert t.send("I want a coffee") == ["One coffee.", "That's plenty."]
    assert isinstance(t.actions[-1], EndAction) and t.session.ended


AMBIGUOUS = """
id: amb
settings: {ambiguity_margin: 0.3}
intents:
  check_balance: [check my account balance]
  close_account: [close my account]
ambiguous: "Do you want your balance, or to close the account?"
states:
  top:
    on: {check_balance: balance, close_account: closing}
  balance: {say: Your balance is 3 euros., next: top}
  closing: {say: Closed., final: true}
"""


def test_two_intents_too_close_run_the_ambiguous_handler() -> None:
    t = Talk(load_model_text(AMBIGUOUS))
    assert t.send("my account") == ["Do you want your balance, or to close the account?"]
    ev = [e for e in t.events if e.type == "intent_recognized"][-1]
    assert set(ev.data["ambiguous"]) == {"check_balance", "close_account"}
    assert t.session.state == "top" and isinstance(t.actions[-1], WaitForUser)
    assert t.send("check my account balance") == ["Your balance is 3 euros."]


TIMEOUTS = """
id: timeouts
intents:
  yes: [yes]
states:
  q:
    ask:
      prompt: ["Ready?", "Are you ready?", "Last call: ready?"]
      timeout: 5
      retries: 2
      then: gone
    on: {yes: done}
  gone: {say: Nobody there., final: true}
  done: {say: Go!, final: true}
"""


def test_prompt_timeouts_reprompt_with_other_wordings_then_move_on() -> None:
    t = Talk(load_model_text(TIMEOUTS))
    aw = t.session.awaiting
    assert aw is not None and aw["due_at"] == T0 + 5 and aw["retries"] == 2
    assert t.send(Timeout()) == ["Are you ready?"]
    assert t.session.awaiting is not None and t.session.awaiting["due_at"] == t.now + 5
    assert t.send(Timeout()) == ["Last call: ready?"]
    assert t.send(Timeout()) == ["Nobody there."]
    assert t.session.ended


def test_an_answer_resets_the_timeout_counter() -> None:
    model = load_model_text(
        TIMEOUTS.replace("on: {yes: done}", "on: {yes: done}\n    no_match: Hm?")
    )
    t = Talk(model)
    t.send(Timeout())
    assert t.session.counters == {"prompt": 1}
    assert t.send("banana") == ["Hm?"]
    assert t.session.counters == {}
    assert t.send(Timeout()) == ["Are you ready?"]  # counting starts again


CONFIRM = """
id: confirm
states:
  ask_it:
    say: About to delete everything.
    confirm: {ask: "Are you sure?", yes: deleted, no: kept}
  deleted: {say: Deleted., final: true}
  kept: {say: Kept., final: true}
"""


@pytest.mark.parametrize(
    ("answers", "replies"),
    [
        (["yes please"], ["Deleted."]),
        (["nope"], ["Kept."]),
        (["what?", "that's right"], ["Deleted."]),
    ],
)
def test_state_confirmation(answers: list[str], replies: list[str]) -> None:
    t = Talk(load_model_text(CONFIRM))
    assert t.replies == ["About to delete everything.", "Are you sure?"]
    for answer in answers[:-1]:
        assert t.send(answer) == ["Are you sure?"]
    assert t.send(answers[-1]) == replies


UNITS = """
id: units
intents:
  hi: [hello]
states:
  first:
    do:
      - set: {who: main}
      - call: helper
      - say: "Back in {who}; helper said {helper.note}."
    next: waiting
  waiting:
    on: {hi: first}
units:
  helper:
    states:
      one:
        do:
          - set: {note: done, who: helper}
          - if: main.who == "main"
            then: [{return: true}]
        final: true
"""


def test_called_unit_has_its_own_scope_and_returns_where_it_was_called() -> None:
    t = Talk(load_model_text(UNITS))
    assert t.replies == ["Back in main; helper said done."]
    assert t.session.variables == {
        "main": {"who": "main"},
        "helper": {"note": "done", "who": "helper"},
    }
    assert t.session.stack == [] and t.session.unit == "main"
    pushed = [e for e in t.events if e.type in ("frame_pushed", "frame_popped")]
    assert [e.type for e in pushed] == ["frame_pushed", "frame_popped"]


def test_default_state_is_the_goal() -> None:
    model = load_model_text("""
id: goal
default_state: idle
events: [WORK, DONE]
states:
  idle: {on: {WORK: busy}}
  busy: {on: {DONE: idle}}
""")
    t = Talk(model)
    assert t.session.state == "idle" and not t.session.ended  # starting there is not "done"
    t.send(EventInput(name="WORK"))
    assert t.session.state == "busy"
    t.send(EventInput(name="DONE"))
    assert t.session.ended and t.actions[-1] == EndAction(reason="reached the default state 'idle'")


# --- code units -------------------------------------------------------------------------------


def _counter_unit() -> CodeUnit:
    unit = CodeUnit("count")

    @unit.state
    def begin(ctx: Any) -> None:
        ctx.set("n", 0)
        ctx.run("prompt")

    @unit.state
    def prompt(ctx: Any) -> None:
        ctx.ask(f"Number {ctx.get('n')}? Say 'plus N' or 'stop'.")
        ctx.next("answer")

    @unit.state
    def answer(ctx: Any) -> None:
        found = ctx.match(r"plus (?P<by>\d+)")
        if found:
            ctx.set("n", ctx.get("n") + int(found["by"]))
            ctx.run("prompt")
        elif ctx.match(r"stop"):
            ctx.delete("n")
            ctx.end("stopped")
        elif ctx.text == "crash":
            raise RuntimeError("boom")
        elif ctx.text == "jump":
            ctx.next("nowhere")
        else:
            ctx.say(f"Session {ctx.session_id} did not understand.")

    return unit


def test_code_unit_context_api() -> None:
    t = Talk(model_from_code(_counter_unit()))
    assert t.replies == ["Number 0? Say 'plus N' or 'stop'."]
    assert (t.session.unit, t.session.state) == ("count", "answer")
    assert t.send("plus 3") == ["Number 3? Say 'plus N' or 'stop'."]
    assert t.send("eh") == ["Session t did not understand."]
    assert t.session.state == "answer" and isinstance(t.actions[-1], WaitForUser)
    assert not t.actions[-1].immediate  # nothing was asked: idle wait
    assert t.send("stop") == []
    assert t.session.ended and t.session.variables == {"count": {}}


def test_code_unit_errors_refuse_the_input() -> None:
    t = Talk(model_from_code(_counter_unit()))
    with pytest.raises(errors.ModelError, match="raised RuntimeError: boom"):
        t.send("crash")
    with pytest.raises(errors.ModelError, match="no state 'nowhere'"):
        t.send("jump")
    with pytest.raises(errors.UnexpectedInput):
        t.send(EventInput(name="GO"))
    assert t.session.version == 1  # nothing was applied


def test_interrupt_resumes_the_interrupted_slot_question() -> None:
    model = load_model_text("""
id: intr
entities:
  city: [Paris, Rome]
intents:
  book:
    examples: ["book a trip to {city}", "book a trip"]
    slots: {city: {entity: city, required: true, prompt: "Where to?"}}
  help:
    examples: [help, I need help]
    interrupt: helpdesk
states:
  top:
    on: {book: booked}
  booked: {say: "Booked {city}.", next: top}
units:
  helpdesk:
    states:
      h: {say: "Just name a city.", final: true}
""")
    t = Talk(model)
    assert t.send("book a trip") == ["Where to?"]
    assert t.send("help") == ["Just name a city.", "Where to?"]
    assert t.send("Rome") == ["Booked Rome."]


def test_timeout_while_a_command_runs_is_refused() -> None:
    model = load_model_text("""
id: cmd
commands: {work: {outputs: [x]}}
states:
  s:
    do: [{command: work}]
    final: true
""")
    t = Talk(model)
    with pytest.raises(errors.UnexpectedInput):
        t.send(Timeout())
