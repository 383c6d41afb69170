"""XState-style machines as models: ``id``, ``initial``, ``states``, ``on``, ``meta.prompt``.

A definition such as the document-review machine of the reference documents loads as it is,
from JSON or YAML. It is recognised by ``initial`` plus ``states`` whose states use ``on`` or
``type``, and translated into the model language before compiling, keeping every line mark:

* each key of a state's ``on`` is an *event*; its target (``"approved"``, ``{target: ...}`` or
  a list of those, the first applying) is a transition;
* ``meta.prompt`` is the state's question, replied when the state is entered; the state then
  waits for an event input named like one of its transitions
  (``hub.process_event(session_id, "APPROVE")``);
* ``type: final`` is a final state: entering it ends the session;
* a ``default`` (or ``meta.default``) at the top names the goal state: reaching it (after the
  start) ends the session as done.

Anything XState has that a model cannot express (actions, guards, nested states, context) is
reported at its line rather than ignored.
"""

from __future__ import annotations

from typing import Any

from dialoghub.errors import Problem
from dialoghub.model.source import Located, Path

__all__ = ["STATE_KEYS", "TOP_KEYS", "from_xstate", "is_xstate"]

#: the keys a machine and a state may have (the JSON Schema lists the same, checked by a test)
TOP_KEYS = frozenset({
    "id", "initial", "states", "description", "version", "default", "meta",
    "predictableActionArguments",
})  # fmt: skip
STATE_KEYS = frozenset({"on", "meta", "type", "description"})


def is_xstate(data: Any) -> bool:
    """True for an XState-style machine: ``initial`` + ``states`` using ``on`` or ``type``."""
    if not isinstance(data, dict) or "initial" not in data:
        return False
    states = data.get("states")
    return isinstance(states, dict) and any(
        isinstance(s, dict) and ("on" in s or "type" in s) for s in states.values()
    )


def from_xstate(loc: Located) -> tuple[Located, list[Problem]]:
    """The machine in ``loc`` as model data, with marks pointing into the original file."""
    src = loc.data
    out = Located(data=None, file=loc.file, code_base=loc.code_base)
    problems: list[Problem] = []

    def mark(new: Path, old: Path) -> None:
        out.marks[new] = loc.where(old)

    def bad(path: Path, message: str) -> None:
        problems.append(loc.problem(path, message))

    for key in src:
        if key not in TOP_KEYS:
            bad((key,), f"XState key {key!r} is not supported; use {sorted(TOP_KEYS)}")
    mark((), ())
    model: dict[str, Any] = {}
    for key in ("id", "description", "version"):
        if key in src:
            model[key] = src[key]
            mark((key,), (key,))
    model["start"] = src["initial"]
    mark(("start",), ("initial",))
    meta = src.get("meta") if isinstance(src.get("meta"), dict) else {}
    default = src.get("default", meta.get("default"))
    if default is not None:
        model["default_state"] = default
        mark(("default_state",), ("default",) if "default" in src else ("meta", "default"))
    events: list[str] = []
    states: dict[str, Any] = {}
    mark(("states",), ("states",))
    for name, raw in src["states"].items():
        path: Path = ("states", name)
        mark(path, path)
        if not isinstance(raw, dict):
            bad(path, f"state {name!r} must be a mapping")
            continue
        state: dict[str, Any] = {}
        for key in raw:
            if key not in STATE_KEYS:
                bad(
                    (*path, key),
                    f"XState key {key!r} is not supported in a state; use {sorted(STATE_KEYS)}",
                )
        smeta = raw.get("meta")
        if isinstance(smeta, dict) and "prompt" in smeta:
            state["ask"] = smeta["prompt"]
            mark((*path, "ask"), (*path, "meta", "prompt"))
        kind = raw.get("type")
        if kind == "final":
            state["final"] = True
            state.pop("ask", None)  # a final state asks nothing: its prompt is only shown
            if isinstance(smeta, dict) and "prompt" in smeta:
                state["say"] = smeta["prompt"]
                mark((*path, "say"), (*path, "meta", "prompt"))
            mark((*path, "final"), (*path, "type"))
        elif kind is not None and kind != "atomic":
            bad((*path, "type"), f"state type {kind!r} is not supported; use 'final' or none")
        on = raw.get("on")
        if on is not None:
            if not isinstance(on, dict):
                bad((*path, "on"), "'on' must map event names to targets")
                on = {}
            trans: dict[str, Any] = {}
            mark((*path, "on"), (*path, "on"))
            for event, target in on.items():
                tpath: Path = (*path, "on", event)
                if event not in events:
                    events.append(event)
                trans[event] = _targets(target, tpath, bad, mark)
            state["on"] = trans
            if kind == "final":
                bad((*path, "on"), f"final state {name!r} cannot have transitions")
        elif kind != "final":
            state["wait"] = True  # no way out but a jump: still a state that waits
        states[name] = state
    model["events"] = events
    model["states"] = states
    out.data = model
    return out, problems


def _targets(target: Any, path: Path, bad: Any, mark: Any) -> Any:
    if isinstance(target, str):
        mark(path, path)
        return target.lstrip(".")
    if isinstance(target, dict):
        extra = set(target) - {"target", "description"}
        if extra:
            bad(path, f"transition keys {sorted(extra)} are not supported; use 'target'")
        if "target" not in target:
            bad(path, "a transition needs 'target'")
            return []
        mark((*path, "goto"), (*path, "target"))
        t = target["target"]
        return {"goto": t.lstrip(".") if isinstance(t, str) else t}
    if isinstance(target, list):
        out = []
        for i, item in enumerate(target):
            r = _targets(item, (*path, i), bad, mark)
            out.append(r)
            mark((*path, i), (*path, i))
        return out
    bad(path, "a transition target is a state name or {target: name}")
    return []
