"""The pure decision cycle: rounds, every policy, ties, no consensus, timeouts, refusals,
and the replay of the decision events into the same snapshot."""

from __future__ import annotations

import pytest

from dialoghub.engine.records import (
    Answers,
    EventInput,
    Override,
    PairVote,
    Propose,
    Timeout,
    Vote,
)
from dialoghub.errors import (
    InvalidInput,
    LateAnswer,
    ModelValidationError,
    NotSolicited,
    StaleRound,
    UnexpectedInput,
    UnknownProposal,
    UnknownTransition,
)
from tests.decision.conftest import T0, Run, compile_machine, machine


def propose(run: Run, who: str, transition: str, **kw) -> None:
    assert run.round is not None
    run.send(Propose(round=run.round["id"], specialist=who, transition=transition, **kw))


def vote(run: Run, who: str, *pairs: tuple[str, str, str], **kw) -> None:
    assert run.round is not None
    run.send(
        Vote(
            round=run.round["id"],
            specialist=who,
            votes=[PairVote(a=a, b=b, vote=v) for a, b, v in pairs],
            **kw,
        )
    )


def test_a_round_opens_on_entering_a_decided_state(run_of) -> None:
    run = run_of()
    assert run.session.state == "pending"
    rd = run.round
    assert rd is not None and rd["id"] == "r1" and rd["phase"] == "propose"
    assert sorted(rd["pending"]) == ["a", "b", "c"]
    solicited = run.of("proposal_solicited")
    assert [s["specialist"] for s in solicited] == ["a", "b", "c"]
    assert solicited[0]["context"]["prompt"] == "Review the document."
    assert solicited[0]["context"]["transitions"] == ["APPROVE", "REQUEST_CHANGES", "REJECT"]
    assert {s["correlation"] for s in solicited} == {"r1.1.p.a", "r1.1.p.b", "r1.1.p.c"}
    assert run.session.timer is not None and run.session.timer.name == "decision"
    assert run.session.timer.due_at == T0 + 60
    run.check_replay()


def test_one_distinct_proposal_wins_alone(run_of) -> None:
    run = run_of()
    for who in "abc":
        propose(run, who, "APPROVE", reasoning=f"{who} likes it")
    assert run.session.state == "approved" and not run.session.ended
    assert run.round is None
    (ce,) = run.of("consensus_evaluated")
    assert ce["outcome"] == "decided" and ce["policy"] == "single" and ce["winner"] == "A"
    (te,) = run.of("transition_executed")
    assert te["source"] == "proposal" and te["transition"] == "APPROVE" and te["round"] == "r1"
    assert te["specialist"] == "a"
    assert run.of("vote_solicited") == []
    # append-only: every proposal is still on the log after the transition
    assert [p["specialist"] for p in run.of("proposal_submitted")] == ["a", "b", "c"]
    assert run.session.decision["history"][-1]["t"] == "APPROVE"
    run.check_replay()


def test_three_proposals_all_pairs_weighted_consensus(run_of) -> None:
    run = run_of()
    propose(run, "a", "APPROVE")
    propose(run, "b", "REQUEST_CHANGES", params={"note": "typos"})
    propose(run, "c", "REJECT")
    rd = run.round
    assert rd["phase"] == "vote"
    asked = run.of("vote_solicited")
    assert [v["specialist"] for v in asked] == ["a", "b", "c"]
    assert asked[0]["pairs"] == [["A", "B"], ["A", "C"], ["B", "C"]]
    for who in "abc":
        vote(run, who, ("A", "B", "B"), ("A", "C", "neither"), ("B", "C", "A"))
    (ce,) = run.of("consensus_evaluated")
    assert ce["tally"] == {"A": 0.0, "B": 6.0, "C": 0.0} and ce["winner"] == "B"
    assert run.session.state == "needs_revision"
    assert run.session.params == {"note": "typos"}
    # needs_revision is decided too: a new round opened in the same update
    assert run.round["id"] == "r2" and run.round["state"] == "needs_revision"
    ballots = run.of("vote_submitted")  # one event per ballot, its pair votes inside
    assert len(ballots) == 3 and all(len(b["votes"]) == 3 for b in ballots)
    run.check_replay()


def test_weighted_margin_and_both(run_of) -> None:
    specialists = [{"id": "a", "kind": "callable", "weight": 3}, {"id": "b", "kind": "callable"}]
    run = run_of(specialists=specialists, policy={"margin": 2})
    propose(run, "a", "APPROVE")
    propose(run, "b", "REJECT")
    vote(run, "a", ("A", "B", "A"))
    vote(run, "b", ("A", "B", "both"))  # A: 3 + 1, B: 1 -> lead 3 >= 2
    assert run.session.state == "approved"
    assert run.of("consensus_evaluated")[0]["tally"] == {"A": 4.0, "B": 1.0}


