"""How a model says which states specialists decide, who the specialists are, and the policy.

An XState machine gets dialoghub's top-level ``decision`` key (beside ``default``, the goal
state); :func:`compile_decision` reads it into a :class:`DecisionSpec` with every problem at
its line::

    "decision": {
      "states": ["pending", "needs_revision"],        # default: every non-final state
                                                      # but the goal ("default")
      "deadline": 300,                                # seconds per solicitation
      "retries": 2,                                   # invalid answers allowed, then abstain
      "specialists": [
        {"id": "ai.strict", "kind": "callable", "ref": "strict", "weight": 1},
        {"id": "rule.short", "kind": "rule",
         "rules": [{"when": "params.pages < 3", "propose": "APPROVE"}]},
        {"id": "llm.mini", "kind": "llm", "url": "http://127.0.0.1:8080/v1",
         "model": "gpt-4o-mini"},
        {"id": "hook.qa", "kind": "webhook", "url": "https://qa.example/decide"},
        {"id": "jane", "kind": "human", "human": true, "proposes": false, "weight": 3}
      ],
      "policy": {"kind": "weighted", "margin": 1, "on_tie": ["resolicit", "escalate"],
                 "on_no_consensus": ["escalate", "fallback"], "fallback": "REJECT"},
      "policies": {"needs_revision": {"kind": "human"}}
    }

``human: true`` is the only thing that makes a specialist human: never its id or kind name.
The spec is plain frozen data: the pure engine (:mod:`dialoghub.engine.decision`) reads it,
the driver (:mod:`dialoghub.decision`) builds the specialists' implementations from it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from dialoghub.errors import ConditionError, ModelError, Problem
from dialoghub.model.chart import Chart
from dialoghub.model.conditions import Condition


class Located(Protocol):
    """What the compiler needs of a read source (:class:`dialoghub.model.source.Located`,
    not imported: the engine reads this module, and the source reader opens files)."""

    def problem(self, path: tuple[str | int, ...], message: str) -> Problem: ...


__all__ = [
    "KINDS",
    "OUTCOME_STEPS",
    "POLICY_KINDS",
    "DecisionSpec",
    "Policy",
    "SpecialistSpec",
    "compile_decision",
    "with_specialists",
]

#: The kinds of specialist a model may name.
KINDS = ("callable", "rule", "llm", "webhook", "human")
#: Consensus policies: weighted tally with a lead, a human's vote settles, quorum first.
POLICY_KINDS = ("weighted", "human", "quorum")
#: What a tie or no consensus may do, tried in order (``park`` always ends the list).
OUTCOME_STEPS = ("resolicit", "escalate", "fallback", "park")


@dataclass(frozen=True, slots=True)
class SpecialistSpec:
    """One specialist of a model: its id, kind, weight and what it is asked.

    ``options`` are the kind's own settings (``ref`` of a callable, ``rules`` of a rule,
    ``url``/``model`` of an LLM, ``url`` of a webhook); ``states`` limits it to some decision
    states (None: all)."""

    id: str
    kind: str
    weight: float = 1.0
    human: bool = False
    proposes: bool = True
    votes: bool = True
    states: frozenset[str] | None = None
    options: Mapping[str, Any] = field(default_factory=dict)

    def serves(self, state: str) -> bool:
        """True when this specialist takes part in rounds of ``state``."""
        return self.states is None or state in self.states


@dataclass(frozen=True, slots=True)
class Policy:
    """How a round's votes become a decision, and what a tie or no consensus does."""

    kind: str = "weighted"
    margin: float = 1.0  # the leader's lead over the second, in weight
    quorum: int = 0  # quorum: this many voters must answer before the deadline
    on_tie: tuple[str, ...] = ("park",)
    on_no_consensus: tuple[str, ...] = ("park",)
    max_resolicit: int = 1  # how many times a round may be solicited again
    fallback: str | None = None  # the transition a "fallback" step takes


