"""The decision events folded into ``Session.decision``, event type by event type: events
built by hand, applied through :func:`dialoghub.engine.fold.apply`, and every field of the
round they are documented to change read back (and the snapshot before them left alone)."""

from __future__ import annotations

from typing import Any

import pytest

from dialoghub.engine.decision_fold import APPLY, DECISION_EVENTS
from dialoghub.engine.fold import apply, copy_session
from dialoghub.engine.records import Session
from tests.engine.test_fold_data import Log, started


def _asked(log: Log, s: Session, who: str, **extra: Any) -> Session:
    data: dict[str, Any] = {
        "round": "r1",
        "specialist": who,
        "correlation": f"r1.1.p.{who}",
        "due_at": 100.0,
        "attempt": 1,
        **extra,
    }
    return apply(s, log.add("proposal_solicited", **data))


def _round(s: Session) -> dict[str, Any]:
    assert s.decision is not None
    rd = s.decision["round"]
    assert isinstance(rd, dict)
    return rd


def test_every_decision_event_has_a_fold() -> None:
    assert (
        frozenset(
            {
                "proposal_solicited",
                "proposal_submitted",
                "vote_solicited",
                "vote_submitted",
                "solicitation_timed_out",
                "consensus_evaluated",
                "transition_executed",
            }
        )
        == DECISION_EVENTS
    )
    assert set(APPLY) == DECISION_EVENTS


def test_the_first_solicitation_opens_the_round() -> None:
    log = Log()
    s = started(log, state="pending")
    s = _asked(log, s, "a", state="pending", due_at=160.5)
    assert s.decision == {
        "n": 1,
        "round": {
            "id": "r1",
            "seq": 2,  # the round's log begins at its first event
            "state": "pending",
            "phase": "propose",
            "attempt": 1,
            "np": 0,
            "pending": {"a": {"k": "p", "due": 160.5}},
            "proposals": [],
            "votes": [],
            "due_at": 160.5,
        },
    }


def test_a_new_round_without_state_or_attempt_takes_the_sessions_state_and_attempt_one() -> None:
    log = Log()
    s = started(log, state="review")
    apply(s, log.add("proposal_solicited", round="r1", specialist="a", correlation="r1.1.p.a",
                     due_at=50.0))  # fmt: skip
    rd = _round(s)
    assert rd["state"] == "review" and rd["attempt"] == 1
    assert rd["pending"] == {"a": {"k": "p", "due": 50.0}}  # the derived correlation: not kept


def test_a_solicitation_of_a_later_round_opens_it_and_counts_it() -> None:
    log = Log()
    s = _asked(log, started(log), "a")
    first = copy_session(s)
    s = apply(s, log.add("proposal_solicited", round="r2", specialist="b",
                         correlation="r2.3.p.b", due_at=7.0, attempt=3, state="other"))  # fmt: skip
    assert s.decision is not None and s.decision["n"] == 2
    rd = _round(s)
    assert (rd["id"], rd["seq"], rd["state"], rd["attempt"]) == ("r2", 3, "other", 3)
    assert rd["pending"] == {"b": {"k": "p", "due": 7.0}}
    assert first.decision is not None and first.decision["n"] == 1


def test_a_decision_record_without_a_count_starts_counting_at_one() -> None:
    log = Log()
    s = started(log)
    s.decision = {"history": [{"round": "r0", "state": "x", "t": "GO", "source": "manual"}]}
    s = _asked(log, s, "a")
    assert s.decision is not None and s.decision["n"] == 1
    assert s.decision["history"] == [{"round": "r0", "state": "x", "t": "GO", "source": "manual"}]


def test_further_solicitations_add_to_pending_and_due_at_is_the_earliest() -> None:
    log = Log()
    s = _asked(log, started(log), "a", due_at=100.0)
    s = _asked(log, s, "b", due_at=40.0, human=True)
    s = _asked(log, s, "c", due_at=70.0, human=False)
    rd = _round(s)
    assert rd["pending"] == {
        "a": {"k": "p", "due": 100.0},
        "b": {"k": "p", "due": 40.0, "h": True},
        "c": {"k": "p", "due": 70.0},
    }
    assert rd["due_at"] == 40.0
    assert s.decision is not None and s.decision["n"] == 1 and rd["seq"] == 2


