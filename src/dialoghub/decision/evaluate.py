"""Evaluation by replay: a candidate specialist over the recorded rounds of a store.

:func:`recorded_rounds` reads each session's log (through the Hub's export, page by page)
and rebuilds every decided round from its events alone: the context recorded when it
opened (prompt, allowed transitions, params, metadata), the proposals the others made with
their reasoning, the votes (humans' marked), and the transition executed (with its source).
Nobody is run again.

:func:`evaluate` asks the candidate what it would propose in each round (and, where the
round had two proposals or more, how it would vote on the recorded pairs), and scores it per
state: agreement with the transition decided, agreement with what the humans preferred
where humans voted or overrode, pairwise agreement with the human votes, invalid answers,
latency, tokens and cost. :func:`recompute_weights` turns each recorded specialist's
agreement with the humans into a suggested weight.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

from dialoghub.decision.specialists import ProposalAnswer, Solicitation, Specialist, VoteAnswer
from dialoghub.engine.records import Event
from dialoghub.errors import InvalidAnswer, SpecialistFailed
from dialoghub.hub import Hub

__all__ = [
    "RecordedRound",
    "Report",
    "StateScore",
    "evaluate",
    "recompute_weights",
    "recorded_rounds",
    "rounds_of_log",
]


@dataclass(slots=True)
class RecordedRound:
    """One decided round, as its events recorded it."""

    session_id: str
    model_id: str
    tenant: str
    round: str
    state: str
    opened_at: float
    prompt: str | None = None
    transitions: tuple[str, ...] = ()
    params: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    proposals: list[dict[str, Any]] = field(default_factory=list)  # id, transition, by, ...
    votes: list[dict[str, Any]] = field(default_factory=list)  # by, a, b, vote, human
    decided: str | None = None  # the transition executed
    source: str | None = None  # proposal, fallback, override, manual
    override_by_human: bool = False

    def human_choice(self) -> str | None:
        """The transition the humans preferred: an override's, else the proposal with the
        most human pair-vote support (None: no human voted, or they tied)."""
        if self.source == "override":
            return self.decided
        support: dict[str, float] = {}
        for v in self.votes:
            if not v.get("human"):
                continue
            for side, pid in (("A", v["a"]), ("B", v["b"])):
                if v["vote"] in (side, "both"):
                    support[pid] = support.get(pid, 0.0) + 1.0
        if not support:
            return None
        ranked = sorted(support.items(), key=lambda kv: -kv[1])
        if len(ranked) > 1 and ranked[0][1] == ranked[1][1]:
            return None
        by_id = {p["id"]: p["transition"] for p in self.proposals}
        return by_id.get(ranked[0][0])


def rounds_of_log(session_model: str, tenant: str, events: Iterable[Event]) -> list[RecordedRound]:
    """Every decided round in one session's log (rounds still open are left out)."""
    rounds: dict[str, RecordedRound] = {}
    done: list[RecordedRound] = []
    session_id = ""
    for e in events:
        d = e.data
        if e.type == "session_started":
            session_id = d["id"]
        rid = d.get("round") if isinstance(d, dict) else None
        if rid is None or not e.type.startswith(
            ("proposal_", "vote_", "consensus_", "transition_")
        ):
            continue
        rd = rounds.get(rid)
        if rd is None:
            rd = rounds[rid] = RecordedRound(
                session_id=session_id,
                model_id=session_model,
                tenant=tenant,
                round=rid,
                state=d.get("state", ""),
                opened_at=e.time,
            )
        if "context" in d:
            ctx = d["context"]
            rd.prompt = ctx.get("prompt")
            rd.transitions = tuple(ctx.get("transitions") or ())
            rd.params = dict(ctx.get("params") or {})
            rd.metadata = dict(ctx.get("metadata") or {})
        if e.type == "proposal_submitted" and d.get("valid", True) and "proposal" in d:
            rd.proposals.append(
                {
                    "id": d["proposal"],
                    "transition": d["transition"],
                    "by": d["specialist"],
                    "reasoning": d.get("reasoning", ""),
                    "params": d.get("params") or {},
                }
            )
        elif e.type == "vote_submitted" and d.get("valid", True):
            rd.votes.extend(
                {
                    "by": d["specialist"],
                    "a": v["a"],
                    "b": v["b"],
                    "vote": v["vote"],
                    "human": bool(d.get("human")),
                }
                for v in d["votes"]
            )
        elif e.type == "transition_executed":
            rd.decided, rd.source = d["transition"], d["source"]
            done.append(rounds.pop(rid))
    return done


