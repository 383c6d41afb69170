"""Branches of the step function no other test reaches, with the events they record.

Handlers (not_allowed, a state's timeout and ambiguous, the model's command_error), units
inside units, interrupts over a called unit, memory steps, wake words, confirmations, the
reasons a session ends, and the boundaries of the inputs (ASR confidence, re-asked slots).
Each conversation is replayed after every update, and the events' data is read back.
"""

from __future__ import annotations

from typing import Any

import pytest

from dialoghub import errors
from dialoghub.engine.fold import replay
from dialoghub.engine.records import (
    ASR,
    CommandAction,
    CommandResult,
    EndAction,
    Event,
    Input,
    Reply,
    Session,
    SetVariables,
    Text,
    Timeout,
    WaitForUser,
)
from dialoghub.engine.step import start, step
from dialoghub.model.loader import load_model_text
from dialoghub.model.spec import Model

T0 = 1_700_000_000.0


class Talk:
    """A session driven through the pure engine; replay is checked after every update."""

    def __init__(self, model: Model | str) -> None:
        self.model = load_model_text(model) if isinstance(model, str) else model
        self.now = T0
        r = start(self.model, "t", now=self.now)
        self.session: Session = r.session
        self.events: list[Event] = list(r.events)
        self.new: list[Event] = list(r.events)
        self.actions = r.actions
        assert replay(self.events) == self.session

    def send(self, inp: Input | str) -> list[str]:
        self.now += 1
        inp = Text(text=inp) if isinstance(inp, str) else inp
        r = step(self.model, self.session, inp, self.now)
        self.session, self.actions = r.session, r.actions
        self.new = list(r.events)
        self.events.extend(r.events)
        assert replay(self.events) == self.session
        return self.replies

    @property
    def replies(self) -> list[str]:
        return [a.text for a in self.actions if isinstance(a, Reply)]

    def data(self, type: str) -> list[dict[str, Any]]:
        """The data of this update's events of ``type``."""
        return [e.data for e in self.new if e.type == type]

    @property
    def var(self) -> dict[str, Any]:
        return self.session.unit_variables()


# --- not_allowed --------------------------------------------------------------------------------

NOT_ALLOWED = """
id: rules
intents:
  pay: [pay the bill]
  tip: [leave a tip]
  help: [help me]
not_allowed: "Not now."
no_match: "Pardon?"
states:
  start:
    ask: What now?
    on: {pay: paid, help: start}
    not_allowed: {say: "First pay, please.", goto: start}
  paid:
    ask: Anything else?
    on: {help: paid}
"""


def test_a_state_not_allowed_handler_answers_a_known_intent_not_taken_here() -> None:
    t = Talk(NOT_ALLOWED)
    assert t.send("leave a tip") == ["First pay, please.", "What now?"]
    (rec,) = t.data("intent_recognized")
    assert rec["intent"] == "tip"
    assert t.session.state == "start"


def test_the_model_not_allowed_handler_answers_when_the_state_has_none() -> None:
    t = Talk(NOT_ALLOWED)
    t.send("pay the bill")
    assert t.session.state == "paid"
    assert t.send("leave a tip") == ["Not now."]
    assert t.session.state == "paid"
    assert t.actions[-1] == WaitForUser(immediate=True)  # the question still stands


def test_without_not_allowed_the_no_match_answer_is_used() -> None:
    model = NOT_ALLOWED.replace('not_allowed: "Not now."\n', "")
    t = Talk(model)
    t.send("pay the bill")
    assert t.send("leave a tip") == ["Pardon?"]


def test_without_any_handler_a_known_intent_not_taken_is_no_match() -> None:
    t = Talk("""
id: bare
intents:
  pay: [pay the bill]
  tip: [leave a tip]
states:
  start:
    ask: What now?
    on: {pay: start}
""")
    with pytest.raises(errors.NoMatch) as info:
        t.send("leave a tip")
    assert info.value.message == (
        "'leave a tip' matches no intent allowed in state 'start' of model 'bare' "
        "(allowed: pay); add a 'no_match' handler to the state or the model to answer it"
    )
    assert info.value.details == {"state": "start", "text": "leave a tip"}


# --- ambiguous ----------------------------------------------------------------------------------

AMBIGUOUS = """
id: bank
settings: {ambiguity_margin: MARGIN}
intents:
  balance: [check my account balance]
  close: [close my account]
ambiguous: "Balance or closing?"
states:
  start:
    ask: How can I help?
    on: {balance: show, close: closing}
    STATE_HANDLER
  show: {say: "3 euros.", next: start}
  closing: {say: Closed., final: true}
"""