def test_the_round_is_copied_on_write() -> None:
    log = Log()
    s = _asked(log, started(log), "a")
    assert s.decision is not None
    old_decision, old_round = s.decision, s.decision["round"]
    old_pending = old_round["pending"]
    s = _asked(log, s, "b")
    assert old_pending == {"a": {"k": "p", "due": 100.0}}
    assert sorted(old_round["pending"]) == ["a"]
    assert old_decision["round"] is old_round
    assert sorted(_round(s)["pending"]) == ["a", "b"]


def test_a_correlation_that_is_not_the_derived_one_is_kept() -> None:
    log = Log()
    s = _asked(log, started(log), "a", correlation="custom-7")
    assert _round(s)["pending"]["a"] == {"k": "p", "due": 100.0, "c": "custom-7"}


def test_an_escalated_rounds_correlation_ends_in_e() -> None:
    log = Log()
    s = _asked(log, started(log), "a")
    s = apply(s, log.add("consensus_evaluated", round="r1", outcome="tie", next="escalate"))
    assert _round(s)["escalated"] is True
    s = apply(s, log.add("vote_solicited", round="r1", specialist="jane",
                         correlation="r1.1.v.jane.e", due_at=9.0, human=True))  # fmt: skip
    s = apply(s, log.add("vote_solicited", round="r1", specialist="joe",
                         correlation="r1.1.v.joe", due_at=9.0))  # fmt: skip
    rd = _round(s)
    assert rd["phase"] == "vote"
    assert rd["pending"]["jane"] == {"k": "v", "due": 9.0, "h": True}
    assert rd["pending"]["joe"] == {"k": "v", "due": 9.0, "c": "r1.1.v.joe"}


def test_a_later_attempt_starts_the_proposals_afresh() -> None:
    log = Log()
    s = _asked(log, started(log), "a")
    s = _asked(log, s, "b")
    s = apply(s, log.add("proposal_submitted", round="r1", specialist="a", proposal="A",
                         transition="GO"))  # fmt: skip
    s = apply(s, log.add("vote_solicited", round="r1", specialist="a",
                         correlation="r1.1.v.a", due_at=100.0))  # fmt: skip
    s = apply(s, log.add("vote_submitted", round="r1", specialist="a", correlation="r1.1.v.a",
                         votes=[{"a": "A", "b": "B", "vote": "A"}], weight=1))  # fmt: skip
    rd = _round(s)
    assert rd["phase"] == "vote" and rd["votes"] and rd["proposals"]
    s = _asked(log, s, "a", attempt=2, correlation="r1.2.p.a", due_at=200.0)
    rd = _round(s)
    assert rd["attempt"] == 2 and rd["phase"] == "propose"
    assert rd["proposals"] == [] and rd["votes"] == []
    assert rd["np"] == 1  # ids go on: the new attempt's first proposal is B
    assert rd["pending"] == {"b": {"k": "p", "due": 100.0}, "a": {"k": "p", "due": 200.0}}


def test_a_solicitation_of_the_same_attempt_keeps_the_proposals() -> None:
    log = Log()
    s = _asked(log, started(log), "a")
    s = _asked(log, s, "b")
    s = apply(s, log.add("proposal_submitted", round="r1", specialist="a", proposal="A",
                         transition="GO"))  # fmt: skip
    s = apply(s, log.add("vote_solicited", round="r1", specialist="b",
                         correlation="r1.1.v.b", due_at=100.0))  # fmt: skip
    s = apply(s, log.add("vote_submitted", round="r1", specialist="b", correlation="r1.1.v.b",
                         votes=[{"a": "A", "b": "B", "vote": "A"}], weight=1))  # fmt: skip
    s = _asked(log, s, "c", attempt=1, correlation="r1.1.p.c")
    rd = _round(s)
    assert rd["phase"] == "vote" and rd["attempt"] == 1
    assert rd["proposals"] == [["A", "a", "GO"]]
    assert rd["votes"] == [["b", "A", "B", "A", 1]]
    s = apply(
        s,
        log.add(
            "proposal_solicited", round="r1", specialist="d", correlation="r1.1.p.d", due_at=3.0
        ),
    )  # no attempt: the first
    assert _round(s)["proposals"] == [["A", "a", "GO"]]


