"""The decision cycle, pure: rounds of proposals, pairwise votes and consensus (issue 10).

A model with a :class:`~dialoghub.model.decisions.DecisionSpec` has states its specialists
decide. When a chart session comes to rest in one, :func:`entered` opens a *round* (``r1``,
``r2``, ... per session) and records one ``proposal_solicited`` per proposing specialist.
Answers arrive as inputs (:class:`~dialoghub.engine.records.Propose`,
:class:`~dialoghub.engine.records.Vote`), each one update with the Hub's compare-and-set,
version and idempotency; when every solicitation of a phase is closed (answered, given up
after ``retries`` invalid answers, or timed out through the ``decision`` timer):

1. proposals: the distinct transitions proposed are the candidates; a lone candidate wins
   alone, two or more are put to every voter as pairs (``vote_solicited``);
2. votes: each pair vote gives the voter's weight to A, B, both or neither, and the policy
   judges the tally (``consensus_evaluated``): ``weighted`` (the leader ahead by
   ``margin``), ``human`` (the human votes alone decide; the first human to vote settles
   it), ``quorum`` (``quorum`` voters answered, then weighted);
3. a decision is ``transition_executed`` and the chart takes the transition in the same
   update; a tie or no consensus tries the policy's steps in order (``resolicit`` while
   attempts last, ``escalate`` to the humans, ``fallback`` to a transition) and otherwise
   ``park``\\ s the round in the visible ``attention`` phase, where an
   :class:`~dialoghub.engine.records.Override` decides it. Nothing ever raises for a tie.

The open round lives in the snapshot (``Session.decision``), so its memory is the store's,
and every step is one of the events above: :data:`APPLY` folds them (called only from
:func:`dialoghub.engine.fold.apply`), so a replay reproduces the round exactly. Nothing is
deleted when the transition executes: the round is closed, its events stay.

Refusals (the update writes nothing): an answer for an old or unknown round
(:class:`~dialoghub.errors.StaleRound`), from a specialist the round has not asked or that
already answered (:class:`~dialoghub.errors.NotSolicited`), after its deadline
(:class:`~dialoghub.errors.LateAnswer`), naming a transition the state does not take
(:class:`~dialoghub.errors.UnknownTransition`) or proposals the round lacks
(:class:`~dialoghub.errors.UnknownProposal`).

The parts: this module opens rounds and takes answers; :mod:`~dialoghub.engine.decision_round`
holds the round's records every part reads (proposals, pairs, correlation ids, solicitations),
:mod:`~dialoghub.engine.decision_consensus` moves a phase on and judges it, and
:mod:`~dialoghub.engine.decision_fold` folds the events.
"""

from __future__ import annotations

from typing import Any

from dialoghub.engine.decision_consensus import advance, evaluate, policy_of, votes_ahead
from dialoghub.engine.decision_fold import APPLY, DECISION_EVENTS
from dialoghub.engine.decision_round import (
    CHOICES,
    INPUTS,
    MAX_ROUNDS_PER_UPDATE,
    Fire,
    Update,
    asked_pairs,
    correlation,
    correlation_id,
    open_round,
    pairs_of,
    proposal_label,
    proposals,
    solicit,
    spec_of,
)
from dialoghub.engine.records import Answers, Override, PairVote, Propose, Session, Vote
from dialoghub.errors import (
    InvalidInput,
    LateAnswer,
    NotSolicited,
    StaleRound,
    UnexpectedInput,
    UnknownProposal,
    UnknownTransition,
)
from dialoghub.model.decisions import DecisionSpec, SpecialistSpec
from dialoghub.model.spec import Model

__all__ = [
    "APPLY",
    "CHOICES",
    "DECISION_EVENTS",
    "INPUTS",
    "Fire",
    "correlation",
    "entered",
    "manual",
    "open_round",
    "pairs_of",
    "proposals",
    "step",
    "timeout",
    "votes_ahead",
]

# --- opening and soliciting -----------------------------------------------------------------


