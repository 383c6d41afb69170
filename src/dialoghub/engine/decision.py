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
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from itertools import combinations
from typing import Any, Protocol

from dialoghub.engine.records import Answers, Event, Override, PairVote, Propose, Session, Vote
from dialoghub.errors import (
    InvalidInput,
    LateAnswer,
    NotSolicited,
    StaleRound,
    UnexpectedInput,
    UnknownProposal,
    UnknownTransition,
)
from dialoghub.model.decisions import DecisionSpec, Policy, SpecialistSpec
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

#: What a pair vote may say.
CHOICES = ("A", "B", "both", "neither")
#: The inputs this module answers.
INPUTS = (Propose, Vote, Override, Answers)
#: Most rounds one update may open (a fallback into another decided state that falls back
#: again ...): past it the round parks instead of looping.
MAX_ROUNDS_PER_UPDATE = 20


class Update(Protocol):
    """The update in progress, as this module may use it (chart_session's ``_Update``)."""

    s: Session
    now: float

    def emit(self, type: str, **data: Any) -> None: ...


@dataclass(frozen=True, slots=True)
class Fire:
    """A transition the chart must take now (the event's name and params)."""

    transition: str
    params: dict[str, Any] | None


def _spec(model: Model) -> DecisionSpec:
    spec = model.decision
    assert isinstance(spec, DecisionSpec)
    return spec


def open_round(s: Session) -> dict[str, Any] | None:
    """The session's open round, or None."""
    return None if s.decision is None else s.decision.get("round")


def _label(i: int) -> str:
    """Proposal ids within a round: A .. Z, then P27, P28, ..."""
    return chr(ord("A") + i) if i < 26 else f"P{i + 1}"


def _corr(rid: str, attempt: int, kind: str, specialist: str, escalated: bool = False) -> str:
    """A solicitation's correlation id: round, attempt, kind, specialist (``.e`` once the
    round is escalated), so the snapshot need not keep it."""
    return f"{rid}.{attempt}.{kind}.{specialist}" + (".e" if escalated else "")


def correlation(rd: dict[str, Any], specialist: str) -> str:
    """The correlation id of the open solicitation of ``specialist`` in round ``rd``."""
    entry = rd["pending"][specialist]
    return str(
        entry.get("c")
        or _corr(rd["id"], rd["attempt"], entry["k"], specialist, bool(rd.get("escalated")))
    )


# --- opening and soliciting -----------------------------------------------------------------


def entered(up: Update, model: Model, prompt: str | None) -> Fire | None:
    """After a macrostep: open a round if the session rests in a decided state without one
    (``prompt``: the state's ``meta.prompt``, recorded for every specialist)."""
    spec = _spec(model)
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
    _solicit(up, spec, f"r{n}", state, 1, proposers, "proposal_solicited", context=context)
    return None


def _solicit(
    up: Update,
    spec: DecisionSpec,
    rid: str,
    state: str,
    attempt: int,
    who: list[SpecialistSpec],
    event: str,
    *,
    context: dict[str, Any] | None = None,
    pairs: list[list[str]] | None = None,
) -> None:
    due = up.now + spec.deadline
    kind = "p" if event == "proposal_solicited" else "v"
    escalated = bool((open_round(up.s) or {}).get("escalated"))
    for i, sp in enumerate(who):
        data: dict[str, Any] = {
            "round": rid,
            "specialist": sp.id,
            "correlation": _corr(rid, attempt, kind, sp.id, escalated),
            "due_at": due,
            "attempt": attempt,
        }
        if i == 0:  # the round's context, once per phase (the state, for a new round)
            data["state"] = state
            if context is not None:
                data["context"] = context
        if sp.human:
            data["human"] = True
        if pairs is not None:
            data["pairs"] = pairs
        up.emit(event, **data)


# --- answers --------------------------------------------------------------------------------


