"""Compiling states and units, and checking that every state can be reached.

A model's top-level ``states`` (with ``init`` and ``main``) form its main unit; ``units``
adds more, each with its own states (and variable scope at run time). A unit is data or a
Python module (``python: package.module`` or ``python: file.py``, see
:mod:`dialoghub.model.codeunit`).
"""

from __future__ import annotations

from typing import Any

from dialoghub.model.codeunit import CodeUnitError, load_code_unit, unit_of_code
from dialoghub.model.compile_code import Actions, CodeBuilder, compile_handler
from dialoghub.model.compile_ctx import Ctx, closest
from dialoghub.model.compile_vocab import compile_confirm
from dialoghub.model.keys import KEYS
from dialoghub.model.source import Path
from dialoghub.model.spec import (
    Call,
    CommandSpec,
    End,
    Goto,
    Handler,
    Instruction,
    Listen,
    Return,
    RunCommand,
    State,
    Transition,
    Unit,
)

__all__ = [
    "check_reachable",
    "compile_state",
    "compile_unit",
    "main_loops",
    "story_states",
]


def _transitions(ctx: Ctx, raw: Any, path: Path) -> tuple[Transition, ...]:
    items = raw if isinstance(raw, list) else [raw]
    out = []
    for i, item in enumerate(items):
        ipath = (*path, i) if isinstance(raw, list) else path
        if isinstance(item, str):
            target = ctx.target(item, ipath)
            if target:
                out.append(Transition(target))
            continue
        data = ctx.mapping(item, ipath, "a transition")
        ctx.keys(data, KEYS["transition"], ipath, "a transition")
        if "goto" not in data:
            ctx.error(ipath, "a transition needs 'goto'")
            continue
        target = ctx.target(data["goto"], (*ipath, "goto"))
        when = ctx.condition(data["when"], (*ipath, "when")) if "when" in data else None
        if target:
            out.append(Transition(target, when))
    return tuple(out)


def compile_state(
    ctx: Ctx,
    name: str,
    raw: Any,
    path: Path,
    commands: dict[str, CommandSpec],
    listens: set[str],
    actions: Actions,
    *,
    do_path: Path | None = None,
) -> State:
    """One state; ``do_path`` locates its ``do`` list when it is not at ``path.do``."""
    data = ctx.mapping(raw, path, f"state {name!r}") if raw is not None else {}
    ctx.keys(data, KEYS["state"], path, f"state {name!r}")
    code = CodeBuilder(ctx, commands, actions).build_parts(data, path, do_path)
    prompt = ctx.prompt(data["ask"], (*path, "ask")) if "ask" in data else None
    on: dict[str, tuple[Transition, ...]] = {}
    for key, value in ctx.mapping(data.get("on"), (*path, "on"), "'on'").items():
        if key not in listens:
            ctx.error(
                (*path, "on", key),
                f"{key!r} is not an intent or event of this model"
                + (closest(key, listens) if listens else ""),
            )
        on[key] = _transitions(ctx, value, (*path, "on", key))
    final = ctx.boolean(data["final"], (*path, "final"), "final") if "final" in data else False
    wait = ctx.boolean(data["wait"], (*path, "wait"), "wait") if "wait" in data else False
    nxt = _transitions(ctx, data["next"], (*path, "next")) if "next" in data else ()
    confirm = None
    if "confirm" in data:
        confirm = compile_confirm(ctx, data["confirm"], (*path, "confirm"), targets=True)
    waits = bool(prompt is not None or on or wait)
    if final and (waits or nxt or confirm):
        ctx.error(path, f"final state {name!r} cannot also wait, confirm or have 'next'")
    if confirm is not None and (waits or nxt):
        ctx.error(
            path, f"state {name!r} confirms: it cannot also have 'ask', 'on', 'wait' or 'next'"
        )
    ends = any(isinstance(i, Goto | End | Return) for i in code)
    # a mistyped 'final' is reported above, not as a dead end too
    if not ("final" in data or waits or nxt or confirm or ends):
        ctx.error(
            path,
            f"state {name!r} is a dead end: give it 'ask', 'on', 'wait', 'next', 'confirm' "
            "or 'final: true'",
        )
    wake = data.get("wake_word")
    if wake is not None and not isinstance(wake, bool):
        ctx.error((*path, "wake_word"), "wake_word must be true or false")
    line, _ = ctx.loc.where(path)
    takes: frozenset[str] | None = None  # the global intents it takes (None: all)
    if "global" in data:
        raw_global = data["global"]
        if raw_global is True:
            pass
        elif raw_global is False:
            takes = frozenset()
        else:
            takes = frozenset(ctx.strings(raw_global, (*path, "global"),
                                          "global (true, false or the global intents kept)"))

    def handler(key: str) -> Handler | None:
        return compile_handler(ctx, data.get(key), (*path, key), commands, actions)

    return State(
        name=name,
        code=code,
        ask=prompt.wordings[0] if prompt is not None else None,
        prompt=prompt,
        confirm=confirm,
        waits=waits,
        on=on,
        next=nxt,
        final=final,
        no_match=handler("no_match"),
        not_allowed=handler("not_allowed"),
        timeout=handler("timeout"),
        ambiguous=handler("ambiguous"),
        wake_word=wake if isinstance(wake, bool) else None,
        line=line,
        globals=takes,
    )