def entered(up: Update, model: Model, prompt: str | None) -> Fire | None:
    """After a macrostep: open a round if the session rests in a decided state without one
    (``prompt``: the state's ``meta.prompt``, recorded for every specialist)."""
    spec = spec_of(model)
    state = up.s.state
    rd = open_round(up.s)
    if state not in spec.transitions or (rd is not None and rd["state"] == state):
        return None
    n = (up.s.decision or {}).get("n", 0) + 1
    if getattr(up, "rounds", 0) >= MAX_ROUNDS_PER_UPDATE:
        up.emit(
            "consensus_evaluated",
            round=f"r{n}",
            state=state,
            outcome="no_consensus",
            next="park",
            why=f"{MAX_ROUNDS_PER_UPDATE} rounds in one update",
        )
        return None
    up.rounds = getattr(up, "rounds", 0) + 1  # type: ignore[attr-defined]
    context = {
        "prompt": prompt,
        "transitions": list(spec.transitions[state]),
        "params": dict(up.s.params),
        "metadata": dict(up.s.metadata),
    }
    proposers = [s for s in spec.of_state(state) if s.proposes]
    if not proposers:
        up.emit(
            "consensus_evaluated",
            round=f"r{n}",
            state=state,
            context=context,
            outcome="no_consensus",
            next="park",
            why="no specialist proposes here",
        )
        return None
    solicit(up, spec, f"r{n}", state, 1, proposers, "proposal_solicited", context=context)
    return None


# --- answers --------------------------------------------------------------------------------


def step(up: Update, model: Model, inp: Propose | Vote | Override | Answers) -> Fire | None:
    """Apply a decision input to the session's open round; raises (nothing recorded) if
    refused. Returns the transition to take when the round is decided."""
    spec = spec_of(model)
    if isinstance(inp, Override):
        return _override(up, spec, inp)
    if isinstance(inp, Answers):
        if not inp.items:
            raise InvalidInput("answers needs at least one proposal or vote")
        fire = None
        for i, item in enumerate(inp.items):
            if fire is not None:  # decided before the last answer: the rest came too late
                raise StaleRound(
                    f"the round was decided by answer {i} of the batch", round=item.round
                )
            fire = _answer(up, model, spec, item)
        return fire
    return _answer(up, model, spec, inp)


def _answer(up: Update, model: Model, spec: DecisionSpec, inp: Propose | Vote) -> Fire | None:
    """One specialist's answer: checked against the open round, then recorded."""
    rd = _current(up.s, inp.round)
    pending = rd["pending"].get(inp.specialist)
    sp = spec.specialist(inp.specialist)
    if sp is None or not sp.serves(rd["state"]):
        raise NotSolicited(
            f"{inp.specialist!r} is no specialist of round {rd['id']} (state "
            f"{rd['state']!r}); its specialists: "
            + ", ".join(s.id for s in spec.of_state(rd["state"])),
            round=rd["id"],
            specialist=inp.specialist,
        )
    want = "p" if isinstance(inp, Propose) else "v"
    if pending is None or pending["k"] != want:
        what = "a proposal" if want == "p" else "votes"
        raise NotSolicited(
            f"round {rd['id']} is not waiting for {what} from {inp.specialist!r} (it already "
            "answered, timed out, or was not asked)",
            round=rd["id"],
            specialist=inp.specialist,
        )
    corr = pending.get("c") or correlation_id(
        rd["id"], rd["attempt"], want, inp.specialist, bool(rd.get("escalated"))
    )
    if inp.correlation is not None and inp.correlation != corr:
        raise StaleRound(
            f"correlation {inp.correlation!r} is not the open solicitation's ({corr})",
            round=rd["id"],
            correlation=inp.correlation,
        )
    if up.now > pending["due"]:
        raise LateAnswer(
            f"the deadline of {inp.specialist!r}'s solicitation in round {rd['id']} passed",
            round=rd["id"],
            specialist=inp.specialist,
            due_at=pending["due"],
        )
    # what the answer reports, in this order: cost, latency, tokens, by, human
    figures: dict[str, Any] = {}
    if inp.cost is not None:
        figures["cost"] = inp.cost
    if inp.latency is not None:
        figures["latency"] = inp.latency
    if inp.tokens is not None:
        figures["tokens"] = inp.tokens
    if inp.by is not None:
        figures["by"] = dict(inp.by)
    if sp.human:
        figures["human"] = True
    if want == "p":
        return _propose(up, model, spec, rd, pending, inp, corr, figures)  # type: ignore[arg-type]
    return _vote(up, model, spec, rd, pending, sp, inp, corr, figures)  # type: ignore[arg-type]