def test_a_tie_parks_by_default_and_never_raises(run_of) -> None:
    run = run_of(specialists=[{"id": "a", "kind": "callable"}, {"id": "b", "kind": "callable"}])
    propose(run, "a", "APPROVE")
    propose(run, "b", "REJECT")
    vote(run, "a", ("A", "B", "A"))
    vote(run, "b", ("A", "B", "B"))
    (ce,) = run.of("consensus_evaluated")
    assert ce["outcome"] == "tie" and ce["next"] == "park"
    assert run.round["phase"] == "attention" and run.round["pending"] == {}
    assert run.session.state == "pending" and run.session.timer is None
    # a parked round takes no more answers, only an override
    with pytest.raises(StaleRound):
        vote(run, "a", ("A", "B", "A"))
    run.send(Override(transition="REJECT", reason="editor's call", by={"key_id": "k1"}))
    te = run.of("transition_executed")[-1]
    assert te["source"] == "override" and te["by"] == {"key_id": "k1"} and te["round"] == "r1"
    assert run.session.ended  # rejected is final
    run.check_replay()


def test_no_consensus_under_the_margin(run_of) -> None:
    run = run_of(
        specialists=[
            {"id": "a", "kind": "callable", "weight": 1.5},
            {"id": "b", "kind": "callable"},
        ],
        policy={"margin": 1},
    )
    propose(run, "a", "APPROVE")
    propose(run, "b", "REJECT")
    vote(run, "a", ("A", "B", "A"))
    vote(run, "b", ("A", "B", "B"))
    (ce,) = run.of("consensus_evaluated")
    assert ce["outcome"] == "no_consensus" and ce["next"] == "park"
    assert "under the margin" in ce["why"]


def test_tie_resolicits_a_bounded_number_of_times_then_falls_back(run_of) -> None:
    run = run_of(
        specialists=[{"id": "a", "kind": "callable"}, {"id": "b", "kind": "callable"}],
        policy={"on_tie": ["resolicit", "fallback"], "max_resolicit": 1, "fallback": "REJECT"},
    )
    for x, y in (("A", "B"), ("C", "D")):
        propose(run, "a", "APPROVE")
        propose(run, "b", "REQUEST_CHANGES")
        vote(run, "a", (x, y, "A"))
        vote(run, "b", (x, y, "B"))
    first, second = run.of("consensus_evaluated")
    assert first["next"] == "resolicit" and second["next"] == "fallback"
    assert [s["attempt"] for s in run.of("proposal_solicited")] == [1, 1, 2, 2]
    # the second attempt's proposals got new ids (the first attempt's stay on the log)
    assert [p["proposal"] for p in run.of("proposal_submitted")] == ["A", "B", "C", "D"]
    te = run.of("transition_executed")[-1]
    assert te["source"] == "fallback" and te["transition"] == "REJECT"
    assert run.session.ended
    run.check_replay()


def test_tie_escalates_to_a_human_whose_vote_settles(run_of) -> None:
    specialists = [
        {"id": "a", "kind": "callable"},
        {"id": "b", "kind": "callable"},
        {"id": "jane", "kind": "human", "human": True, "proposes": False, "votes": False},
    ]
    run = run_of(specialists=specialists, policy={"on_tie": ["escalate"]})
    propose(run, "a", "APPROVE")
    propose(run, "b", "REJECT")
    vote(run, "a", ("A", "B", "A"))
    vote(run, "b", ("A", "B", "B"))
    assert run.of("consensus_evaluated")[0]["next"] == "escalate"
    assert list(run.round["pending"]) == ["jane"] and run.round["escalated"]
    vote(run, "jane", ("A", "B", "B"), by={"key_id": "k9", "tenant": "default"})
    ce = run.of("consensus_evaluated")[-1]
    assert ce["outcome"] == "decided" and ce["policy"] == "human" and ce["winner"] == "B"
    assert run.of("vote_submitted")[-1]["by"] == {"key_id": "k9", "tenant": "default"}
    assert run.session.ended
    run.check_replay()


def test_escalation_without_humans_parks(run_of) -> None:
    run = run_of(
        specialists=[{"id": "a", "kind": "callable"}, {"id": "b", "kind": "callable"}],
        policy={"on_tie": ["escalate"]},
    )
    propose(run, "a", "APPROVE")
    propose(run, "b", "REJECT")
    vote(run, "a", ("A", "B", "A"))
    vote(run, "b", ("A", "B", "B"))
    assert run.of("consensus_evaluated")[0]["next"] == "park"