def step(up: Update, model: Model, inp: Propose | Vote | Override | Answers) -> Fire | None:
    """Apply a decision input to the session's open round; raises (nothing recorded) if
    refused. Returns the transition to take when the round is decided."""
    spec = _spec(model)
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
    corr = pending.get("c") or _corr(
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
        return _advance(up, model) if closed else None
    if inp.transition not in allowed:
        raise UnknownTransition(
            f"state {rd['state']!r} takes no transition {inp.transition!r}; it takes: "
            + ", ".join(allowed),
            round=rd["id"],
            transition=inp.transition,
            allowed=list(allowed),
        )
    data: dict[str, Any] = {**base, "proposal": _label(rd["np"]), "transition": inp.transition}
    if inp.reasoning:
        data["reasoning"] = inp.reasoning
    if inp.params:
        data["params"] = dict(inp.params)
    up.emit("proposal_submitted", **data)
    return _advance(up, model)


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
        return _advance(up, model) if closed else None
    if not inp.votes:
        raise InvalidInput("a vote needs at least one pair: {a, b, vote}")
    asked = set(_asked(rd, pending))
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
        return _advance(up, model)  # the last ballot of the phase
    policy = _policy(spec, rd)
    if (sp.human and policy.kind == "human") or (  # the first human's vote settles it
        policy.kind == "quorum" and len({v[0] for v in now_open["votes"]}) >= policy.quorum
    ):  # the quorum is in before the deadline
        return _evaluate(up, model, early=True)
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
        "keep": _spec(model).history,
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
    return _advance(up, model)


# --- consensus ------------------------------------------------------------------------------


def _policy(spec: DecisionSpec, rd: dict[str, Any]) -> Policy:
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


def proposals(rd: dict[str, Any]) -> list[dict[str, Any]]:
    """The round's proposals as ``{id, by, t, params}`` (the snapshot keeps each as a
    compact ``[id, by, transition(, params)]`` list: an open round stays small in memory)."""
    return [
        {"id": p[0], "by": p[1], "t": p[2], "params": p[3] if len(p) > 3 else None}
        for p in rd["proposals"]
    ]


def pairs_of(rd: dict[str, Any], specialist: str) -> list[list[str]]:
    """The pairs a voter is still asked about: every pair of distinct proposals (kept once,
    derived), or what is left of them after a partial ballot."""
    return [list(p) for p in _asked(rd, rd["pending"].get(specialist) or {})]


def _asked(rd: dict[str, Any], entry: dict[str, Any]) -> list[tuple[str, str]]:
    """The pairs the pending solicitation ``entry`` asks about (see :func:`pairs_of`)."""
    if "left" in entry:
        return [(a, b) for a, b in entry["left"]]
    return list(combinations([p[0] for p in _candidates(rd)], 2))


def _candidates(rd: dict[str, Any]) -> list[list[Any]]:
    """The distinct proposals (by transition), first proposer first: the round's compact
    ``[id, by, transition(, params)]`` entries themselves, nothing rebuilt."""
    seen: set[str] = set()
    out: list[list[Any]] = []
    for p in rd["proposals"]:
        if p[2] not in seen:
            seen.add(p[2])
            out.append(p)
    return out


def _advance(up: Update, model: Model) -> Fire | None:
    """Move the open round on if its phase has nothing pending."""
    rd = open_round(up.s)
    if rd is None or rd["pending"] or rd["phase"] == "attention":
        return None
    spec = _spec(model)
    if rd["phase"] == "vote":
        return _evaluate(up, model)
    candidates = _candidates(rd)
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
        return _evaluate(up, model)
    pairs = [[a[0], b[0]] for a, b in combinations(candidates, 2)]
    _solicit(up, spec, rd["id"], rd["state"], rd["attempt"], voters, "vote_solicited", pairs=pairs)
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
    the pending vote solicitations, derived by the same rules (``_candidates``, ``_voters``),
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
        proposal: list[Any] = [_label(np), a.specialist, a.transition]
        if a.params:
            proposal.append(dict(a.params))
        proposals.append(proposal)
        np += 1
    ahead = {**rd, "proposals": proposals, "np": np}
    voters = _voters(spec, ahead)
    if len(_candidates(ahead)) < 2 or not voters:
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


def _evaluate(up: Update, model: Model, *, early: bool = False) -> Fire | None:
    spec = _spec(model)
    rd = open_round(up.s)
    assert rd is not None
    policy = _policy(spec, rd)
    distinct = _candidates(rd)
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
    spec = _spec(model)
    rd = open_round(up.s)
    assert rd is not None
    policy = spec.policy_for(rd["state"])
    steps = policy.on_tie if outcome == "tie" else policy.on_no_consensus
    state = rd["state"]
    base = {
        "round": rd["id"],
        "outcome": outcome,
        "policy": _policy(spec, rd).kind,
        "tally": tally,
        "why": why,
    }
    humans = [s for s in spec.of_state(state) if s.human]
    for choice in (*steps, "park"):
        if choice == "resolicit" and rd["attempt"] <= policy.max_resolicit:
            up.emit("consensus_evaluated", **base, next="resolicit")
            proposers = [
                s
                for s in spec.of_state(state)
                if s.proposes and (s.human or not rd.get("escalated"))
            ]
            if proposers:
                _solicit(
                    up, spec, rd["id"], state, rd["attempt"] + 1, proposers, "proposal_solicited"
                )
                return None
            return _outcome(up, model, outcome, "nobody to solicit again", tally)
        if choice == "escalate" and not rd.get("escalated") and humans:
            up.emit("consensus_evaluated", **base, next="escalate")
            candidates = _candidates(rd)
            if len(candidates) >= 2:
                pairs = [[a[0], b[0]] for a, b in combinations(candidates, 2)]
                _solicit(
                    up, spec, rd["id"], state, rd["attempt"], humans, "vote_solicited", pairs=pairs
                )
            else:
                _solicit(up, spec, rd["id"], state, rd["attempt"], humans, "proposal_solicited")
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


# --- the fold: applied only through dialoghub.engine.fold.apply -------------------------------
# The round is copied on write (a new dict per change), so snapshots sharing the old one
# (the hub's cache, a caller's view) never see it change.


def _round_of(s: Session, e: Event) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the decision record, a copy of the round ``e`` names), opening it if it is new
    (``seq``: its first event, where its log begins)."""
    d = e.data
    dec = dict(s.decision or {"n": 0})
    rd = dec.get("round")
    if rd is None or rd["id"] != d["round"]:
        dec["n"] = dec.get("n", 0) + 1
        rd = {
            "id": d["round"],
            "seq": e.seq,
            "state": d.get("state", s.state),
            "phase": "propose",
            "attempt": d.get("attempt", 1),
            "np": 0,
            "pending": {},
            "proposals": [],
            "votes": [],
        }
    else:
        rd = dict(rd)
    return dec, rd


def _store(s: Session, dec: dict[str, Any], rd: dict[str, Any] | None) -> None:
    if rd is not None:
        dues = [p["due"] for p in rd["pending"].values()]
        rd["due_at"] = min(dues) if dues else None
    dec["round"] = rd
    if rd is None:
        dec.pop("round")
    s.decision = dec


def _solicited(s: Session, e: Event) -> None:
    d = e.data
    dec, rd = _round_of(s, e)
    if e.type == "proposal_solicited" and d.get("attempt", 1) > rd["attempt"]:
        rd.update(attempt=d["attempt"], proposals=[], votes=[], phase="propose")
    if e.type == "vote_solicited":
        rd["phase"] = "vote"
    entry: dict[str, Any] = {"k": "p" if e.type[0] == "p" else "v", "due": d["due_at"]}
    if d["correlation"] != _corr(
        rd["id"], rd["attempt"], entry["k"], d["specialist"], bool(rd.get("escalated"))
    ):
        entry["c"] = d["correlation"]  # kept only when it is not the derived one
    if d.get("human"):
        entry["h"] = True
    rd["pending"] = {**rd["pending"], d["specialist"]: entry}
    _store(s, dec, rd)


def _proposed(s: Session, e: Event) -> None:
    d = e.data
    dec, rd = _round_of(s, e)
    pending = dict(rd["pending"])
    if d.get("valid", True):
        proposal = [d["proposal"], d["specialist"], d["transition"]]
        if "params" in d:
            proposal.append(d["params"])
        rd["proposals"] = [*rd["proposals"], proposal]
        rd["np"] += 1
        pending.pop(d["specialist"], None)
    elif d.get("closed"):
        pending.pop(d["specialist"], None)
    else:
        mine = pending[d["specialist"]]
        pending[d["specialist"]] = {**mine, "bad": mine.get("bad", 0) + 1}
    rd["pending"] = pending
    _store(s, dec, rd)


def _voted(s: Session, e: Event) -> None:
    d = e.data
    dec, rd = _round_of(s, e)
    if not d.get("valid", True):
        pending = dict(rd["pending"])
        mine = pending[d["specialist"]]
        if d.get("closed"):
            pending.pop(d["specialist"])
        else:
            pending[d["specialist"]] = {**mine, "bad": mine.get("bad", 0) + 1}
        rd["pending"] = pending
        _store(s, dec, rd)
        return
    human = [1] if d.get("human") else []
    ballot = [[d["specialist"], v["a"], v["b"], v["vote"], d["weight"], *human] for v in d["votes"]]
    rd["votes"] = [*rd["votes"], *ballot]
    pending = dict(rd["pending"])
    mine = pending.get(d["specialist"])
    if mine is not None:
        done = {(v["a"], v["b"]) for v in d["votes"]}
        left = [[a, b] for a, b in _asked(rd, mine) if (a, b) not in done]
        if left and not d.get("closed"):
            pending[d["specialist"]] = {**mine, "left": left}
        else:
            pending.pop(d["specialist"])
    rd["pending"] = pending
    _store(s, dec, rd)


def _timed_out(s: Session, e: Event) -> None:
    dec, rd = _round_of(s, e)
    rd["pending"] = {k: v for k, v in rd["pending"].items() if k != e.data["specialist"]}
    _store(s, dec, rd)


def _evaluated(s: Session, e: Event) -> None:
    d = e.data
    dec, rd = _round_of(s, e)
    if d["next"] == "park":
        rd["phase"] = "attention"
        rd["pending"] = {}
    elif d["next"] == "escalate":
        rd["escalated"] = True
    _store(s, dec, rd)


def _executed(s: Session, e: Event) -> None:
    d = e.data
    dec = dict(s.decision or {"n": 0})
    dec.pop("round", None)
    entry = {
        "round": d.get("round"),
        "state": d["state"],
        "t": d["transition"],
        "source": d["source"],
    }
    keep = d.get("keep", 5)
    dec["history"] = [*dec.get("history", []), entry][-keep:] if keep else []
    s.decision = dec


#: The decision events and how each changes ``Session.decision``.
APPLY: dict[str, Callable[[Session, Event], None]] = {
    "proposal_solicited": _solicited,  # round opened / attempt / pending[specialist]
    "proposal_submitted": _proposed,  # proposals, pending (an invalid one: its count)
    "vote_solicited": _solicited,  # phase vote, pending[specialist] with its pairs
    "vote_submitted": _voted,  # votes, pending pairs
    "solicitation_timed_out": _timed_out,  # pending[specialist] closed
    "consensus_evaluated": _evaluated,  # parked (attention) or escalated
    "transition_executed": _executed,  # the round closes; history
}
#: Every event the decision cycle records.
DECISION_EVENTS = frozenset(APPLY)
