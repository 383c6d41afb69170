"""An XState machine as a :class:`~dialoghub.model.spec.Model`: the statechart the engine runs.

:func:`dialoghub.model.xstate_chart.compile_xstate` builds the
:class:`~dialoghub.model.chart.Chart`; this module wraps it in the Model every other part
knows (the Hub, the stores' listings, the server's model list), so a machine loads like
any model file: ``dialoghub serve --models machines/``, ``hub.load_models(...)``,
``POST /v1/models/validate``. ``states`` lists the
chart's node ids (so ``GET /v1/models`` and listings name them); ``events`` the event types
its transitions take. The dialog-language parts (intents, entities, commands) stay empty: a
machine takes events, and what it asks of the application comes back as command actions.

Guards and actions the application registers (``load_model(path, functions=...)`` with a
:class:`dialoghub.engine.chart.Registry`) are resolved by name; a guard nobody registered is
reported at load time with its line, an action nobody registered becomes a command action.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from dialoghub.errors import ModelValidationError, Problem
from dialoghub.model.source import Located
from dialoghub.model.spec import Model, State
from dialoghub.model.xstate_chart import compile_xstate, looks_like_xstate

__all__ = ["compile_chart_model", "looks_like_xstate"]

_ID = re.compile(r"[A-Za-z0-9_-]+")


def compile_chart_model(
    loc: Located,
    recognizer_factory: Callable[[list[Any], list[Any], float], Any],
    functions: Any = None,
) -> tuple[Model | None, list[Problem]]:
    """Compile the XState machine in ``loc``; (None, problems) if anything is wrong."""
    guards = sorted(getattr(functions, "guards", None) or ())
    actions = sorted(getattr(functions, "actions", None) or ())
    stem = Path(loc.file).stem if loc.file and not loc.file.startswith("<") else "machine"
    data = loc.data if isinstance(loc.data, dict) else {}
    # The decision framework's goal state (seed 001): a top-level ``default`` (or
    # ``meta.default``) names the state whose reaching means "done". It is dialoghub's key,
    # not XState's, so the machine is compiled without it.
    goal = data.get("default")
    if "default" in data:
        loc = replace(loc, data={k: v for k, v in data.items() if k != "default"})
    elif isinstance(data.get("meta"), dict):
        goal = data["meta"].get("default")
    # The decision cycle (issue 10): dialoghub's ``decision`` key, read after the chart.
    decided = data.get("decision")
    if "decision" in data:
        loc = replace(loc, data={k: v for k, v in loc.data.items() if k != "decision"})
    try:
        chart = compile_xstate(loc, name=stem, guards=guards, actions=actions, file=loc.file)
    except ModelValidationError as exc:
        return None, list(exc.problems)
    if goal is not None:
        goal_id = f"{chart.root}.{goal}" if isinstance(goal, str) else None
        if goal_id not in chart.nodes:
            line, column = loc.where(("default",) if "default" in data else ("meta", "default"))
            return None, [
                Problem(
                    f"the goal state 'default' names no state of the machine: {goal!r}",
                    loc.file,
                    line,
                    column,
                )
            ]
    if not _ID.fullmatch(chart.id):
        line, column = loc.where(("id",)) if "id" in data else (1, 1)
        return None, [
            Problem(
                f"XState machine id {chart.id!r}: a model id may use letters, digits, '_' and '-'"
                " only (it names the model in the API)",
                loc.file,
                line,
                column,
            )
        ]
    states = {
        nid: State(name=nid, final=node.kind == "final", waits=node.kind != "final", line=node.line)
        for nid, node in chart.nodes.items()
    }
    events = frozenset(
        t.event
        for node in chart.nodes.values()
        for t in node.transitions
        if t.event is not None and not t.event.startswith("xstate.")
    )
    decision = None
    if decided is not None:
        from dialoghub.model.decisions import compile_decision

        decision, problems = compile_decision(replace(loc, data=data), decided, chart, goal)
        if problems:
            return None, problems
    raw = data.get("description")
    description = raw if isinstance(raw, str) else ""
    root = chart.nodes[chart.root]
    # ``start`` names the first state as a session's ``state`` shows it: the initial child's
    # path below the root (the root itself for a parallel or atomic root).
    first = root.initial[0] if root.initial else chart.root
    start = first[len(chart.root) + 1 :] if first.startswith(chart.root + ".") else first
    model = Model(
        id=chart.id,
        version=str(data.get("version", "1")),
        start=start,
        states=states,
        intents={},
        entities={},
        commands={},
        recognizer=recognizer_factory([], [], 0.5),
        events=events,
        description=description,
        source=loc.file,
        chart=chart,
        chart_registry=functions,
        default_state=goal,
        decision=decision,
    )
    return model, []
