"""Consensus in a decision round: moving a phase on, the tally under the round's policy,
the decision or what a tie or no consensus does next (resolicit, escalate, fallback, park).

Part of the pure decision cycle (:mod:`dialoghub.engine.decision` draws it).
"""

from __future__ import annotations

from itertools import combinations
from typing import Any

from dialoghub.engine.decision_round import (
    Fire,
    Update,
    candidates_of,
    open_round,
    proposal_label,
    solicit,
    spec_of,
)
from dialoghub.engine.records import Propose, Session, Vote
from dialoghub.model.decisions import DecisionSpec, Policy, SpecialistSpec
from dialoghub.model.spec import Model

__all__ = ["advance", "evaluate", "policy_of", "votes_ahead"]


def policy_of(spec: DecisionSpec, rd: dict[str, Any]) -> Policy:
    policy = spec.policy_for(rd["state"])
    if rd.get("escalated") and policy.kind != "human":  # escalated: the humans decide
        return Policy(
            kind="human",
            margin=policy.margin,
            on_tie=policy.on_tie,
            on_no_consensus=policy.on_no_consensus,
            max_resolicit=policy.max_resolicit,
            fallback=policy.fallback,
        )
    return policy


def advance(up: Update, model: Model) -> Fire | None:
    """Move the open round on if its phase has nothing pending."""
    rd = open_round(up.s)
    if rd is None or rd["pending"] or rd["phase"] == "attention":
        return None
    spec = spec_of(model)
    if rd["phase"] == "vote":
        return evaluate(up, model)
    candidates = candidates_of(rd)
    if not candidates:
        return _outcome(up, model, "no_consensus", "no valid proposal", {})
    if len(candidates) == 1:
        return _decide(
            up,
            spec,
            rd,
            candidates[0],
            "single",
            {candidates[0][0]: 0.0},
            "the only transition proposed",
        )
    voters = _voters(spec, rd)
    if not voters:
        return evaluate(up, model)
    pairs = [[a[0], b[0]] for a, b in combinations(candidates, 2)]
    solicit(up, spec, rd["id"], rd["state"], rd["attempt"], voters, "vote_solicited", pairs=pairs)
    return None


def _voters(spec: DecisionSpec, rd: dict[str, Any]) -> list[SpecialistSpec]:
    """Who is asked to vote when the round's proposals are in (only humans once escalated)."""
    human_only = bool(rd.get("escalated"))
    return [s for s in spec.of_state(rd["state"]) if s.votes and (s.human or not human_only)]


def votes_ahead(
    model: Model, session: Session, answers: list[Propose | Vote], now: float
) -> dict[str, Any] | None:
    """The open round as it would be once ``answers`` are applied at ``now``, if they are
    valid proposals closing its proposal phase and it then asks for votes; else None.

    What :func:`step` would record, without recording it: the proposals (with their ids) and
    the pending vote solicitations, derived by the same rules (:func:`candidates_of`, ``_voters``),
    so a caller can ask voters that answer at once and submit proposals and votes as one
    update, which is checked again as usual (a wrong guess is refused, never recorded)."""
    rd = open_round(session)
    spec = model.decision
    if rd is None or rd["phase"] != "propose" or not isinstance(spec, DecisionSpec):
        return None
    pending = rd["pending"]
    if len(answers) != len(pending) or len({a.specialist for a in answers}) < len(answers):
        return None  # not every solicitation answered (once)
    allowed = spec.transitions.get(rd["state"], ())
    proposals = list(rd["proposals"])
    np = rd["np"]
    for a in answers:
        entry = pending.get(a.specialist)
        if (
            not isinstance(a, Propose)
            or a.round != rd["id"]
            or a.invalid is not None
            or a.transition not in allowed
            or entry is None
            or entry["k"] != "p"
            or now > entry["due"]
        ):
            return None
        proposal: list[Any] = [proposal_label(np), a.specialist, a.transition]
        if a.params:
            proposal.append(dict(a.params))
        proposals.append(proposal)
        np += 1
    ahead = {**rd, "proposals": proposals, "np": np}
    voters = _voters(spec, ahead)
    if len(candidates_of(ahead)) < 2 or not voters:
        return None  # decided alone, or evaluated without votes
    due = now + spec.deadline
    ahead["phase"] = "vote"
    ahead["pending"] = {
        sp.id: {"k": "v", "due": due, **({"h": True} if sp.human else {})} for sp in voters
    }
    ahead["due_at"] = due
    return ahead


def _tally(
    rd: dict[str, Any], policy: Policy, candidates: list[list[Any]]
) -> tuple[dict[str, float], set[str]]:
    tally = dict.fromkeys([c[0] for c in candidates], 0.0)
    voters: set[str] = set()
    for by, a, b, vote, weight, *human in rd["votes"]:  # [by, a, b, vote, weight(, 1)]
        if policy.kind == "human" and not human:
            continue
        voters.add(by)
        if vote in ("A", "both") and a in tally:
            tally[a] += weight
        if vote in ("B", "both") and b in tally:
            tally[b] += weight
    return tally, voters