async def recorded_rounds(
    hub: Hub,
    *,
    tenant: str = "default",
    model: str | None = None,
    state: str | None = None,
    since: float | None = None,
    until: float | None = None,
) -> AsyncIterator[RecordedRound]:
    """The decided rounds of a store, session by session (memory: one log at a time)."""
    async for session, events in hub.export_sessions(tenant=tenant, model=model):
        for rd in rounds_of_log(session.model_id, session.tenant, events):
            if state is not None and rd.state != state:
                continue
            if (since is not None and rd.opened_at < since) or (
                until is not None and rd.opened_at >= until
            ):
                continue
            yield rd


@dataclass(slots=True)
class StateScore:
    """The candidate's figures in one state."""

    state: str
    rounds: int = 0
    agree_decided: int = 0
    with_humans: int = 0
    agree_humans: int = 0
    pairs_with_humans: int = 0
    pairs_agree_humans: int = 0
    invalid: int = 0
    latency: float = 0.0
    tokens: int = 0
    cost: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """The figures with their rates, for ``--json``."""

        def rate(a: int, n: int) -> float | None:
            return round(a / n, 4) if n else None

        return {
            "state": self.state,
            "rounds": self.rounds,
            "agree_decided": self.agree_decided,
            "agreement_decided": rate(self.agree_decided, self.rounds),
            "with_humans": self.with_humans,
            "agree_humans": self.agree_humans,
            "agreement_humans": rate(self.agree_humans, self.with_humans),
            "pair_votes_with_humans": self.pairs_with_humans,
            "pair_agreement_humans": rate(self.pairs_agree_humans, self.pairs_with_humans),
            "invalid": self.invalid,
            "mean_latency_s": round(self.latency / self.rounds, 6) if self.rounds else None,
            "tokens": self.tokens,
            "cost": round(self.cost, 6),
        }


