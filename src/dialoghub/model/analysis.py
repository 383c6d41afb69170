"""Checks that need the whole model at once, run by the compiler after every state is built.

The compiler checks each piece where it reads it (types, keys, targets). Some mistakes only
show when the pieces are put together:

* **a template naming an unknown variable** — ``{citty}`` in a reply. A name in a template
  must be something a session can hold: a slot of some intent, a declared output of some
  command, a variable some ``set``/``append``/``increment``/``transcribe`` step writes,
  ``error`` (set when a command fails), ``intent`` (set by a ``listen`` step),
  ``params.*``/``metadata.*``, another unit's variable (``address.street``) or a key of a
  known variable (``order.size``). Variables are scoped per unit, but the check is lenient
  about scopes: a name set in any unit is known everywhere;
* **a loop of jumps with no wait** — states connected by ``next``/``goto`` that enter each
  other forever within one update, because none of them asks, waits, runs a command, ends
  or is final. The engine would stop such a session at run time; here it is refused before
  any session exists. Two kinds of loops are certain and reported: a cycle of *forced* jumps
  (each state's first unconditional way out is the next state of the cycle), and a group of
  states none of which has any way out of the group at all. Waiting in the middle of the
  code (``listen``), calling a unit and returning from one count as stops.

Everything here reads compiled states and reports through a callback taking a document path,
so the compiler locates each problem at ``file:line:column`` as it does its own.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence

from dialoghub.model.source import Path
from dialoghub.model.spec import (
    Branch,
    Call,
    CommandSpec,
    End,
    Goto,
    Handler,
    Instruction,
    IntentDef,
    Jump,
    Listen,
    Return,
    RunCommand,
    SetVar,
    State,
    Transcribe,
)
from dialoghub.model.templates import Template

__all__ = [
    "BUILTIN_VARIABLES",
    "SCOPES",
    "analyse",
    "blank_templates",
    "jump_loops",
    "known_variables",
]

Report = Callable[[Path, str], None]

#: Variables the engine itself sets: ``error`` holds a failed command's error, ``intent`` the
#: intent of the answer a ``listen`` step waited for.
BUILTIN_VARIABLES = frozenset({"error", "intent"})
#: The unit the top-level states form.
MAIN = "main"
#: Prefixes of names that read the session rather than its variables.
SCOPES = frozenset({"params", "metadata"})


def _all_code(states: Mapping[str, State], handlers: Iterable[Handler | None]) -> list[Instruction]:
    code: list[Instruction] = []
    for state in states.values():
        code.extend(state.code)
        for h in (state.no_match, state.not_allowed, state.timeout, state.ambiguous):
            if h is not None:
                code.extend(h.code)
    for h in handlers:
        if h is not None:
            code.extend(h.code)
    return code


def known_variables(
    units: Mapping[str, Mapping[str, State]],
    intents: Mapping[str, IntentDef],
    commands: Mapping[str, CommandSpec],
    handlers: Iterable[Handler | None] = (),
) -> set[str]:
    """Every variable name a session of this model can hold."""
    names = set(BUILTIN_VARIABLES)
    for intent in intents.values():
        names.update(slot.name for slot in intent.slots)
    for command in commands.values():
        names.update(command.outputs)
    code: list[Instruction] = []
    for k, states in enumerate(units.values()):
        code += _all_code(states, handlers if k == 0 else ())
    for ins in code:
        if isinstance(ins, SetVar):
            names.add(ins.name)
        elif isinstance(ins, Transcribe):
            names.add(ins.variable)
    return names


def _check_templates(
    report: Callable[[Path, int, str], None],
    templates: Sequence[tuple[Path, Template]],
    known: set[str],
    units: Collection[str],
) -> None:
    for path, template in templates:
        for name in dict.fromkeys(template.names):
            if name in known:
                continue
            head = name.split(".", 1)[0]
            if "." in name and (head in SCOPES or head in known or head in units):
                continue
            match = difflib.get_close_matches(name, sorted(known), n=1)
            hint = (
                f"; did you mean {{{match[0]}}}?"
                if match
                else "; it must be a slot, a command output or a variable set by a step"
            )
            at = max(template.source.find("{" + name), 0)  # the placeholder in the value
            report(
                path, at, f"template {template.source!r} names unknown variable {{{name}}}{hint}"
            )


def blank_templates(
    warn: Callable[[Path, int, str], None],
    templates: Sequence[tuple[Path, Template]],
    intents: Mapping[str, IntentDef],
    commands: Mapping[str, CommandSpec],
) -> None:
    """Warn about a template showing an optional slot bare: when the user does not say it,
    the reply reads with a hole ("' people at  in .'"). A default (``{day|today}``) or an
    optional part (``{? on {day}}``) says what to show instead. A name some command outputs,
    or that a required slot of another intent fills, is left alone: it is usually set."""
    optional = {s.name for i in intents.values() for s in i.slots if not s.required}
    optional -= {s.name for i in intents.values() for s in i.slots if s.required}
    for command in commands.values():
        optional -= set(command.outputs)
    for path, template in templates:
        bare = [n for n in dict.fromkeys(template.bare_names) if n in optional]
        if bare:
            names = ", ".join(f"{{{n}}}" for n in bare)
            at = max(template.source.find("{" + bare[0]), 0)  # where the value says it
            warn(
                path,
                at,
                f"template {template.source!r} shows optional slot {names}, which is "
                "empty when not said; give it a default ({"
                + bare[0]
                + "|...}) or an optional part ({? ... {"
                + bare[0]
                + "}})",
            )


# --- loops of jumps ---------------------------------------------------------------------------


def _pauses(state: State) -> bool:
    """Whether entering ``state`` can stop the update: it waits, ends, or runs a command."""
    if state.waits or state.final or state.confirm is not None:
        return True
    return any(isinstance(i, RunCommand | End | Listen | Call | Return) for i in state.code)


def _conditional(code: Sequence[Instruction]) -> list[bool]:
    """For each instruction, whether some path through the code skips it."""
    skipped = [False] * len(code)
    for j, ins in enumerate(code):
        if isinstance(ins, Branch | Jump):
            for k in range(j + 1, min(ins.target, len(code))):
                skipped[k] = True
    return skipped


def _forced(state: State) -> str | None:
    """The state ``state`` always goes to next (None: it depends, or it may stop)."""
    skipped = _conditional(state.code)
    for ins, maybe in zip(state.code, skipped, strict=True):
        if isinstance(ins, Goto):
            return None if maybe else ins.state
    if state.next and state.next[0].when is None:
        return state.next[0].target
    return None


def _successors(state: State) -> tuple[list[str], bool]:
    """Every state ``state`` may go to, and whether it may also go nowhere (an error)."""
    targets = [i.state for i in state.code if isinstance(i, Goto)]
    targets += [t.target for t in state.next]
    skipped = _conditional(state.code)
    certain = any(
        isinstance(i, Goto) and not maybe for i, maybe in zip(state.code, skipped, strict=True)
    ) or any(t.when is None for t in state.next)
    return targets, not certain


def _sccs(nodes: Sequence[str], edges: Mapping[str, Sequence[str]]) -> list[list[str]]:
    """Strongly connected components (Tarjan, iterative), each in node order."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = 0
    for root in nodes:
        if root in index:
            continue
        work: list[tuple[str, int]] = [(root, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            succ = edges.get(node, ())
            if i < len(succ):
                work.append((node, i + 1))
                nxt = succ[i]
                if nxt not in index:
                    work.append((nxt, 0))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                comp: list[str] = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    comp.append(top)
                    if top == node:
                        break
                order = {n: k for k, n in enumerate(nodes)}
                out.append(sorted(comp, key=order.__getitem__))
    return out


def jump_loops(states: Mapping[str, State]) -> list[list[str]]:
    """Loops of states that would enter each other forever without waiting, as cycles."""
    names = list(states)
    movers = {n for n in names if not _pauses(states[n])}
    loops: list[list[str]] = []
    in_loop: set[str] = set()
    # 1. Cycles of forced jumps: each mover has at most one forced successor.
    forced = {n: _forced(states[n]) for n in names if n in movers}
    for start in names:
        if start not in movers or start in in_loop:
            continue
        path: list[str] = []
        node: str | None = start
        while node is not None and node in movers and node not in path and node not in in_loop:
            path.append(node)
            node = forced[node]
        if node is not None and node in path:
            cycle = path[path.index(node) :]
            loops.append(cycle)
            in_loop.update(cycle)
    # 2. Groups of movers with no way out at all, however the conditions turn out.
    edges: dict[str, list[str]] = {}
    escapes: set[str] = set()
    for n in names:
        if n not in movers:
            continue
        targets, may_stop = _successors(states[n])
        edges[n] = [t for t in targets if t in movers]
        if may_stop or any(t not in movers for t in targets if t in states):
            escapes.add(n)
    for comp in _sccs([n for n in names if n in movers], edges):
        cyclic = len(comp) > 1 or comp[0] in edges.get(comp[0], [])
        if not cyclic or in_loop.intersection(comp):
            continue
        members = set(comp)
        if any(n in escapes or any(t not in members for t in edges[n]) for n in comp):
            continue
        loops.append(comp)
        in_loop.update(comp)
    return loops


def _state_path(unit: str, state: str) -> Path:
    return ("states", state) if unit == MAIN else ("units", unit, "states", state)


def _check_loops(
    report: Report,
    unit: str,
    states: Mapping[str, State],
    state_path: Callable[[str, str], Path],
) -> None:
    for cycle in jump_loops(states):
        first = cycle[0]
        base = state_path(unit, first)
        if cycle == [first] and base == (first,):
            continue  # a story part looping on itself ('main'): the compiler reports it
        shown = " -> ".join([*cycle, first])
        where: Path = (*base, "next") if states[first].next else base
        report(
            where,
            f"a loop of jumps with no wait: {shown}; one of these states must ask, wait, "
            "run a command, end or be final",
        )


def analyse(
    report: Report,
    *,
    units: Mapping[str, Mapping[str, State]],
    intents: Mapping[str, IntentDef],
    commands: Mapping[str, CommandSpec],
    templates: Sequence[tuple[Path, Template]],
    handlers: Iterable[Handler | None] = (),
    code_units: Collection[str] = (),
    state_path: Callable[[str, str], Path] = _state_path,
    report_at: Callable[[Path, int, str], None] | None = None,
) -> None:
    """Run every whole-model check, reporting each problem with ``report(path, message)``.

    ``units`` maps each unit written as data (``main`` first: the top-level states) to its
    states; ``templates`` are the templates the compiler parsed, each with its path in the
    document; ``handlers`` the model-wide handlers; ``code_units`` the units written in
    Python, whose variables templates may read as ``unit.variable`` but which are not
    checked here; ``state_path`` where a state of a unit is in the document; ``report_at``
    (path, character offset, message) locates a problem inside a template's text.
    """
    handlers = list(handlers)
    known = known_variables(units, intents, commands, handlers)
    # a problem inside a template is located at its character when the caller can
    _check_templates(report_at or (lambda path, _at, message: report(path, message)),
                     templates, known, {*units, *code_units})  # fmt: skip
    for name, states in units.items():
        _check_loops(report, name, states, state_path)