def _bank(margin: float, state_handler: str = "") -> Talk:
    return Talk(AMBIGUOUS.replace("MARGIN", repr(margin)).replace("STATE_HANDLER", state_handler))


def test_a_state_ambiguous_handler_wins_over_the_model_one() -> None:
    t = _bank(0.5, 'ambiguous: {say: "Which one?", goto: start}')
    assert t.send("my account") == ["Which one?", "How can I help?"]
    (rec,) = t.data("intent_recognized")
    assert rec["intent"] is None
    assert sorted(rec["ambiguous"]) == ["balance", "close"]
    assert t.session.state == "start"


def test_the_model_ambiguous_handler() -> None:
    t = _bank(0.5)
    assert t.send("my account") == ["Balance or closing?"]
    assert t.session.state == "start"


def test_the_ambiguity_margin_is_exclusive() -> None:
    text = "my account balance"
    rec = load_model_text(AMBIGUOUS.replace("MARGIN", "0.5").replace("STATE_HANDLER", ""))
    found = rec.recognizer.recognize(text)
    assert found.intent == "balance" and found.alternatives
    gap = found.confidence - found.alternatives[0][1]
    assert 0 < gap < 0.5
    # a gap equal to the margin is clear enough; the next float up is not
    assert _bank(gap).send(text) == ["3 euros.", "How can I help?"]
    assert _bank(gap * (1 + 1e-9)).send(text) == ["Balance or closing?"]


def test_the_recognized_intent_and_confidence_are_recorded() -> None:
    t = _bank(0.0)
    text = "my account balance"
    confidence = t.model.recognizer.recognize(text).confidence
    assert 0.5 < confidence < 1
    t.send(text)
    (rec,) = t.data("intent_recognized")
    assert rec == {"intent": "balance", "confidence": round(confidence, 4)}


# --- timeouts -----------------------------------------------------------------------------------

TIMEOUTS = """
id: waits
intents:
  ready: [ready]
  plain: [plain]
  timed: [timed]
states:
  start:
    ask: ["Ready?", "Are you ready?", "Last call: ready?"]
    on: {ready: go, plain: plain, timed: timed}
    timeout: {say: "Too slow.", goto: gone}
  plain:
    ask: ["One?", "Two?"]
    on: {ready: go}
  timed:
    ask: {prompt: ["Now?", "Now, please?"], timeout: 5, retries: 1}
    on: {ready: go}
  go: {say: Go!, final: true}
  gone: {say: Gone., final: true}
"""


def test_a_state_timeout_handler_runs_on_a_timeout_without_a_prompt_timeout() -> None:
    t = Talk(TIMEOUTS)
    assert t.send(Timeout()) == ["Too slow.", "Gone."]
    assert t.data("timeout_fired") == [{"name": "prompt", "count": 1}]
    assert t.session.status.value == "ended"


def test_without_a_handler_a_timeout_asks_again_with_the_next_wording() -> None:
    t = Talk(TIMEOUTS)
    t.send("plain")
    assert t.send(Timeout()) == ["Two?"]
    assert t.send(Timeout()) == ["Two?"]  # past the last wording: the last one again
    assert t.data("timeout_fired") == [{"name": "prompt", "count": 2}]
    assert t.session.counters == {"prompt": 2}
    assert t.send(Timeout()) == ["Two?"]
    assert t.session.counters == {"prompt": 3}


def test_a_prompt_timeout_without_then_ends_with_no_answer() -> None:
    t = Talk(TIMEOUTS)
    t.send("timed")
    assert t.session.due_at == t.now + 5
    assert t.send(Timeout()) == ["Now, please?"]  # retry 1 of 1
    assert t.session.due_at == t.now + 5
    assert t.send(Timeout()) == []
    assert t.actions == (EndAction(reason="no answer"),)
    assert t.data("session_ended") == [{"reason": "no answer", "status": "ended"}]


def test_a_timeout_is_refused_while_a_command_runs() -> None:
    t = Talk(COMMANDS)
    with pytest.raises(errors.UnexpectedInput) as info:
        t.send(Timeout())
    assert info.value.message == "session 't' is not waiting for the user, so it cannot time out"
    assert info.value.details == {"session_id": "t"}


# --- commands -----------------------------------------------------------------------------------

COMMANDS = """
id: shop
commands:
  price:
    inputs: [item]
    outputs: [total, currency]
command_error: {say: "The shop is closed ({error}).", goto: sorry}
states:
  start:
    do:
      - command: price
        with: {item: lamp}
      - say: "Total: {total}."
    final: true
  sorry: {say: Sorry., final: true}
"""


