"""The pure step function: actions, events and refusals, with no store involved."""

from __future__ import annotations

import pytest

from dialoghub import errors
from dialoghub.engine.fold import replay
from dialoghub.engine.records import (
    ASR,
    CommandAction,
    CommandResult,
    End,
    EndAction,
    EventInput,
    Jump,
    Reply,
    SetVariables,
    Text,
    Timeout,
    WaitForUser,
)
from dialoghub.engine.step import start, step
from dialoghub.model.loader import load_model_text
from dialoghub.model.spec import Model

T0 = 1_700_000_000.0


def _start(model: Model):  # type: ignore[no-untyped-def]
    return start(model, "s1", now=T0, metadata={"user": "ada"}, params={"p": 1})


def test_start_greets_and_waits(weather: Model) -> None:
    r = _start(weather)
    assert [type(a) for a in r.actions] == [Reply, WaitForUser]
    assert r.actions[0].text.startswith("Hi! I'm the weather assistant")
    assert r.session.state == "listen"
    assert r.session.version == 1
    assert r.session.metadata == {"user": "ada"}
    assert [e.seq for e in r.events] == list(range(1, len(r.events) + 1))
    assert {e.version for e in r.events} == {1}
    assert r.events[0].type == "session_started"


def test_intent_with_slot_emits_command_then_reply(weather: Model) -> None:
    s = _start(weather).session
    r = step(weather, s, Text(text="what's the weather in Paris"), T0 + 1)
    assert r.actions == (CommandAction(id="lookup_weather", params={"city": "Paris", "day": None}),)
    assert r.session.awaiting is not None and r.session.awaiting["kind"] == "command"
    types = [e.type for e in r.events]
    assert types[:3] == ["input_received", "intent_recognized", "slot_filled"]
    r2 = step(
        weather,
        r.session,
        CommandResult(id="lookup_weather", outputs={"forecast": "sunny", "temperature": 21}),
        T0 + 2,
    )
    assert [a.text for a in r2.actions if isinstance(a, Reply)] == [
        "In Paris it is sunny and 21 degrees."
    ]
    assert isinstance(r2.actions[-1], WaitForUser)
    assert r2.session.variables["main"]["temperature"] == 21
    assert r2.session.last_response is not None
    assert r2.session.last_response["text"] == "In Paris it is sunny and 21 degrees."


def test_missing_required_slot_is_asked_then_filled(weather: Model) -> None:
    s = _start(weather).session
    r = step(weather, s, Text(text="what is the weather like"), T0 + 1)
    assert [a.text for a in r.actions if isinstance(a, Reply)] == ["Which city?"]
    assert r.actions[-1] == WaitForUser(immediate=True)
    r2 = step(weather, r.session, Text(text="tokio"), T0 + 2)  # a typo of a city
    assert isinstance(r2.actions[-1], CommandAction)
    assert r2.actions[-1].params["city"] == "Tokyo"


def test_synonym_gives_canonical_value(weather: Model) -> None:
    s = _start(weather).session
    r = step(weather, s, Text(text="what's the weather in the big apple"), T0 + 1)
    assert isinstance(r.actions[-1], CommandAction)
    assert r.actions[-1].params["city"] == "New York"


def test_command_error_takes_the_error_branch(weather: Model) -> None:
    s = step(weather, _start(weather).session, Text(text="weather in Rome"), T0 + 1).session
    r = step(weather, s, CommandResult(id="lookup_weather", error="no forecast"), T0 + 2)
    assert [a.text for a in r.actions if isinstance(a, Reply)] == [
        "Sorry, I have no forecast for Rome."
    ]


def test_no_match_uses_the_model_handler(weather: Model) -> None:
    r = step(weather, _start(weather).session, Text(text="zzz qqq"), T0 + 1)
    assert r.actions[0] == Reply(
        text="Sorry, I can only tell the weather. Try: what's the weather in Paris?"
    )
    assert r.session.state == "listen"


def test_goodbye_ends_the_session(weather: Model) -> None:
    r = step(weather, _start(weather).session, Text(text="bye"), T0 + 1)
    assert isinstance(r.actions[-1], EndAction)
    assert r.session.ended and not r.session.active
    with pytest.raises(errors.SessionClosed, match="ended"):
        step(weather, r.session, Text(text="hello"), T0 + 2)