def story_states(ctx: Ctx, data: dict[str, Any], first: str | None) -> dict[str, Any]:
    """``init`` (run once) and ``main`` (loops) as plain states named ``init`` and ``main``."""
    raw_states = dict(ctx.mapping(data.get("states"), ("states",), "states"))
    story: dict[str, Any] = {}
    for part in ("init", "main"):
        if part in data and part in raw_states:
            ctx.error((part,), f"'{part}' is also the name of a state; rename one of them")
    if "init" in data:
        after = "main" if "main" in data else first
        init: dict[str, Any] = {"do": data["init"]}
        if after is not None:
            init["next"] = after
        else:
            init["final"] = True
        story["init"] = init
    if "main" in data:
        story["main"] = {"do": data["main"], "next": "main"}
    return story


def _listens(code: tuple[Instruction, ...]) -> bool:
    return any(isinstance(i, Listen | RunCommand | Call | End | Return) for i in code)


def compile_unit(
    ctx: Ctx,
    name: str,
    raw: Any,
    commands: dict[str, CommandSpec],
    listens: set[str],
    actions: Actions,
) -> Unit | None:
    """One entry of ``units``: {start, states, actions} or {python: module}."""
    path: Path = ("units", name)
    data = ctx.mapping(raw, path, f"unit {name!r}")
    ctx.keys(data, KEYS["unit"], path, f"unit {name!r}")
    ctx.unit = name
    try:
        if "python" in data:
            extra = set(data) - {"python", "description"}
            if extra:
                ctx.error(
                    path, f"a Python unit has no {sorted(extra)}: its functions are its states"
                )
            ref = ctx.string(data["python"], (*path, "python"), "python (a module or a .py file)")
            if ref is None:
                return None
            try:
                code_unit = load_code_unit(ref, base=ctx.loc.code_base, from_model=True)
            except CodeUnitError as exc:
                ctx.error((*path, "python"), str(exc))
                return None
            return unit_of_code(code_unit, name)
        own: Actions = dict(actions)
        for aname, steps in ctx.mapping(data.get("actions"), (*path, "actions"), "actions").items():
            own[aname] = (steps, (*path, "actions", aname))
        raw_states = ctx.mapping(data.get("states"), (*path, "states"), "states")
        if not raw_states:
            ctx.error(path, f"unit {name!r} has no states")
            return None
        states = {
            s: compile_state(ctx, s, r, (*path, "states", s), commands, listens, own)
            for s, r in raw_states.items()
        }
        start = data.get("start", next(iter(raw_states)))
        ctx.target(start, (*path, "start") if "start" in data else (*path, "states"))
        return Unit(name, str(start), states)
    finally:
        ctx.unit = "main"


def _targets(state: State) -> list[str]:
    out = [t.target for ts in state.on.values() for t in ts] + [t.target for t in state.next]
    codes = [state.code]
    for h in (state.no_match, state.not_allowed, state.timeout, state.ambiguous):
        if h is not None:
            out += [h.target] if h.target else []
            codes.append(h.code)
    for code in codes:
        for i in code:
            if isinstance(i, Goto):
                out.append(i.state)
            elif isinstance(i, RunCommand) and i.on_error:
                out.append(i.on_error)
            elif isinstance(i, Listen) and i.prompt is not None and i.prompt.then:
                out.append(i.prompt.then)
    if state.prompt is not None and state.prompt.then:
        out.append(state.prompt.then)
    if state.confirm is not None:
        out += [t for t in (state.confirm.yes, state.confirm.no) if t]
    return out


def check_reachable(ctx: Ctx, unit: Unit, roots: list[str], path_of: Path | None = None) -> None:
    """Report states no path from the unit's start (or a model-wide handler) reaches."""
    states = unit.states
    if unit.python is not None or unit.start not in states:
        return
    seen = {unit.start, *(r for r in roots if r in states)}
    todo = list(seen)
    while todo:
        for t in _targets(states[todo.pop()]):
            if t in states and t not in seen:
                seen.add(t)
                todo.append(t)
    for name in states:
        if name not in seen:
            where: Path = ("states", name) if path_of is None else (*path_of, "states", name)
            ctx.error(where, f"state {name!r} is unreachable from start state {unit.start!r}")


def main_loops(ctx: Ctx, states: dict[str, State], has_main: bool) -> None:
    """A ``main`` part that never waits would loop forever in one update."""
    if has_main and "main" in states and not _listens(states["main"].code):
        ctx.error(
            ("main",),
            "'main' loops back to its start, so it must wait somewhere: add an 'ask' or "
            "'listen: true' step (or a command, a call, or an end)",
        )