def _current(s: Session, round_id: str) -> dict[str, Any]:
    rd = open_round(s)
    if rd is None or rd["id"] != round_id:
        now = f"round {rd['id']} is open" if rd is not None else "no round is open"
        raise StaleRound(
            f"round {round_id!r} is not the open round ({now})",
            round=round_id,
            open=rd["id"] if rd is not None else None,
        )
    if rd["phase"] == "attention":
        raise StaleRound(f"round {round_id} is parked: it waits for an override", round=round_id)
    return rd


def _propose(
    up: Update,
    model: Model,
    spec: DecisionSpec,
    rd: dict[str, Any],
    pending: dict[str, Any],
    inp: Propose,
    corr: str,
    extra: dict[str, Any],
) -> Fire | None:
    allowed = spec.transitions[rd["state"]]
    base = {"round": rd["id"], "specialist": inp.specialist, "correlation": corr, **extra}
    if inp.invalid is not None:
        closed = pending.get("bad", 0) + 1 > spec.retries
        up.emit("proposal_submitted", **base, valid=False, invalid=inp.invalid[:500], closed=closed)
        return advance(up, model) if closed else None
    if inp.transition not in allowed:
        raise UnknownTransition(
            f"state {rd['state']!r} takes no transition {inp.transition!r}; it takes: "
            + ", ".join(allowed),
            round=rd["id"],
            transition=inp.transition,
            allowed=list(allowed),
        )
    data: dict[str, Any] = {
        **base, "proposal": proposal_label(rd["np"]), "transition": inp.transition
    }
    if inp.reasoning:
        data["reasoning"] = inp.reasoning
    if inp.params:
        data["params"] = dict(inp.params)
    up.emit("proposal_submitted", **data)
    return advance(up, model)


def _vote(
    up: Update,
    model: Model,
    spec: DecisionSpec,
    rd: dict[str, Any],
    pending: dict[str, Any],
    sp: SpecialistSpec,
    inp: Vote,
    corr: str,
    extra: dict[str, Any],
) -> Fire | None:
    if inp.invalid is not None:  # an unusable reply: counted, the voter abstains at last
        closed = pending.get("bad", 0) + 1 > spec.retries
        up.emit(
            "vote_submitted",
            round=rd["id"],
            specialist=inp.specialist,
            correlation=corr,
            valid=False,
            invalid=inp.invalid[:500],
            closed=closed,
            **extra,
        )
        return advance(up, model) if closed else None
    if not inp.votes:
        raise InvalidInput("a vote needs at least one pair: {a, b, vote}")
    asked = set(asked_pairs(rd, pending))
    ids = {p[0] for p in rd["proposals"]}
    seen: set[tuple[str, str]] = set()
    for pv in inp.votes:
        _check_pair(rd, ids, asked, seen, pv)
    left = len(asked) - len(seen)
    # One event per ballot: every pair vote of this answer, with the voter's weight.
    data: dict[str, Any] = {
        "round": rd["id"],
        "specialist": inp.specialist,
        "correlation": corr,
        "votes": [{"a": pv.a, "b": pv.b, "vote": pv.vote} for pv in inp.votes],
        # a whole weight is kept as an int (CPython shares small ints: no float per vote)
        "weight": int(sp.weight) if sp.weight.is_integer() else sp.weight,
        **extra,
    }
    if inp.reasoning:
        data["reasoning"] = inp.reasoning
    if left == 0:
        data["closed"] = True
    up.emit("vote_submitted", **data)
    now_open = open_round(up.s)
    if left or now_open is None:
        return None  # this voter is asked more (the ballot was partial): nothing moves yet
    if not now_open["pending"]:
        return advance(up, model)  # the last ballot of the phase
    policy = policy_of(spec, rd)
    if (sp.human and policy.kind == "human") or (  # the first human's vote settles it
        policy.kind == "quorum" and len({v[0] for v in now_open["votes"]}) >= policy.quorum
    ):  # the quorum is in before the deadline
        return evaluate(up, model, early=True)
    return None


