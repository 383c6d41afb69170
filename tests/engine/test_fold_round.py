"""The fold of the events this round added to the core, each field read back: session memory,
locks and alarms (routing, issue 12) and agent rounds (issue 11)."""

from __future__ import annotations

import pytest

from dialoghub.engine.fold import apply, copy_session
from dialoghub.engine.records import Status
from tests.engine.test_fold_data import Log, started


def test_memory_set_and_deleted() -> None:
    log = Log()
    s = started(log)
    apply(s, log.add("memory_set", key="a", value=1))
    apply(s, log.add("memory_set", key="b", value={"x": [1]}))
    before = copy_session(s)
    apply(s, log.add("memory_set", key="a", value=2))
    assert s.memory == {"a": 2, "b": {"x": [1]}}
    apply(s, log.add("memory_deleted", key="b"))
    apply(s, log.add("memory_deleted", key="never"))  # deleting twice is no error
    assert s.memory == {"a": 2}
    assert before.memory == {"a": 1, "b": {"x": [1]}}  # copied on write


def test_lock_set_keeps_only_the_flags_given_and_the_fence() -> None:
    log = Log()
    s = started(log)
    apply(s, log.add("lock_set", client="ui", read=True, write=False, fence=3))
    apply(s, log.add("lock_set", client="bot", write=True, assign=True, permanent=True))
    assert s.locks == {
        "ui": {"read": True, "fence": 3},
        "bot": {"write": True, "assign": True, "permanent": True, "fence": 0},
    }
    before = copy_session(s)
    apply(s, log.add("lock_set", client="ui", assign=True, fence=4))  # replaces ui's locks
    assert s.locks["ui"] == {"assign": True, "fence": 4}
    apply(s, log.add("lock_released", client="bot"))
    apply(s, log.add("lock_released", client="nobody"))
    assert s.locks == {"ui": {"assign": True, "fence": 4}}
    assert before.locks["ui"] == {"read": True, "fence": 3}


def test_alarms_set_fired_and_cancelled() -> None:
    log = Log()
    s = started(log)
    apply(s, log.add("alarm_set", name="remind", due_at=500.0))
    apply(s, log.add("alarm_set", name="nudge", due_at=300.0))
    apply(s, log.add("alarm_set", name="late", due_at=900.0))
    assert s.alarms == {"remind": 500.0, "nudge": 300.0, "late": 900.0}
    apply(s, log.add("alarm_fired", name="nudge"))
    apply(s, log.add("alarm_cancelled", name="late"))
    apply(s, log.add("alarm_cancelled", name="gone"))
    assert s.alarms == {"remind": 500.0}


@pytest.mark.parametrize(
    ("type", "status"), [("session_ended", Status.ENDED), ("session_expired", Status.EXPIRED)]
)
def test_the_end_frees_locks_but_permanent_ones_and_every_alarm(type: str, status: Status) -> None:
    log = Log()
    s = started(log)
    apply(s, log.add("lock_set", client="ui", read=True))
    apply(s, log.add("lock_set", client="bot", write=True, permanent=True, fence=2))
    apply(s, log.add("alarm_set", name="remind", due_at=500.0))
    apply(s, log.add("memory_set", key="k", value=1))
    apply(s, log.add(type, reason="done"))
    assert s.status is status
    assert s.locks == {"bot": {"write": True, "permanent": True, "fence": 2}}
    assert s.alarms == {}
    assert s.memory == {"k": 1}  # memory outlives the dialog


def test_an_end_without_locks_keeps_an_empty_lock_table() -> None:
    log = Log()
    s = started(log)
    apply(s, log.add("session_ended", reason="done"))
    assert (s.locks, s.alarms) == ({}, {})


def test_agent_rounds() -> None:
    log = Log()
    s = started(log)
    assert s.agent is None
    apply(s, log.add("agent_round_started", round="r1", seq=4, owner="w1", deadline=99.0))
    assert s.agent == {"round": "r1", "status": "running", "rounds": 1, "seq": 4,
                       "owner": "w1", "deadline": 99.0}  # fmt: skip
    apply(s, log.add("agent_post", seq=5))
    apply(s, log.add("agent_post"))  # no seq: unchanged
    assert s.agent["seq"] == 5 and s.agent["status"] == "running"
    before = copy_session(s)
    apply(s, log.add("agent_round_ended", status="done", seq=6))
    assert s.agent == {"round": "r1", "status": "done", "rounds": 1, "seq": 6,
                       "owner": "w1", "deadline": 99.0}  # fmt: skip
    assert before.agent is not None and before.agent["status"] == "running"
    apply(s, log.add("agent_round_started", round="r2"))
    assert s.agent == {"round": "r2", "status": "running", "rounds": 2, "seq": 0,
                       "owner": None, "deadline": None}  # fmt: skip


def test_an_agent_event_before_any_round() -> None:
    log = Log()
    s = started(log)
    apply(s, log.add("agent_post"))  # nothing to move: the session has no agent record
    assert s.agent is None
    apply(s, log.add("agent_post", seq=3))
    assert s.agent == {"seq": 3}
    other = Log()
    t = started(other)
    apply(t, other.add("agent_round_ended", status="stopped"))
    assert t.agent == {"status": "stopped"}
