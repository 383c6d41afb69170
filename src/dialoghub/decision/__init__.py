"""The decision cycle (issue 10): specialists propose a session's next transition, vote, and
reach consensus under the policy the model names.

The cycle itself is pure and lives in the engine (:mod:`dialoghub.engine.decision`: rounds,
proposals, votes, policies, every step an event); this package is what runs beside the Hub:

* :mod:`.specialists`: the contract (:class:`Solicitation` in, an answer out) and the
  callable and rule specialists; :mod:`.llm`: chat-completions LLMs and webhooks;
* :mod:`.driver`: :class:`Driver` asks the AI specialists when an update solicits them and
  submits their answers through the Hub;
* :mod:`.inbox`: the rounds waiting for human answers;
* :mod:`.evaluate`: a candidate specialist replayed over recorded rounds, and weights
  recomputed from agreement with humans.
"""

from dialoghub.decision.driver import Driver, solicitations
from dialoghub.decision.specialists import (
    CallableSpecialist,
    ProposalAnswer,
    RuleSpecialist,
    Solicitation,
    Specialist,
    VoteAnswer,
    parse_answer,
)
from dialoghub.model.decisions import SpecialistSpec, with_specialists

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