def test_human_policy_first_human_vote_settles_before_the_others(run_of) -> None:
    specialists = [
        {"id": "a", "kind": "callable"},
        {"id": "b", "kind": "callable"},
        {"id": "jane", "kind": "human", "human": True, "proposes": False},
    ]
    run = run_of(specialists=specialists, policy={"kind": "human"})
    propose(run, "a", "APPROVE")
    propose(run, "b", "REJECT")
    vote(run, "jane", ("A", "B", "A"))  # a and b have not voted: the human settles it
    ce = run.of("consensus_evaluated")[-1]
    assert ce["winner"] == "A" and ce["policy"] == "human"
    assert run.session.state == "approved"
    # the AI votes that come now are for a closed round
    with pytest.raises(StaleRound):
        run.send(Vote(round="r1", specialist="a", votes=[PairVote(a="A", b="B", vote="B")]))


def test_human_policy_without_a_human_vote_is_no_consensus(run_of) -> None:
    specialists = [
        {"id": "a", "kind": "callable"},
        {"id": "b", "kind": "callable"},
        {"id": "jane", "kind": "human", "human": True, "proposes": False},
    ]
    run = run_of(specialists=specialists, policy={"kind": "human"})
    propose(run, "a", "APPROVE")
    propose(run, "b", "REJECT")
    vote(run, "a", ("A", "B", "A"))
    vote(run, "b", ("A", "B", "A"))
    assert run.round["phase"] == "vote"  # jane still asked
    run.send(Timeout(name="decision"), at=T0 + 1000)
    assert [t["specialist"] for t in run.of("solicitation_timed_out")] == ["jane"]
    ce = run.of("consensus_evaluated")[-1]
    assert ce["outcome"] == "no_consensus" and ce["why"] == "no human voted"
    run.check_replay()


def test_quorum_before_the_deadline(run_of) -> None:
    run = run_of(policy={"kind": "quorum", "quorum": 2, "margin": 1})
    propose(run, "a", "APPROVE")
    propose(run, "b", "REJECT")
    propose(run, "c", "REJECT")  # two distinct: A (APPROVE), B (REJECT)
    vote(run, "a", ("A", "B", "B"))
    assert run.round is not None  # one voter: no quorum yet
    vote(run, "b", ("A", "B", "B"))  # quorum of 2 in, B leads by 2: decided now
    assert run.session.ended
    assert run.of("consensus_evaluated")[-1]["policy"] == "quorum"


def test_quorum_not_reached_when_the_deadline_passes(run_of) -> None:
    run = run_of(
        policy={
            "kind": "quorum",
            "quorum": 3,
            "on_no_consensus": ["fallback"],
            "fallback": "REJECT",
        }
    )
    propose(run, "a", "APPROVE")
    propose(run, "b", "REJECT")
    propose(run, "c", "REJECT")
    vote(run, "a", ("A", "B", "B"))
    run.send(Timeout(name="decision"), at=T0 + 500)
    assert [t["specialist"] for t in run.of("solicitation_timed_out")] == ["b", "c"]
    ce = run.of("consensus_evaluated")[-1]
    assert ce["outcome"] == "no_consensus" and "quorum not reached: 1 of 3" in ce["why"]
    assert run.of("transition_executed")[-1]["source"] == "fallback"
    run.check_replay()


def test_proposal_timeouts_then_the_answers_that_came(run_of) -> None:
    run = run_of()
    propose(run, "a", "APPROVE")
    with pytest.raises(UnexpectedInput):  # nothing is due yet
        run.send(Timeout(name="decision"))
    run.send(Timeout(name="decision"), at=T0 + 61)
    assert [t["kind"] for t in run.of("solicitation_timed_out")] == ["proposal", "proposal"]
    assert run.session.state == "approved"  # a's lone proposal wins alone


def test_nobody_answers_no_consensus_parks(run_of) -> None:
    run = run_of()
    run.send(Timeout(name="decision"), at=T0 + 61)
    ce = run.of("consensus_evaluated")[-1]
    assert ce["outcome"] == "no_consensus" and ce["why"] == "no valid proposal"
    assert run.round["phase"] == "attention"


def test_late_duplicate_and_stale_answers_are_refused_and_change_nothing(run_of) -> None:
    run = run_of()
    before = run.session
    with pytest.raises(LateAnswer):
        run.send(Propose(round="r1", specialist="a", transition="APPROVE"), at=T0 + 61)
    run.now = T0
    with pytest.raises(StaleRound):
        run.send(Propose(round="r7", specialist="a", transition="APPROVE"))
    with pytest.raises(StaleRound):
        run.send(Propose(round="r1", specialist="a", transition="APPROVE", correlation="r1.9.p.a"))
    with pytest.raises(NotSolicited):
        run.send(Propose(round="r1", specialist="zed", transition="APPROVE"))
    with pytest.raises(UnknownTransition):
        run.send(Propose(round="r1", specialist="a", transition="PUBLISH"))
    with pytest.raises(NotSolicited):  # votes are not asked for yet
        run.send(Vote(round="r1", specialist="a", votes=[PairVote(a="A", b="B", vote="A")]))
    assert run.session is before
    propose(run, "a", "APPROVE")
    with pytest.raises(NotSolicited):  # a duplicate
        run.send(Propose(round="r1", specialist="a", transition="REJECT"))