@dataclass(slots=True)
class Report:
    """Per-state scores of one candidate."""

    candidate: str
    states: dict[str, StateScore] = field(default_factory=dict)

    def total(self) -> StateScore:
        """Every state together."""
        t = StateScore(state="(all)")
        for s in self.states.values():
            for name in (
                "rounds",
                "agree_decided",
                "with_humans",
                "agree_humans",
                "pairs_with_humans",
                "pairs_agree_humans",
                "invalid",
                "tokens",
            ):
                setattr(t, name, getattr(t, name) + getattr(s, name))
            t.latency += s.latency
            t.cost += s.cost
        return t

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data."""
        return {
            "candidate": self.candidate,
            "states": [s.as_dict() for s in self.states.values()],
            "total": self.total().as_dict(),
        }

    def table(self) -> list[str]:
        """The report as a fixed-width table."""
        head = (
            f"{'state':<20} {'rounds':>6} {'decided':>8} {'humans':>6} {'agree':>7} "
            f"{'pairs':>7} {'invalid':>7} {'latency':>9} {'cost':>9}"
        )
        lines = [f"candidate: {self.candidate}", head, "-" * len(head)]
        for s in [*self.states.values(), self.total()]:
            d = s.as_dict()

            def pct(v: float | None) -> str:
                return "-" if v is None else f"{100 * v:.1f}%"

            lat = "-" if d["mean_latency_s"] is None else f"{1000 * d['mean_latency_s']:.2f}ms"
            lines.append(
                f"{s.state[:20]:<20} {s.rounds:>6} {pct(d['agreement_decided']):>8} "
                f"{s.with_humans:>6} {pct(d['agreement_humans']):>7} "
                f"{pct(d['pair_agreement_humans']):>7} {s.invalid:>7} {lat:>9} "
                f"{s.cost:>9.4f}"
            )
        return lines


def _solicitation(rd: RecordedRound, kind: str, candidate: str) -> Solicitation:
    ids = [p["id"] for p in _distinct(rd.proposals)]
    return Solicitation(
        session_id=rd.session_id,
        tenant=rd.tenant,
        model_id=rd.model_id,
        round=rd.round,
        state=rd.state,
        kind=kind,
        specialist=candidate,
        correlation=f"replay.{rd.round}",
        prompt=rd.prompt,
        transitions=rd.transitions,
        params=rd.params,
        metadata=rd.metadata,
        proposals=tuple(_distinct(rd.proposals)) if kind == "vote" else (),
        pairs=tuple(combinations(ids, 2)) if kind == "vote" else (),
    )


def _distinct(proposals: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for p in proposals:
        seen.setdefault(p["transition"], p)
    return list(seen.values())


async def evaluate(
    candidate: Specialist, rounds: AsyncIterator[RecordedRound] | Iterable[RecordedRound]
) -> Report:
    """Score ``candidate`` over ``rounds`` (see the module)."""
    report = Report(candidate=candidate.id)

    async def each() -> AsyncIterator[RecordedRound]:
        if hasattr(rounds, "__aiter__"):
            async for rd in rounds:
                yield rd
        else:
            for rd in rounds:
                yield rd

    async for rd in each():
        score = report.states.setdefault(rd.state, StateScore(state=rd.state))
        score.rounds += 1
        human = rd.human_choice()
        score.with_humans += human is not None
        started = time.perf_counter()
        answer = await _ask(candidate, _solicitation(rd, "proposal", candidate.id))
        if isinstance(answer, ProposalAnswer):
            score.agree_decided += answer.transition == rd.decided
            score.agree_humans += human is not None and answer.transition == human
            score.tokens += answer.tokens or 0
            score.cost += answer.cost or 0.0
        else:
            score.invalid += 1
        human_votes = [v for v in rd.votes if v["human"]]
        if len(_distinct(rd.proposals)) >= 2 and human_votes:
            ballot = await _ask(candidate, _solicitation(rd, "vote", candidate.id))
            if isinstance(ballot, VoteAnswer):
                for v in human_votes:
                    mine = ballot.votes.get((v["a"], v["b"]))
                    if mine is not None:
                        score.pairs_with_humans += 1
                        score.pairs_agree_humans += mine == v["vote"]
                score.tokens += ballot.tokens or 0
                score.cost += ballot.cost or 0.0
            else:
                score.invalid += 1
        score.latency += time.perf_counter() - started
    return report


async def _ask(candidate: Specialist, s: Solicitation) -> ProposalAnswer | VoteAnswer | None:
    try:
        answer = await candidate.answer(s)
    except (InvalidAnswer, SpecialistFailed):
        return None
    from dialoghub.decision.specialists import parse_answer

    try:
        return parse_answer(answer, s)
    except InvalidAnswer:
        return None


def recompute_weights(
    rounds: Iterable[RecordedRound], *, floor: float = 0.1, scale: float = 2.0
) -> dict[str, dict[str, Any]]:
    """Suggested weights from each specialist's agreement with the humans: over the rounds
    where the humans preferred a transition, how often its proposal (and its pair votes)
    agreed; the weight is ``max(floor, scale * (agree + 1) / (n + 2))`` (a smoothed rate,
    so a specialist seen twice is not given 0 or the top weight)."""
    tally: dict[str, list[int]] = {}
    for rd in rounds:
        human = rd.human_choice()
        if human is None:
            continue
        by_id = {p["id"]: p["transition"] for p in rd.proposals}
        for p in rd.proposals:
            t = tally.setdefault(p["by"], [0, 0])
            t[0] += p["transition"] == human
            t[1] += 1
        for v in rd.votes:
            if v["human"]:
                continue
            picked = {
                by_id.get(v["a"]) if v["vote"] in ("A", "both") else None,
                by_id.get(v["b"]) if v["vote"] in ("B", "both") else None,
            } - {None}
            t = tally.setdefault(v["by"], [0, 0])
            t[0] += human in picked
            t[1] += 1
    return {
        sid: {
            "agree": a,
            "answers": n,
            "agreement": round(a / n, 4) if n else None,
            "weight": round(max(floor, scale * (a + 1) / (n + 2)), 3),
        }
        for sid, (a, n) in sorted(tally.items())
    }
