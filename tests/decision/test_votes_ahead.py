"""``votes_ahead``: the round a batch of proposals would leave, predicted without recording
anything, must be exactly the round the real step records, or None when the step would not
ask for votes (the driver then submits the proposals alone)."""

from __future__ import annotations

from typing import Any

import pytest

from dialoghub.engine.decision import votes_ahead
from dialoghub.engine.records import Answers, Propose
from tests.decision.conftest import T0, Run

AI = [{"id": s, "kind": "callable"} for s in ("a", "b", "c")]
HUMAN_VOTER = {"id": "jane", "kind": "human", "human": True, "proposes": False}
MUTE = {"id": "m", "kind": "callable", "votes": False}


def _props(picks: dict[str, str], params: dict[str, Any] | None = None) -> list[Propose]:
    return [
        Propose(round="r1", specialist=s, transition=t, reasoning="why", params=params)
        for s, t in picks.items()
    ]


CASES = [
    # (specialists, proposals, asks for votes): every case the real step is compared on
    (AI, _props({"a": "APPROVE", "b": "REJECT", "c": "REQUEST_CHANGES"}), True),
    (AI, _props({"a": "APPROVE", "b": "APPROVE", "c": "REJECT"}), True),  # two candidates
    (AI, _props({"a": "APPROVE", "b": "REJECT", "c": "REJECT"}, {"page": 3}), True),  # params
    ([*AI, HUMAN_VOTER], _props({"a": "APPROVE", "b": "REJECT", "c": "REJECT"}), True),
    ([*AI[:2], MUTE], _props({"a": "APPROVE", "b": "REJECT", "m": "REJECT"}), True),
    (AI, _props({"a": "APPROVE", "b": "APPROVE", "c": "APPROVE"}), False),  # decided alone
    (AI, _props({"a": "APPROVE", "b": "REJECT"}), False),  # c has not answered
    (AI, _props({"a": "APPROVE", "b": "REJECT", "c": "NOPE"}), False),  # unknown transition
    (  # nobody votes: the tally is evaluated at once
        [{**s, "votes": False} for s in AI],
        _props({"a": "APPROVE", "b": "REJECT", "c": "REJECT"}),
        False,
    ),
]


@pytest.mark.parametrize(("specialists", "answers", "votes"), CASES)
def test_the_prediction_is_the_round_the_step_records(
    run_of: Any, specialists: list[dict[str, Any]], answers: list[Propose], votes: bool
) -> None:
    run: Run = run_of(specialists=specialists)
    now = T0 + 5
    ahead = votes_ahead(run.model, run.session, list(answers), now)
    before = run.session
    try:
        run.send(Answers(items=list(answers)), at=now)
    except Exception:
        assert ahead is None and not votes  # refused: nothing to predict
        return
    assert run.session is not before
    rd = run.round
    assert (rd is not None and rd["phase"] == "vote") is votes
    if votes:
        assert ahead == rd
    else:
        assert ahead is None


def test_late_or_repeated_answers_predict_nothing(run_of: Any) -> None:
    run: Run = run_of(specialists=AI)
    answers = _props({"a": "APPROVE", "b": "REJECT", "c": "REJECT"})
    assert votes_ahead(run.model, run.session, answers, T0 + 10_000) is None  # past the deadline
    twice = [answers[0], answers[0], answers[1]]
    assert votes_ahead(run.model, run.session, twice, T0 + 5) is None
    assert votes_ahead(run.model, run.session, answers, T0 + 5) is not None
