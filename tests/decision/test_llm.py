"""The LLM and webhook specialists against a local server speaking their protocols: the
prompt they send, replies read plain and streamed, bounded retries of failures, invalid
replies recorded and asked again, and the llm_review example decided end to end."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from dialoghub.decision import Driver, Solicitation
from dialoghub.decision.llm import LLMSpecialist, WebhookSpecialist, build_messages
from dialoghub.engine.decision import pairs_of
from dialoghub.engine.records import PairVote, Vote
from dialoghub.errors import InvalidAnswer, SpecialistFailed
from dialoghub.hub import Hub
from dialoghub.model.loader import load_model_text
from tests.decision.stub_llm import Stub, stub_server

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "decisions" / "llm_review.json"


@pytest.fixture
def stub() -> Iterator[Stub]:
    with stub_server() as s:
        yield s


def solicitation(kind: str = "proposal", **kw: object) -> Solicitation:
    base: dict[str, object] = dict(
        session_id="s",
        tenant="default",
        model_id="m",
        round="r1",
        state="pending",
        kind=kind,
        specialist="llm.x",
        correlation="r1.1.p.llm.x",
        prompt="Review the document.",
        transitions=("APPROVE", "REJECT"),
        params={"pages": 3, "text": "x" * 10_000},
        metadata={"doc": "d1"},
    )
    base.update(kw)
    return Solicitation(**base)  # type: ignore[arg-type]


async def test_the_prompt_is_bounded_and_complete(stub: Stub) -> None:
    llm = LLMSpecialist("llm.x", stub.url, "gpt-test", api_key="sk-test", cost_per_1k_tokens=0.5)
    answer = await llm.answer(solicitation())
    await llm.aclose()
    assert answer.transition == "APPROVE" and answer.tokens == 40
    assert answer.cost == pytest.approx(0.02) and answer.latency is not None
    (body,) = stub.requests
    assert body["model"] == "gpt-test" and body["response_format"] == {"type": "json_object"}
    user = body["messages"][1]["content"]
    assert "Review the document." in user and "Allowed transitions: APPROVE, REJECT" in user
    assert "…(cut)" in user and len(user) < 7000  # 10,000 characters of params, cut


async def test_streamed_reply_and_votes(stub: Stub) -> None:
    llm = LLMSpecialist("llm.x", stub.url, "gpt-test", stream=True)
    s = solicitation(
        "vote",
        pairs=(("A", "B"),),
        proposals=(
            {"id": "A", "transition": "APPROVE", "reasoning": "good", "params": {}, "by": "x"},
            {"id": "B", "transition": "REJECT", "reasoning": "bad", "params": {}, "by": "y"},
        ),
    )
    answer = await llm.answer(s)
    await llm.aclose()
    assert answer.votes == {("A", "B"): "A"} and answer.tokens == 40
    assert stub.requests[0]["stream"] is True
    assert "Proposal A: APPROVE" in stub.requests[0]["messages"][1]["content"]


async def test_transport_failures_are_retried_then_raise(stub: Stub) -> None:
    stub.script = [(500, "boom"), (429, "slow down")]
    llm = LLMSpecialist("llm.x", stub.url, "gpt-test", retries=2)
    assert (await llm.answer(solicitation())).transition == "APPROVE"
    assert len(stub.requests) == 3
    stub.script = [(503, "down")] * 3
    with pytest.raises(SpecialistFailed, match="failed 3 times"):
        await llm.answer(solicitation())
    stub.script = [(400, "bad request")]
    with pytest.raises(SpecialistFailed, match="HTTP 400"):
        await llm.answer(solicitation())
    await llm.aclose()


@pytest.mark.parametrize(
    "content",
    [
        "I think we should approve it.",  # no JSON
        '{"transition": "PUBLISH", "reasoning": "x"}',  # no such transition
        '{"reasoning": "forgot the transition"}',
        '```json\n{"transition": 3}\n```',
    ],
)
async def test_invalid_replies(stub: Stub, content: str) -> None:
    stub.script = [(200, content)]
    llm = LLMSpecialist("llm.x", stub.url, "gpt-test")
    with pytest.raises(InvalidAnswer):
        await llm.answer(solicitation())
    await llm.aclose()


async def test_a_fenced_reply_is_read(stub: Stub) -> None:
    stub.script = [(200, '```json\n{"transition": "REJECT", "reasoning": "no"}\n```')]
    llm = LLMSpecialist("llm.x", stub.url, "gpt-test")
    assert (await llm.answer(solicitation())).transition == "REJECT"
    await llm.aclose()


async def test_webhook_specialist(stub: Stub) -> None:
    hook = WebhookSpecialist.from_options("hook", {"url": stub.url.removesuffix("/v1") + "/hook"})
    assert (await hook.answer(solicitation())).transition == "APPROVE"
    assert stub.requests[0]["prompt"] == "Review the document."
    stub.script = [(200, "not json")]
    with pytest.raises(InvalidAnswer):
        await hook.answer(solicitation())
    await hook.aclose()


def test_build_messages_names_the_history() -> None:
    s = solicitation(history=({"state": "pending", "t": "REQUEST_CHANGES", "source": "proposal"},))
    text = build_messages(s)[1]["content"]
    assert "Earlier decisions: pending -> REQUEST_CHANGES (proposal)" in text


async def test_llm_review_example_end_to_end(stub: Stub, tmp_path: Path) -> None:
    text = EXAMPLE.read_text().replace("http://127.0.0.1:8089/v1", stub.url)
    model = load_model_text(text, "llm_review.json")
    # the LLM answers nonsense once, then REJECT; it votes for its own proposal (A)
    stub.script = [
        (200, "nonsense"),
        (200, json.dumps({"transition": "REJECT", "reasoning": "too thin"})),
    ]
    async with Hub(f"sqlite:///{tmp_path / 'llm.db'}") as hub:
        hub.add_model(model)
        driver = Driver(hub)
        view = await hub.create_session("llm-review", params={"pages": 10})
        await driver.settle()
        sid = view.session.id
        session = await hub.get_session(sid)
        rd = session.decision["round"]
        # the rule proposed APPROVE, the LLM REJECT: a vote; the LLM and the rule voted,
        # jane (human) is still asked
        assert rd["phase"] == "vote" and list(rd["pending"]) == ["jane"]
        events = await hub.events(sid)
        bad = [
            e.data
            for e in events
            if e.type == "proposal_submitted" and not e.data.get("valid", True)
        ]
        assert len(bad) == 1 and "JSON" in bad[0]["invalid"]
        good = [e.data for e in events if e.type == "proposal_submitted" and "proposal" in e.data]
        llm = next(p for p in good if p["specialist"] == "llm.reviewer")
        assert llm["tokens"] == 40 and llm["cost"] == pytest.approx(0.000024)
        # the llm votes A (its stub rule), the rule votes for APPROVE; jane settles the tie
        pairs = pairs_of(rd, "jane")
        a, b = pairs[0]
        await hub.update(
            sid, Vote(round=rd["id"], specialist="jane", votes=[PairVote(a=a, b=b, vote="B")])
        )
        await driver.settle()
        session = await hub.get_session(sid)
        assert session.state in ("approved", "rejected", "needs_revision")
        executed = [
            e.data for e in await hub.events(sid, limit=1000) if e.type == "transition_executed"
        ]
        assert executed and executed[0]["round"] == "r1"