@dataclass(frozen=True, slots=True)
class DecisionSpec:
    """A model's decision cycle: decided states, their transitions, specialists, policies."""

    transitions: Mapping[str, tuple[str, ...]]  # decided state -> the events it takes
    specialists: tuple[SpecialistSpec, ...]
    policy: Policy = Policy()
    policies: Mapping[str, Policy] = field(default_factory=dict)
    deadline: float = 300.0
    retries: int = 2
    history: int = 5  # decisions kept on the snapshot for the specialists' context

    @property
    def states(self) -> frozenset[str]:
        """The states specialists decide."""
        return frozenset(self.transitions)

    def policy_for(self, state: str) -> Policy:
        """The policy of ``state`` (its own, else the model's)."""
        return self.policies.get(state, self.policy)

    def specialist(self, specialist_id: str) -> SpecialistSpec | None:
        """The specialist with this id, or None."""
        for spec in self.specialists:
            if spec.id == specialist_id:
                return spec
        return None

    def of_state(self, state: str) -> tuple[SpecialistSpec, ...]:
        """The specialists taking part in rounds of ``state``."""
        return tuple(s for s in self.specialists if s.serves(state))


def with_specialists(model: Any, specialists: Iterable[SpecialistSpec]) -> Any:
    """``model`` (a decided :class:`~dialoghub.model.spec.Model`) with more specialists
    registered in code; ModelError on a duplicate id or a model without decision states."""
    spec: DecisionSpec | None = model.decision
    if spec is None:
        raise ModelError(f"model {model.id!r} has no decision states (no 'decision' key)")
    added = tuple(specialists)
    ids = [s.id for s in (*spec.specialists, *added)]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise ModelError(f"model {model.id!r}: specialist ids used twice: {', '.join(dup)}")
    for s in added:
        if s.kind not in KINDS:
            raise ModelError(f"specialist {s.id!r}: kind must be one of {', '.join(KINDS)}")
    return replace(model, decision=replace(spec, specialists=(*spec.specialists, *added)))


# --- compiling ------------------------------------------------------------------------------


class _Reader:
    def __init__(self, loc: Located) -> None:
        self.loc = loc
        self.problems: list[Problem] = []

    def bad(self, path: Sequence[Any], message: str) -> None:
        self.problems.append(self.loc.problem(("decision", *path), message))

    def number(
        self, d: Mapping[str, Any], key: str, path: Sequence[Any], default: float, low: float = 0.0
    ) -> float:
        value = d.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or value < low:
            self.bad((*path, key), f"'{key}' must be a number >= {low}, not {value!r}")
            return default
        return float(value)

    def integer(self, d: Mapping[str, Any], key: str, path: Sequence[Any], default: int) -> int:
        value = d.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            self.bad((*path, key), f"'{key}' must be an integer >= 0, not {value!r}")
            return default
        return value

    def flag(self, d: Mapping[str, Any], key: str, path: Sequence[Any], default: bool) -> bool:
        value = d.get(key, default)
        if not isinstance(value, bool):
            self.bad((*path, key), f"'{key}' must be true or false, not {value!r}")
            return default
        return value

    def unknown(self, d: Mapping[str, Any], known: Iterable[str], path: Sequence[Any]) -> None:
        for key in d:
            if key not in known:
                self.bad((*path, key), f"unknown key {key!r}; known: {', '.join(sorted(known))}")


_SPEC_KEYS = ("states", "specialists", "policy", "policies", "deadline", "retries", "history")
_POLICY_KEYS = (
    "kind",
    "margin",
    "quorum",
    "on_tie",
    "on_no_consensus",
    "max_resolicit",
    "fallback",
)
_SPECIALIST_KEYS = ("id", "kind", "weight", "human", "proposes", "votes", "states")
_KIND_KEYS: dict[str, tuple[str, ...]] = {
    "callable": ("ref",),
    "rule": ("rules", "otherwise"),
    "llm": (
        "url",
        "model",
        "api_key_env",
        "temperature",
        "max_tokens",
        "timeout",
        "retries",
        "system",
        "cost_per_1k_tokens",
    ),
    "webhook": ("url", "timeout", "retries", "headers"),
    "human": ("keys",),
}


