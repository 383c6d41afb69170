"""Escalation in a round (``engine/decision_consensus.py``): a tie or no consensus put to the
humans, with the pairs or for proposals, only the humans asked from then on, and what a tie
of the humans does next, each event read back field by field."""

from __future__ import annotations

from dialoghub.engine.records import Timeout
from tests.decision.conftest import T0, Run
from tests.decision.test_consensus_units import _run, _tie_of_two, _two, propose, vote

AB = [["A", "B"]]


def test_a_tie_escalates_with_the_pairs_to_the_humans() -> None:
    specialists = [
        _two(id="a"),
        _two(id="b"),
        {"id": "jane", "kind": "human", "human": True, "proposes": False, "votes": False},
    ]
    run = _run(specialists=specialists, policy={"on_tie": ["escalate"]})
    _tie_of_two(run)
    assert run.of("consensus_evaluated") == [
        {
            "round": "r1",
            "outcome": "tie",
            "policy": "weighted",
            "tally": {"A": 1.0, "B": 1.0},
            "why": "A = B at 1",
            "next": "escalate",
        }
    ]
    assert run.of("vote_solicited")[-1] == {
        "round": "r1",
        "specialist": "jane",
        "correlation": "r1.1.v.jane.e",
        "due_at": T0 + 4 + 60,
        "attempt": 1,
        "state": "pending",
        "human": True,
        "pairs": AB,
    }


def _escalated_humans(on_tie: list[str]) -> Run:
    """Nobody proposes in time: the round escalates to jane (of state pending only) and joe,
    who propose APPROVE (A) and REJECT (B)."""
    specialists = [
        _two(id="a"),
        _two(id="b"),
        {"id": "jane", "kind": "human", "human": True, "states": ["pending"]},
        {"id": "joe", "kind": "human", "human": True},
    ]
    policy = {"on_no_consensus": ["escalate"], "on_tie": on_tie}
    run = _run(specialists=specialists, policy=policy)
    run.send(Timeout(name="decision"), at=T0 + 61)
    ce = run.of("consensus_evaluated")
    assert [(c["outcome"], c["next"]) for c in ce] == [("no_consensus", "escalate")]
    assert run.of("proposal_solicited")[-2:] == [
        {
            "round": "r1",
            "specialist": "jane",
            "correlation": "r1.1.p.jane.e",
            "due_at": T0 + 121,
            "attempt": 1,
            "state": "pending",
            "human": True,
        },
        {
            "round": "r1",
            "specialist": "joe",
            "correlation": "r1.1.p.joe.e",
            "due_at": T0 + 121,
            "attempt": 1,
            "human": True,
        },
    ]
    propose(run, "jane", "APPROVE")
    propose(run, "joe", "REJECT")
    return run


def test_once_escalated_only_the_humans_are_asked_to_vote() -> None:
    run = _escalated_humans(["park"])
    assert [v["specialist"] for v in run.of("vote_solicited")] == ["jane", "joe"]
    assert run.of("vote_solicited")[0] == {
        "round": "r1",
        "specialist": "jane",
        "correlation": "r1.1.v.jane.e",
        "due_at": T0 + 63 + 60,
        "attempt": 1,
        "state": "pending",
        "human": True,
        "pairs": AB,
    }
    assert sorted(run.round["pending"]) == ["jane", "joe"]


def test_an_escalated_tie_does_not_escalate_again_and_resolicits_the_humans() -> None:
    run = _escalated_humans(["escalate", "resolicit"])
    vote(run, "jane", ("A", "B", "both"))  # the first human vote: undecided, so wait
    vote(run, "joe", ("A", "B", "both"))
    assert run.of("consensus_evaluated")[-1] == {
        "round": "r1",
        "outcome": "tie",
        "policy": "human",
        "tally": {"A": 2.0, "B": 2.0},
        "why": "A = B at 2",
        "next": "resolicit",
    }
    assert run.of("proposal_solicited")[-2:] == [
        {
            "round": "r1",
            "specialist": "jane",
            "correlation": "r1.2.p.jane.e",
            "due_at": T0 + 65 + 60,
            "attempt": 2,
            "state": "pending",
            "human": True,
        },
        {
            "round": "r1",
            "specialist": "joe",
            "correlation": "r1.2.p.joe.e",
            "due_at": T0 + 65 + 60,
            "attempt": 2,
            "human": True,
        },
    ]
    assert sorted(run.round["pending"]) == ["jane", "joe"] and run.round["proposals"] == []
    run.check_replay()


def test_an_escalated_tie_with_escalate_alone_parks() -> None:
    run = _escalated_humans(["escalate"])
    vote(run, "jane", ("A", "B", "both"))  # the first human vote: undecided, so wait
    vote(run, "joe", ("A", "B", "both"))
    assert run.of("consensus_evaluated")[-1]["next"] == "park"
    assert run.round["phase"] == "attention"


def test_an_escalated_tie_with_nobody_to_solicit_again_takes_the_next_step() -> None:
    # The humans only vote: resolicit has nobody to ask once the round is escalated, so the
    # policy's next step applies (here none: park). It recursed forever before.
    specialists = [
        _two(id="a"),
        _two(id="b"),
        {"id": "jane", "kind": "human", "human": True, "proposes": False, "votes": False},
    ]
    run = _run(specialists=specialists, policy={"on_tie": ["escalate", "resolicit"]})
    _tie_of_two(run)
    assert run.of("consensus_evaluated")[-1]["next"] == "escalate"
    vote(run, "jane", ("A", "B", "both"))
    evaluated = run.of("consensus_evaluated")
    assert [c["next"] for c in evaluated] == ["escalate", "park"]
    assert evaluated[-1]["why"].endswith("; nobody to solicit again")
    assert evaluated[-1]["outcome"] == "tie"
    assert run.round["phase"] == "attention" and run.round["pending"] == {}
    run.check_replay()

