"""Specialists: what answers a solicitation, and the one contract they all keep.

Every specialist gets a :class:`Solicitation` (the state's prompt, the same for all; the
allowed transitions; the session's params and metadata; a bounded summary of its history;
for a vote, the proposals and the pairs to compare) and returns a :class:`ProposalAnswer`
or a :class:`VoteAnswer`. Kinds:

* :class:`CallableSpecialist`: a Python function, sync or async (a sync one runs inline:
  keep it quick, or pass ``thread=True`` to run it in a worker thread);
* :class:`RuleSpecialist`: conditions in the model language (``params.pages < 3``), the
  first rule that holds proposes its transition, and votes follow the same preference;
* :class:`~dialoghub.decision.llm.LLMSpecialist`: an OpenAI-compatible chat-completions
  endpoint; :class:`~dialoghub.decision.llm.WebhookSpecialist`: an HTTP POST;
* humans answer through the API (:mod:`dialoghub.server.routes_decisions`), the CLI
  (``dialoghub review``) or the console; they have no implementation here.

A reply a specialist cannot turn into an answer raises :class:`InvalidAnswer`; the driver
records it as an invalid proposal (or vote) and asks again, a bounded number of times.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import anyio.to_thread

from dialoghub.engine.decision import CHOICES
from dialoghub.errors import InvalidAnswer
from dialoghub.model.conditions import Condition

__all__ = [
    "Answer",
    "CallableSpecialist",
    "InvalidAnswer",
    "ProposalAnswer",
    "RuleSpecialist",
    "Solicitation",
    "Specialist",
    "VoteAnswer",
    "parse_answer",
]


@dataclass(frozen=True, slots=True)
class Solicitation:
    """What a specialist is asked: the same prompt and facts for every specialist."""

    session_id: str
    tenant: str
    model_id: str
    round: str
    state: str
    kind: str  # "proposal" or "vote"
    specialist: str
    correlation: str
    prompt: str | None
    transitions: tuple[str, ...]
    params: Mapping[str, Any] = field(default_factory=dict)
    metadata: Mapping[str, Any] = field(default_factory=dict)
    history: tuple[Mapping[str, Any], ...] = ()  # the last decisions: state, transition, source
    proposals: tuple[Mapping[str, Any], ...] = ()  # {id, transition, reasoning, params, by}
    pairs: tuple[tuple[str, str], ...] = ()
    due_at: float | None = None

    def proposal(self, proposal_id: str) -> Mapping[str, Any] | None:
        """The proposal with this id (a vote's context), or None."""
        return next((p for p in self.proposals if p["id"] == proposal_id), None)


@dataclass(frozen=True, slots=True)
class ProposalAnswer:
    """A proposed transition, why, and its params; cost, latency and tokens where known."""

    transition: str
    reasoning: str = ""
    params: dict[str, Any] | None = None
    cost: float | None = None
    latency: float | None = None
    tokens: int | None = None


@dataclass(frozen=True, slots=True)
class VoteAnswer:
    """Pairwise votes: ``votes`` maps each asked pair ``(a, b)`` to A, B, both or neither."""

    votes: Mapping[tuple[str, str], str]
    reasoning: str = ""
    cost: float | None = None
    latency: float | None = None
    tokens: int | None = None


Answer = ProposalAnswer | VoteAnswer


@runtime_checkable
class Specialist(Protocol):
    """An AI specialist: answers a solicitation (of either kind)."""

    id: str

    async def answer(self, solicitation: Solicitation) -> Answer:
        """Propose (``kind == "proposal"``) or vote (``kind == "vote"``)."""
        ...


def parse_answer(data: Any, solicitation: Solicitation) -> Answer:
    """The answer in a decoded JSON reply (an LLM's, a webhook's, a callable's dict):
    ``{"transition", "reasoning", "params"}`` or ``{"votes": [{"a", "b", "vote"}], ...}``;
    InvalidAnswer if it is none."""
    if isinstance(data, ProposalAnswer | VoteAnswer):
        answer: Answer = data
    elif isinstance(data, str) and solicitation.kind == "proposal":
        answer = ProposalAnswer(transition=data)
    elif not isinstance(data, dict) and not isinstance(data, Mapping):  # dict: no ABC check
        raise InvalidAnswer(f"the reply is not a JSON object: {str(data)[:200]!r}")
    elif solicitation.kind == "proposal":
        answer = _proposal_of(data)
    else:
        answer = _vote_of(data, solicitation)
    _check(answer, solicitation)
    return answer


def _proposal_of(data: Mapping[str, Any]) -> ProposalAnswer:
    transition, params = data.get("transition"), data.get("params")
    if not isinstance(transition, str):
        raise InvalidAnswer("the reply names no 'transition' (a string)")
    if params is not None and not isinstance(params, dict):
        raise InvalidAnswer("'params' must be a JSON object")
    return ProposalAnswer(
        transition=transition, reasoning=str(data.get("reasoning", ""))[:4000], params=params
    )


def _vote_of(data: Mapping[str, Any], solicitation: Solicitation) -> VoteAnswer:
    raw = data.get("votes")
    if not isinstance(raw, list) and isinstance(raw, Mapping):  # {"A|B": "A"} or {"A-B": ...}
        raw = [
            {
                "a": k.replace("-", "|").split("|")[0],
                "b": k.replace("-", "|").split("|")[-1],
                "vote": v,
            }
            for k, v in raw.items()
            if isinstance(k, str)
        ]
    if not isinstance(raw, list):
        raise InvalidAnswer("the reply has no 'votes' list of {a, b, vote}")
    votes: dict[tuple[str, str], str] = {}
    for item in raw:
        # (a dict is checked without the Mapping ABC's isinstance, a cost per pair vote)
        if not isinstance(item, dict) and not isinstance(item, Mapping):
            raise InvalidAnswer(f"a vote is {{a, b, vote}}, not {str(item)[:100]!r}")
        a, b, vote = item.get("a"), item.get("b"), item.get("vote")
        if not isinstance(a, str) or not isinstance(b, str) or not isinstance(vote, str):
            raise InvalidAnswer(f"a vote is {{a, b, vote}}, not {str(item)[:100]!r}")
        votes[(a, b)] = vote
    return VoteAnswer(votes=votes, reasoning=str(data.get("reasoning", ""))[:4000])


def _check(answer: Answer, solicitation: Solicitation) -> None:
    if solicitation.kind == "proposal":
        if not isinstance(answer, ProposalAnswer):
            raise InvalidAnswer("a proposal was asked for, not a vote")
        if answer.transition not in solicitation.transitions:
            raise InvalidAnswer(
                f"{answer.transition!r} is no transition of state {solicitation.state!r} "
                f"(allowed: {', '.join(solicitation.transitions)})"
            )
        return
    if not isinstance(answer, VoteAnswer):
        raise InvalidAnswer("votes were asked for, not a proposal")
    asked = set(solicitation.pairs)
    for pair, vote in answer.votes.items():
        if pair not in asked:
            raise InvalidAnswer(f"the pair {pair[0]}/{pair[1]} was not asked")
        if vote not in CHOICES:
            raise InvalidAnswer(f"a vote is one of {', '.join(CHOICES)}, not {vote!r}")
    if answer.votes.keys() != asked:
        missing = sorted(f"{a}/{b}" for a, b in asked - set(answer.votes))
        raise InvalidAnswer(f"no vote on {', '.join(missing)}")


class CallableSpecialist:
    """A Python function as a specialist: ``fn(solicitation)`` returns a ProposalAnswer, a
    VoteAnswer, a dict in the reply format, or (for a proposal) a transition name."""

    def __init__(self, id: str, fn: Callable[[Solicitation], Any], *, thread: bool = False) -> None:
        self.id = id
        self.fn = fn
        self.thread = thread
        self._async = inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
            getattr(fn, "__call__", None)  # noqa: B004 - an object whose __call__ is async
        )
        #: A sync function run where it is called (the driver calls it without a task).
        self.inline = not self._async and not thread

    async def answer(self, solicitation: Solicitation) -> Answer:
        """Call the function (awaited, inline, or in a thread) and read its reply."""
        if self._async:
            reply = await self.fn(solicitation)
        elif self.thread:
            reply = await anyio.to_thread.run_sync(self.fn, solicitation)
        else:
            reply = self.fn(solicitation)
            if inspect.isawaitable(reply):
                reply = await reply
        return parse_answer(reply, solicitation)


