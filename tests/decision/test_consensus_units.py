"""Consensus in a round (``engine/decision_consensus.py``), read back field by field: the
events a decision, a tie, no consensus, an escalation, a resolicitation and a fallback
record, the policy an escalated round runs under, the tally's boundaries, and what
``votes_ahead`` predicts."""

from __future__ import annotations

from typing import Any

from dialoghub.engine.decision import votes_ahead
from dialoghub.engine.decision_consensus import policy_of
from dialoghub.engine.records import Answers, PairVote, Propose, Timeout, Vote
from dialoghub.model.decisions import DecisionSpec, Policy
from tests.decision.conftest import T0, Run, compile_machine, machine


def _run(**kw: Any) -> Run:
    return Run(compile_machine(machine(**kw)))


def _two(**spec: Any) -> dict[str, Any]:
    return {"id": spec.pop("id"), "kind": "callable", **spec}


def propose(run: Run, who: str, transition: str, **kw: Any) -> None:
    assert run.round is not None
    run.send(Propose(round=run.round["id"], specialist=who, transition=transition, **kw))


def vote(run: Run, who: str, *pairs: tuple[str, str, str]) -> None:
    assert run.round is not None
    votes = [PairVote(a=a, b=b, vote=v) for a, b, v in pairs]
    run.send(Vote(round=run.round["id"], specialist=who, votes=votes))


def _tie_of_two(run: Run) -> None:
    """a proposes APPROVE (A), b REJECT (B), and each votes for its own."""
    propose(run, "a", "APPROVE")
    propose(run, "b", "REJECT")
    vote(run, "a", ("A", "B", "A"))
    vote(run, "b", ("A", "B", "B"))


# --- the policy an escalated round runs under ------------------------------------------------


def _spec() -> DecisionSpec:
    model = compile_machine(
        machine(
            policy={
                "kind": "quorum",
                "quorum": 2,
                "margin": 2,
                "on_tie": ["resolicit", "fallback"],
                "on_no_consensus": ["fallback"],
                "max_resolicit": 3,
                "fallback": "REJECT",
            },
            policies={"needs_revision": {"kind": "human", "quorum": 4}},
        )
    )
    assert isinstance(model.decision, DecisionSpec)
    return model.decision


def test_a_round_not_escalated_runs_under_its_states_policy() -> None:
    spec = _spec()
    assert policy_of(spec, {"state": "pending"}) is spec.policy
    assert policy_of(spec, {"state": "pending", "escalated": False}) is spec.policy
    assert policy_of(spec, {"state": "needs_revision"}) is spec.policies["needs_revision"]


def test_an_escalated_round_is_decided_by_the_humans_with_the_rest_of_its_policy() -> None:
    spec = _spec()
    assert policy_of(spec, {"state": "pending", "escalated": True}) == Policy(
        kind="human",
        margin=2.0,
        quorum=0,
        on_tie=("resolicit", "fallback"),
        on_no_consensus=("fallback",),
        max_resolicit=3,
        fallback="REJECT",
    )
    # a state whose own policy is already the humans' keeps it whole (its quorum too)
    human = policy_of(spec, {"state": "needs_revision", "escalated": True})
    assert human is spec.policies["needs_revision"] and human.quorum == 4


# --- decided -------------------------------------------------------------------------------------


def test_a_decision_records_the_tally_the_winner_and_the_transition_with_its_params() -> None:
    run = _run(history=3)
    propose(run, "a", "APPROVE")
    propose(run, "b", "REQUEST_CHANGES", params={"note": "typos"})
    propose(run, "c", "REJECT")
    first = run.of("vote_solicited")[0]
    assert first == {
        "round": "r1",
        "specialist": "a",
        "correlation": "r1.1.v.a",
        "due_at": T0 + 3 + 60,
        "attempt": 1,
        "state": "pending",
        "pairs": [["A", "B"], ["A", "C"], ["B", "C"]],
    }
    for who in "abc":
        vote(run, who, ("A", "B", "B"), ("A", "C", "neither"), ("B", "C", "A"))
    assert run.of("consensus_evaluated") == [
        {
            "round": "r1",
            "outcome": "decided",
            "policy": "weighted",
            "tally": {"A": 0.0, "B": 6.0, "C": 0.0},
            "winner": "B",
            "transition": "REQUEST_CHANGES",
            "next": "execute",
            "why": "B leads by 6",
        }
    ]
    assert run.of("transition_executed") == [
        {
            "round": "r1",
            "state": "pending",
            "transition": "REQUEST_CHANGES",
            "source": "proposal",
            "proposal": "B",
            "specialist": "b",
            "keep": 3,
            "params": {"note": "typos"},
        }
    ]
    assert run.session.state == "needs_revision" and run.session.params == {"note": "typos"}