def test_a_late_vote_for_an_old_round_is_refused(run_of) -> None:
    run = run_of()
    for who in "abc":
        propose(run, who, "REQUEST_CHANGES")
    assert run.round["id"] == "r2"  # needs_revision's round
    with pytest.raises(StaleRound) as info:
        run.send(Vote(round="r1", specialist="a", votes=[PairVote(a="A", b="B", vote="A")]))
    assert info.value.details["open"] == "r2"


def test_bad_votes(run_of) -> None:
    run = run_of()
    propose(run, "a", "APPROVE")
    propose(run, "b", "REJECT")
    propose(run, "c", "REJECT")
    with pytest.raises(UnknownProposal):
        vote(run, "a", ("A", "Q", "A"))
    with pytest.raises(InvalidInput):
        vote(run, "a", ("A", "B", "maybe"))
    with pytest.raises(InvalidInput):
        vote(run, "a", ("B", "A", "A"))  # the asked order
    with pytest.raises(InvalidInput):
        run.send(Vote(round="r1", specialist="a", votes=[]))
    vote(run, "a", ("A", "B", "A"))
    with pytest.raises(NotSolicited):
        vote(run, "a", ("A", "B", "B"))


def test_invalid_answers_are_recorded_and_bounded(run_of) -> None:
    run = run_of(retries=1)
    for _ in range(2):
        run.send(Propose(round="r1", specialist="a", invalid="not JSON"))
    bad = run.of("proposal_submitted")
    assert [b["valid"] for b in bad] == [False, False]
    assert [b["closed"] for b in bad] == [False, True]
    assert "a" not in run.round["pending"]
    run.check_replay()


def test_answers_batch_is_one_update(run_of) -> None:
    run = run_of()
    seq = run.session.seq
    run.send(
        Answers(items=[Propose(round="r1", specialist=w, transition="APPROVE") for w in "abc"])
    )
    assert run.session.state == "approved"
    assert run.types(seq)[:3] == ["proposal_submitted"] * 3
    assert len({e.version for e in run.events if e.seq > seq}) == 1


def test_a_manual_event_closes_the_round_as_manual(run_of) -> None:
    run = run_of()
    propose(run, "a", "APPROVE")
    run.send(EventInput(name="REJECT"))
    te = run.of("transition_executed")[-1]
    assert te["source"] == "manual" and te["round"] == "r1"
    assert run.session.ended
    run.check_replay()


def test_the_goal_rests_and_an_event_starts_the_next_cycle(run_of) -> None:
    run = run_of()
    for who in "abc":
        propose(run, who, "APPROVE")
    assert run.session.state == "approved" and not run.session.ended
    run.send(EventInput(name="REOPEN"))
    assert run.round["id"] == "r2" and run.round["state"] == "pending"
    run.check_replay()


def test_override_refusals(run_of) -> None:
    run = run_of()
    with pytest.raises(UnknownTransition):
        run.send(Override(transition="PUBLISH"))
    with pytest.raises(StaleRound):
        run.send(Override(transition="APPROVE", round="r5"))


def test_model_problems_are_located() -> None:
    bad = machine(
        policy={"kind": "plurality", "on_tie": ["pray"]},
        specialists=[
            {"id": "x", "kind": "human"},
            {"id": "x", "kind": "robot"},
            {"id": "l", "kind": "llm"},
        ],
        states=["approved"],
    )
    with pytest.raises(ModelValidationError) as info:
        compile_machine(bad)
    text = str(info.value)
    for needle in (
        "policy kind",
        "on_tie",
        "human: true",
        "kind must be one of",
        "needs a 'url'",
        "'states' lists",
    ):
        assert needle in text, needle
    assert all(p.line > 0 for p in info.value.problems)


def test_a_dialog_model_refuses_decision_inputs() -> None:
    from pathlib import Path

    from dialoghub.engine.step import start, step
    from dialoghub.model.loader import load_model

    root = Path(__file__).resolve().parents[2]
    model = load_model(root / "examples" / "weather" / "weather.yaml")
    session = start(model, "w", now=T0).session
    with pytest.raises(InvalidInput, match="no decision states"):
        step(model, session, Propose(round="r1", specialist="a", transition="X"), T0)