def test_the_model_command_error_handler_runs_on_an_error_without_on_error() -> None:
    t = Talk(COMMANDS)
    assert t.actions == (CommandAction(id="price", params={"item": "lamp"}),)
    replies = t.send(CommandResult(id="price", outputs={"currency": "EUR"}, error="timeout"))
    assert replies == ["The shop is closed (timeout).", "Sorry."]
    assert t.data("command_result_received") == [
        {"id": "price", "outputs": {"currency": "EUR"}, "error": "timeout"}
    ]
    assert t.data("variable_set") == [
        {"name": "currency", "value": "EUR"},
        {"name": "error", "value": "timeout"},
    ]
    assert t.actions[-1] == EndAction(reason="reached final state 'sorry'")


def test_a_command_result_goes_on_after_the_command() -> None:
    t = Talk(COMMANDS)
    assert t.send(CommandResult(id="price", outputs={"total": 12})) == ["Total: 12."]
    assert t.data("command_result_received") == [{"id": "price", "outputs": {"total": 12}}]
    assert t.data("variable_set") == [{"name": "total", "value": 12}]
    assert t.data("session_ended") == [{"reason": "reached final state 'start'", "status": "ended"}]


def test_an_error_without_any_handler_goes_on_after_the_command() -> None:
    model = COMMANDS.replace(
        'command_error: {say: "The shop is closed ({error}).", goto: sorry}\n', ""
    ).replace("  sorry: {say: Sorry., final: true}\n", "")
    t = Talk(model)
    assert t.send(CommandResult(id="price", error="down")) == ["Total: ."]
    assert t.var["error"] == "down"


def test_command_result_refusals() -> None:
    t = Talk(COMMANDS)
    with pytest.raises(errors.UnknownCommand) as info:
        t.send(CommandResult(id="other"))
    assert info.value.message == "session 't' is waiting for command 'price', not 'other'"
    assert info.value.details == {"session_id": "t", "command": "other", "awaited": "price"}
    with pytest.raises(errors.InvalidInput) as bad:
        t.send(CommandResult(id="price", outputs={"zz": 1, "aa": 2}))
    assert bad.value.message == (
        "command 'price' has no outputs 'aa', 'zz'; declared: total, currency"
    )
    assert bad.value.details == {"command": "price", "outputs": ["aa", "zz"]}
    with pytest.raises(errors.InvalidInput) as one:
        t.send(CommandResult(id="price", outputs={"zz": 1}))
    assert one.value.message == "command 'price' has no output 'zz'; declared: total, currency"
    with pytest.raises(errors.UnexpectedInput) as text:
        t.send("hello")
    assert text.value.message == (
        "session 't' is waiting for the result of command 'price', not for text"
    )
    assert text.value.details == {"session_id": "t", "command": "price"}
    t.send(CommandResult(id="price", outputs={"total": 1}))
    with pytest.raises(errors.SessionClosed) as closed:
        t.send(CommandResult(id="price"))
    assert closed.value.message == (
        "session 't' is ended; it takes no more input (create a new session or fork this one)"
    )
    assert (closed.value.status, closed.value.session_id) == ("ended", "t")


def test_a_command_result_when_no_command_is_awaited() -> None:
    t = Talk(NOT_ALLOWED)
    with pytest.raises(errors.UnknownCommand) as info:
        t.send(CommandResult(id="price"))
    assert info.value.message == (
        "session 't' is not waiting for a command result (got one for 'price')"
    )
    assert info.value.details == {"session_id": "t", "command": "price"}


def test_set_variables_while_a_command_runs_repeats_the_command() -> None:
    t = Talk(COMMANDS)
    t.send(SetVariables(variables={"note": "x"}))
    assert t.actions == (CommandAction(id="price", params={"item": "lamp"}),)
    assert t.data("variable_set") == [{"name": "note", "value": "x", "unit": "main"}]
    assert t.session.awaiting is not None and t.session.awaiting["kind"] == "command"


# --- units --------------------------------------------------------------------------------------

UNITS = """
id: nest
intents:
  yes: [yes]
  help: [help]
  menu:
    examples: [menu please]
    interrupt: menu
states:
  start:
    do:
      - set: {where: main}
      - call: outer
      - say: "Back in main ({where}, {outer.where}, {inner.where})."
    final: true
units:
  outer:
    start: begin
    states:
      begin:
        do:
          - set: {where: outer}
          - call: inner
          - say: "Back in outer."
          - return: true
          - say: "Never said."
  inner:
    start: ask
    states:
      ask:
        do: [{set: {where: inner}}]
        ask: Inner question?
        on: {yes: done}
      done: {final: true}
  menu:
    states:
      show: {say: "The menu.", final: true}
"""


