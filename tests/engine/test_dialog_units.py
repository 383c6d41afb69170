"""Unit tests of engine/dialog.py: the branches the conversation tests leave out.

``listen`` steps without a question and the confidence they record, a global handler that
re-asks a question with several wordings (or none), confirmations answered by another
request or by a value alone, a confirmed intent whose transitions all refuse, giving up
with no handler at all, model-level handlers whose block key is stored in the session, and
a session whose stored handler key the (new) model no longer has.
"""

from __future__ import annotations

import pytest

from dialoghub import errors
from dialoghub.engine.records import (
    CommandAction,
    CommandResult,
    Reply,
    Text,
    Timeout,
    WaitForUser,
)
from dialoghub.engine.step import step
from dialoghub.model.loader import load_model_text
from tests.engine.talk import T0, Talk

STORY = """
id: story
entities:
  drink: [tea, coffee]
intents:
  order: ["a {drink} please", "{drink}"]
  hello: [hello there]
main:
  - say: Hi.
  - listen: true
  - say: "Got {intent}."
"""


def test_a_listen_step_without_a_question_waits_idle_and_takes_the_answer() -> None:
    t = Talk(STORY)
    assert t.actions == (Reply(text="Hi."), WaitForUser(immediate=False))
    assert t.session.awaiting == {"kind": "user", "immediate": False,
                                  "listen": {"block": ["do"], "pc": 2}}
    assert t.send("a coffee please") == ["Got order.", "Hi."]
    assert t.data("slot_filled") == [{"name": "drink", "value": "coffee"}]


def test_a_heard_answer_records_its_confidence_to_four_places() -> None:
    t = Talk(STORY)
    t.send("hello")
    # "hello" against the example "hello there": 0.7071, kept to four places (not 0 or 1)
    assert t.data("intent_recognized") == [{"intent": "hello", "confidence": 0.7071}]
    assert t.data("variable_set") == [{"name": "intent", "value": "hello"}]


GLOBALS = """
id: globals
intents:
  help: [help]
  pay: [pay]
global:
  help: {say: "Say pay."}
states:
  start:
    ask: ["First?", "Second?"]
    on: {pay: quiet}
  quiet:
    on: {pay: start}
"""


def test_a_global_handler_reasks_the_first_wording_or_nothing_without_a_question() -> None:
    t = Talk(GLOBALS)
    assert t.send("help") == ["Say pay.", "First?"]
    assert t.session.awaiting == {"kind": "user", "immediate": True,
                                  "prompt": ["First?", "Second?"]}
    t.send("pay")
    assert t.send("help") == ["Say pay."]
    assert t.actions[-1] == WaitForUser(immediate=False)
    assert t.session.awaiting == {"kind": "user", "immediate": False}


CONFIRM_STATE = """
id: more
entities:
  size: [small, large]
intents:
  pay: [pay the bill]
  order: {examples: ["a {size} coffee"], slots: {size: {entity: size}}}
no_match: "Pardon?"
not_allowed: "Not now."
states:
  start:
    confirm: {ask: "Anything else?", yes: start, no: done}
  done: {say: Bye., final: true}
"""


def test_a_state_confirmation_asks_again_on_another_intent_or_a_value_alone() -> None:
    t = Talk(CONFIRM_STATE)
    for said in ("pay the bill", "large"):
        assert t.send(said) == ["Anything else?"]
        assert t.data("intent_recognized") == []
        assert t.session.awaiting == {"kind": "user", "immediate": True,
                                      "prompt": ["Anything else?"],
                                      "confirm": {"state": "start"}}
    assert t.send("no") == ["Bye."]


GUARDED = """
id: guarded
intents:
  pay: {examples: [pay the bill], confirm: "Pay now?"}
no_match: "Pardon?"
states:
  start:
    ask: What?
    on:
      pay: [{goto: done, when: "ready is set"}]
  done: {say: Bye., final: true}
"""


