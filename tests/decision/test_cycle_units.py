"""``engine/decision.py`` unit by unit: opening a round (and its bounds), every refusal with
its message and attributes, the data each answer records, partial ballots, early decisions,
overrides, manual moves and timeouts, read back exactly (issue 19, item 4).

The functions are driven two ways: through the pure step (:class:`Run`), and directly with
an update object (:class:`Up`) where the step cannot reach a state on its own."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from dialoghub.engine import decision
from dialoghub.engine.decision_round import MAX_ROUNDS_PER_UPDATE, Fire, open_round
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
    NotSolicited,
    StaleRound,
    UnexpectedInput,
    UnknownProposal,
    UnknownTransition,
)
from tests.decision.conftest import T0, Run, compile_machine, machine
from tests.decision.test_round_units import Up

TWO = [{"id": "a", "kind": "callable"}, {"id": "b", "kind": "callable"}]
TRANSITIONS = ["APPROVE", "REQUEST_CHANGES", "REJECT"]


def fresh(**kw: Any) -> Run:
    return Run(compile_machine(machine(**kw)))


def pv(a: str, b: str, v: str) -> PairVote:
    return PairVote(a=a, b=b, vote=v)


def three_candidates(**kw: Any) -> Run:
    """A round in its vote phase with proposals A, B, C (three distinct transitions)."""
    run = fresh(**kw)
    for who, t in zip("abc", TRANSITIONS, strict=True):
        run.send(Propose(round="r1", specialist=who, transition=t))
    assert run.round is not None and run.round["phase"] == "vote"
    return run


def two_candidates(**kw: Any) -> Run:
    run = fresh(specialists=kw.pop("specialists", TWO), **kw)
    run.send(Propose(round="r1", specialist="a", transition="APPROVE"))
    run.send(Propose(round="r1", specialist="b", transition="REJECT"))
    assert run.round is not None and run.round["phase"] == "vote"
    return run


# --- entered: opening a round ---------------------------------------------------------------------


def test_entering_a_state_nobody_decides_opens_nothing() -> None:
    run = fresh()
    rested = msgspec.structs.replace(run.session, state="approved", decision=None)
    up = Up(rested)
    assert decision.entered(up, run.model, "p") is None
    assert up.events == []


def test_entering_the_state_of_the_open_round_opens_nothing() -> None:
    run = fresh()
    up = Up(run.session)
    assert decision.entered(up, run.model, "p") is None
    assert up.events == [] and open_round(up.s)["id"] == "r1"


def test_a_round_open_for_another_state_gives_way_to_a_new_one() -> None:
    run = fresh()
    moved = msgspec.structs.replace(
        run.session, state="needs_revision", params={"n": 1}, metadata={"team": "x"}
    )
    up = Up(moved, now=T0 + 3)
    decision.entered(up, run.model, "Again.")
    solicited = up.of("proposal_solicited")
    assert [s["round"] for s in solicited] == ["r2", "r2", "r2"]
    assert solicited[0]["state"] == "needs_revision"
    assert solicited[0]["context"] == {
        "prompt": "Again.",
        "transitions": ["APPROVE", "REJECT"],
        "params": {"n": 1},
        "metadata": {"team": "x"},
    }
    assert [s["due_at"] for s in solicited] == [T0 + 63] * 3
    assert up.rounds == 1  # type: ignore[attr-defined]


def test_the_first_round_is_r1_and_the_counter_goes_on() -> None:
    run = fresh()
    up = Up(msgspec.structs.replace(run.session, decision=None))
    decision.entered(up, run.model, None)
    first = up.of("proposal_solicited")[0]
    assert first["round"] == "r1" and first["context"]["prompt"] is None
    up = Up(msgspec.structs.replace(run.session, decision={"n": 6}))
    decision.entered(up, run.model, None)
    assert up.of("proposal_solicited")[0]["round"] == "r7"


def test_the_rounds_of_one_update_are_bounded() -> None:
    run = fresh()
    start = msgspec.structs.replace(run.session, decision={"n": 4})
    up = Up(start)
    up.rounds = MAX_ROUNDS_PER_UPDATE - 1  # type: ignore[attr-defined]
    decision.entered(up, run.model, None)
    assert len(up.of("proposal_solicited")) == 3
    assert up.rounds == MAX_ROUNDS_PER_UPDATE  # type: ignore[attr-defined]
    up = Up(start)
    up.rounds = MAX_ROUNDS_PER_UPDATE  # type: ignore[attr-defined]
    assert decision.entered(up, run.model, None) is None
    assert up.of("proposal_solicited") == []
    assert up.of("consensus_evaluated") == [
        {
            "round": "r5",
            "state": "pending",
            "outcome": "no_consensus",
            "next": "park",
            "why": "20 rounds in one update",
        }
    ]
    assert up.rounds == MAX_ROUNDS_PER_UPDATE  # type: ignore[attr-defined]
    assert open_round(up.s)["phase"] == "attention"


def test_a_state_nobody_proposes_in_parks_at_once() -> None:
    run = fresh(
        specialists=[
            {"id": "v", "kind": "callable", "proposes": False},
            {"id": "w", "kind": "callable", "proposes": False},
        ]
    )
    assert run.of("proposal_solicited") == []
    (ce,) = run.of("consensus_evaluated")
    assert ce == {
        "round": "r1",
        "state": "pending",
        "context": {
            "prompt": "Review the document.",
            "transitions": TRANSITIONS,
            "params": {},
            "metadata": {},
        },
        "outcome": "no_consensus",
        "next": "park",
        "why": "no specialist proposes here",
    }
    assert run.round["phase"] == "attention"
    run.check_replay()


def test_only_the_proposers_of_the_state_are_solicited() -> None:
    run = fresh(
        specialists=[
            {"id": "a", "kind": "callable"},
            {"id": "mute", "kind": "callable", "proposes": False},
            {"id": "later", "kind": "callable", "states": ["needs_revision"]},
            {"id": "here", "kind": "callable", "states": ["pending"]},
            {"id": "jane", "kind": "human", "human": True},
        ]
    )
    solicited = run.of("proposal_solicited")
    assert [s["specialist"] for s in solicited] == ["a", "here", "jane"]
    assert solicited[2]["human"] is True and "human" not in solicited[0]


# --- step: batches ------------------------------------------------------------------------------


def test_an_empty_batch_is_refused() -> None:
    run = fresh()
    with pytest.raises(InvalidInput) as info:
        run.send(Answers(items=[]))
    assert info.value.message == "answers needs at least one proposal or vote"


def test_a_batch_answer_after_the_decision_is_refused_with_its_index() -> None:
    run = fresh(specialists=[{"id": "a", "kind": "callable"}])
    before = run.session
    with pytest.raises(StaleRound) as info:
        run.send(
            Answers(
                items=[
                    Propose(round="r1", specialist="a", transition="APPROVE"),
                    Propose(round="r1b", specialist="b", transition="REJECT"),
                ]
            )
        )
    assert info.value.message == "the round was decided by answer 1 of the batch"
    assert info.value.details == {"round": "r1b"}
    assert run.session is before


def test_a_batch_returns_the_decision_of_its_last_answer() -> None:
    run = fresh()
    up = Up(run.session)
    fire = decision.step(
        up,
        run.model,
        Answers(items=[Propose(round="r1", specialist=w, transition="REJECT") for w in "abc"]),
    )
    assert fire == Fire("REJECT", None)
    up = Up(run.session)
    partial = Answers(items=[Propose(round="r1", specialist=w, transition="REJECT") for w in "ab"])
    assert decision.step(up, run.model, partial) is None
    assert len(up.of("proposal_submitted")) == 2


# --- refusals of an answer --------------------------------------------------------------------


def test_a_stranger_is_no_specialist_of_the_round() -> None:
    run = fresh()
    with pytest.raises(NotSolicited) as info:
        run.send(Propose(round="r1", specialist="zed", transition="APPROVE"))
    assert info.value.message == (
        "'zed' is no specialist of round r1 (state 'pending'); its specialists: a, b, c"
    )
    assert info.value.details == {"round": "r1", "specialist": "zed"}


def test_a_specialist_of_other_states_is_no_specialist_of_the_round() -> None:
    run = fresh(
        specialists=[
            {"id": "a", "kind": "callable"},
            {"id": "b", "kind": "callable"},
            {"id": "rev", "kind": "callable", "states": ["needs_revision"]},
        ]
    )
    with pytest.raises(NotSolicited) as info:
        run.send(Propose(round="r1", specialist="rev", transition="APPROVE"))
    assert info.value.message == (
        "'rev' is no specialist of round r1 (state 'pending'); its specialists: a, b"
    )
    assert info.value.details == {"round": "r1", "specialist": "rev"}


def test_a_specialist_of_some_states_answers_in_them() -> None:
    run = fresh(
        specialists=[
            {"id": "a", "kind": "callable"},
            {"id": "here", "kind": "callable", "states": ["pending"]},
            {"id": "rev", "kind": "callable", "states": ["needs_revision"]},
        ]
    )
    with pytest.raises(NotSolicited) as info:
        run.send(Propose(round="r1", specialist="rev", transition="APPROVE"))
    assert info.value.message == (
        "'rev' is no specialist of round r1 (state 'pending'); its specialists: a, here"
    )
    run.send(Propose(round="r1", specialist="here", transition="APPROVE"))
    assert run.of("proposal_submitted")[0]["specialist"] == "here"


def test_an_answer_of_the_wrong_kind_is_not_solicited() -> None:
    run = fresh()
    with pytest.raises(NotSolicited) as info:
        run.send(Vote(round="r1", specialist="a", votes=[pv("A", "B", "A")]))
    assert info.value.message == (
        "round r1 is not waiting for votes from 'a' (it already answered, timed out, or was "
        "not asked)"
    )
    assert info.value.details == {"round": "r1", "specialist": "a"}
    run = two_candidates()
    with pytest.raises(NotSolicited) as info:
        run.send(Propose(round="r1", specialist="a", transition="APPROVE"))
    assert info.value.message == (
        "round r1 is not waiting for a proposal from 'a' (it already answered, timed out, or "
        "was not asked)"
    )


def test_a_specialist_no_longer_pending_is_not_solicited() -> None:
    run = fresh()
    run.send(Propose(round="r1", specialist="a", transition="APPROVE"))
    with pytest.raises(NotSolicited, match="not waiting for a proposal from 'a'"):
        run.send(Propose(round="r1", specialist="a", transition="REJECT"))


def test_an_answer_names_the_open_solicitations_correlation() -> None:
    run = fresh()
    with pytest.raises(StaleRound) as info:
        run.send(Propose(round="r1", specialist="a", transition="APPROVE", correlation="r1.2.p.a"))
    assert info.value.message == "correlation 'r1.2.p.a' is not the open solicitation's (r1.1.p.a)"
    assert info.value.details == {"round": "r1", "correlation": "r1.2.p.a"}
    run.send(Propose(round="r1", specialist="a", transition="APPROVE", correlation="r1.1.p.a"))
    assert run.of("proposal_submitted")[0]["correlation"] == "r1.1.p.a"


def test_a_recorded_correlation_is_the_one_checked() -> None:
    run = fresh()
    dec = run.session.decision
    rd = dec["round"]
    custom = {**rd["pending"]["a"], "c": "legacy-7"}
    session = msgspec.structs.replace(
        run.session, decision={**dec, "round": {**rd, "pending": {**rd["pending"], "a": custom}}}
    )
    with pytest.raises(StaleRound) as info:
        decision.step(Up(session), run.model,
                      Propose(round="r1", specialist="a", transition="APPROVE",
                              correlation="r1.1.p.a"))  # fmt: skip
    assert info.value.message == "correlation 'r1.1.p.a' is not the open solicitation's (legacy-7)"
    up = Up(session)
    decision.step(
        up, run.model, Propose(round="r1", specialist="a", transition="APPROVE", correlation="legacy-7")
    )
    assert up.of("proposal_submitted")[0]["correlation"] == "legacy-7"


def test_an_escalated_round_derives_escalated_correlations() -> None:
    run = two_candidates(
        specialists=[
            *TWO,
            {"id": "jane", "kind": "human", "human": True, "proposes": False, "votes": False},
        ],
        policy={"on_tie": ["escalate"]},
    )
    run.send(Vote(round="r1", specialist="a", votes=[pv("A", "B", "A")]))
    run.send(Vote(round="r1", specialist="b", votes=[pv("A", "B", "B")]))
    assert run.round is not None and run.round["escalated"]
    assert run.of("vote_solicited")[-1]["correlation"] == "r1.1.v.jane.e"
    with pytest.raises(StaleRound, match=r"\(r1\.1\.v\.jane\.e\)"):
        run.send(
            Vote(round="r1", specialist="jane", votes=[pv("A", "B", "A")], correlation="r1.1.v.jane")
        )
    run.send(
        Vote(round="r1", specialist="jane", votes=[pv("A", "B", "A")], correlation="r1.1.v.jane.e")
    )
    assert run.session.state == "approved"


def test_an_answer_at_its_deadline_counts_after_it_is_late() -> None:
    run = fresh()
    with pytest.raises(LateAnswer) as info:
        run.send(Propose(round="r1", specialist="a", transition="APPROVE"), at=T0 + 60.001)
    assert info.value.message == "the deadline of 'a''s solicitation in round r1 passed"
    assert info.value.details == {"round": "r1", "specialist": "a", "due_at": T0 + 60}
    run.send(Propose(round="r1", specialist="a", transition="APPROVE"), at=T0 + 60)
    assert run.of("proposal_submitted")[0]["specialist"] == "a"


def test_an_answer_for_another_round_names_the_open_one() -> None:
    run = fresh()
    with pytest.raises(StaleRound) as info:
        run.send(Propose(round="r7", specialist="a", transition="APPROVE"))
    assert info.value.message == "round 'r7' is not the open round (round r1 is open)"
    assert info.value.details == {"round": "r7", "open": "r1"}


def test_an_answer_when_no_round_is_open() -> None:
    run = fresh(specialists=[{"id": "a", "kind": "callable"}])
    run.send(Propose(round="r1", specialist="a", transition="APPROVE"))
    assert run.session.state == "approved" and run.round is None
    with pytest.raises(StaleRound) as info:
        run.send(Propose(round="r1", specialist="a", transition="APPROVE"))
    assert info.value.message == "round 'r1' is not the open round (no round is open)"
    assert info.value.details == {"round": "r1", "open": None}


def test_a_parked_round_takes_no_answer() -> None:
    run = fresh(specialists=[{"id": "a", "kind": "callable"}])
    run.send(Timeout(name="decision"), at=T0 + 61)
    assert run.round["phase"] == "attention"
    with pytest.raises(StaleRound) as info:
        run.send(Propose(round="r1", specialist="a", transition="APPROVE"), at=T0 + 62)
    assert info.value.message == "round r1 is parked: it waits for an override"
    assert info.value.details == {"round": "r1"}


# --- proposals ------------------------------------------------------------------------------------


def test_a_proposal_records_what_it_reports() -> None:
    run = fresh(specialists=[{"id": "jane", "kind": "human", "human": True}, *TWO])
    run.send(
        Propose(
            round="r1",
            specialist="jane",
            transition="REJECT",
            reasoning="no",
            params={"note": "x"},
            cost=0.25,
            latency=1.5,
            tokens=12,
            by={"key_id": "k1"},
        )
    )
    run.send(Propose(round="r1", specialist="a", transition="APPROVE", params={}, cost=0.0,
                     latency=0.0, tokens=0))  # fmt: skip
    first, second = run.of("proposal_submitted")
    assert first == {
        "round": "r1",
        "specialist": "jane",
        "correlation": "r1.1.p.jane",
        "cost": 0.25,
        "latency": 1.5,
        "tokens": 12,
        "by": {"key_id": "k1"},
        "human": True,
        "proposal": "A",
        "transition": "REJECT",
        "reasoning": "no",
        "params": {"note": "x"},
    }
    assert list(first)[3:8] == ["cost", "latency", "tokens", "by", "human"]
    assert second == {
        "round": "r1",
        "specialist": "a",
        "correlation": "r1.1.p.a",
        "cost": 0.0,
        "latency": 0.0,
        "tokens": 0,
        "proposal": "B",
        "transition": "APPROVE",
    }
    run.check_replay()


def test_a_proposal_of_a_transition_the_state_does_not_take() -> None:
    run = fresh()
    for bad in ("PUBLISH", None):
        with pytest.raises(UnknownTransition) as info:
            run.send(Propose(round="r1", specialist="a", transition=bad))
        assert info.value.message == (
            f"state 'pending' takes no transition {bad!r}; it takes: "
            "APPROVE, REQUEST_CHANGES, REJECT"
        )
        assert info.value.details == {"round": "r1", "transition": bad, "allowed": TRANSITIONS}


def test_invalid_proposals_count_against_the_retries() -> None:
    run = fresh(retries=2)
    text = "x" * 499 + "yz"
    for _ in range(2):
        run.send(Propose(round="r1", specialist="a", invalid=text, cost=0.5))
    assert run.round["pending"]["a"]["bad"] == 2
    run.send(Propose(round="r1", specialist="a", invalid="last"))
    first, _, third = run.of("proposal_submitted")
    assert first == {
        "round": "r1",
        "specialist": "a",
        "correlation": "r1.1.p.a",
        "cost": 0.5,
        "valid": False,
        "invalid": "x" * 499 + "y",
        "closed": False,
    }
    assert third["closed"] is True and third["invalid"] == "last"
    assert "a" not in run.round["pending"]
    run.check_replay()


def test_the_last_invalid_proposal_moves_the_round_on() -> None:
    run = fresh(specialists=[{"id": "a", "kind": "callable"}], retries=0)
    up = Up(run.session)
    assert decision.step(up, run.model, Propose(round="r1", specialist="a", invalid="?")) is None
    assert [e.type for e in up.events] == ["proposal_submitted", "consensus_evaluated"]
    assert up.of("consensus_evaluated")[0]["why"] == "no valid proposal"
    run = fresh(specialists=TWO, retries=0)
    run.send(Propose(round="r1", specialist="a", transition="REJECT"))
    fire = decision.step(Up(run.session), run.model,
                         Propose(round="r1", specialist="b", invalid="?"))  # fmt: skip
    assert fire == Fire("REJECT", None)  # a's proposal is the only one left


def test_an_invalid_proposal_within_the_retries_moves_nothing() -> None:
    run = fresh(specialists=[{"id": "a", "kind": "callable"}], retries=1)
    up = Up(run.session)
    assert decision.step(up, run.model, Propose(round="r1", specialist="a", invalid="?")) is None
    assert [e.type for e in up.events] == ["proposal_submitted"]


def test_the_proposal_that_closes_the_phase_returns_the_decision() -> None:
    run = fresh(specialists=[{"id": "a", "kind": "callable"}])
    fire = decision.step(Up(run.session), run.model,
                         Propose(round="r1", specialist="a", transition="REJECT",
                                 params={"p": 1}))  # fmt: skip
    assert fire == Fire("REJECT", {"p": 1})


# --- votes ----------------------------------------------------------------------------------------


def test_an_empty_ballot_is_refused() -> None:
    run = two_candidates()
    with pytest.raises(InvalidInput) as info:
        run.send(Vote(round="r1", specialist="a", votes=[]))
    assert info.value.message == "a vote needs at least one pair: {a, b, vote}"


def test_a_ballot_records_the_voters_weight_and_figures() -> None:
    run = two_candidates(
        specialists=[
            {"id": "a", "kind": "callable", "weight": 3},
            {"id": "b", "kind": "callable", "weight": 1.5},
            {"id": "jane", "kind": "human", "human": True, "proposes": False, "weight": 2},
        ]
    )
    run.send(Vote(round="r1", specialist="jane", votes=[pv("A", "B", "A")], reasoning="mine",
                  by={"key_id": "k"}, tokens=3))  # fmt: skip
    run.send(Vote(round="r1", specialist="a", votes=[pv("A", "B", "both")], cost=1.0))
    jane, a = run.of("vote_submitted")
    assert jane == {
        "round": "r1",
        "specialist": "jane",
        "correlation": "r1.1.v.jane",
        "votes": [{"a": "A", "b": "B", "vote": "A"}],
        "weight": 2,
        "tokens": 3,
        "by": {"key_id": "k"},
        "human": True,
        "reasoning": "mine",
        "closed": True,
    }
    assert type(jane["weight"]) is int and type(a["weight"]) is int
    assert a == {
        "round": "r1",
        "specialist": "a",
        "correlation": "r1.1.v.a",
        "votes": [{"a": "A", "b": "B", "vote": "both"}],
        "weight": 3,
        "cost": 1.0,
        "closed": True,
    }
    run.send(Vote(round="r1", specialist="b", votes=[pv("A", "B", "B")], latency=0.5))
    b = run.of("vote_submitted")[-1]
    assert b["weight"] == 1.5 and b["latency"] == 0.5
    assert run.of("consensus_evaluated")[-1]["tally"] == {"A": 5.0, "B": 4.5}
    run.check_replay()


def test_a_partial_ballot_waits_for_the_rest() -> None:
    run = three_candidates()
    up = Up(run.session)
    assert decision.step(up, run.model,
                         Vote(round="r1", specialist="a", votes=[pv("A", "C", "A")])) is None
    (partial,) = up.of("vote_submitted")
    assert "closed" not in partial
    assert decision.pairs_of(open_round(up.s), "a") == [["A", "B"], ["B", "C"]]
    run.send(Vote(round="r1", specialist="a", votes=[pv("A", "C", "A")]))
    with pytest.raises(NotSolicited) as info:  # that pair is voted
        run.send(Vote(round="r1", specialist="a", votes=[pv("A", "C", "B")]))
    assert info.value.message == (
        "round r1 is not waiting for a vote on A/C from this specialist (voted already, or "
        "not asked)"
    )
    assert info.value.details == {"round": "r1", "a": "A", "b": "C"}
    run.send(Vote(round="r1", specialist="a", votes=[pv("A", "B", "A"), pv("B", "C", "B")]))
    assert run.of("vote_submitted")[-1]["closed"] is True
    assert "a" not in run.round["pending"]
    run.check_replay()


def test_the_last_ballot_of_the_phase_evaluates() -> None:
    run = two_candidates()
    run.send(Vote(round="r1", specialist="a", votes=[pv("A", "B", "A")]))
    fire = decision.step(Up(run.session), run.model,
                         Vote(round="r1", specialist="b", votes=[pv("A", "B", "A")]))  # fmt: skip
    assert fire == Fire("APPROVE", None)


def test_a_ballot_with_voters_still_pending_waits_under_the_weighted_policy() -> None:
    run = two_candidates(
        specialists=[
            {"id": "a", "kind": "callable", "weight": 5},
            {"id": "b", "kind": "callable"},
            {"id": "jane", "kind": "human", "human": True, "proposes": False, "weight": 5},
        ],
        policy={"margin": 1},
    )
    for who in ("jane", "a"):  # 10 to 0 already, yet the weighted policy waits for everyone
        up = Up(run.session)
        vote = Vote(round=run.round["id"], specialist=who, votes=[pv("A", "B", "A")])
        assert decision.step(up, run.model, vote) is None
        assert [e.type for e in up.events] == ["vote_submitted"]
        run.send(vote)
    assert run.round["phase"] == "vote" and list(run.round["pending"]) == ["b"]


def test_a_non_human_vote_does_not_settle_a_human_policy() -> None:
    run = two_candidates(
        specialists=[*TWO, {"id": "jane", "kind": "human", "human": True, "proposes": False}],
        policy={"kind": "human"},
    )
    up = Up(run.session)
    assert decision.step(up, run.model,
                         Vote(round="r1", specialist="a", votes=[pv("A", "B", "A")])) is None
    assert [e.type for e in up.events] == ["vote_submitted"]
    fire = decision.step(up, run.model,
                         Vote(round="r1", specialist="jane", votes=[pv("A", "B", "B")]))
    assert fire == Fire("REJECT", None)


def test_a_human_vote_that_does_not_settle_waits_for_the_others() -> None:
    run = three_candidates(
        specialists=[
            {"id": "a", "kind": "callable"},
            {"id": "b", "kind": "callable"},
            {"id": "c", "kind": "callable"},
            {"id": "jane", "kind": "human", "human": True, "proposes": False},
        ],
        policy={"kind": "human"},
    )
    up = Up(run.session)
    partial = Vote(round="r1", specialist="jane", votes=[pv("A", "B", "both")])
    assert decision.step(up, run.model, partial) is None  # a partial ballot: nothing moves
    rest = Vote(round="r1", specialist="jane", votes=[pv("A", "C", "both"), pv("B", "C", "both")])
    assert decision.step(up, run.model, rest) is None  # all tied: the others may still vote
    assert up.of("consensus_evaluated") == []


def test_a_partial_human_ballot_settles_nothing_yet() -> None:
    run = three_candidates(
        specialists=[
            {"id": "a", "kind": "callable"},
            {"id": "b", "kind": "callable"},
            {"id": "c", "kind": "callable"},
            {"id": "jane", "kind": "human", "human": True, "proposes": False},
        ],
        policy={"kind": "human"},
    )
    up = Up(run.session)
    partial = Vote(round="r1", specialist="jane", votes=[pv("A", "B", "A")])
    assert decision.step(up, run.model, partial) is None  # A would lead: jane is asked more
    assert [e.type for e in up.events] == ["vote_submitted"]
    rest = Vote(round="r1", specialist="jane", votes=[pv("A", "C", "A"), pv("B", "C", "B")])
    assert decision.step(up, run.model, rest) == Fire("APPROVE", None)


def test_a_partial_ballot_does_not_count_for_the_quorum() -> None:
    run = three_candidates(policy={"kind": "quorum", "quorum": 1, "margin": 1})
    up = Up(run.session)
    partial = Vote(round="r1", specialist="a", votes=[pv("A", "B", "B")])
    assert decision.step(up, run.model, partial) is None
    assert [e.type for e in up.events] == ["vote_submitted"]


def test_the_quorum_decides_as_soon_as_it_is_in() -> None:
    run = three_candidates(policy={"kind": "quorum", "quorum": 2, "margin": 1})
    up = Up(run.session)
    assert decision.step(up, run.model,
                         Vote(round="r1", specialist="a",
                              votes=[pv("A", "B", "B"), pv("A", "C", "B"), pv("B", "C", "A")]))\
        is None  # fmt: skip
    fire = decision.step(up, run.model,
                         Vote(round="r1", specialist="b",
                              votes=[pv("A", "B", "B"), pv("A", "C", "B"), pv("B", "C", "A")]))
    assert fire == Fire("REQUEST_CHANGES", None)
    assert up.of("consensus_evaluated")[-1]["policy"] == "quorum"


def test_an_unsettled_quorum_waits_for_the_last_voter() -> None:
    run = three_candidates(policy={"kind": "quorum", "quorum": 2, "margin": 5})
    up = Up(run.session)
    for who in "ab":
        decision.step(up, run.model,
                      Vote(round="r1", specialist=who,
                           votes=[pv("A", "B", "B"), pv("A", "C", "B"), pv("B", "C", "A")]))
    assert up.of("consensus_evaluated") == []  # B leads by 4, under 5: c may still vote


def test_invalid_votes_count_against_the_retries_then_abstain() -> None:
    run = two_candidates(retries=1)
    run.send(Vote(round="r1", specialist="a", invalid="z" * 600, cost=0.1))
    assert run.round["pending"]["a"]["bad"] == 1
    up = Up(run.session)
    assert decision.step(up, run.model, Vote(round="r1", specialist="a", invalid="again")) is None
    first = run.of("vote_submitted")[0]
    assert first == {
        "round": "r1",
        "specialist": "a",
        "correlation": "r1.1.v.a",
        "valid": False,
        "invalid": "z" * 500,
        "closed": False,
        "cost": 0.1,
    }
    assert up.of("vote_submitted")[0]["closed"] is True
    assert "a" not in open_round(up.s)["pending"]
    # the last answer of the phase, even an invalid one, evaluates
    run = two_candidates(retries=0)
    run.send(Vote(round="r1", specialist="a", votes=[pv("A", "B", "A")]))
    up = Up(run.session)
    fire = decision.step(up, run.model, Vote(round="r1", specialist="b", invalid="?"))
    assert fire == Fire("APPROVE", None)  # a's vote alone: A leads by 1, the margin
    assert up.of("consensus_evaluated")[0]["tally"] == {"A": 1.0, "B": 0.0}


def test_an_invalid_vote_within_the_retries_moves_nothing() -> None:
    run = two_candidates(retries=1)
    run.send(Vote(round="r1", specialist="a", votes=[pv("A", "B", "A")]))
    up = Up(run.session)
    decision.step(up, run.model, Vote(round="r1", specialist="b", invalid="?"))
    assert [e.type for e in up.events] == ["vote_submitted"]


# --- pair votes -----------------------------------------------------------------------------------


def test_a_pair_vote_names_the_rounds_proposals() -> None:
    run = three_candidates()
    for a, b, bad in (("A", "Q", "Q"), ("Q", "B", "Q")):
        with pytest.raises(UnknownProposal) as info:
            run.send(Vote(round="r1", specialist="a", votes=[pv(a, b, "A")]))
        assert info.value.message == f"round r1 has no proposal {bad!r}; its proposals: A, B, C"
        assert info.value.details == {"round": "r1", "proposal": bad}


def test_a_pair_vote_names_the_pair_in_the_asked_order() -> None:
    run = three_candidates()
    with pytest.raises(InvalidInput) as info:
        run.send(Vote(round="r1", specialist="a", votes=[pv("C", "A", "A")]))
    assert info.value.message == "name the pair in the order it was asked: A, C"


def test_a_pair_never_asked_is_not_solicited() -> None:
    run = fresh()
    for who, t in zip("abc", ("APPROVE", "REJECT", "APPROVE"), strict=True):
        run.send(Propose(round="r1", specialist=who, transition=t))
    for a, b in (("A", "C"), ("A", "A")):  # C repeats A's transition: no pair of its own
        with pytest.raises(NotSolicited) as info:
            run.send(Vote(round="r1", specialist="a", votes=[pv(a, b, "A")]))
        assert info.value.message == (
            f"round r1 is not waiting for a vote on {a}/{b} from this specialist (voted "
            "already, or not asked)"
        )


def test_a_ballot_votes_each_pair_once() -> None:
    run = two_candidates()
    with pytest.raises(NotSolicited, match="on A/B from this specialist"):
        run.send(Vote(round="r1", specialist="a", votes=[pv("A", "B", "A"), pv("A", "B", "B")]))


@pytest.mark.parametrize("choice", ["A", "B", "both", "neither"])
def test_every_choice_is_taken(choice: str) -> None:
    run = two_candidates()
    run.send(Vote(round="r1", specialist="a", votes=[pv("A", "B", choice)]))
    assert run.of("vote_submitted")[0]["votes"][0]["vote"] == choice


def test_a_pair_vote_outside_the_choices() -> None:
    run = two_candidates()
    with pytest.raises(InvalidInput) as info:
        run.send(Vote(round="r1", specialist="a", votes=[pv("A", "B", "a")]))
    assert info.value.message == "a pair vote is one of A, B, both, neither, not 'a'"
    assert info.value.details == {"vote": "a"}


# --- overrides, manual moves, timeouts --------------------------------------------------------


def test_an_override_records_who_why_and_params() -> None:
    run = fresh(history=3)
    up = Up(run.session)
    fire = decision.step(
        up,
        run.model,
        Override(transition="REJECT", params={"n": 2}, reason="late", round="r1", by={"k": 1}),
    )
    assert fire == Fire("REJECT", {"n": 2})
    assert up.of("transition_executed") == [
        {
            "round": "r1",
            "state": "pending",
            "transition": "REJECT",
            "source": "override",
            "keep": 3,
            "params": {"n": 2},
            "why": "late",
            "by": {"k": 1},
        }
    ]
    up = Up(run.session)
    assert decision.step(up, run.model, Override(transition="APPROVE", params={})) == Fire(
        "APPROVE", None
    )
    assert up.of("transition_executed") == [
        {"round": "r1", "state": "pending", "transition": "APPROVE", "source": "override",
         "keep": 3}
    ]  # fmt: skip


def test_an_override_of_a_decided_state_without_a_round() -> None:
    run = fresh()
    up = Up(msgspec.structs.replace(run.session, decision=None))
    assert decision.step(up, run.model, Override(transition="APPROVE")) == Fire("APPROVE", None)
    assert up.of("transition_executed")[0]["round"] is None
    with pytest.raises(StaleRound) as info:
        decision.step(Up(up.s), run.model, Override(transition="APPROVE", round="r1"))
    assert info.value.message == "round 'r1' is not the open round"
    assert info.value.details == {"round": "r1"}


def test_override_refusals_say_why() -> None:
    run = fresh()
    with pytest.raises(StaleRound) as stale:
        run.send(Override(transition="APPROVE", round="r2"))
    assert stale.value.message == "round 'r2' is not the open round"
    assert stale.value.details == {"round": "r2"}
    with pytest.raises(UnknownTransition) as unknown:
        run.send(Override(transition="PUBLISH", round="r1"))
    assert unknown.value.message == (
        "state 'pending' takes no transition 'PUBLISH'; it takes: APPROVE, REQUEST_CHANGES, "
        "REJECT"
    )
    assert unknown.value.details == {"transition": "PUBLISH", "allowed": TRANSITIONS}
    resting = Up(msgspec.structs.replace(run.session, state="approved", decision=None))
    with pytest.raises(UnexpectedInput) as info:
        decision.step(resting, run.model, Override(transition="REOPEN"))
    assert info.value.message == "state 'approved' is not decided by specialists"
    assert info.value.details == {"state": "approved"}


def test_a_manual_move_closes_the_open_round() -> None:
    run = fresh(history=2)
    run.send(EventInput(name="REQUEST_CHANGES", params={"why": "hand"}))
    assert run.of("transition_executed") == [
        {
            "round": "r1",
            "state": "pending",
            "transition": "REQUEST_CHANGES",
            "source": "manual",
            "keep": 2,
            "params": {"why": "hand"},
        }
    ]
    up = Up(run.session)
    decision.manual(up, run.model, "APPROVE", {})
    assert up.of("transition_executed") == [
        {"round": "r2", "state": "needs_revision", "transition": "APPROVE", "source": "manual",
         "keep": 2}
    ]  # fmt: skip
    run.check_replay()


def test_a_manual_move_without_a_round_records_nothing() -> None:
    run = fresh()
    up = Up(msgspec.structs.replace(run.session, decision=None))
    assert decision.manual(up, run.model, "APPROVE", {"x": 1}) is None
    assert up.events == []


def test_the_timer_closes_what_is_due_at_its_deadline() -> None:
    run = fresh()
    run.send(Propose(round="r1", specialist="a", transition="APPROVE"), at=T0 + 10)
    with pytest.raises(UnexpectedInput) as info:
        run.send(Timeout(name="decision"), at=T0 + 59.999)
    assert info.value.message == "no solicitation of this session is past its deadline"
    assert info.value.details == {}
    up = Up(run.session, now=T0 + 60)
    assert decision.timeout(up, run.model) == Fire("APPROVE", None)
    assert up.of("solicitation_timed_out") == [
        {"round": "r1", "specialist": s, "correlation": f"r1.1.p.{s}", "kind": "proposal"}
        for s in "bc"
    ]


def test_the_timer_closes_only_the_solicitations_past_due() -> None:
    run = fresh()
    dec = run.session.decision
    rd = dec["round"]
    pending = {**rd["pending"], "c": {**rd["pending"]["c"], "due": T0 + 90}}
    session = msgspec.structs.replace(
        run.session, decision={**dec, "round": {**rd, "pending": pending}}
    )
    up = Up(session, now=T0 + 60)
    assert decision.timeout(up, run.model) is None
    assert [t["specialist"] for t in up.of("solicitation_timed_out")] == ["a", "b"]
    assert list(open_round(up.s)["pending"]) == ["c"]


def test_the_timer_closes_votes_too() -> None:
    run = two_candidates()
    run.send(Vote(round="r1", specialist="a", votes=[pv("A", "B", "A")]))
    up = Up(run.session, now=T0 + 100)
    decision.timeout(up, run.model)
    assert up.of("solicitation_timed_out") == [
        {"round": "r1", "specialist": "b", "correlation": "r1.1.v.b", "kind": "vote"}
    ]


def test_the_timer_without_a_round() -> None:
    run = fresh()
    up = Up(msgspec.structs.replace(run.session, decision=None), now=T0 + 1000)
    with pytest.raises(UnexpectedInput, match=r"^no solicitation of this session is past"):
        decision.timeout(up, run.model)
    parked = fresh(specialists=[{"id": "a", "kind": "callable"}])
    parked.send(Timeout(name="decision"), at=T0 + 61)
    with pytest.raises(UnexpectedInput):  # a parked round has nothing pending
        parked.send(Timeout(name="decision"), at=T0 + 200)