def test_proposals_are_kept_compact_and_numbered() -> None:
    log = Log()
    s = _asked(log, started(log), "a", due_at=10.0)
    s = _asked(log, s, "b", due_at=20.0)
    before = copy_session(s)
    s = apply(s, log.add("proposal_submitted", round="r1", specialist="a", proposal="A",
                         transition="GO", params={"x": 1}, reasoning="why"))  # fmt: skip
    s = apply(s, log.add("proposal_submitted", round="r1", specialist="b", proposal="B",
                         transition="STOP", valid=True))  # fmt: skip
    rd = _round(s)
    assert rd["proposals"] == [["A", "a", "GO", {"x": 1}], ["B", "b", "STOP"]]
    assert rd["np"] == 2 and rd["pending"] == {} and rd["due_at"] is None
    assert _round(before)["proposals"] == [] and _round(before)["np"] == 0


def test_a_proposal_from_a_specialist_no_longer_pending_is_still_recorded() -> None:
    log = Log()
    s = _asked(log, started(log), "a")
    s = apply(s, log.add("proposal_submitted", round="r1", specialist="zed", proposal="A",
                         transition="GO"))  # fmt: skip
    rd = _round(s)
    assert rd["proposals"] == [["A", "zed", "GO"]]
    assert rd["pending"] == {"a": {"k": "p", "due": 100.0}}


def test_invalid_proposals_are_counted_then_close_the_solicitation() -> None:
    log = Log()
    s = _asked(log, started(log), "a", due_at=30.0)
    s = _asked(log, s, "b", due_at=60.0)
    bad = {"round": "r1", "specialist": "a", "correlation": "r1.1.p.a", "valid": False}
    s = apply(s, log.add("proposal_submitted", **bad, invalid="x", closed=False))
    assert _round(s)["pending"]["a"] == {"k": "p", "due": 30.0, "bad": 1}
    s = apply(s, log.add("proposal_submitted", **bad, invalid="y"))  # closed absent: open
    rd = _round(s)
    assert rd["pending"]["a"] == {"k": "p", "due": 30.0, "bad": 2}
    assert rd["proposals"] == [] and rd["np"] == 0 and rd["due_at"] == 30.0
    s = apply(s, log.add("proposal_submitted", **bad, invalid="z", closed=True))
    rd = _round(s)
    assert rd["pending"] == {"b": {"k": "p", "due": 60.0}} and rd["due_at"] == 60.0
    assert rd["proposals"] == [] and rd["np"] == 0
    # closing one that is no longer pending is no error
    s = apply(s, log.add("proposal_submitted", **{**bad, "specialist": "q"}, closed=True))
    assert _round(s)["pending"] == {"b": {"k": "p", "due": 60.0}}


def _voting(log: Log, *voters: tuple[str, bool]) -> Session:
    """A round with proposals A, B, C and ``voters`` (id, human) asked about every pair."""
    s = started(log)
    for who in "abc":
        s = _asked(log, s, who)
    for pid, (who, t) in zip("ABC", (("a", "GO"), ("b", "STOP"), ("c", "WAIT")), strict=True):
        s = apply(s, log.add("proposal_submitted", round="r1", specialist=who, proposal=pid,
                             transition=t))  # fmt: skip
    for who, human in voters:
        extra = {"human": True} if human else {}
        s = apply(s, log.add("vote_solicited", round="r1", specialist=who,
                             correlation=f"r1.1.v.{who}", due_at=90.0,
                             pairs=[["A", "B"], ["A", "C"], ["B", "C"]], **extra))  # fmt: skip
    return s


def test_a_whole_ballot_records_each_pair_vote_and_closes_the_voter() -> None:
    log = Log()
    s = _voting(log, ("a", False), ("jane", True))
    votes = [{"a": "A", "b": "B", "vote": "A"}, {"a": "A", "b": "C", "vote": "both"},
             {"a": "B", "b": "C", "vote": "neither"}]  # fmt: skip
    before = copy_session(s)
    s = apply(s, log.add("vote_submitted", round="r1", specialist="a", correlation="r1.1.v.a",
                         votes=votes, weight=2, closed=True))  # fmt: skip
    rd = _round(s)
    assert rd["votes"] == [["a", "A", "B", "A", 2], ["a", "A", "C", "both", 2],
                           ["a", "B", "C", "neither", 2]]  # fmt: skip
    assert rd["pending"] == {"jane": {"k": "v", "due": 90.0, "h": True}}
    s = apply(s, log.add("vote_submitted", round="r1", specialist="jane",
                         correlation="r1.1.v.jane", votes=votes[:1], weight=1.5,
                         human=True))  # fmt: skip
    rd = _round(s)
    assert rd["votes"][3:] == [["jane", "A", "B", "A", 1.5, 1]]  # a human's vote is marked
    assert rd["pending"] == {
        "jane": {"k": "v", "due": 90.0, "h": True, "left": [["A", "C"], ["B", "C"]]}
    }
    assert _round(before)["votes"] == [] and sorted(_round(before)["pending"]) == ["a", "jane"]