def test_a_confirmed_intent_whose_transitions_all_refuse_is_no_match_in_its_state() -> None:
    t = Talk(GUARDED)
    assert t.send("pay the bill") == ["Pay now?"]
    assert t.send("yes") == ["Pardon?"]
    assert t.data("confirmation_answered") == [{"answer": "yes", "intent": "pay", "filled": []}]
    assert t.session.state == "start"
    assert t.session.awaiting == {"kind": "user", "immediate": True, "prompt": ["What?"]}


GIVE_UP_BARE = """
id: bare
settings: {max_tries: 2}
entities:
  size: [small, large]
intents:
  order:
    examples: ["a {size} coffee", "a coffee"]
    slots:
      size: {entity: size, required: true, prompt: "Small or large?"}
states:
  start:
    ask: What?
    on: {order: served}
  served: {say: "One {size} coffee.", final: true}
"""


def test_giving_up_without_any_handler_waits_without_the_question() -> None:
    t = Talk(GIVE_UP_BARE)
    t.send("a coffee")
    assert t.send("blue") == ["Small or large?"]
    assert t.send("blue") == []
    assert t.data("slot_given_up") == [{"intent": "order", "slot": "size", "tries": 2}]
    assert t.actions == (WaitForUser(immediate=True),)
    assert t.session.awaiting == {"kind": "user", "immediate": True, "prompt": ["What?"]}


GIVE_UP_NO_MATCH = """
id: logged
settings: {max_tries: 1}
commands:
  log: {inputs: [], outputs: []}
entities:
  size: [small, large]
intents:
  order:
    examples: ["a {size} coffee", "a coffee"]
    slots:
      size: {entity: size, required: true, prompt: "Small or large?"}
no_match: {do: [{command: log}, {say: "Noted."}]}
states:
  start:
    ask: What?
    on: {order: served}
  served: {say: "One {size} coffee.", final: true}
"""


def test_giving_up_runs_the_models_no_match_whose_block_key_the_session_keeps() -> None:
    t = Talk(GIVE_UP_NO_MATCH)
    t.send("a coffee")
    assert t.send("blue") == []
    assert t.actions == (CommandAction(id="log", params={}),)
    assert t.session.awaiting == {"kind": "command", "command": "log", "params": {},
                                  "block": ["model", "no_match"], "pc": 1}
    assert t.send(CommandResult(id="log", outputs={})) == ["Noted."]
    assert t.session.awaiting == {"kind": "user", "immediate": True, "prompt": ["What?"]}


GIVE_UP_COMMAND = """
id: gu
settings: {max_tries: 1}
commands:
  log: {inputs: [], outputs: []}
entities:
  size: [small, large]
intents:
  order:
    examples: ["a {size} coffee", "a coffee"]
    slots:
      size:
        entity: size
        required: true
        prompt: "Small or large?"
        give_up: {do: [{command: log}], goto: start}
states:
  start:
    ask: What?
    on: {order: served}
  served: {say: "One {size} coffee.", final: true}
"""


@pytest.mark.parametrize(
    "change",
    [
        ("give_up: {do: [{command: log}], goto: start}", "tries: 1"),  # no give_up
        ("order", "buy"),  # no intent
        ("size:\n        entity", "cup:\n        entity"),  # no slot
    ],
    ids=["handler", "intent", "slot"],
)
def test_a_stored_give_up_block_the_new_model_lacks_is_a_model_mismatch(
    change: tuple[str, str],
) -> None:
    t = Talk(GIVE_UP_COMMAND)
    t.send("a coffee")
    t.send("blue")
    assert t.session.awaiting is not None
    assert t.session.awaiting["block"] == ["give_up", "order", "size"]
    changed = load_model_text(GIVE_UP_COMMAND.replace(*change).replace("{size} coffee",
                                                                       "coffee"))
    with pytest.raises(errors.ModelMismatch) as info:
        t.send(CommandResult(id="log", outputs={}), model=changed)
    assert info.value.message == "model has no handler give_up.order.size"
    assert info.value.details == {"block": ["give_up", "order", "size"]}
    # the model it was started on goes on: the handler's goto
    assert t.send(CommandResult(id="log", outputs={})) == ["What?"]


