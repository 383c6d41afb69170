"""Unit tests of engine/agent_ops.py: an agent round's records as pure steps.

Each record goes through :func:`dialoghub.engine.agent_ops.step` (and once through
:func:`dialoghub.engine.step.step`); the events are read back whole, the fold's ``agent``
record after them, and every refusal asserts its message and details.
"""

from __future__ import annotations

from typing import Any

import pytest

from dialoghub.engine import agent_ops
from dialoghub.engine.fold import replay
from dialoghub.engine.records import (
    AgentRecord,
    CommandAction,
    End,
    Event,
    Session,
    WaitForUser,
)
from dialoghub.engine.step import start, step
from dialoghub.errors import InvalidInput, SessionClosed, UnexpectedInput
from dialoghub.model.loader import load_model_text

T0 = 2_000.0
ASKS = """
id: asks
wake_word: true
intents:
  next: [next]
states:
  start:
    ask: First?
    on: {next: start}
"""
SHOP = """
id: shop
commands:
  price:
    inputs: [item]
    outputs: [total]
states:
  start:
    do:
      - command: price
        with: {item: lamp}
      - say: "Total: {total}."
    final: true
"""


class Agent:
    """A session updated by agent records only; replay is checked after each."""

    def __init__(self, text: str = ASKS) -> None:
        self.model = load_model_text(text)
        r = start(self.model, "a1", now=T0)
        self.session: Session = r.session
        self.log: list[Event] = list(r.events)
        self.now = T0

    def record(self, kind: str, data: dict[str, Any] | None = None,
               variables: dict[str, Any] | None = None) -> tuple[Any, ...]:
        self.now += 1
        inp = AgentRecord(kind=kind, data=data or {}, variables=variables or {})
        before = self.session
        s, actions, events = agent_ops.step(self.session, inp, self.now)
        assert [(e.seq, e.version, e.time) for e in events] == [
            (before.seq + i + 1, before.version + 1, self.now) for i in range(len(events))
        ]
        self.session = s
        self.log.extend(events)
        assert replay(self.log) == s
        return actions, [(e.type, e.data) for e in events]

    def refused(self, error: type[Exception], kind: str, data: dict[str, Any] | None = None,
                variables: dict[str, Any] | None = None) -> Any:
        inp = AgentRecord(kind=kind, data=data or {}, variables=variables or {})
        before = self.session
        with pytest.raises(error) as info:
            agent_ops.step(self.session, inp, self.now + 1)
        assert self.session == before
        return info.value


def test_a_round_starts_posts_and_ends() -> None:
    a = Agent()
    actions, events = a.record("round_started", {"round": "r1", "owner": "p1"}, {"x": 1})
    assert events == [
        ("variable_set", {"name": "x", "value": 1, "unit": "main"}),
        ("agent_round_started", {"round": "r1", "owner": "p1", "seq": 1}),
    ]
    assert actions == (WaitForUser(immediate=True, requires_wake_word=True),)
    assert a.session.variables == {"main": {"x": 1}}
    assert a.session.agent == {"round": "r1", "status": "running", "rounds": 1, "seq": 1,
                               "owner": "p1", "deadline": None}
    assert a.session.state == "start" and a.session.last_request is None
    _, events = a.record("post", {"round": "r1", "seq": 4})
    assert events == [("agent_post", {"round": "r1", "seq": 4})]
    assert (a.session.agent or {})["seq"] == 4
    _, events = a.record("round_ended", {"round": "r1", "status": "finished", "seq": 6})
    assert events == [("agent_round_ended", {"round": "r1", "status": "finished", "seq": 6})]
    assert (a.session.agent or {})["status"] == "finished"
    # the next round numbers its events after the stored ones, and counts the rounds
    _, events = a.record("round_started", {"round": "r2"})
    assert events == [("agent_round_started", {"round": "r2", "seq": 7})]
    assert (a.session.agent or {})["rounds"] == 2


def test_a_round_start_takes_the_larger_of_the_callers_and_the_next_stored_seq() -> None:
    a = Agent()
    a.record("round_started", {"round": "r1", "seq": 10})
    assert (a.session.agent or {})["seq"] == 10
    a.record("round_ended", {"round": "r1", "status": "failed"})
    _, events = a.record("round_started", {"round": "r2", "seq": 3})
    assert events == [("agent_round_started", {"round": "r2", "seq": 11})]
    a.record("round_ended", {"round": "r2", "status": "cancelled"})
    _, events = a.record("round_started", {"round": "r3", "seq": 12})
    assert events[0][1]["seq"] == 12


