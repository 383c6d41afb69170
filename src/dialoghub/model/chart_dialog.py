"""Nested and parallel states in the dialog language, compiled to the statechart runtime.

A dialog model whose ``states`` nest (a state with ``states`` of its own, or ``type:
parallel``) is a statechart: it compiles, through the same XState compiler, into a
:class:`~dialoghub.model.chart.Chart` and runs on :mod:`dialoghub.engine.chart` like an XState
machine, with the dialog language's vocabulary kept (``intents`` and ``entities``: text is
recognised, and the intent becomes the event). A state of such a model may have:

* ``say`` (a text or a list) and ``ask`` (a question): said when the state is entered (its
  ``meta.prompt``), reply templates as in flat dialogs (``{city}``, ``{day|today}``,
  ``{params.x}``); the session then waits for the next input;
* ``on``: intent or event -> a target state, or ``{goto: state, when: condition}``, or a
  list of those (the first whose condition holds is taken; a condition of the model language
  reads the variables and ``event.x``, the recognised intent's slots);
* ``states`` (its children), ``initial`` (the first child when not given), ``type: parallel``
  (every child a region, all active at once), ``final: true``.

A target names a state by its key when that key is unique in the model, or by its path from
the top (``playing.paused``), dotted; every state's id is its path, so listings name it so.
Reaching a top-level final state ends the session. The slots of a recognised intent are
kept as the session's variables when its transition is taken (the templates and conditions
read them). Everything else of the flat language (``do``, slot questions, units, handlers)
is refused in a nested model, at its line, until the chart runtime speaks it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dialoghub.errors import ConditionError, ModelValidationError, Problem, TemplateError
from dialoghub.model.chart import CONDITION
from dialoghub.model.compile_ctx import Ctx
from dialoghub.model.compile_vocab import compile_entities, compile_intents
from dialoghub.model.conditions import Condition
from dialoghub.model.source import Located
from dialoghub.model.spec import Model, State
from dialoghub.model.templates import Template
from dialoghub.nlu.types import IntentSpec

__all__ = ["compile_nested_model", "has_nested_states"]

Path = tuple[str | int, ...]

_MODEL_KEYS = frozenset({"id", "version", "description", "intents", "entities", "states"})
_STATE_KEYS = frozenset({"say", "ask", "on", "states", "initial", "type", "final"})


def has_nested_states(data: Any) -> bool:
    """True when a dialog model's ``states`` nest (a state with ``states`` or parallel)."""
    states = data.get("states") if isinstance(data, dict) else None
    if not isinstance(states, dict):
        return False
    return any(
        isinstance(s, dict) and ("states" in s or s.get("type") == "parallel")
        for s in states.values()
    )


