"""The decision cycle (issue 10): specialists propose a session's next transition, vote, and
reach consensus under the policy the model names.

The cycle itself is pure and lives in the engine (:mod:`dialoghub.engine.decision`: rounds,
proposals, votes, policies, every step an event); this package is what runs beside the Hub:

* :mod:`.specialists`: the contract (:class:`Solicitation` in, an answer out) and the
  callable and rule specialists; :mod:`.llm`: chat-completions LLMs and webhooks;
* :mod:`.driver`: :class:`Driver` asks the AI specialists when an update solicits them and
  submits their answers through the Hub;
* :mod:`.inbox`: the rounds waiting for human answers, and a round as a reviewer reads it;
* :mod:`.evaluate`: a candidate specialist replayed over recorded rounds, and weights
  recomputed from agreement with humans;
* :mod:`.api`: ``propose``, ``vote``, ``override``, ``round_view``, ``inbox`` on a Hub;
* :mod:`.wire`: the JSON shapes of the decision routes (the client imports only this).

Names are imported on first use, so ``import dialoghub.decision.wire`` (the client) loads
neither the hub nor httpx.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "CallableSpecialist",
    "Driver",
    "ProposalAnswer",
    "RuleSpecialist",
    "Solicitation",
    "Specialist",
    "SpecialistSpec",
    "VoteAnswer",
    "parse_answer",
    "solicitations",
    "with_specialists",
]

_WHERE = {
    "Driver": "dialoghub.decision.driver",
    "solicitations": "dialoghub.decision.driver",
    "SpecialistSpec": "dialoghub.model.decisions",
    "with_specialists": "dialoghub.model.decisions",
}


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module 'dialoghub.decision' has no attribute {name!r}")
    module = importlib.import_module(_WHERE.get(name, "dialoghub.decision.specialists"))
    return getattr(module, name)