class RuleSpecialist:
    """Rules in the model language: the first whose ``when`` holds proposes its transition
    (``otherwise``: the transition when none holds); a vote prefers that same transition."""

    def __init__(
        self, id: str, rules: Sequence[Mapping[str, Any]], otherwise: str | None = None
    ) -> None:
        self.id = id
        self.rules = [
            (
                Condition.parse(str(r["when"])) if r.get("when") is not None else None,
                str(r["propose"]),
                str(r.get("reasoning", "")),
            )
            for r in rules
        ]
        self.otherwise = otherwise

    def _choice(self, s: Solicitation) -> tuple[str | None, str]:
        def lookup(name: str) -> Any:
            root, _, rest = name.partition(".")
            if root in ("params", "metadata") and rest:
                scope: Any = s.params if root == "params" else s.metadata
                name = rest
            else:
                scope = s.params
            for part in name.split("."):
                scope = scope.get(part) if isinstance(scope, Mapping) else None
            return scope

        for when, transition, why in self.rules:
            if when is None or when.evaluate(lookup):
                return transition, why or (f"rule {when.source!r} holds" if when else "")
        return self.otherwise, "no rule holds"

    async def answer(self, solicitation: Solicitation) -> Answer:
        """Propose the preferred transition, or vote for the proposal that names it."""
        choice, why = self._choice(solicitation)
        if solicitation.kind == "proposal":
            if choice is None:
                raise InvalidAnswer("no rule holds and the specialist has no 'otherwise'")
            return parse_answer(ProposalAnswer(transition=choice, reasoning=why), solicitation)
        votes: dict[tuple[str, str], str] = {}
        for a, b in solicitation.pairs:
            ta = (solicitation.proposal(a) or {}).get("transition")
            tb = (solicitation.proposal(b) or {}).get("transition")
            votes[(a, b)] = "A" if ta == choice else "B" if tb == choice else "neither"
        return VoteAnswer(votes=votes, reasoning=why)


#: What a driver's ``callables`` may hold: functions or ready specialists.
CallableRef = Callable[[Solicitation], Any] | Callable[[Solicitation], Awaitable[Any]]