def test_a_lone_candidate_wins_alone_without_params() -> None:
    run = _run()
    propose(run, "a", "APPROVE")
    propose(run, "b", "APPROVE")
    propose(run, "c", "APPROVE")
    assert run.of("consensus_evaluated") == [
        {
            "round": "r1",
            "outcome": "decided",
            "policy": "single",
            "tally": {"A": 0.0},
            "winner": "A",
            "transition": "APPROVE",
            "next": "execute",
            "why": "the only transition proposed",
        }
    ]
    assert run.of("transition_executed") == [
        {
            "round": "r1",
            "state": "pending",
            "transition": "APPROVE",
            "source": "proposal",
            "proposal": "A",
            "specialist": "a",
            "keep": 5,
        }
    ]
    assert run.session.state == "approved"
    run.check_replay()


def test_a_lead_equal_to_the_margin_decides() -> None:
    run = _run(specialists=[_two(id="a", weight=3), _two(id="b")], policy={"margin": 2})
    _tie_of_two(run)  # A: 3, B: 1
    (ce,) = run.of("consensus_evaluated")
    assert ce["outcome"] == "decided" and ce["why"] == "A leads by 2"
    assert ce["tally"] == {"A": 3.0, "B": 1.0}
    assert run.session.state == "approved"


def test_under_the_margin_names_the_leader_its_lead_and_the_margin() -> None:
    run = _run(specialists=[_two(id="a"), _two(id="b", weight=1.5)], policy={"margin": 1})
    _tie_of_two(run)  # A: 1, B: 1.5
    assert run.of("consensus_evaluated") == [
        {
            "round": "r1",
            "outcome": "no_consensus",
            "policy": "weighted",
            "tally": {"A": 1.0, "B": 1.5},
            "why": "B leads by 0.5, under the margin 1",
            "next": "park",
        }
    ]


def test_with_no_margin_a_tally_of_nothing_is_still_a_tie() -> None:
    run = _run(specialists=[_two(id="a"), _two(id="b")], policy={"margin": 0})
    propose(run, "a", "APPROVE")
    propose(run, "b", "REJECT")
    vote(run, "a", ("A", "B", "neither"))
    vote(run, "b", ("A", "B", "neither"))
    assert run.of("consensus_evaluated") == [
        {
            "round": "r1",
            "outcome": "tie",
            "policy": "weighted",
            "tally": {"A": 0.0, "B": 0.0},
            "why": "A = B at 0",
            "next": "park",
        }
    ]
    assert run.session.state == "pending" and run.round["phase"] == "attention"


def test_a_tie_names_the_first_two_only() -> None:
    run = _run()
    propose(run, "a", "APPROVE")
    propose(run, "b", "REQUEST_CHANGES")
    propose(run, "c", "REJECT")
    vote(run, "a", ("A", "B", "A"), ("A", "C", "neither"), ("B", "C", "neither"))
    vote(run, "b", ("A", "B", "B"), ("A", "C", "neither"), ("B", "C", "neither"))
    vote(run, "c", ("A", "B", "neither"), ("A", "C", "neither"), ("B", "C", "neither"))
    (ce,) = run.of("consensus_evaluated")
    assert ce["outcome"] == "tie" and ce["why"] == "A = B at 1"
    assert ce["tally"] == {"A": 1.0, "B": 1.0, "C": 0.0}


