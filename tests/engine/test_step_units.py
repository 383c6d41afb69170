"""Unit tests of engine/step.py: the branches and records the conversation tests leave out.

A restarted dialog's events (their version, the restart's state), events refused while a
command runs and the events a state takes listed, a guarded event transition that refuses,
a slot question answered by its own intent again or by another request, and a model-level
``not_allowed`` handler whose block key the session keeps while its command runs.
"""

from __future__ import annotations

import json

import pytest

from dialoghub import errors
from dialoghub.engine.fold import replay
from dialoghub.engine.records import (
    ASR,
    Answers,
    CommandAction,
    CommandResult,
    EndAction,
    EventInput,
    Input,
    Override,
    Propose,
    Reply,
    SetVariables,
    Text,
    Transcribe,
    Vote,
    WaitForUser,
)
from dialoghub.engine.step import start, step
from dialoghub.model.loader import load_model_text
from tests.engine.talk import T0, Talk

RESTART = """
id: again
restart_on_request: true
intents:
  stop: [stop]
states:
  start:
    ask: Say stop.
    on: {stop: bye}
  bye: {say: Bye., final: true}
"""


def test_a_restarted_dialog_records_the_restart_in_one_new_version() -> None:
    t = Talk(RESTART)
    t.send("stop")
    assert t.session.ended
    version, seq = t.session.version, t.session.seq
    assert t.send("hello again") == ["Say stop."]
    assert [(e.seq, e.version, e.type) for e in t.new[:3]] == [
        (seq + 1, version + 1, "input_received"),
        (seq + 2, version + 1, "session_restarted"),
        (seq + 3, version + 1, "state_entered"),
    ]
    assert {e.version for e in t.new} == {version + 1}
    assert t.new[1].data == {"unit": "main", "state": "start"}
    assert t.session.version == version + 1 and not t.session.ended


EVENTS = """
id: ticket
events: [OPEN, CLOSE, HOLD]
commands:
  check: {inputs: [], outputs: []}
intents:
  hello: [hello]
no_match: "Pardon?"
states:
  closed:
    ask: Closed.
    on:
      OPEN: [{goto: open, when: "params.allowed is set"}]
      CLOSE: closed
      hello: closed
  open:
    do: [{command: check}]
    next: closed
"""


def test_an_event_while_a_command_runs_is_refused_with_the_command_named() -> None:
    t = Talk(EVENTS)
    t.send(EventInput(name="OPEN", params={"allowed": True}))
    assert t.actions == (CommandAction(id="check", params={}),)
    err = t.refused(EventInput(name="CLOSE"))
    assert isinstance(err, errors.UnexpectedInput)
    assert err.message == "session 'u1' is waiting for command 'check', not for event 'CLOSE'"
    assert err.details == {"session_id": "u1"}


def test_an_event_the_state_does_not_take_lists_the_events_it_takes() -> None:
    t = Talk(EVENTS)
    for name in ("HOLD", "hello"):  # an event not in `on`, and an intent sent as an event
        err = t.refused(EventInput(name=name))
        assert isinstance(err, errors.UnexpectedInput)
        assert err.message == f"state 'closed' takes no event {name!r}; it takes: CLOSE, OPEN"
        assert err.details == {"state": "closed", "event": name}


def test_a_state_that_takes_no_event_says_none() -> None:
    t = Talk("""
id: quiet
events: [OPEN]
intents:
  hello: [hello]
states:
  start:
    ask: Hello?
    on: {hello: start}
""")
    err = t.refused(EventInput(name="OPEN"))
    assert err.message == "state 'start' takes no event 'OPEN'; it takes: none"


def test_an_event_whose_transitions_all_refuse_is_no_match_in_its_state() -> None:
    t = Talk(EVENTS)
    assert t.send(EventInput(name="OPEN")) == ["Pardon?"]
    assert t.session.state == "closed"
    assert t.session.awaiting == {"kind": "user", "immediate": True, "prompt": ["Closed."]}


SLOTS = """
id: slots
entities:
  size: [small, large]
intents:
  order:
    examples: ["a {size} coffee", "a coffee"]
    slots:
      size: {entity: size, required: true, prompt: ["Small or large?", "Sorry: small or large?"]}
  pay: [pay the bill]
states:
  start:
    on: {order: served, pay: paid}
  served: {say: "One {size} coffee.", final: true}
  paid: {say: Paid., final: true}
"""


def test_a_slot_question_answered_by_its_own_intent_again_is_asked_again() -> None:
    t = Talk(SLOTS)
    assert t.send("a coffee") == ["Small or large?"]
    assert t.send("a coffee") == ["Sorry: small or large?"]
    assert t.session.awaiting is not None
    assert t.session.awaiting["fill"] == {"intent": "order", "slot": "size", "filled": [],
                                          "tries": 1}
    assert [e.type for e in t.new] == ["input_received", "action_emitted", "action_emitted"]