def _transitions(chart: Chart, state: str) -> tuple[str, ...]:
    """The events the state (a path below the root) takes: its own and its ancestors'."""
    node_id: str | None = f"{chart.root}.{state}"
    seen: list[str] = []
    while node_id is not None:
        node = chart.nodes[node_id]
        for t in node.transitions:
            if (
                t.event
                and not t.event.startswith("xstate.")
                and t.event != "*"
                and t.event not in seen
            ):
                seen.append(t.event)
        node_id = node.parent
    return tuple(seen)


def _decidable(chart: Chart, goal: str | None) -> list[str]:
    """Every atomic, non-final state below the root but the goal, as ``Session.state``
    names it."""
    prefix = chart.root + "."
    return [
        nid[len(prefix) :]
        for nid, node in chart.nodes.items()
        if nid.startswith(prefix) and node.kind == "atomic" and nid[len(prefix) :] != goal
    ]


def _policy(
    r: _Reader, raw: Any, path: Sequence[Any], base: Policy, transitions: set[str]
) -> Policy:
    if not isinstance(raw, Mapping):
        r.bad(path, "a policy is a mapping: {kind, margin, quorum, on_tie, ...}")
        return base
    r.unknown(raw, _POLICY_KEYS, path)
    kind = raw.get("kind", base.kind)
    if kind not in POLICY_KINDS:
        r.bad((*path, "kind"), f"policy kind must be one of {', '.join(POLICY_KINDS)}")
        kind = base.kind
    steps: dict[str, tuple[str, ...]] = {}
    for key in ("on_tie", "on_no_consensus"):
        value = raw.get(key, list(getattr(base, key)))
        value = [value] if isinstance(value, str) else value
        if not isinstance(value, list) or not all(v in OUTCOME_STEPS for v in value):
            r.bad((*path, key), f"'{key}' lists steps among {', '.join(OUTCOME_STEPS)}")
            value = list(getattr(base, key))
        steps[key] = tuple(value)
    fallback = raw.get("fallback", base.fallback)
    if fallback is not None and fallback not in transitions:
        r.bad(
            (*path, "fallback"),
            f"fallback {fallback!r} is no transition of the decided "
            f"states ({', '.join(sorted(transitions))})",
        )
    for key in ("on_tie", "on_no_consensus"):
        if "fallback" in steps[key] and fallback is None:
            r.bad((*path, key), f"'{key}' takes a 'fallback' step but the policy names none")
    return Policy(
        kind=kind,
        margin=r.number(raw, "margin", path, base.margin),
        quorum=r.integer(raw, "quorum", path, base.quorum),
        on_tie=steps["on_tie"],
        on_no_consensus=steps["on_no_consensus"],
        max_resolicit=r.integer(raw, "max_resolicit", path, base.max_resolicit),
        fallback=fallback,
    )


def _specialist(r: _Reader, raw: Any, i: int, states: set[str]) -> SpecialistSpec | None:
    path = ("specialists", i)
    if not isinstance(raw, Mapping):
        r.bad(path, "a specialist is a mapping: {id, kind, weight, ...}")
        return None
    sid, kind = raw.get("id"), raw.get("kind")
    if not isinstance(sid, str) or not 1 <= len(sid) <= 100:
        r.bad((*path, "id"), "a specialist needs an 'id' of 1 to 100 characters")
        return None
    if kind not in KINDS:
        r.bad((*path, "kind"), f"specialist {sid!r}: kind must be one of {', '.join(KINDS)}")
        return None
    r.unknown(raw, (*_SPECIALIST_KEYS, *_KIND_KEYS[kind]), path)
    human = r.flag(raw, "human", path, False)
    if kind == "human" and not human:
        r.bad(
            (*path, "human"),
            f"specialist {sid!r} of kind 'human' must say human: true "
            "(a specialist is human only by that attribute)",
        )
    scope = raw.get("states")
    only: frozenset[str] | None = None
    if scope is not None:
        if not isinstance(scope, list) or not all(s in states for s in scope):
            r.bad((*path, "states"), f"'states' lists decided states ({', '.join(sorted(states))})")
        else:
            only = frozenset(scope)
    options = {k: raw[k] for k in _KIND_KEYS[kind] if k in raw}
    if kind in ("llm", "webhook") and not isinstance(options.get("url"), str):
        r.bad((*path, "url"), f"specialist {sid!r} ({kind}) needs a 'url'")
    if kind == "callable" and "ref" in options and not isinstance(options["ref"], str):
        r.bad((*path, "ref"), "'ref' names the registered callable (a string)")
    if kind == "rule":
        _check_rules(r, options, path)
    return SpecialistSpec(
        id=sid,
        kind=kind,
        weight=r.number(raw, "weight", path, 1.0),
        human=human,
        proposes=r.flag(raw, "proposes", path, True),
        votes=r.flag(raw, "votes", path, True),
        states=only,
        options=options,
    )