def _check_pair(
    rd: dict[str, Any],
    ids: set[str],
    asked: set[tuple[str, str]],
    seen: set[tuple[str, str]],
    pv: PairVote,
) -> None:
    for pid in (pv.a, pv.b):
        if pid not in ids:
            raise UnknownProposal(
                f"round {rd['id']} has no proposal {pid!r}; its proposals: "
                + ", ".join(sorted(ids)),
                round=rd["id"],
                proposal=pid,
            )
    key = (pv.a, pv.b)
    if key not in asked and (pv.b, pv.a) in asked:
        raise InvalidInput(f"name the pair in the order it was asked: {pv.b}, {pv.a}")
    if key in seen or key not in asked:
        raise NotSolicited(
            f"round {rd['id']} is not waiting for a vote on {pv.a}/{pv.b} from this "
            "specialist (voted already, or not asked)",
            round=rd["id"],
            a=pv.a,
            b=pv.b,
        )
    if pv.vote not in CHOICES:
        raise InvalidInput(
            f"a pair vote is one of {', '.join(CHOICES)}, not {pv.vote!r}", vote=pv.vote
        )
    seen.add(key)


def _override(up: Update, spec: DecisionSpec, inp: Override) -> Fire:
    rd = open_round(up.s)
    state = up.s.state
    if inp.round is not None and (rd is None or rd["id"] != inp.round):
        raise StaleRound(f"round {inp.round!r} is not the open round", round=inp.round)
    if state not in spec.transitions:
        raise UnexpectedInput(f"state {state!r} is not decided by specialists", state=state)
    if inp.transition not in spec.transitions[state]:
        raise UnknownTransition(
            f"state {state!r} takes no transition {inp.transition!r}; it takes: "
            + ", ".join(spec.transitions[state]),
            transition=inp.transition,
            allowed=list(spec.transitions[state]),
        )
    data: dict[str, Any] = {
        "round": rd["id"] if rd else None,
        "state": state,
        "transition": inp.transition,
        "source": "override",
        "keep": spec.history,
    }
    if inp.params:
        data["params"] = dict(inp.params)
    if inp.reason:
        data["why"] = inp.reason
    if inp.by is not None:
        data["by"] = dict(inp.by)
    up.emit("transition_executed", **data)
    return Fire(inp.transition, dict(inp.params) if inp.params else None)


def manual(up: Update, model: Model, name: str, params: dict[str, Any] | None) -> None:
    """An event input moved a decided state by hand: the open round closes as ``manual``."""
    rd = open_round(up.s)
    if rd is None:
        return
    data: dict[str, Any] = {
        "round": rd["id"],
        "state": rd["state"],
        "transition": name,
        "source": "manual",
        "keep": spec_of(model).history,
    }
    if params:
        data["params"] = dict(params)
    up.emit("transition_executed", **data)


def timeout(up: Update, model: Model) -> Fire | None:
    """The ``decision`` timer: close every solicitation past its deadline, then go on."""
    rd = open_round(up.s)
    due = [(sid, p) for sid, p in (rd or {}).get("pending", {}).items() if p["due"] <= up.now]
    if rd is None or not due:
        raise UnexpectedInput("no solicitation of this session is past its deadline")
    for sid, p in due:
        up.emit(
            "solicitation_timed_out",
            round=rd["id"],
            specialist=sid,
            correlation=correlation(rd, sid),
            kind="proposal" if p["k"] == "p" else "vote",
        )
    return advance(up, model)