def test_a_slot_question_answered_by_another_request_handles_that_request() -> None:
    t = Talk(SLOTS)
    t.send("a coffee")
    assert t.send("pay the bill") == ["Paid."]
    assert t.session.ended and t.session.state == "paid"


NOT_ALLOWED = """
id: handlers
commands:
  log: {inputs: [], outputs: []}
intents:
  pay: [pay the bill]
  tip: [leave a tip]
not_allowed: {do: [{command: log}, {say: "Not now."}]}
states:
  start:
    ask: What now?
    on: {pay: paid}
  paid: {say: Paid., final: true}
"""


def test_the_models_not_allowed_handler_keeps_its_block_key_while_a_command_runs() -> None:
    t = Talk(NOT_ALLOWED)
    assert t.send("leave a tip") == []
    assert list(t.actions) == [CommandAction(id="log", params={})]
    assert t.session.awaiting == {"kind": "command", "command": "log", "params": {},
                                  "block": ["model", "not_allowed"], "pc": 1}
    assert t.send(CommandResult(id="log", outputs={})) == ["Not now."]
    assert list(t.actions)[-1] == WaitForUser(immediate=True)
    assert t.session.awaiting == {"kind": "user", "immediate": True, "prompt": ["What now?"]}


WAKE = """
id: wake
wake_word: true
intents:
  next: [next]
states:
  start:
    ask: {prompt: First?, timeout: 30}
    on: {next: start}
"""


def test_a_dropped_utterance_records_the_wait_it_repeats() -> None:
    model = load_model_text(WAKE)
    first = start(model, "u1", now=T0, metadata={"wake_word": "hey robot"})
    r = step(model, first.session, ASR(text="next please", confidence=0.9), T0 + 5)
    assert [e.type for e in r.events] == ["input_received", "utterance_dropped",
                                          "action_emitted"]
    aw = first.session.awaiting
    assert aw is not None and aw["due_at"] == T0 + 30
    # the same wait, due when it was (not pushed back by the dropped words)
    assert r.events[-1].data == {
        "action": {"type": "wait_for_user", "immediate": True, "requires_wake_word": True},
        "awaiting": aw,
    }
    assert r.session.awaiting == aw and r.session.due_at == T0 + 30
    assert replay([*first.events, *r.events]) == r.session


@pytest.mark.parametrize(
    ("states", "allowed"),
    [
        ("  start:\n    ask: Hi?\n    wait: true\n    next: start\n", "none"),
        ("  start:\n    ask: Hi?\n    on: {tip: start, pay: start}\n", "pay, tip"),
    ],
    ids=["none", "two"],
)
def test_no_match_without_a_handler_lists_what_the_state_allows(states: str,
                                                                 allowed: str) -> None:
    t = Talk("id: w\nintents:\n  pay: [pay the bill]\n  tip: [leave a tip]\nstates:\n"
             + states)
    err = t.refused(Text(text="blah blah"))
    assert isinstance(err, errors.NoMatch)
    assert err.message == (
        f"'blah blah' matches no intent allowed in state 'start' of model 'w' (allowed: "
        f"{allowed}); add a 'no_match' handler to the state or the model to answer it"
    )
    assert err.details == {"state": "start", "text": "blah blah"}


HANDLED = """
id: handled
commands:
  log: {inputs: [], outputs: []}
  price: {inputs: [], outputs: []}
intents:
  pay: [pay the bill]
no_match: {do: [{command: log}, {say: "Pardon?"}]}
command_error: {do: [{command: log}, {say: "It failed."}]}
states:
  start:
    ask: What now?
    on:
      pay: [{goto: paid, when: "ready is set"}]
  paid:
    do: [{command: price}]
    next: start
"""


def _logs_then_says(t: Talk, block: list[str], reply: str) -> None:
    assert list(t.actions) == [CommandAction(id="log", params={})]
    assert t.session.awaiting == {"kind": "command", "command": "log", "params": {},
                                  "block": block, "pc": 1}
    assert t.send(CommandResult(id="log", outputs={})) == [reply]


def test_the_models_no_match_handler_keeps_its_block_key_while_a_command_runs() -> None:
    t = Talk(HANDLED)
    assert t.send("blah blah") == []
    _logs_then_says(t, ["model", "no_match"], "Pardon?")
    assert t.session.awaiting == {"kind": "user", "immediate": True, "prompt": ["What now?"]}


def test_an_intent_whose_transitions_all_refuse_is_no_match_in_its_state() -> None:
    t = Talk(HANDLED)
    assert t.send("pay the bill") == []
    assert [e.data for e in t.new if e.type == "intent_recognized"] == [
        {"intent": "pay", "confidence": 1.0}
    ]
    _logs_then_says(t, ["model", "no_match"], "Pardon?")
    assert t.session.state == "start"


def test_the_models_command_error_handler_keeps_its_block_key_while_a_command_runs() -> None:
    t = Talk(HANDLED)
    t.send(SetVariables(variables={"ready": True}))
    t.send("pay the bill")
    assert list(t.actions) == [CommandAction(id="price", params={})]
    assert t.send(CommandResult(id="price", outputs={}, error="down")) == []
    _logs_then_says(t, ["model", "command_error"], "It failed.")