def test_nested_units_return_in_order() -> None:
    t = Talk(UNITS)
    assert t.replies == ["Inner question?"]
    assert (t.session.unit, t.session.state) == ("inner", "ask")
    assert [f["unit"] for f in t.session.stack] == ["main", "outer"]
    assert t.send("yes") == ["Back in outer.", "Back in main (main, outer, inner)."]
    assert t.data("frame_popped") == [
        {"unit": "outer", "state": "begin"},
        {"unit": "main", "state": "start"},
    ]
    assert t.session.stack == []
    assert t.actions[-1] == EndAction(reason="reached final state 'start'")


def test_an_interrupt_over_a_called_unit_resumes_its_question() -> None:
    t = Talk(UNITS)
    assert t.send("menu please") == ["The menu.", "Inner question?"]
    pushed = t.data("frame_pushed")
    assert len(pushed) == 1
    assert pushed[0]["frame"]["unit"] == "inner"
    assert pushed[0]["frame"]["state"] == "ask"
    assert pushed[0]["frame"]["awaiting"]["prompt"] == ["Inner question?"]
    assert t.data("frame_popped") == [{"unit": "inner", "state": "ask"}]
    assert [f["unit"] for f in t.session.stack] == ["main", "outer"]
    assert (t.session.unit, t.session.state) == ("inner", "ask")
    assert t.actions[-1] == WaitForUser(immediate=True)
    assert t.send("yes") == ["Back in outer.", "Back in main (main, outer, inner)."]


# --- memory ---------------------------------------------------------------------------------------


def test_clear_and_append() -> None:
    t = Talk("""
id: memory
states:
  start:
    do:
      - set: {name: Ada, greeting: "Hi {name}", seen: 3}
      - append: {seen: start}
      - append: {seen: again}
      - append: {log: one}
      - clear: [greeting, never_set]
      - increment: {count: 2}
      - increment: {count: 2}
      - set: {flag: true}
      - increment: flag
      - say: "{name} {count} {seen} {log} {flag}"
    final: true
""")
    assert t.var == {"name": "Ada", "seen": ["start", "again"], "log": ["one"], "count": 4,
                     "flag": 1}  # fmt: skip
    cleared = [e.data for e in t.events if e.type == "variable_cleared"]
    assert cleared == [{"name": "greeting"}]  # an unset variable is not cleared again
    assert "greeting" not in t.var


# --- wake words -----------------------------------------------------------------------------------

WAKE = """
id: wake
wake_word: MODEL
intents:
  next: [next]
states:
  start:
    ask: First?
    on: {next: second}
    STATE
  second:
    ask: Second?
    on: {next: start}
"""


@pytest.mark.parametrize(
    ("model", "state", "first", "second"),
    [
        ("true", "", True, True),
        ("false", "", False, False),
        ("true", "wake_word: false", False, True),  # the state's own setting wins
        ("false", "wake_word: true", True, False),
    ],
)
def test_a_state_wake_word_wins_over_the_model(
    model: str, state: str, first: bool, second: bool
) -> None:
    t = Talk(WAKE.replace("MODEL", model).replace("STATE", state))
    assert t.actions[-1] == WaitForUser(immediate=True, requires_wake_word=first)
    assert t.session.awaiting is not None and t.session.awaiting.get("wake", False) is first
    t.send("next")
    assert t.actions[-1] == WaitForUser(immediate=True, requires_wake_word=second)
    t.send(SetVariables(variables={"x": 1}))  # repeats the wait as it was
    assert t.actions == (WaitForUser(immediate=True, requires_wake_word=second),)


# --- confirmations --------------------------------------------------------------------------------

CONFIRM = """
id: confirmation
entities:
  size: [small, large]
intents:
  order:
    examples: ["a {size} coffee", "a coffee"]
    slots: {size: {entity: size, required: true, prompt: "Small or large?"}}
    confirm: "A {size} coffee, right?"
  tea:
    examples: ["a tea"]
    confirm: "A tea, right?"
states:
  start:
    on: {order: pay, tea: pay}
  pay:
    confirm: {ask: "Pay now?", yes: paid, no: later}
  paid: {say: Paid., final: true}
  later: {say: Pay at the counter., final: true}
"""


