"""The JSON shapes of the decision routes, shared by the server and the Python client.

Request structs refuse unknown fields (a body cannot set who answered: the server records
the API key's identity itself). This module imports only msgspec and the engine's records,
so :mod:`dialoghub.client` reads the server's answers with the very structs it encodes.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

__all__ = [
    "InboxItem",
    "InboxPage",
    "OverrideIn",
    "PairVoteIn",
    "ProposalOut",
    "ProposeIn",
    "RoundOut",
    "VoteIn",
]

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Text = Annotated[str, msgspec.Meta(max_length=20_000)]
Version = Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]


class _Strict(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    pass


class ProposeIn(_Strict):
    """``POST /v1/sessions/{id}/round/proposals``: a specialist proposes a transition."""

    round: Name
    specialist: Name
    transition: Name
    reasoning: Text = ""
    params: dict[str, Any] | None = None
    correlation: Name | None = None
    expected_version: Version | None = None


class PairVoteIn(_Strict):
    """One pairwise vote: proposals ``a`` and ``b``; ``vote`` is A, B, both or neither."""

    a: Name
    b: Name
    vote: Annotated[str, msgspec.Meta(pattern="^(A|B|both|neither)$")]


class VoteIn(_Strict):
    """``POST /v1/sessions/{id}/round/votes``: a specialist's pairwise votes."""

    round: Name
    specialist: Name
    # at most 100 pairs (all those of 14 distinct proposals): with every name and the reasoning
    # at their longest, the body stays under the server's 64 KiB limit
    votes: Annotated[list[PairVoteIn], msgspec.Meta(min_length=1, max_length=100)]
    reasoning: Text = ""
    correlation: Name | None = None
    expected_version: Version | None = None


class OverrideIn(_Strict):
    """``POST /v1/sessions/{id}/round/override``: a person decides the transition."""

    transition: Name
    params: dict[str, Any] | None = None
    reason: Text = ""
    round: Name | None = None
    expected_version: Version | None = None


class ProposalOut(msgspec.Struct, kw_only=True):
    """A proposal of the open round, with its reasoning (read from the round's events)."""

    id: str
    specialist: str
    transition: str
    reasoning: str = ""
    params: dict[str, Any] = {}


class RoundOut(msgspec.Struct, kw_only=True):
    """The open round of a session: what it asks, of whom, and what it has so far."""

    session_id: str
    model_id: str
    version: int
    round: str | None  # None: no round is open
    state: str
    phase: str | None = None  # propose, vote, attention (parked: waits for an override)
    attempt: int = 0
    prompt: str | None = None
    transitions: list[str] = []
    params: dict[str, Any] = {}
    waiting: dict[str, dict[str, Any]] = {}  # specialist -> {kind, correlation, due_at, pairs}
    proposals: list[ProposalOut] = []
    votes: list[dict[str, Any]] = []
    history: list[dict[str, Any]] = []


class InboxItem(msgspec.Struct, kw_only=True):
    """A round waiting for a human answer (or parked for an override)."""

    session_id: str
    model_id: str
    state: str
    round: str
    phase: str
    waiting: list[str]  # the human specialists asked (empty for a parked round)
    kind: str | None  # proposal, vote, or None when parked
    due_at: float | None
    version: int


class InboxPage(msgspec.Struct, kw_only=True):
    """One page of the inbox; ``next_cursor`` continues the scan."""

    items: list[InboxItem]
    next_cursor: str | None = None
    scanned: int = 0  # sessions read for this page (what the inbox costs)