def test_a_partial_ballot_leaves_the_pairs_not_voted_then_the_rest_closes_it() -> None:
    log = Log()
    s = _voting(log, ("a", False))
    s = apply(s, log.add("vote_submitted", round="r1", specialist="a", correlation="r1.1.v.a",
                         votes=[{"a": "A", "b": "C", "vote": "B"}], weight=1))  # fmt: skip
    assert _round(s)["pending"]["a"]["left"] == [["A", "B"], ["B", "C"]]
    s = apply(s, log.add("vote_submitted", round="r1", specialist="a", correlation="r1.1.v.a",
                         votes=[{"a": "B", "b": "C", "vote": "A"}], weight=1))  # fmt: skip
    assert _round(s)["pending"]["a"]["left"] == [["A", "B"]]
    s = apply(s, log.add("vote_submitted", round="r1", specialist="a", correlation="r1.1.v.a",
                         votes=[{"a": "A", "b": "B", "vote": "A"}], weight=1))  # fmt: skip
    rd = _round(s)
    assert rd["pending"] == {} and rd["due_at"] is None
    assert [v[1:4] for v in rd["votes"]] == [["A", "C", "B"], ["B", "C", "A"], ["A", "B", "A"]]


def test_a_closed_partial_ballot_closes_the_voter() -> None:
    log = Log()
    s = _voting(log, ("a", False), ("b", False))
    s = apply(s, log.add("vote_submitted", round="r1", specialist="a", correlation="r1.1.v.a",
                         votes=[{"a": "A", "b": "B", "vote": "A"}], weight=1,
                         closed=True))  # fmt: skip
    assert sorted(_round(s)["pending"]) == ["b"]


def test_a_vote_from_a_voter_not_pending_is_recorded_and_pending_unchanged() -> None:
    log = Log()
    s = _voting(log, ("a", False))
    s = apply(s, log.add("vote_submitted", round="r1", specialist="zed", correlation="x",
                         votes=[{"a": "A", "b": "B", "vote": "B"}], weight=1))  # fmt: skip
    rd = _round(s)
    assert rd["votes"] == [["zed", "A", "B", "B", 1]]
    assert rd["pending"] == {"a": {"k": "v", "due": 90.0}}


def test_invalid_ballots_are_counted_then_close_the_voter() -> None:
    log = Log()
    s = _voting(log, ("a", False), ("b", False))
    bad = {"round": "r1", "specialist": "a", "correlation": "r1.1.v.a", "valid": False}
    s = apply(s, log.add("vote_submitted", **bad, invalid="?", closed=False))
    assert _round(s)["pending"]["a"] == {"k": "v", "due": 90.0, "bad": 1}
    before = copy_session(s)
    s = apply(s, log.add("vote_submitted", **bad, invalid="?"))
    assert _round(s)["pending"]["a"] == {"k": "v", "due": 90.0, "bad": 2}
    assert _round(before)["pending"]["a"] == {"k": "v", "due": 90.0, "bad": 1}
    s = apply(s, log.add("vote_submitted", **bad, invalid="?", closed=True))
    rd = _round(s)
    assert rd["pending"] == {"b": {"k": "v", "due": 90.0}} and rd["votes"] == []
    assert rd["due_at"] == 90.0


def test_a_timeout_closes_one_solicitation() -> None:
    log = Log()
    s = _asked(log, started(log), "a", due_at=10.0)
    s = _asked(log, s, "b", due_at=20.0)
    before = copy_session(s)
    s = apply(s, log.add("solicitation_timed_out", round="r1", specialist="a",
                         correlation="r1.1.p.a", kind="proposal"))  # fmt: skip
    rd = _round(s)
    assert rd["pending"] == {"b": {"k": "p", "due": 20.0}} and rd["due_at"] == 20.0
    assert sorted(_round(before)["pending"]) == ["a", "b"]
    s = apply(s, log.add("solicitation_timed_out", round="r1", specialist="b",
                         correlation="r1.1.p.b", kind="proposal"))  # fmt: skip
    assert _round(s)["pending"] == {} and _round(s)["due_at"] is None