def test_when_nobody_votes_the_proposals_are_judged_at_once() -> None:
    specialists = [_two(id="a", votes=False), _two(id="b", votes=False)]
    run = _run(specialists=specialists)
    propose(run, "a", "APPROVE")
    propose(run, "b", "REJECT")
    assert run.of("vote_solicited") == []
    assert run.of("consensus_evaluated") == [
        {
            "round": "r1",
            "outcome": "tie",
            "policy": "weighted",
            "tally": {"A": 0.0, "B": 0.0},
            "why": "A = B at 0",
            "next": "park",
        }
    ]


def test_no_valid_proposal_is_no_consensus_with_an_empty_tally() -> None:
    run = _run()
    run.send(Timeout(name="decision"), at=T0 + 61)
    assert run.of("consensus_evaluated") == [
        {
            "round": "r1",
            "outcome": "no_consensus",
            "policy": "weighted",
            "tally": {},
            "why": "no valid proposal",
            "next": "park",
        }
    ]


# --- the human and quorum policies -------------------------------------------------------------

HUMANS = [
    _two(id="a"),
    _two(id="b"),
    {"id": "jane", "kind": "human", "human": True, "proposes": False},
]


def test_a_humans_vote_settles_whatever_the_margin() -> None:
    run = _run(specialists=HUMANS, policy={"kind": "human", "margin": 5})
    propose(run, "a", "APPROVE")
    propose(run, "b", "REJECT")
    vote(run, "jane", ("A", "B", "A"))  # weight 1, under the margin 5: the human decides
    (ce,) = run.of("consensus_evaluated")
    assert ce["outcome"] == "decided" and ce["policy"] == "human"
    assert ce["why"] == "A leads by 1" and ce["tally"] == {"A": 1.0, "B": 0.0}
    assert run.session.state == "approved"


def test_a_humans_undecided_vote_waits_for_the_others_then_only_humans_count() -> None:
    run = _run(specialists=HUMANS, policy={"kind": "human"})
    propose(run, "a", "APPROVE")
    propose(run, "b", "REJECT")
    vote(run, "jane", ("A", "B", "both"))
    assert run.of("consensus_evaluated") == []  # not settled: a and b are still asked
    assert run.round["phase"] == "vote" and sorted(run.round["pending"]) == ["a", "b"]
    vote(run, "a", ("A", "B", "A"))
    vote(run, "b", ("A", "B", "A"))  # the AI votes do not count under the human policy
    assert run.of("consensus_evaluated") == [
        {
            "round": "r1",
            "outcome": "tie",
            "policy": "human",
            "tally": {"A": 1.0, "B": 1.0},
            "why": "A = B at 1",
            "next": "park",
        }
    ]


def test_no_human_vote_parks_even_with_humans_to_escalate_to() -> None:
    run = _run(specialists=HUMANS, policy={"kind": "human"})
    propose(run, "a", "APPROVE")
    propose(run, "b", "REJECT")
    vote(run, "a", ("A", "B", "A"))
    vote(run, "b", ("A", "B", "A"))
    run.send(Timeout(name="decision"), at=T0 + 1000)
    assert run.of("consensus_evaluated") == [
        {
            "round": "r1",
            "outcome": "no_consensus",
            "policy": "human",
            "tally": {"A": 0.0, "B": 0.0},
            "why": "no human voted",
            "next": "park",
        }
    ]


def test_quorum_not_reached_falls_back_with_the_events_of_a_fallback() -> None:
    policy = {"kind": "quorum", "quorum": 3, "on_no_consensus": ["fallback"], "fallback": "REJECT"}
    run = _run(policy=policy)
    propose(run, "a", "APPROVE")
    propose(run, "b", "REJECT")
    propose(run, "c", "REJECT")
    vote(run, "a", ("A", "B", "B"))
    run.send(Timeout(name="decision"), at=T0 + 500)
    assert run.of("consensus_evaluated") == [
        {
            "round": "r1",
            "outcome": "no_consensus",
            "policy": "quorum",
            "tally": {"A": 0.0, "B": 1.0},
            "why": "quorum not reached: 1 of 3 voted",
            "next": "fallback",
            "transition": "REJECT",
        }
    ]
    assert run.of("transition_executed") == [
        {"round": "r1", "state": "pending", "transition": "REJECT", "source": "fallback", "keep": 5}
    ]
    assert run.session.ended
    run.check_replay()


