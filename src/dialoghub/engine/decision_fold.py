"""The decision cycle's events folded into the snapshot's open round: :data:`APPLY`, called
only from :func:`dialoghub.engine.fold.apply`, so a replay reproduces a round exactly.

Part of the pure decision cycle (:mod:`dialoghub.engine.decision` draws it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dialoghub.engine.decision_round import asked_pairs, correlation_id
from dialoghub.engine.records import Event, Session

__all__ = ["APPLY", "DECISION_EVENTS"]


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


def _store(s: Session, dec: dict[str, Any], rd: dict[str, Any]) -> None:
    """Put the changed round back (its ``due_at``: the earliest deadline still pending)."""
    dues = [p["due"] for p in rd["pending"].values()]
    rd["due_at"] = min(dues) if dues else None
    dec["round"] = rd
    s.decision = dec


def _solicited(s: Session, e: Event) -> None:
    d = e.data
    dec, rd = _round_of(s, e)
    if e.type == "proposal_solicited" and d.get("attempt", 1) > rd["attempt"]:
        rd.update(attempt=d["attempt"], proposals=[], votes=[], phase="propose")
    if e.type == "vote_solicited":
        rd["phase"] = "vote"
    entry: dict[str, Any] = {"k": "p" if e.type[0] == "p" else "v", "due": d["due_at"]}
    if d["correlation"] != correlation_id(
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
        left = [[a, b] for a, b in asked_pairs(rd, mine) if (a, b) not in done]
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