def test_every_action_list_ends_with_an_action_needing_an_update(weather: Model) -> None:
    s = _start(weather).session
    for inp in [
        Text(text="hi"),
        SetVariables(variables={"x": 1}),
        Timeout(),
        ASR(text="thanks", confidence=0.8),
    ]:
        r = step(weather, s, inp, T0 + 1)
        assert isinstance(r.actions[-1], WaitForUser | CommandAction | EndAction)
        s = r.session


@pytest.mark.parametrize(
    ("inp", "error", "message"),
    [
        (CommandResult(id="lookup_weather", outputs={}), errors.UnknownCommand, "not waiting"),
        (Text(text="   "), errors.InvalidInput, "empty"),
        (Jump(state="nowhere"), errors.InvalidInput, "no state 'nowhere'"),
        (EventInput(name="APPROVE"), errors.UnexpectedInput, "takes no event"),
        (SetVariables(variables={}), errors.InvalidInput, "at least one"),
        (ASR(text="hi", confidence=1.5), errors.InvalidInput, "confidence"),
    ],
)
def test_bad_inputs_are_refused_with_a_specific_error(
    weather: Model, inp: object, error: type[Exception], message: str
) -> None:
    s = _start(weather).session
    before = s.version
    with pytest.raises(error, match=message):
        step(weather, s, inp, T0 + 1)  # type: ignore[arg-type]
    assert s.version == before  # the caller's snapshot is untouched


def test_command_result_for_another_command_is_refused(weather: Model) -> None:
    s = step(weather, _start(weather).session, Text(text="weather in Paris"), T0 + 1).session
    with pytest.raises(errors.UnknownCommand, match="waiting for command 'lookup_weather'"):
        step(weather, s, CommandResult(id="book_flight"), T0 + 2)
    with pytest.raises(errors.InvalidInput, match="no output 'humidity'"):
        step(weather, s, CommandResult(id="lookup_weather", outputs={"humidity": 3}), T0 + 2)
    with pytest.raises(errors.UnexpectedInput, match="waiting for the result"):
        step(weather, s, Text(text="hello"), T0 + 2)


def test_jump_replaces_memory_and_params(weather: Model) -> None:
    s = step(weather, _start(weather).session, Text(text="weather in Paris"), T0 + 1).session
    r = step(weather, s, Jump(state="greet", params={"k": 2}, variables={"city": "Rome"}), T0 + 2)
    assert r.session.params == {"k": 2}
    assert r.session.variables["main"] == {"city": "Rome"}
    assert r.session.state == "listen"  # greet says hello and moves on to listen


def test_end_input_ends(weather: Model) -> None:
    r = step(weather, _start(weather).session, End(reason="user hung up"), T0 + 1)
    assert r.actions == (EndAction(reason="user hung up"),)
    assert r.session.status.value == "ended"


def test_replay_of_the_events_is_the_snapshot(weather: Model) -> None:
    r = _start(weather)
    events = list(r.events)
    s = r.session
    for inp in [Text(text="what's the weather like"), Text(text="Paris")]:
        r = step(weather, s, inp, T0 + 1)
        events += r.events
        s = r.session
    r = step(
        weather,
        s,
        CommandResult(id="lookup_weather", outputs={"forecast": "dry", "temperature": 3.5}),
        T0 + 3,
    )
    events += r.events
    assert replay(events) == r.session


NO_HANDLER = """
id: strict
intents:
  yes: [yes, sure]
states:
  ask:
    ask: Shall we?
    on: {yes: done}
  done:
    say: Done.
    final: true
"""

CHAIN = """
id: chain
states:
  a: {say: a, next: b}
  b: {say: b, next: c}
  c: {say: c, next: d}
  d: {ask: "Anything else?", wait: true}
"""


def test_text_without_any_handler_raises_no_match() -> None:
    model = load_model_text(NO_HANDLER)
    s = start(model, "x", now=T0).session
    with pytest.raises(errors.NoMatch, match="matches no intent allowed in state 'ask'"):
        step(model, s, Text(text="purple elephants"), T0 + 1)


def test_too_many_state_entries_in_one_update_is_a_model_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Static validation refuses plain loops; this guard catches conditional ones at run time.
    model = load_model_text(CHAIN)
    assert start(model, "x", now=T0).session.state == "d"
    monkeypatch.setattr("dialoghub.engine.step.MAX_STATE_ENTRIES", 3)
    with pytest.raises(errors.ModelError, match="without waiting"):
        start(model, "x", now=T0)