def evaluate(up: Update, model: Model, *, early: bool = False) -> Fire | None:
    spec = spec_of(model)
    rd = open_round(up.s)
    assert rd is not None
    policy = policy_of(spec, rd)
    distinct = candidates_of(rd)
    tally, voters = _tally(rd, policy, distinct)
    candidates = {c[0]: c for c in distinct}
    if policy.kind == "quorum" and len(voters) < policy.quorum:
        return _outcome(
            up,
            model,
            "no_consensus",
            f"quorum not reached: {len(voters)} of {policy.quorum} voted",
            tally,
        )
    if policy.kind == "human" and not voters:
        return None if early else _outcome(up, model, "no_consensus", "no human voted", tally)
    ranked = sorted(tally, key=lambda c: -tally[c])  # stable: first proposed first on ties
    lead = tally[ranked[0]] - (tally[ranked[1]] if len(ranked) > 1 else 0.0)
    margin = policy.margin if policy.kind != "human" else 1e-9
    if tally[ranked[0]] > 0 and lead >= margin:
        return _decide(
            up,
            spec,
            rd,
            candidates[ranked[0]],
            policy.kind,
            tally,
            f"{ranked[0]} leads by {lead:g}",
        )
    if early:
        return None  # a human's vote did not settle it: wait for the others
    if lead == 0:
        return _outcome(
            up, model, "tie", f"{' = '.join(ranked[:2])} at {tally[ranked[0]]:g}", tally
        )
    return _outcome(
        up,
        model,
        "no_consensus",
        f"{ranked[0]} leads by {lead:g}, under the margin {policy.margin:g}",
        tally,
    )


def _decide(
    up: Update,
    spec: DecisionSpec,
    rd: dict[str, Any],
    winner: list[Any],
    policy: str,
    tally: dict[str, float],
    why: str,
) -> Fire:
    """``winner``: the proposal's compact ``[id, by, transition(, params)]`` entry."""
    pid, by, transition = winner[0], winner[1], winner[2]
    params = winner[3] if len(winner) > 3 else None
    up.emit(
        "consensus_evaluated",
        round=rd["id"],
        outcome="decided",
        policy=policy,
        tally=tally,
        winner=pid,
        transition=transition,
        next="execute",
        why=why,
    )
    data: dict[str, Any] = {
        "round": rd["id"],
        "state": rd["state"],
        "transition": transition,
        "source": "proposal",
        "proposal": pid,
        "specialist": by,
        "keep": spec.history,
    }
    if params:
        data["params"] = params
    up.emit("transition_executed", **data)
    return Fire(transition, params)


def _outcome(
    up: Update, model: Model, outcome: str, why: str, tally: dict[str, float]
) -> Fire | None:
    """A tie or no consensus: the policy's steps in order, parking when none applies."""
    spec = spec_of(model)
    rd = open_round(up.s)
    assert rd is not None
    policy = spec.policy_for(rd["state"])
    steps = policy.on_tie if outcome == "tie" else policy.on_no_consensus
    state = rd["state"]
    base = {
        "round": rd["id"],
        "outcome": outcome,
        "policy": policy_of(spec, rd).kind,
        "tally": tally,
        "why": why,
    }
    humans = [s for s in spec.of_state(state) if s.human]
    for choice in (*steps, "park"):
        if choice == "resolicit" and rd["attempt"] <= policy.max_resolicit:
            proposers = [
                s
                for s in spec.of_state(state)
                if s.proposes and (s.human or not rd.get("escalated"))
            ]
            if not proposers:  # an escalated round whose humans only vote: the next step
                base["why"] = f"{why}; nobody to solicit again"
                continue
            up.emit("consensus_evaluated", **base, next="resolicit")
            solicit(up, spec, rd["id"], state, rd["attempt"] + 1, proposers, "proposal_solicited")
            return None
        if choice == "escalate" and not rd.get("escalated") and humans:
            up.emit("consensus_evaluated", **base, next="escalate")
            candidates = candidates_of(rd)
            if len(candidates) >= 2:
                pairs = [[a[0], b[0]] for a, b in combinations(candidates, 2)]
                solicit(
                    up, spec, rd["id"], state, rd["attempt"], humans, "vote_solicited", pairs=pairs
                )
            else:
                solicit(up, spec, rd["id"], state, rd["attempt"], humans, "proposal_solicited")
            return None
        if choice == "fallback" and policy.fallback in spec.transitions[state]:
            fb = policy.fallback
            assert fb is not None
            up.emit("consensus_evaluated", **base, next="fallback", transition=fb)
            up.emit(
                "transition_executed",
                round=rd["id"],
                state=state,
                transition=fb,
                source="fallback",
                keep=spec.history,
            )
            return Fire(fb, None)
        if choice == "park":
            up.emit("consensus_evaluated", **base, next="park")
            return None
    return None  # pragma: no cover - "park" always applies