# --- fallback and park -------------------------------------------------------------------------


def test_a_fallback_named_but_not_a_step_parks() -> None:
    run = _run(specialists=[_two(id="a"), _two(id="b")], policy={"fallback": "REJECT"})
    _tie_of_two(run)
    assert [ce["next"] for ce in run.of("consensus_evaluated")] == ["park"]
    assert run.of("transition_executed") == []


def test_a_fallback_the_state_does_not_take_parks() -> None:
    policy = {"on_tie": ["fallback"], "fallback": "REQUEST_CHANGES"}
    run = _run(specialists=[_two(id="a"), _two(id="b")], policy=policy)
    for who in "ab":
        propose(run, who, "REQUEST_CHANGES")
    assert run.round["state"] == "needs_revision"  # which takes APPROVE and REJECT only
    _tie_of_two(run)
    assert [ce["next"] for ce in run.of("consensus_evaluated")] == ["execute", "park"]
    assert run.session.state == "needs_revision"


def test_a_states_own_policy_says_what_its_tie_does() -> None:
    run = _run(
        specialists=[_two(id="a"), _two(id="b")],
        policies={"needs_revision": {"on_tie": ["fallback"], "fallback": "REJECT"}},
    )
    for who in "ab":
        propose(run, who, "REQUEST_CHANGES")
    _tie_of_two(run)
    assert run.of("consensus_evaluated")[-1]["next"] == "fallback"
    assert run.of("transition_executed")[-1]["transition"] == "REJECT"
    assert run.session.ended


# --- votes_ahead -------------------------------------------------------------------------------


def _answers(**picks: str) -> list[Propose | Vote]:
    return [Propose(round="r1", specialist=s, transition=t) for s, t in picks.items()]


def test_votes_ahead_at_the_deadline_itself_is_the_recorded_round() -> None:
    run = _run()
    answers = _answers(a="APPROVE", b="REJECT", c="REJECT")
    ahead = votes_ahead(run.model, run.session, answers, T0 + 60)
    run.send(Answers(items=answers), at=T0 + 60)
    assert ahead is not None and ahead == run.round
    assert ahead["pending"] == {
        "a": {"k": "v", "due": T0 + 120},
        "b": {"k": "v", "due": T0 + 120},
        "c": {"k": "v", "due": T0 + 120},
    }


def test_votes_ahead_predicts_nothing_without_an_open_round_or_once_parked() -> None:
    run = _run()
    for who in "abc":
        propose(run, who, "APPROVE")
    assert run.round is None
    assert votes_ahead(run.model, run.session, [], T0 + 5) is None
    parked = _run(specialists=[_two(id="a"), _two(id="b")])
    _tie_of_two(parked)
    assert parked.round["phase"] == "attention" and parked.round["pending"] == {}
    assert votes_ahead(parked.model, parked.session, [], T0 + 5) is None


def test_votes_ahead_predicts_nothing_for_an_answer_the_step_would_not_take() -> None:
    run = _run()
    good = _answers(a="APPROVE", b="REJECT", c="REJECT")
    assert votes_ahead(run.model, run.session, good, T0 + 5) is not None
    wrong: list[list[Propose | Vote]] = [
        [*good[:2], Propose(round="r9", specialist="c", transition="REJECT")],  # another round
        [*good[:2], Propose(round="r1", specialist="c", transition="REJECT", invalid="junk")],
        [*good[:2], Propose(round="r1", specialist="zed", transition="REJECT")],  # not asked
        [*good[:2], Vote(round="r1", specialist="c", votes=[PairVote(a="A", b="B", vote="A")])],
    ]
    for answers in wrong:
        assert votes_ahead(run.model, run.session, answers, T0 + 5) is None, answers