def test_confirmation_answers_are_recorded() -> None:
    t = Talk(CONFIRM)
    assert t.send("a small coffee") == ["A small coffee, right?"]
    assert t.send("yes") == ["Pay now?"]
    assert t.data("confirmation_answered") == [
        {"answer": "yes", "intent": "order", "filled": ["size"]}
    ]
    assert t.send("no") == ["Pay at the counter."]
    assert t.data("confirmation_answered") == [{"answer": "no", "state": "pay"}]


def test_no_to_an_intent_confirmation_clears_and_asks_again() -> None:
    t = Talk(CONFIRM)
    t.send("a small coffee")
    assert t.send("no") == ["Small or large?"]
    assert t.data("confirmation_answered") == [
        {"answer": "no", "intent": "order", "filled": ["size"]}
    ]
    assert t.data("variable_cleared") == [{"name": "size"}]
    assert t.send("large") == ["A large coffee, right?"]


def test_no_with_a_correction_takes_it() -> None:
    t = Talk(CONFIRM)
    t.send("a small coffee")
    assert t.send("no, a large one") == ["A large coffee, right?"]
    assert t.data("slot_filled") == [{"name": "size", "value": "large"}]


def test_no_to_an_intent_without_required_slots_asks_the_state_again() -> None:
    t = Talk(
        CONFIRM.replace(
            "    on: {order: pay, tea: pay}", "    ask: What?\n    on: {order: pay, tea: pay}"
        )
    )
    t.send("a tea")
    assert t.send("no") == ["What?"]
    assert t.session.state == "start"


def test_an_unclear_answer_asks_the_confirmation_again() -> None:
    t = Talk(CONFIRM)
    t.send("a small coffee")
    assert t.send("hmm") == ["A small coffee, right?"]
    assert t.data("confirmation_answered") == []


# --- ASR confidence, slots asked again --------------------------------------------------------------


@pytest.mark.parametrize("confidence", [0.0, 1.0, 0.5])
def test_asr_confidence_in_range_is_taken(confidence: float) -> None:
    t = Talk(NOT_ALLOWED)
    t.send(ASR(text="pay the bill", confidence=confidence))
    assert t.session.state == "paid"
    assert t.session.last_request == {
        "type": "asr", "text": "pay the bill", "confidence": confidence, "time": t.now,
    }  # fmt: skip


@pytest.mark.parametrize("confidence", [-0.01, 1.0000001, 2.0])
def test_asr_confidence_out_of_range_is_refused(confidence: float) -> None:
    t = Talk(NOT_ALLOWED)
    with pytest.raises(errors.InvalidInput) as info:
        t.send(ASR(text="pay the bill", confidence=confidence))
    assert info.value.message == f"ASR confidence must be in [0, 1], not {confidence}"


def test_a_slot_asked_again_uses_the_next_wording() -> None:
    t = Talk("""
id: slots
entities:
  size: [small, large]
intents:
  order:
    examples: ["a {size} coffee", "a coffee"]
    slots:
      size:
        entity: size
        required: true
        prompt: ["Small or large?", "Sorry: small or large?", "Last time: small or large?"]
states:
  start:
    on: {order: served}
  served: {say: "One {size} coffee.", final: true}
""")
    assert t.send("a coffee") == ["Small or large?"]
    assert t.send("blue") == ["Sorry: small or large?"]
    assert t.session.awaiting is not None
    assert t.session.awaiting["fill"] == {
        "intent": "order", "slot": "size", "filled": [], "tries": 1,
    }  # fmt: skip
    assert t.send("green") == ["Last time: small or large?"]
    assert t.session.awaiting["fill"]["tries"] == 2
    assert t.session.awaiting["prompt"][0] == "Last time: small or large?"
    assert t.send("large") == ["One large coffee."]


# --- the reasons a session ends ---------------------------------------------------------------------


def test_reaching_the_default_state_ends_with_its_reason() -> None:
    t = Talk("""
id: ticket
default_state: closed
events: [OPEN, RESOLVE]
states:
  closed:
    on: {OPEN: open}
  open:
    on: {RESOLVE: closed}
""")
    from dialoghub.engine.records import EventInput

    assert t.session.state == "closed" and not t.session.ended  # starting there is no goal
    t.send(EventInput(name="OPEN"))
    t.send(EventInput(name="RESOLVE"))
    assert t.actions[-1] == EndAction(reason="reached the default state 'closed'")
    assert t.data("session_ended") == [
        {"reason": "reached the default state 'closed'", "status": "ended"}
    ]


def test_an_empty_text_is_refused() -> None:
    t = Talk(NOT_ALLOWED)
    with pytest.raises(errors.InvalidInput) as info:
        t.send("  \t")
    assert info.value.message == "text is empty"
