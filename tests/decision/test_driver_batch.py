"""The driver's one-update round: when every voter is a plain sync callable, the proposals
and the votes they open go to the Hub as one ``Answers`` update, with the same events (each
answer its own) as the two-update path; with a human or a slower voter, the proposals are
stored first, so the vote solicitations can be seen."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dialoghub.decision import CallableSpecialist, Driver
from dialoghub.engine.fold import replay
from dialoghub.hub import Hub
from tests.decision.conftest import compile_machine, machine

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "decisions"


def _prefers(mine: str, then: str) -> Any:
    """A sync callable proposing ``mine`` and voting for ``mine``, then ``then``."""

    def answer(s: Any) -> Any:
        if s.kind == "proposal":
            return {"transition": mine, "reasoning": f"I prefer {mine}"}
        rank = {mine: 0, then: 1}
        by = {p["id"]: p["transition"] for p in s.proposals}
        votes = []
        for a, b in s.pairs:
            ra, rb = rank.get(by[a], 2), rank.get(by[b], 2)
            votes.append({"a": a, "b": b, "vote": "A" if ra < rb else "B" if rb < ra else "both"})
        return {"votes": votes, "reasoning": f"{mine} first"}

    return answer


FNS = {
    "a": _prefers("APPROVE", "REQUEST_CHANGES"),
    "b": _prefers("REQUEST_CHANGES", "APPROVE"),
    "c": _prefers("REJECT", "REQUEST_CHANGES"),
}


async def _round(db: str, *, threaded: str | None) -> list[Any]:
    """One decided round of the three callables (``threaded``: that one in a thread, so
    the driver cannot look ahead); the session's events."""
    async with Hub(db) as hub:
        hub.add_model(compile_machine(machine()))
        driver = Driver(
            hub,
            specialists=[
                CallableSpecialist(sid, fn, thread=sid == threaded) for sid, fn in FNS.items()
            ],
        )
        view = await hub.create_session("review", session_id="s1")
        await driver.settle()
        events = await hub.events("s1", limit=10_000)
        session = await hub.get_session("s1")
        assert view.session.version == 1
        assert replay(events) == session
        return events


def _comparable(events: list[Any]) -> list[tuple[str, dict[str, Any]]]:
    """Events without what depends on when they were stored."""
    out = []
    for e in events:
        data = {k: v for k, v in e.data.items() if k not in ("due_at", "chart")}
        out.append((e.type, data))
    return out


async def test_inline_voters_make_the_round_one_update_with_the_same_events(
    tmp_path: Path,
) -> None:
    one = await _round(f"sqlite:///{tmp_path / 'one.db'}", threaded=None)
    two = await _round(f"sqlite:///{tmp_path / 'two.db'}", threaded="c")
    r1 = [e for e in one if e.data.get("round") == "r1"]
    answered = [e for e in r1 if e.type in ("proposal_submitted", "vote_submitted")]
    assert len(answered) == 6  # each answer its own event
    versions = {e.version for e in r1 if e.type != "proposal_solicited"}
    assert len(versions) == 1  # proposals, vote solicitations, votes, consensus: one update
    r1_two = [e for e in two if e.data.get("round") == "r1"]
    assert len({e.version for e in r1_two if e.type != "proposal_solicited"}) == 2
    # the same events in the same order, with the same data, either way
    assert _comparable(one) == _comparable(two)
    decided = [e.data for e in one if e.type == "transition_executed"]
    assert decided[0]["transition"] == "REQUEST_CHANGES"  # a 3-2 lead on each pair


async def test_a_human_voter_sees_the_proposals_stored_first(tmp_path: Path) -> None:
    from dialoghub.model.loader import load_model

    model = load_model(EXAMPLES / "review.json")
    async with Hub(f"sqlite:///{tmp_path / 'h.db'}") as hub:
        hub.add_model(model)
        driver = Driver(
            hub,
            callables={
                "strict": _prefers("REQUEST_CHANGES", "REJECT"),
                "lenient": _prefers("APPROVE", "REQUEST_CHANGES"),
            },
        )
        await hub.create_session("decided-review", session_id="h1")
        await driver.settle()
        session = await hub.get_session("h1")
        events = await hub.events("h1", limit=10_000)
    rd = session.decision["round"]
    assert rd["phase"] == "vote" and list(rd["pending"]) == ["jane"]
    proposed = {e.version for e in events if e.type == "proposal_submitted"}
    voted = {e.version for e in events if e.type == "vote_submitted"}
    assert len(proposed) == 1 and len(voted) == 1
    assert max(proposed) < min(voted)  # the proposals were stored before anyone voted
