"""The decision cycle through the Hub on SQLite: the driver and its callables, the store's
replay, deadlines delivered once by the timer service across hubs, late answers, code
registration, invalid answers, and the evaluation by replay of a recorded store."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from dialoghub.decision import (
    CallableSpecialist,
    Driver,
    ProposalAnswer,
    SpecialistSpec,
    VoteAnswer,
    with_specialists,
)
from dialoghub.decision.evaluate import evaluate, recompute_weights, recorded_rounds
from dialoghub.decision.inbox import inbox, round_view
from dialoghub.engine.fold import replay
from dialoghub.engine.records import Answers, EventInput, PairVote, Propose, Vote
from dialoghub.errors import LateAnswer, ModelError, NotSolicited
from dialoghub.hub import Hub
from dialoghub.hub.timers import TimerService
from tests.decision.conftest import T0, compile_machine, machine

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "decisions"


def approve(s: Any) -> Any:
    if s.kind == "proposal":
        return {"transition": "APPROVE", "reasoning": "fine"}
    return {"votes": [{"a": a, "b": b, "vote": "A"} for a, b in s.pairs]}


async def request_changes(s: Any) -> Any:  # an async callable
    await asyncio.sleep(0)
    if s.kind == "proposal":
        return ProposalAnswer(transition="REQUEST_CHANGES", reasoning="typos", tokens=12)
    # prefers whichever proposal asks for changes
    by = {p["id"]: p["transition"] for p in s.proposals}
    return VoteAnswer(
        votes={(a, b): "A" if by[a] == "REQUEST_CHANGES" else "B" for a, b in s.pairs}
    )


def reject(s: Any) -> Any:  # run in a worker thread
    if s.kind == "proposal":
        return "REJECT"
    by = {p["id"]: p["transition"] for p in s.proposals}
    return {
        "votes": [
            {
                "a": a,
                "b": b,
                "vote": "A"
                if by[a] == "REQUEST_CHANGES"
                else "B"
                if by[b] == "REQUEST_CHANGES"
                else "neither",
            }
            for a, b in s.pairs
        ]
    }


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'decisions.db'}"


async def test_three_callables_decide_durably_and_the_log_replays(db: str) -> None:
    async with Hub(db) as hub:
        hub.add_model(compile_machine(machine()))
        driver = Driver(
            hub,
            specialists=[
                CallableSpecialist("a", approve),
                CallableSpecialist("b", request_changes),
                CallableSpecialist("c", reject, thread=True),
            ],
        )
        view = await hub.create_session("review", params={"doc": "d1"})
        await driver.settle()
        sid = view.session.id
    async with Hub(db) as hub:  # what was stored, read back by another hub
        hub.add_model(compile_machine(machine()))
        session = await hub.get_session(sid)
        events = await hub.events(sid, limit=10_000)
    assert session.state == "needs_revision"  # b's REQUEST_CHANGES: 2 votes of 3 on each pair
    types = [e.type for e in events]
    for t in (
        "proposal_solicited",
        "proposal_submitted",
        "vote_solicited",
        "vote_submitted",
        "consensus_evaluated",
        "transition_executed",
    ):
        assert t in types
    # one update for the three proposals, one for the three ballots (Answers batches)
    r1 = [e for e in events if e.data.get("round") == "r1"]
    assert len({e.version for e in r1 if e.type == "proposal_submitted"}) == 1
    assert len({e.version for e in r1 if e.type == "vote_submitted"}) == 1
    tokens = [e.data.get("tokens") for e in events if e.type == "proposal_submitted"]
    assert 12 in tokens
    assert replay(events) == session
    # needs_revision is decided too, and the driver already answered its round
    assert session.decision["round"]["id"] == "r2"


async def test_deadlines_are_delivered_once_across_hubs(db: str) -> None:
    clock = Clock()
    model = compile_machine(machine())
    async with Hub(db, clock=clock) as one, Hub(db, clock=clock) as two:
        one.add_model(model)
        two.add_model(model)
        view = await one.create_session("review")
        sid = view.session.id
        await one.update(sid, Propose(round="r1", specialist="a", transition="APPROVE"))
        clock.now = T0 + 61
        first, second = await asyncio.gather(
            TimerService(one).run_once(), TimerService(two).run_once()
        )
        assert first.delivered + second.delivered == 1
        session = await two.get_session(sid)
        assert session.state == "approved"
        events = await two.events(sid)
        timed_out = [e for e in events if e.type == "solicitation_timed_out"]
        assert sorted(e.data["specialist"] for e in timed_out) == ["b", "c"]
        assert (await TimerService(one).run_once()).delivered == 0


async def test_a_late_answer_is_refused_and_changes_nothing(db: str) -> None:
    clock = Clock()
    async with Hub(db, clock=clock) as hub:
        hub.add_model(compile_machine(machine()))
        sid = (await hub.create_session("review")).session.id
        before = await hub.get_session(sid)
        clock.now = T0 + 100  # the deadline passed, the timer not delivered yet
        with pytest.raises(LateAnswer):
            await hub.update(sid, Propose(round="r1", specialist="a", transition="APPROVE"))
        assert (await hub.get_session(sid)) == before


async def test_a_duplicate_answer_with_an_idempotency_key_is_answered_once(db: str) -> None:
    async with Hub(db) as hub:
        hub.add_model(compile_machine(machine()))
        sid = (await hub.create_session("review")).session.id
        inp = Propose(round="r1", specialist="a", transition="APPROVE")
        first = await hub.update(sid, inp, idempotency_key="k1")
        again = await hub.update(sid, inp, idempotency_key="k1")
        assert again.session.version == first.session.version
        with pytest.raises(NotSolicited):  # the same answer without the key: a duplicate
            await hub.update(sid, inp)


async def test_specialists_registered_in_code(db: str) -> None:
    base = compile_machine(machine(specialists=[{"id": "a", "kind": "callable"}]))
    model = with_specialists(base, [SpecialistSpec(id="extra", kind="callable", weight=2.0)])
    assert [s.id for s in model.decision.specialists] == ["a", "extra"]
    with pytest.raises(ModelError):
        with_specialists(model, [SpecialistSpec(id="a", kind="callable")])
    async with Hub(db) as hub:
        hub.add_model(model)
        driver = Driver(
            hub, callables={"a": approve}, specialists=[CallableSpecialist("extra", approve)]
        )
        sid = (await hub.create_session("review")).session.id
        await driver.settle()
        assert (await hub.get_session(sid)).state == "approved"


async def test_invalid_answers_are_recorded_retried_and_bounded(db: str) -> None:
    calls = []

    def garbage(s: Any) -> Any:
        calls.append(s.correlation)
        return {"transition": "PUBLISH"}  # no transition of the state

    spec = machine(
        specialists=[{"id": "a", "kind": "callable"}, {"id": "g", "kind": "callable"}], retries=2
    )
    async with Hub(db) as hub:
        hub.add_model(compile_machine(spec))
        driver = Driver(hub, callables={"a": approve, "g": garbage})
        sid = (await hub.create_session("review")).session.id
        await driver.settle()
        events = await hub.events(sid)
    bad = [
        e.data for e in events if e.type == "proposal_submitted" and not e.data.get("valid", True)
    ]
    assert len(bad) == 3 and len(calls) == 3  # first try + 2 retries, then it abstains
    assert "PUBLISH" in bad[0]["invalid"] and bad[-1]["closed"]


async def test_inbox_and_round_view(db: str) -> None:
    async with Hub(db) as hub:
        hub.load_models(EXAMPLES / "review.json")
        driver = Driver(hub, callables={"strict": request_changes, "lenient": approve})
        ids = [(await hub.create_session("decided-review")).session.id for _ in range(3)]
        await driver.settle()
        page = await inbox(hub)
        assert sorted(i.session_id for i in page.items) == sorted(ids)
        assert {i.kind for i in page.items} == {"vote"} and page.items[0].waiting == ["jane"]
        assert (await inbox(hub, specialist="nobody")).items == []
        assert page.scanned == 3
        rd = await round_view(hub, ids[0])
        assert rd.prompt and rd.prompt.startswith("Review the document")
        assert {p.reasoning for p in rd.proposals} == {"typos", "fine"}
        assert rd.waiting["jane"]["pairs"] == [["A", "B"]]
        page2 = await inbox(hub, limit=1, scan=1)
        assert len(page2.items) == 1 and page2.next_cursor is not None


async def _record_store(hub: Hub) -> list[str]:
    """Four reviewed documents: jane settles two votes, overrides one, one is unanimous."""
    hub.load_models(EXAMPLES / "review.json")
    ids = []
    for _ in range(4):
        ids.append((await hub.create_session("decided-review")).session.id)
    for sid in ids[:3]:  # strict proposes A = REQUEST_CHANGES, lenient B = APPROVE
        await hub.update(
            sid,
            Answers(
                items=[
                    Propose(round="r1", specialist="ai.strict", transition="REQUEST_CHANGES"),
                    Propose(round="r1", specialist="ai.lenient", transition="APPROVE"),
                ]
            ),
        )
    await hub.update(
        ids[0], Vote(round="r1", specialist="jane", votes=[PairVote(a="A", b="B", vote="B")])
    )
    await hub.update(
        ids[1], Vote(round="r1", specialist="jane", votes=[PairVote(a="A", b="B", vote="A")])
    )
    from dialoghub.engine.records import Override

    await hub.update(ids[2], Override(transition="REJECT", reason="plagiarism"))
    await hub.update(
        ids[3],
        Answers(
            items=[
                Propose(round="r1", specialist="ai.strict", transition="APPROVE"),
                Propose(round="r1", specialist="ai.lenient", transition="APPROVE"),
            ]
        ),
    )
    return ids


async def test_evaluation_report_on_a_recorded_store(db: str) -> None:
    async with Hub(db) as hub:
        await _record_store(hub)
        seen: list[Any] = []

        def candidate(s: Any) -> Any:
            seen.append(s)
            if s.kind == "proposal":
                return "APPROVE"
            return {"votes": [{"a": a, "b": b, "vote": "B"} for a, b in s.pairs]}

        report = await evaluate(CallableSpecialist("cand", candidate), recorded_rounds(hub))
        (score,) = report.states.values()
        assert score.state == "pending" and score.rounds == 4
        # decided: APPROVE, REQUEST_CHANGES, REJECT (override), APPROVE
        assert score.agree_decided == 2
        # humans preferred: APPROVE (vote), REQUEST_CHANGES (vote), REJECT (override)
        assert score.with_humans == 3 and score.agree_humans == 1
        assert score.pairs_with_humans == 2 and score.pairs_agree_humans == 1
        assert score.invalid == 0
        # what the candidate saw was recorded, not re-run: the prompt and the others' proposals
        assert seen[0].prompt.startswith("Review the document")
        votes = [s for s in seen if s.kind == "vote"]
        assert votes and {p["transition"] for p in votes[0].proposals} == {
            "REQUEST_CHANGES",
            "APPROVE",
        }
        data = report.as_dict()
        assert data["total"]["agreement_decided"] == 0.5
        assert any("pending" in line for line in report.table())
        only = await evaluate(
            CallableSpecialist("cand", candidate), recorded_rounds(hub, state="needs_revision")
        )
        assert only.states == {}
        rounds = [rd async for rd in recorded_rounds(hub)]
        weights = recompute_weights(rounds)
        # ai.lenient agreed with the humans once in 3 proposals + its votes; strict once too
        assert set(weights) == {"ai.strict", "ai.lenient"}
        assert weights["ai.strict"]["answers"] == 3


async def test_the_api_functions(db: str) -> None:
    from dialoghub.decision import api

    async with Hub(db) as hub:
        hub.load_models(EXAMPLES / "review.json")
        sid = (await hub.create_session("decided-review")).session.id
        await api.propose(hub, sid, "r1", "ai.strict", "REJECT", reasoning="thin")
        await api.propose(hub, sid, "r1", "ai.lenient", "APPROVE")
        assert (await api.round_view(hub, sid)).phase == "vote"
        assert [i.session_id for i in (await api.inbox(hub)).items] == [sid]
        view = await api.vote(hub, sid, "r1", "jane", {("A", "B"): "B"}, by={"user": "jane"})
        assert view.session.state == "approved"
        await hub.update(sid, EventInput(name="REOPEN"))
        view = await api.override(hub, sid, "REJECT", reason="withdrawn", by={"user": "ed"})
        assert view.session.ended