def _check_rules(r: _Reader, options: dict[str, Any], path: Sequence[Any]) -> None:
    rules = options.get("rules", [])
    if not isinstance(rules, list):
        r.bad((*path, "rules"), "'rules' is a list of {when, propose, reasoning}")
        return
    for j, rule in enumerate(rules):
        if not isinstance(rule, Mapping) or not isinstance(rule.get("propose"), str):
            r.bad((*path, "rules", j), "a rule is {when: condition, propose: TRANSITION}")
            continue
        when = rule.get("when")
        if when is not None:
            try:
                Condition.parse(str(when))
            except ConditionError as exc:
                r.bad((*path, "rules", j, "when"), f"condition does not parse: {exc}")


def compile_decision(
    loc: Located, raw: Any, chart: Chart, goal: str | None
) -> tuple[DecisionSpec | None, list[Problem]]:
    """The ``decision`` key of the machine in ``loc``; (None, problems) if anything is wrong."""
    r = _Reader(loc)
    if not isinstance(raw, Mapping):
        r.bad((), "'decision' is a mapping: {states, specialists, policy, deadline}")
        return None, r.problems
    r.unknown(raw, _SPEC_KEYS, ())
    allowed = _decidable(chart, goal)
    names = raw.get("states", allowed)
    if not isinstance(names, list) or not names or not all(n in allowed for n in names):
        r.bad(
            ("states",),
            f"'states' lists atomic non-final states other than the goal: "
            f"{', '.join(allowed) or 'none'}",
        )
        names = [n for n in names if n in allowed] if isinstance(names, list) else allowed
    transitions = {n: _transitions(chart, n) for n in names}
    for name, events in transitions.items():
        if not events:
            r.bad(("states",), f"decided state {name!r} takes no event: nothing to decide")
    every = {e for events in transitions.values() for e in events}
    specialists = [
        s
        for i, item in enumerate(raw.get("specialists") or [])
        if (s := _specialist(r, item, i, set(transitions))) is not None
    ]
    if not isinstance(raw.get("specialists", []), list):
        r.bad(("specialists",), "'specialists' is a list")
    ids = [s.id for s in specialists]
    for dup in sorted({i for i in ids if ids.count(i) > 1}):
        r.bad(("specialists",), f"specialist id {dup!r} is used twice")
    policy = _policy(r, raw.get("policy", {}), ("policy",), Policy(), every)
    policies: dict[str, Policy] = {}
    per_state = raw.get("policies", {})
    if not isinstance(per_state, Mapping):
        r.bad(("policies",), "'policies' maps a decided state to its policy")
    else:
        for name, item in per_state.items():
            if name not in transitions:
                r.bad(("policies", name), f"{name!r} is no decided state")
                continue
            policies[name] = _policy(r, item, ("policies", name), policy, set(transitions[name]))
    spec = DecisionSpec(
        transitions=transitions,
        specialists=tuple(specialists),
        policy=policy,
        policies=policies,
        deadline=r.number(raw, "deadline", (), 300.0, low=0.001),
        retries=r.integer(raw, "retries", (), 2),
        history=r.integer(raw, "history", (), 5),
    )
    return (None, r.problems) if r.problems else (spec, [])