def test_every_end_status_is_taken_and_no_other() -> None:
    for status in ("finished", "failed", "cancelled"):
        a = Agent()
        a.record("round_started", {"round": "r"})
        a.record("round_ended", {"round": "r", "status": status})
        assert (a.session.agent or {})["status"] == status
    a = Agent()
    a.record("round_started", {"round": "r"})
    err = a.refused(InvalidInput, "round_ended", {"round": "r", "status": "done"})
    assert err.message == "a round ends cancelled, failed, finished, not 'done'"
    err = a.refused(InvalidInput, "round_ended", {"round": "r"})
    assert err.message == "a round ends cancelled, failed, finished, not None"
    assert err.details == {}


def test_one_round_at_a_time() -> None:
    a = Agent()
    a.record("round_started", {"round": "r1"})
    err = a.refused(UnexpectedInput, "round_started", {"round": "r2"})
    assert err.message == "session 'a1' is running round 'r1'; one round at a time"
    assert err.details == {"session_id": "a1", "round_id": "r1"}


def test_a_post_or_an_end_must_be_of_the_running_round() -> None:
    a = Agent()
    for kind in ("post", "round_ended"):
        err = a.refused(UnexpectedInput, kind, {"round": "r1", "status": "finished"})
        assert err.message == "round 'r1' is not the round running on session 'a1'"
        assert err.details == {"session_id": "a1", "round_id": "r1"}
    a.record("round_started", {"round": "r1"})
    err = a.refused(UnexpectedInput, "post", {"round": "r2"})
    assert err.message == "round 'r2' is not the round running on session 'a1'"
    assert err.details == {"session_id": "a1", "round_id": "r2"}
    a.record("round_ended", {"round": "r1", "status": "finished"})
    err = a.refused(UnexpectedInput, "post", {"round": "r1"})  # ended: not running
    assert err.details == {"session_id": "a1", "round_id": "r1"}


def test_a_round_start_needs_a_round_id() -> None:
    a = Agent()
    for data in ({}, {"round": ""}, {"round": 7}):
        err = a.refused(InvalidInput, "round_started", data)
        assert err.message == "a round_started record needs the round's id"
        assert err.details == {}


def test_unknown_kinds_and_bad_variable_names_are_refused() -> None:
    a = Agent()
    err = a.refused(InvalidInput, "chunk")
    assert err.message == (
        "agent record kind must be one of round_started, post, round_ended, variables, "
        "stopped, not 'chunk'"
    )
    assert err.details == {"kind": "chunk"}
    for name in ("", "a.b"):
        err = a.refused(InvalidInput, "variables", variables={"ok": 1, name: 2})
        assert err.message == f"{name!r} is not a variable name (no dots, not empty)"
        assert err.details == {}


def test_variables_between_rounds_record_no_round_event_unless_they_carry_a_seq() -> None:
    a = Agent()
    _, events = a.record("variables", variables={"y": 2, "z": None})
    assert events == [
        ("variable_set", {"name": "y", "value": 2, "unit": "main"}),
        ("variable_set", {"name": "z", "value": None, "unit": "main"}),
    ]
    assert a.session.agent is None
    _, events = a.record("variables", {"seq": 9}, {"y": 3})
    assert events == [
        ("variable_set", {"name": "y", "value": 3, "unit": "main"}),
        ("agent_variables", {"seq": 9}),
    ]
    assert a.session.agent == {"seq": 9}
    _, events = a.record("variables")  # nothing to set: the record itself is kept
    assert events == [("agent_variables", {})]


def test_a_stop_is_recorded_without_a_round() -> None:
    a = Agent()
    _, events = a.record("stopped", {"seq": 3, "owner": "p1"})
    assert events == [("agent_session_stopped", {"seq": 3, "owner": "p1"})]
    assert a.session.agent == {"seq": 3}


def test_the_repeated_action_of_a_command_wait() -> None:
    a = Agent(SHOP)
    actions, _ = a.record("variables", variables={"v": 1})
    assert actions == (CommandAction(id="price", params={"item": "lamp"}),)


def test_an_ended_session_takes_no_record() -> None:
    a = Agent()
    ended = step(a.model, a.session, End(), T0 + 1).session
    with pytest.raises(SessionClosed) as info:
        agent_ops.step(ended, AgentRecord(kind="stopped"), T0 + 2)
    assert info.value.session_id == "a1" and info.value.status == "ended"


def test_the_step_function_hands_records_over() -> None:
    a = Agent()
    out = step(a.model, a.session, AgentRecord(kind="round_started", data={"round": "r"}),
               T0 + 1)
    assert [e.type for e in out.events] == ["agent_round_started"]
    assert out.session.agent is not None and out.session.agent["round"] == "r"
    assert out.actions == (WaitForUser(immediate=True, requires_wake_word=True),)