def test_an_output_of_a_command_that_declares_none() -> None:
    t = Talk(HANDLED)
    t.send("blah blah")
    err = t.refused(CommandResult(id="log", outputs={"total": 3}))
    assert isinstance(err, errors.InvalidInput)
    assert err.message == "command 'log' has no output 'total'; declared: none"
    assert err.details == {"command": "log", "outputs": ["total"]}


def test_variables_set_while_a_command_runs_repeat_the_command_and_its_wait() -> None:
    t = Talk(HANDLED)
    t.send("blah blah")
    aw = t.session.awaiting
    assert aw is not None and aw["kind"] == "command"
    t.send(SetVariables(variables={"note": "x"}))
    assert list(t.actions) == [CommandAction(id="log", params={})]
    assert t.new[-1].type == "action_emitted"
    assert t.new[-1].data == {"action": {"type": "command", "id": "log", "params": {}},
                              "awaiting": aw}
    assert t.session.awaiting == aw


@pytest.mark.parametrize(
    "inp",
    [
        Propose(round="r1", specialist="s", transition="go"),
        Vote(round="r1", specialist="s"),
        Override(transition="go"),
        Answers(items=[]),
    ],
    ids=["propose", "vote", "override", "answers"],
)
def test_a_decision_input_to_a_model_without_charts_is_refused(inp: Input) -> None:
    t = Talk(HANDLED)
    err = t.refused(inp)
    assert isinstance(err, errors.InvalidInput)
    assert err.message == "model 'handled' has no decision states (issue 10: charts)"
    assert err.details == {}


def test_a_stored_handler_block_the_new_model_lacks_is_a_model_mismatch() -> None:
    t = Talk(HANDLED)
    t.send("blah blah")
    assert t.session.awaiting is not None
    assert t.session.awaiting["block"] == ["model", "no_match"]
    without = load_model_text(HANDLED.replace('no_match: {do: [{command: log}, {say: "Pardon?"}]}\n',
                                              ""))
    assert without.no_match is None
    with pytest.raises(errors.ModelMismatch) as info:
        step(without, t.session, CommandResult(id="log", outputs={}), T0 + 99)
    assert info.value.message == "model has no handler model.no_match"
    assert info.value.details == {"block": ["model", "no_match"]}


def test_goto_transcribe_call_and_return_steps_of_a_do_list() -> None:
    t = Talk("""
id: steps
units:
  sub:
    start: one
    states:
      one:
        do: [{say: In sub.}, {return: true}]
        final: true
states:
  start:
    do: [{say: A.}, {transcribe: note}, {call: sub}, {goto: b}, {say: Never.}]
    final: true
  b:
    do: [{say: B.}, {return: true}]
    final: true
""")
    assert t.actions == (
        Reply(text="A."), Transcribe(variable="note"), Reply(text="In sub."), Reply(text="B."),
        EndAction(reason="unit 'main' returned"),
    )
    assert [e.data for e in t.new if e.type == "state_entered"] == [
        {"state": "start"}, {"state": "one", "unit": "sub"}, {"state": "b"},
    ]
    assert t.session.state == "b" and t.session.ended


GOAL = """
id: goal
default_state: done
intents:
  go: [go]
states:
  start:
    START
  done:
    ask: Done?
    on: {go: start}
"""


def test_the_default_state_reached_by_the_first_update_ends_the_session() -> None:
    t = Talk(GOAL.replace("START", "ask: Go?\n    on: {go: done}"))
    assert t.session.version == 1 and not t.session.ended
    t.send("go")
    assert t.session.version == 2
    assert t.actions == (EndAction(reason="reached the default state 'done'"),)


def test_the_default_state_reached_while_starting_ends_the_session() -> None:
    t = Talk(GOAL.replace("START", "say: Hi.\n    next: done"))
    assert t.actions == (Reply(text="Hi."), EndAction(reason="reached the default state 'done'"))
    assert t.session.ended


def test_a_start_state_named_empty_is_no_goal() -> None:
    t = Talk('id: e\nintents:\n  go: [go]\nstates:\n  "":\n    ask: Nameless?\n'
             "    on: {go: other}\n  other: {say: Other., final: true}\n")
    assert t.actions == (Reply(text="Nameless?"), WaitForUser(immediate=True))
    assert not t.session.ended and t.session.state == ""


def test_a_chart_model_starts_with_its_lifetime() -> None:
    chart = load_model_text(json.dumps({"id": "m", "initial": "a",
                                        "states": {"a": {"on": {"GO": "b"}}, "b": {}}}), "m.json")
    assert chart.chart is not None
    r = start(chart, "c1", now=T0, lifetime={"idle": 60.0})
    assert r.session.lifetime == {"idle": 60.0}
    assert r.session.expires_at == T0 + 60
