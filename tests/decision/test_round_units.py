"""``engine/decision_round.py`` unit by unit: proposal labels, correlation ids, the pairs a
voter is asked, the distinct candidates, and the solicitations that open a phase, each read
back exactly (issue 19, item 4)."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from dialoghub.engine.decision_round import (
    CHOICES,
    INPUTS,
    Fire,
    asked_pairs,
    candidates_of,
    correlation,
    correlation_id,
    open_round,
    pairs_of,
    proposal_label,
    proposals,
    solicit,
    spec_of,
)
from dialoghub.engine.fold import apply
from dialoghub.engine.records import Answers, Event, Override, Propose, Session, Vote
from dialoghub.model.decisions import DecisionSpec, SpecialistSpec
from tests.decision.conftest import T0, Run, compile_machine, machine


class Up:
    """The update protocol of the decision cycle, as chart_session's ``_Update`` keeps it:
    each event folded into a copy of the session as it is emitted."""

    def __init__(self, session: Session, now: float = T0) -> None:
        self.s = msgspec.structs.replace(session)
        self.now = now
        self.events: list[Event] = []

    def emit(self, type: str, **data: Any) -> None:
        event = Event(seq=self.s.seq + 1, version=self.s.version + 1, time=self.now, type=type,
                      data=data)  # fmt: skip
        self.s = apply(self.s, event)
        self.events.append(event)

    def of(self, type: str) -> list[dict[str, Any]]:
        return [e.data for e in self.events if e.type == type]


def fresh(**kw: Any) -> Run:
    return Run(compile_machine(machine(**kw)))


# --- constants, labels, correlation ids --------------------------------------------------------


def test_the_choices_and_the_inputs() -> None:
    assert tuple(CHOICES) == ("A", "B", "both", "neither")
    assert tuple(INPUTS) == (Propose, Vote, Override, Answers)


@pytest.mark.parametrize(
    ("i", "label"), [(0, "A"), (1, "B"), (24, "Y"), (25, "Z"), (26, "P27"), (27, "P28")]
)
def test_proposal_labels_are_letters_then_numbered(i: int, label: str) -> None:
    assert proposal_label(i) == label


def test_correlation_ids_name_round_attempt_kind_specialist() -> None:
    assert correlation_id("r3", 2, "v", "ai.x") == "r3.2.v.ai.x"
    assert correlation_id("r3", 2, "v", "ai.x", False) == "r3.2.v.ai.x"
    assert correlation_id("r1", 1, "p", "jane", True) == "r1.1.p.jane.e"


def test_correlation_of_a_pending_entry() -> None:
    rd = {"id": "r4", "attempt": 3, "pending": {"a": {"k": "v"}, "b": {"k": "p", "c": "kept"}}}
    assert correlation(rd, "a") == "r4.3.v.a"
    assert correlation(rd, "b") == "kept"  # recorded when it is not the derived one
    assert correlation({**rd, "escalated": True}, "a") == "r4.3.v.a.e"
    assert correlation({**rd, "escalated": False}, "a") == "r4.3.v.a"
    with pytest.raises(KeyError):
        correlation(rd, "nobody")


# --- the round read back --------------------------------------------------------------------------


def test_open_round_of_a_session() -> None:
    run = fresh()
    rd = open_round(run.session)
    assert rd is not None and rd["id"] == "r1"
    assert open_round(msgspec.structs.replace(run.session, decision=None)) is None
    assert open_round(msgspec.structs.replace(run.session, decision={"n": 1})) is None


def test_spec_of_a_decided_model_and_of_a_dialog() -> None:
    model = compile_machine(machine())
    spec = spec_of(model)
    assert isinstance(spec, DecisionSpec) and spec is model.decision
    plain = compile_machine({k: v for k, v in machine().items() if k != "decision"})
    with pytest.raises(AssertionError):
        spec_of(plain)


def test_proposals_as_records() -> None:
    rd = {"proposals": [["A", "a", "APPROVE"], ["B", "b", "REJECT", {"why": "typos"}]]}
    assert proposals(rd) == [
        {"id": "A", "by": "a", "t": "APPROVE", "params": None},
        {"id": "B", "by": "b", "t": "REJECT", "params": {"why": "typos"}},
    ]
    assert proposals({"proposals": []}) == []


def test_candidates_are_the_distinct_transitions_first_proposer_first() -> None:
    a, b, c, d = (
        ["A", "a", "APPROVE"],
        ["B", "b", "REJECT", {"x": 1}],
        ["C", "c", "APPROVE"],
        ["D", "d", "REQUEST_CHANGES"],
    )
    out = candidates_of({"proposals": [a, b, c, d]})
    assert out == [a, b, d]
    assert out[0] is a and out[1] is b  # the entries themselves, nothing rebuilt
    assert candidates_of({"proposals": []}) == []


def test_asked_pairs_every_pair_of_candidates_or_what_is_left() -> None:
    rd = {
        "proposals": [
            ["A", "a", "APPROVE"],
            ["B", "b", "REJECT"],
            ["C", "c", "APPROVE"],  # same transition as A: no pair of its own
            ["D", "d", "REQUEST_CHANGES"],
        ],
        "pending": {"a": {"k": "v"}, "b": {"k": "v", "left": [["B", "D"]]}},
    }
    assert asked_pairs(rd, {"k": "v"}) == [("A", "B"), ("A", "D"), ("B", "D")]
    assert asked_pairs(rd, {"k": "v", "left": [["A", "D"], ["B", "D"]]}) == [
        ("A", "D"),
        ("B", "D"),
    ]
    assert asked_pairs(rd, {"left": []}) == []
    assert pairs_of(rd, "a") == [["A", "B"], ["A", "D"], ["B", "D"]]
    assert pairs_of(rd, "b") == [["B", "D"]]
    assert pairs_of(rd, "zed") == [["A", "B"], ["A", "D"], ["B", "D"]]  # not pending: all


def test_fire_is_a_frozen_record() -> None:
    fire = Fire("APPROVE", {"x": 1})
    assert (fire.transition, fire.params) == ("APPROVE", {"x": 1})
    assert fire == Fire("APPROVE", {"x": 1}) and fire != Fire("APPROVE", None)
    with pytest.raises(AttributeError):
        fire.transition = "REJECT"  # type: ignore[misc]


# --- solicitations ----------------------------------------------------------------------------


def test_solicit_proposals_opens_a_round() -> None:
    run = fresh(deadline=45)
    closed = msgspec.structs.replace(run.session, decision=None)
    up = Up(closed, now=T0 + 10)
    spec = spec_of(run.model)
    who = [
        SpecialistSpec(id="a", kind="callable"),
        SpecialistSpec(id="h", kind="human", human=True),
    ]
    solicit(up, spec, "r9", "pending", 2, who, "proposal_solicited", context={"k": 1})
    assert up.of("proposal_solicited") == [
        {
            "round": "r9",
            "specialist": "a",
            "correlation": "r9.2.p.a",
            "due_at": T0 + 55,
            "attempt": 2,
            "state": "pending",
            "context": {"k": 1},
        },
        {
            "round": "r9",
            "specialist": "h",
            "correlation": "r9.2.p.h",
            "due_at": T0 + 55,
            "attempt": 2,
            "human": True,
        },
    ]
    rd = open_round(up.s)
    assert rd is not None and rd["id"] == "r9" and sorted(rd["pending"]) == ["a", "h"]
    assert rd["pending"]["h"] == {"k": "p", "due": T0 + 55, "h": True}
    assert "c" not in rd["pending"]["a"]  # the derived id is not kept


def test_solicit_without_context_records_only_the_state() -> None:
    run = fresh()
    up = Up(msgspec.structs.replace(run.session, decision=None))
    spec = spec_of(run.model)
    solicit(up, spec, "r1", "pending", 1, [spec.specialists[0]], "proposal_solicited")
    (only,) = up.of("proposal_solicited")
    assert only["state"] == "pending" and "context" not in only and "pairs" not in only
    assert "human" not in only


def test_solicit_votes_carries_the_pairs_and_the_escalated_mark() -> None:
    run = fresh()
    rd = open_round(run.session)
    assert rd is not None
    escalated = msgspec.structs.replace(
        run.session, decision={**run.session.decision, "round": {**rd, "escalated": True}}
    )
    spec = spec_of(run.model)
    up = Up(escalated, now=T0 + 5)
    pairs = [["A", "B"]]
    solicit(up, spec, "r1", "pending", 1, list(spec.specialists[:2]), "vote_solicited",
            pairs=pairs)  # fmt: skip
    first, second = up.of("vote_solicited")
    assert first["correlation"] == "r1.1.v.a.e" and second["correlation"] == "r1.1.v.b.e"
    assert first["pairs"] == pairs and second["pairs"] == pairs
    assert first["state"] == "pending" and "state" not in second
    assert first["due_at"] == T0 + 65
    after = open_round(up.s)
    assert after is not None and after["phase"] == "vote"
    assert after["pending"]["a"] == {"k": "v", "due": T0 + 65}  # derived id: not stored


def test_solicit_of_a_round_not_escalated_derives_plain_ids() -> None:
    run = fresh()
    spec = spec_of(run.model)
    up = Up(run.session)
    solicit(up, spec, "r1", "pending", 1, [spec.specialists[2]], "vote_solicited", pairs=[])
    assert up.of("vote_solicited")[0]["correlation"] == "r1.1.v.c"
    assert up.of("vote_solicited")[0]["pairs"] == []
