"""What the step function says when it refuses an input or a model misbehaves: the message
a user or model author reads and the details the HTTP error body carries, asserted exactly,
with the session unchanged (a refused input returns nothing to store)."""

from __future__ import annotations

import sys

import msgspec
import pytest

from dialoghub import errors
from dialoghub.engine.records import (
    End,
    EndAction,
    EventInput,
    Expire,
    Jump,
    Session,
    SetVariables,
    Text,
    WaitForUser,
)
from dialoghub.engine.step import MAX_STATE_ENTRIES, start, step
from dialoghub.model.loader import load_model_text
from dialoghub.model.spec import Model

T0 = 1_700_000_000.0

TICKET = load_model_text("""
id: ticket
events: [OPEN, CLOSE]
intents:
  hello: [hello]
units:
  extra:
    states:
      one: {say: Extra., final: true}
states:
  closed:
    do: [{call: extra}]
    ask: Closed. Say hello or open it.
    on: {OPEN: open, hello: closed}
  open:
    ask: Open.
    on:
      CLOSE:
        - goto: closed
          when: reason is set
        - goto: open
""")


def _start(model: Model = TICKET) -> Session:
    return start(model, "s", now=T0).session


def _refused(model: Model, session: Session, inp: object) -> errors.DialoghubError:
    before = msgspec.to_builtins(session)
    with pytest.raises(errors.DialoghubError) as info:
        step(model, session, inp, T0 + 1)  # type: ignore[arg-type]
    assert msgspec.to_builtins(session) == before  # nothing changed
    return info.value


def test_set_variables_refusals() -> None:
    s = _start()
    err = _refused(TICKET, s, SetVariables(variables={}))
    assert isinstance(err, errors.InvalidInput)
    assert err.message == "set_variables needs at least one variable"
    err = _refused(TICKET, s, SetVariables(variables={"a": 1}, unit="nope"))
    assert err.message == "model 'ticket' has no unit 'nope'; its units: extra, main"
    assert err.details == {"unit": "nope"}
    for name in ("", "a.b"):
        err = _refused(TICKET, s, SetVariables(variables={"ok": 1, name: 2}))
        assert err.message == f"{name!r} is not a variable name (no dots, not empty)"


def test_set_variables_of_the_main_unit_and_another() -> None:
    s = _start()
    r = step(TICKET, s, SetVariables(variables={"a": 1}, unit="main"), T0 + 1)
    r = step(TICKET, r.session, SetVariables(variables={"b": 2}, unit="extra"), T0 + 2)
    assert r.session.variables == {"main": {"a": 1}, "extra": {"b": 2}}
    assert r.actions == (WaitForUser(immediate=True),)
    assert r.session.state == "closed"  # the flow does not move


def test_event_refusals() -> None:
    s = _start()
    err = _refused(TICKET, s, EventInput(name="CLOSE"))
    assert isinstance(err, errors.UnexpectedInput)
    assert err.message == "state 'closed' takes no event 'CLOSE'; it takes: OPEN"
    assert err.details == {"state": "closed", "event": "CLOSE"}
    err = _refused(TICKET, s, EventInput(name="hello"))  # an intent is not an event
    assert err.message == "state 'closed' takes no event 'hello'; it takes: OPEN"


def test_an_event_follows_the_first_transition_that_applies() -> None:
    s = step(TICKET, _start(), EventInput(name="OPEN", params={"by": "ada"}), T0 + 1).session
    assert (s.state, s.params) == ("open", {"by": "ada"})
    r = step(TICKET, s, EventInput(name="CLOSE"), T0 + 2)
    assert r.session.state == "open"  # reason is not set: the default
    s = step(TICKET, r.session, SetVariables(variables={"reason": "done"}), T0 + 3).session
    r = step(TICKET, s, EventInput(name="CLOSE"), T0 + 4)
    assert r.session.state == "closed"
    assert [e.type for e in r.events][:2] == ["input_received", "state_entered"]


def test_jump_refusal() -> None:
    err = _refused(TICKET, _start(), Jump(state="nowhere"))
    assert err.message == "unit 'main' of model 'ticket' has no state 'nowhere'"
    assert err.details == {"state": "nowhere"}


def test_a_session_in_a_state_the_model_lacks() -> None:
    s = _start()
    s.state = "gone"
    err = _refused(TICKET, s, Text(text="hello"))
    assert isinstance(err, errors.ModelMismatch)
    assert err.message == (
        "session 's' is in state main.gone, which model 'ticket' version 1 does not have"
    )
    assert err.details == {"session_id": "s", "state": "gone"}


def test_an_expired_session_is_closed_and_says_so() -> None:
    r = step(TICKET, _start(), Expire(), T0 + 1)
    assert r.actions == (EndAction(reason="lifetime ran out"),)
    assert [e.type for e in r.events][-1] == "session_expired"
    assert r.events[-1].data == {"reason": "lifetime ran out"}
    err = _refused(TICKET, r.session, Text(text="hello"))
    assert isinstance(err, errors.SessionClosed)
    assert err.message == (
        "session 's' is expired; it takes no more input (create a new session or fork this one)"
    )
    assert err.details == {"session_id": "s", "status": "expired"}


def test_end_gives_its_reason() -> None:
    r = step(TICKET, _start(), End(reason="operator"), T0 + 1)
    assert r.actions == (EndAction(reason="operator"),)
    assert r.events[-1].data == {"reason": "operator", "status": "ended"}
    assert r.session.awaiting is None and r.session.ended


def test_the_loop_limit_is_exactly_max_state_entries() -> None:
    # 100 states entered in one update nest about 500 frames; a tracer or mutmut's
    # trampolines double that, past Python's default limit of 1000
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 5000))
    try:
        _chain_limit()
    finally:
        sys.setrecursionlimit(limit)


def _chain_limit() -> None:
    states = "\n".join(f"  s{k}: {{next: s{k + 1}}}" for k in range(MAX_STATE_ENTRIES - 1))
    chain = f"id: chain\nstates:\n{states}\n  s{MAX_STATE_ENTRIES - 1}: {{ask: Done?}}\n"
    r = start(load_model_text(chain), "s", now=T0)  # 100 entries: allowed
    assert r.session.state == f"s{MAX_STATE_ENTRIES - 1}"
    longer = chain.replace(f"  s{MAX_STATE_ENTRIES - 1}: {{ask: Done?}}",
                           f"  s{MAX_STATE_ENTRIES - 1}: {{next: s{MAX_STATE_ENTRIES}}}\n"
                           f"  s{MAX_STATE_ENTRIES}: {{ask: Done?}}")  # fmt: skip
    with pytest.raises(errors.ModelError) as info:
        start(load_model_text(longer), "s", now=T0)
    assert info.value.message == (
        f"model 'chain' entered {MAX_STATE_ENTRIES} states in one update without waiting "
        f"(last: 's{MAX_STATE_ENTRIES}'); a loop of jumps needs a wait"
    )
    assert info.value.details == {"state": f"s{MAX_STATE_ENTRIES}"}


def test_no_transition_that_applies_is_a_model_error() -> None:
    model = load_model_text("""
id: stuck
states:
  a:
    next:
      - goto: b
        when: x is set
  b: {ask: B?}
""")
    with pytest.raises(errors.ModelError) as info:
        start(model, "s", now=T0)
    assert info.value.message == (
        "no transition of state 'a' applies and it does not wait; "
        "add a transition without 'when' as the default"
    )
    assert info.value.details == {"state": "a"}