class _Nested:
    """The translation of one nested model into an XState v5 machine (plain data)."""

    def __init__(self, ctx: Ctx) -> None:
        self.ctx = ctx
        self.paths: dict[str, list[str]] = {}  # state key -> every path holding it

    def collect(self, states: dict[str, Any], prefix: str) -> None:
        for key, raw in states.items():
            path = f"{prefix}{key}"
            self.paths.setdefault(key, []).append(path)
            if isinstance(raw, dict) and isinstance(raw.get("states"), dict):
                self.collect(raw["states"], path + ".")

    def target(self, name: Any, where: Path) -> str | None:
        if not isinstance(name, str) or not name:
            self.ctx.error(where, "a target is a state's name (a string)")
            return None
        if "." in name:
            if any(name in paths for paths in self.paths.values()):
                return f"#{name}"
            self.ctx.error(where, f"no state has the path {name!r}")
            return None
        found = self.paths.get(name, [])
        if len(found) == 1:
            return f"#{found[0]}"
        if not found:
            self.ctx.error(where, f"no state is called {name!r}")
        else:
            self.ctx.error(where, f"{len(found)} states are called {name!r} "
                           f"({', '.join(found)}): name one by its path")  # fmt: skip
        return None

    def transitions(self, goal: Any, where: Path) -> Any:
        """An ``on`` entry as XState transitions: a target, ``{goto, when}``, or a list."""
        if isinstance(goal, list):
            if not goal:
                self.ctx.error(where, "an empty list of transitions takes nothing")
                return None
            if any(isinstance(g, list) for g in goal):
                self.ctx.error(where, "a list of transitions holds transitions, not lists")
                return None
            items = [self.transitions(g, (*where, i)) for i, g in enumerate(goal)]
            return None if any(i is None for i in items) else items
        if not isinstance(goal, dict):
            # the dialog language's goto always enters its state (a state's own goto says its
            # question again): XState's reenter, which v5 leaves off by default
            found = self.target(goal, where)
            return {"target": found, "reenter": True} if found is not None else None
        for k in goal:
            if k not in ("goto", "when"):
                self.ctx.error((*where, k), f"a transition takes 'goto' and 'when', not {k!r}")
        if "goto" not in goal:
            self.ctx.error(where, "a transition needs 'goto': the state to go to")
            return None
        found = self.target(goal["goto"], (*where, "goto"))
        if found is None:
            return None
        target = {"target": found, "reenter": True}
        if "when" not in goal:
            return target
        cond = goal["when"]
        if not isinstance(cond, str):
            self.ctx.error((*where, "when"), "'when' is a condition (a text)")
            return None
        try:
            Condition.parse(cond)
        except ConditionError as exc:
            self.ctx.error((*where, "when"), f"bad condition {cond!r}: {exc}")
            return None
        return {**target, "guard": {"type": CONDITION, "params": {"expr": cond}}}

    def state(self, key: str, raw: Any, path: str, where: Path) -> dict[str, Any]:
        ctx = self.ctx
        cfg = ctx.mapping(raw, where, f"state {key!r}")
        out: dict[str, Any] = {"id": path}
        for k in cfg:
            if k not in _STATE_KEYS:
                ctx.error((*where, k), f"{k!r} is not supported in a model whose states nest "
                          f"(supported: {', '.join(sorted(_STATE_KEYS))})")  # fmt: skip
        said = [cfg["say"]] if isinstance(cfg.get("say"), str) else cfg.get("say", [])
        if not isinstance(said, list) or not all(isinstance(s, str) for s in said):
            ctx.error((*where, "say"), "'say' is a text or a list of texts")
            said = []
        if "ask" in cfg:
            if isinstance(cfg["ask"], str):
                said = [*said, cfg["ask"]]
            else:
                ctx.error((*where, "ask"), "'ask' is a question (a text)")
        if said:
            prompt = " ".join(said)
            try:
                Template.parse(prompt)
            except TemplateError as exc:
                ctx.error((*where, "say" if "say" in cfg else "ask"), f"bad template: {exc}")
            out["meta"] = {"prompt": prompt}
        on = ctx.mapping(cfg.get("on"), (*where, "on"), "'on'")
        transitions: dict[str, Any] = {}
        for event, goal in on.items():
            t = self.transitions(goal, (*where, "on", event))
            if t is not None:
                transitions[event] = t
        if transitions:
            out["on"] = transitions
        if cfg.get("final") is True:
            out["type"] = "final"
        children = ctx.mapping(cfg.get("states"), (*where, "states"), "'states'")
        if cfg.get("type") == "parallel":
            out["type"] = "parallel"
        elif "type" in cfg:
            ctx.error((*where, "type"), "a state's 'type' is 'parallel' (or leave it out)")
        if children:
            out["states"] = {
                k: self.state(k, v, f"{path}.{k}", (*where, "states", k))
                for k, v in children.items()
            }
            if out.get("type") != "parallel":
                first = cfg.get("initial", next(iter(children)))
                if first not in children:
                    ctx.error((*where, "initial"), f"'initial' {first!r} is not a child of "
                              f"{key!r} (its children: {', '.join(children)})")  # fmt: skip
                out["initial"] = first
        return out


def compile_nested_model(
    loc: Located,
    recognizer_factory: Callable[..., Any],
    functions: Any = None,
) -> tuple[Model | None, list[Problem]]:
    """Compile a dialog model whose states nest into a statechart model; (None, problems) if
    anything is wrong."""
    from dialoghub.model.xstate_chart import compile_xstate

    ctx = Ctx(loc)
    data = loc.data
    assert isinstance(data, dict)
    for k in data:
        if k not in _MODEL_KEYS:
            ctx.error((k,), f"{k!r} is not supported in a model whose states nest (supported: "
                      f"{', '.join(sorted(_MODEL_KEYS))})")  # fmt: skip
    model_id = ctx.string(data.get("id"), ("id",), "the model 'id'")
    entities = compile_entities(ctx, data.get("entities"))
    intents = compile_intents(ctx, data.get("intents"), entities)
    states = ctx.mapping(data.get("states"), ("states",), "states")
    nested = _Nested(ctx)
    nested.collect(states, "")
    machine = {
        "id": model_id or "model",
        "initial": next(iter(states)),
        "states": {k: nested.state(k, v, k, ("states", k)) for k, v in states.items()},
    }
    if ctx.problems or model_id is None:
        return None, ctx.problems
    try:
        chart = compile_xstate(
            machine, name=model_id, dialect="v5", file=loc.file, conditions=True
        )
    except ModelValidationError as exc:
        return None, list(exc.problems)
    recognizer = recognizer_factory(
        [
            IntentSpec(i.name, i.examples, {s.name: s.entity for s in i.slots})
            for i in intents.values()
        ],
        list(entities.values()),
        0.5,
    )
    nodes = {
        nid: State(name=nid, final=n.kind == "final", waits=n.kind != "final", line=n.line)
        for nid, n in chart.nodes.items()
    }
    events = frozenset(
        t.event for n in chart.nodes.values() for t in n.transitions if t.event is not None
    )
    model = Model(
        id=model_id,
        version=str(data.get("version", "1")),
        start=str(machine["initial"]),
        states=nodes,
        intents=intents,
        entities=entities,
        commands={},
        recognizer=recognizer,
        events=events,
        description=str(data.get("description", "")),
        source=loc.file,
        chart=chart,
        chart_registry=functions,
        templated_prompts=True,
    )
    return model, []
