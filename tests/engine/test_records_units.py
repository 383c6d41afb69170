"""Unit tests of engine/records.py: what a Session snapshot derives from its fields."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from dialoghub.engine.records import (
    ALARM_PREFIX,
    DECISION_TIMER,
    EXPIRE,
    TERMINAL_ACTIONS,
    Action,
    CommandAction,
    EndAction,
    Input,
    Reply,
    Session,
    Status,
    Text,
    Timer,
    Transcribe,
    WaitForUser,
)


def _session(**kw: Any) -> Session:
    base: dict[str, Any] = {
        "id": "s",
        "model_id": "m",
        "model_version": "1",
        "unit": "main",
        "state": "a",
    }
    return Session(**{**base, **kw})


def test_unit_variables_of_the_current_unit_or_another() -> None:
    s = _session(variables={"main": {"a": 1}, "other": {"b": 2}})
    assert s.unit_variables() == {"a": 1}
    assert s.unit_variables(None) == {"a": 1}
    assert s.unit_variables("other") == {"b": 2}
    assert s.unit_variables("missing") == {}
    assert _session(unit="nowhere", variables={"main": {"a": 1}}).unit_variables() == {}


def test_unit_variables_is_the_stored_dict() -> None:
    s = _session(variables={"main": {"a": 1}})
    assert s.unit_variables() is s.variables["main"]


@pytest.mark.parametrize(
    ("status", "ended"), [(Status.ACTIVE, False), (Status.ENDED, True), (Status.EXPIRED, True)]
)
def test_ended_is_any_status_but_active(status: Status, ended: bool) -> None:
    assert _session(status=status).ended is ended


def test_timer_none_without_anything_due() -> None:
    assert _session().timer is None
    assert _session(due_at=5.0, status=Status.ENDED).timer is None


def test_timer_picks_the_earliest_due_input() -> None:
    assert _session(due_at=5.0).timer == Timer(5.0, "prompt")
    chart = {"armed": [{"due_at": 9.0, "event": "LATE"}, {"due_at": 4.0, "event": "SOON"}]}
    assert _session(due_at=5.0, chart=chart).timer == Timer(4.0, "SOON")
    assert _session(due_at=3.0, chart=chart).timer == Timer(3.0, "prompt")
    assert _session(chart={}).timer is None
    s = _session(due_at=5.0, alarms={"wake": 2.0, "later": 8.0})
    assert s.timer == Timer(2.0, ALARM_PREFIX + "wake")
    assert _session(decision={"round": {"due_at": 1.0}}, due_at=5.0).timer == Timer(
        1.0, DECISION_TIMER
    )
    assert _session(decision={"round": None}, due_at=5.0).timer == Timer(5.0, "prompt")
    assert _session(decision={"n": 1}).timer is None


def test_timer_expiry_wins_a_tie() -> None:
    assert _session(due_at=5.0, expires_at=5.0).timer == Timer(5.0, EXPIRE)
    assert _session(due_at=5.0, expires_at=5.5).timer == Timer(5.0, "prompt")
    assert _session(expires_at=7.0).timer == Timer(7.0, EXPIRE)


def test_inputs_and_actions_are_tagged_unions() -> None:
    assert msgspec.json.decode(b'{"type": "text", "text": "hi"}', type=Input) == Text(text="hi")
    actions = [WaitForUser(immediate=True), CommandAction(id="c"), Reply(text="r"),
               Transcribe(), EndAction(reason="done")]  # fmt: skip
    encoded = msgspec.json.encode(actions)
    assert msgspec.json.decode(encoded, type=list[Action]) == actions
    assert [a for a in actions if isinstance(a, TERMINAL_ACTIONS)] == [
        actions[0], actions[1], actions[4]
    ]  # fmt: skip