@pytest.mark.parametrize("next_", ["resolicit", "fallback", "execute"])
def test_an_evaluation_that_moves_on_changes_nothing_of_the_round(next_: str) -> None:
    log = Log()
    s = _asked(log, started(log), "a", due_at=10.0)
    before = _round(copy_session(s))
    s = apply(s, log.add("consensus_evaluated", round="r1", outcome="tie", next=next_))
    assert _round(s) == before
    assert "escalated" not in _round(s)


def test_parking_empties_pending_in_the_attention_phase() -> None:
    log = Log()
    s = _asked(log, started(log), "a", due_at=10.0)
    s = apply(s, log.add("consensus_evaluated", round="r1", outcome="tie", next="park"))
    rd = _round(s)
    assert rd["phase"] == "attention" and rd["pending"] == {} and rd["due_at"] is None
    assert "escalated" not in rd


def test_a_park_for_a_round_never_solicited_opens_it_parked() -> None:
    log = Log()
    s = started(log, state="pending")
    s = apply(s, log.add("consensus_evaluated", round="r1", state="pending",
                         outcome="no_consensus", next="park", why="nobody proposes"))  # fmt: skip
    assert s.decision is not None and s.decision["n"] == 1
    rd = _round(s)
    assert (rd["id"], rd["phase"], rd["pending"], rd["due_at"]) == ("r1", "attention", {}, None)


def test_executing_closes_the_round_and_keeps_the_history() -> None:
    log = Log()
    s = _asked(log, started(log), "a")
    before = copy_session(s)
    s = apply(s, log.add("transition_executed", round="r1", state="pending", transition="GO",
                         source="proposal", proposal="A", specialist="a", keep=5))  # fmt: skip
    assert s.decision == {
        "n": 1,
        "history": [{"round": "r1", "state": "pending", "t": "GO", "source": "proposal"}],
    }
    assert _round(before)["id"] == "r1"  # the old snapshot keeps its round
    s = apply(s, log.add("transition_executed", state="x", transition="UP", source="override"))
    assert s.decision["history"][-1] == {
        "round": None,
        "state": "x",
        "t": "UP",
        "source": "override",
    }


def test_executing_with_no_decision_record_starts_one() -> None:
    log = Log()
    s = started(log)
    s = apply(s, log.add("transition_executed", round="r1", state="s", transition="GO",
                         source="manual"))  # fmt: skip
    assert s.decision == {
        "n": 0,
        "history": [{"round": "r1", "state": "s", "t": "GO", "source": "manual"}],
    }


def test_the_history_keeps_the_last_keep_entries() -> None:
    log = Log()
    s = started(log)
    for i in range(7):  # keep absent: the last five
        s = apply(s, log.add("transition_executed", round=f"r{i}", state="s", transition="GO",
                             source="manual"))  # fmt: skip
    assert s.decision is not None
    assert [h["round"] for h in s.decision["history"]] == ["r2", "r3", "r4", "r5", "r6"]
    s = apply(s, log.add("transition_executed", round="r7", state="s", transition="GO",
                         source="manual", keep=2))  # fmt: skip
    assert [h["round"] for h in s.decision["history"]] == ["r6", "r7"]
    s = apply(s, log.add("transition_executed", round="r8", state="s", transition="GO",
                         source="manual", keep=1))  # fmt: skip
    assert [h["round"] for h in s.decision["history"]] == ["r8"]
    s = apply(s, log.add("transition_executed", round="r9", state="s", transition="GO",
                         source="manual", keep=0))  # fmt: skip
    assert s.decision["history"] == []


def test_a_round_opened_by_a_vote_solicitation_takes_its_attempt() -> None:
    log = Log()
    s = started(log, state="pending")
    s = apply(s, log.add("vote_solicited", round="r1", specialist="a", correlation="r1.2.v.a",
                         due_at=5.0, attempt=2, pairs=[["A", "B"]]))  # fmt: skip
    rd = _round(s)
    assert (rd["attempt"], rd["phase"], rd["state"]) == (2, "vote", "pending")
    assert rd["pending"] == {"a": {"k": "v", "due": 5.0}}  # derived from attempt 2: not kept