QUIET_INTERRUPT = """
id: quiet
intents:
  pay: [pay]
  menu:
    examples: [menu please]
    interrupt: menu
states:
  start:
    on: {pay: paid}
  paid: {say: Paid., final: true}
units:
  menu:
    states:
      show: {say: "The menu.", final: true}
"""


def test_an_interrupt_of_a_wait_without_a_question_resumes_it_saying_nothing_more() -> None:
    t = Talk(QUIET_INTERRUPT)
    assert t.send("menu please") == ["The menu."]
    assert t.data("frame_popped") == [{"unit": "main", "state": "start"}]
    assert t.actions == (Reply(text="The menu."), WaitForUser(immediate=False))
    assert t.session.awaiting == {"kind": "user", "immediate": False}
    assert t.session.stack == [] and t.session.unit == "main"
    assert t.send("pay") == ["Paid."]


WAKE_TIMED = """
id: wake
wake_word: true
intents:
  next: [next]
states:
  start:
    ask: {prompt: ["First?", "Again?"], timeout: 10, retries: 1}
    on: {next: start}
"""


def test_a_reprompt_keeps_requiring_the_wake_word() -> None:
    t = Talk(WAKE_TIMED)
    assert t.actions == (Reply(text="First?"), WaitForUser(immediate=True,
                                                             requires_wake_word=True))
    assert t.send(Timeout()) == ["Again?"]
    assert t.actions[-1] == WaitForUser(immediate=True, requires_wake_word=True)
    assert t.session.awaiting is not None and t.session.awaiting["wake"] is True


# --- ambiguity ---------------------------------------------------------------------------

BANK = """
id: bank
settings: {ambiguity_margin: MARGIN}
commands:
  log: {inputs: [], outputs: []}
intents:
  balance: [check my account balance]
  close: [close my account]
  twin: [close my account]
no_match: "Pardon?"
HANDLER
states:
  start:
    ask: How can I help?
    on: {balance: show, close: closing, twin: closing}
  show: {say: "3 euros.", next: start}
  closing: {say: Closed., final: true}
"""
LOGGED = 'ambiguous: {do: [{command: log}, {say: "Which one?"}]}'


def _bank(margin: str, handler: str = LOGGED) -> Talk:
    return Talk(BANK.replace("MARGIN", margin).replace("HANDLER", handler))


def test_tied_intents_are_ambiguous_whatever_the_margin() -> None:
    t = _bank("0")
    assert t.send("close my account") == []
    assert t.data("intent_recognized") == [
        {"intent": None, "confidence": 1.0, "ambiguous": ["close", "twin"]}
    ]
    # the model's handler: its block key is kept while its command runs
    assert t.session.awaiting == {"kind": "command", "command": "log", "params": {},
                                  "block": ["model", "ambiguous"], "pc": 1}
    assert t.send(CommandResult(id="log", outputs={})) == ["Which one?"]


def test_close_scores_are_ambiguous_and_record_the_best_confidence() -> None:
    t = Talk(BANK.replace("MARGIN", "0.5").replace("HANDLER", LOGGED)
             .replace("  twin: [close my account]\n", "").replace(", twin: closing", ""))
    raw = t.model.recognizer.recognize("my account")
    assert raw.intent == "close" and raw.tied == () and 0.5 < raw.confidence < 1
    assert raw.confidence - raw.alternatives[0][1] < 0.5
    t.send("my account")
    assert t.data("intent_recognized") == [
        {"intent": None, "confidence": raw.confidence, "ambiguous": ["close", "balance"]}
    ]


def test_without_alternatives_or_handlers_the_best_intent_is_taken() -> None:
    t = _bank("0.2")
    assert t.model.recognizer.recognize("check").alternatives == ()
    assert t.send("check") == ["3 euros.", "How can I help?"]  # no alternative to weigh
    t = _bank("0.5", handler="")  # no ambiguous handler anywhere: no ambiguity either
    assert t.send("close my account") == ["Closed."]
    assert t.data("intent_recognized") == [{"intent": "close", "confidence": 1.0}]


