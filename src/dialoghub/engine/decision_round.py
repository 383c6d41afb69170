"""The records of a decision round every part of the cycle reads: the open round, its
proposals and pairs, correlation ids, and the solicitations that open a phase.

Part of the pure decision cycle (:mod:`dialoghub.engine.decision` draws it).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from typing import Any, Protocol

from dialoghub.engine.records import Answers, Override, Propose, Session, Vote
from dialoghub.model.decisions import DecisionSpec, SpecialistSpec
from dialoghub.model.spec import Model

__all__ = [
    "CHOICES",
    "INPUTS",
    "MAX_ROUNDS_PER_UPDATE",
    "Fire",
    "Update",
    "asked_pairs",
    "candidates_of",
    "correlation",
    "correlation_id",
    "open_round",
    "pairs_of",
    "proposal_label",
    "proposals",
    "solicit",
    "spec_of",
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


def spec_of(model: Model) -> DecisionSpec:
    spec = model.decision
    assert isinstance(spec, DecisionSpec)
    return spec


def open_round(s: Session) -> dict[str, Any] | None:
    """The session's open round, or None."""
    return None if s.decision is None else s.decision.get("round")


def proposal_label(i: int) -> str:
    """Proposal ids within a round: A .. Z, then P27, P28, ..."""
    return chr(ord("A") + i) if i < 26 else f"P{i + 1}"


def correlation_id(
    rid: str, attempt: int, kind: str, specialist: str, escalated: bool = False
) -> str:
    """A solicitation's correlation id: round, attempt, kind, specialist (``.e`` once the
    round is escalated), so the snapshot need not keep it."""
    return f"{rid}.{attempt}.{kind}.{specialist}" + (".e" if escalated else "")


def correlation(rd: dict[str, Any], specialist: str) -> str:
    """The correlation id of the open solicitation of ``specialist`` in round ``rd``."""
    entry = rd["pending"][specialist]
    return str(
        entry.get("c")
        or correlation_id(
            rd["id"], rd["attempt"], entry["k"], specialist, bool(rd.get("escalated"))
        )
    )


def solicit(
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
            "correlation": correlation_id(rid, attempt, kind, sp.id, escalated),
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
    return [list(p) for p in asked_pairs(rd, rd["pending"].get(specialist) or {})]


def asked_pairs(rd: dict[str, Any], entry: dict[str, Any]) -> list[tuple[str, str]]:
    """The pairs the pending solicitation ``entry`` asks about (see :func:`pairs_of`)."""
    if "left" in entry:
        return [(a, b) for a, b in entry["left"]]
    return list(combinations([p[0] for p in candidates_of(rd)], 2))


def candidates_of(rd: dict[str, Any]) -> list[list[Any]]:
    """The distinct proposals (by transition), first proposer first: the round's compact
    ``[id, by, transition(, params)]`` entries themselves, nothing rebuilt."""
    seen: set[str] = set()
    out: list[list[Any]] = []
    for p in rd["proposals"]:
        if p[2] not in seen:
            seen.add(p[2])
            out.append(p)
    return out