def test_text_below_the_threshold_is_no_match_even_with_close_alternatives() -> None:
    t = _bank("0.5")
    raw = t.model.recognizer.recognize("my")
    assert raw.intent is None and raw.alternatives
    assert t.send("my") == ["Pardon?"]
    assert t.data("intent_recognized") == [{"intent": None, "confidence": raw.confidence}]


# --- global intents and interrupts ------------------------------------------------------

OUT = """
id: out
intents:
  pay: [pay]
  cancel: [cancel, no thanks]
  help: [help me]
  menu: {examples: [show the menu], interrupt: menu}
global:
  cancel: start
  help: {say: "Say pay."}
states:
  start:
    do: [{call: inner}]
    next: start
units:
  inner:
    states:
      q:
        confirm: {ask: "Anything else?", yes: q, no: done}
      done: {final: true}
  menu:
    states:
      show:
        ask: The menu. Pay?
        on: {pay: back}
      back: {final: true}
"""


def test_a_yes_or_no_to_a_confirmation_is_an_answer_not_a_global() -> None:
    t = Talk(OUT)
    t.send("no thanks")
    assert t.data("confirmation_answered") == [{"answer": "no", "state": "q"}]
    assert t.data("intent_recognized") == []


def test_a_global_with_a_target_leaves_every_unit_for_the_main_one() -> None:
    t = Talk(OUT)
    t.send("please show the menu now")  # an interrupt over the unit inner
    assert [f["unit"] for f in t.session.stack] == ["main", "inner"]
    assert t.send("cancel") == ["Anything else?"]
    assert t.data("intent_recognized") == [{"intent": "cancel", "confidence": 1.0}]
    assert t.data("frame_popped") == [{"unit": "inner", "state": "q"},
                                      {"unit": "main", "state": "start"}]
    assert [f["unit"] for f in t.session.stack] == ["main"]  # start calls inner again


def test_a_global_handler_records_its_confidence() -> None:
    t = Talk(OUT)
    assert t.send("help me now please") == ["Say pay.", "Anything else?"]
    assert t.data("intent_recognized") == [{"intent": "help", "confidence": 0.866}]


def test_an_interrupt_records_its_confidence_and_does_not_interrupt_itself() -> None:
    t = Talk(OUT)
    assert t.send("please show the menu now") == ["The menu. Pay?"]
    assert t.data("intent_recognized") == [{"intent": "menu", "confidence": 0.9129}]
    assert t.session.unit == "menu" and len(t.session.stack) == 2
    with pytest.raises(errors.NoMatch):  # in the menu already: "menu" is not an interrupt
        step(t.model, t.session, Text(text="show the menu"), T0 + 99)
    assert t.send("pay") == ["Anything else?"]
    assert t.session.unit == "inner"


# --- values alone -----------------------------------------------------------------------

BARE = """
id: bare
entities:
  size: [small, large]
  city: [paris, london]
intents:
  order: {examples: ["a {size} coffee"], slots: {size: {entity: size}}}
  book: {examples: ["a trip to {city}"], slots: {city: {entity: city}}}
  sizes: ["{size}"]
not_allowed: "Not now."
states:
  start:
    ask: What?
    on: {order: served, book: booked}
  served: {say: "One {size} coffee.", final: true}
  booked: {say: "To {city}.", final: true}
"""


@pytest.mark.parametrize(
    ("said", "intent", "reply"),
    [("large", "order", "One large coffee."), ("paris", "book", "To paris.")],
)
def test_a_value_alone_is_the_one_intent_of_the_state_with_a_slot_for_it(
    said: str, intent: str, reply: str
) -> None:
    t = Talk(BARE)
    # "large" is the intent `sizes` (not taken here), "paris" no intent at all
    assert t.model.recognizer.recognize(said).intent == ("sizes" if said == "large" else None)
    assert t.send(said) == [reply]
    assert t.data("intent_recognized") == [{"intent": intent, "confidence": 1.0}]
