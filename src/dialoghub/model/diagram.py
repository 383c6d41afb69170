"""A model as a picture: Mermaid text, or Graphviz DOT rendered to SVG by ``dot``.

Both drawings come from one walk over the compiled model (:func:`edges`), so they always show
the same thing:

* every state, the start (``[*] -->``) and the final states (``--> [*]``);
* transitions labelled with what takes them: an intent or event (``on``), a condition
  (``next`` with ``when``), ``goto`` from the state's code, a command's error branch, a
  handler (no match, not allowed, ambiguous, timeout), a confirmation's yes/no;
* per state, what it does: waits for input (or asks a question), runs commands, calls units;
* units as nested boxes, each with its own start.

``dialoghub diagram MODEL`` is the command-line face of this module. The SVG needs Graphviz's
``dot`` on the PATH; :class:`GraphvizMissing` says so when it is not.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from dialoghub.errors import DialoghubError, GraphvizMissing
from dialoghub.model.spec import (
    Call,
    Goto,
    Handler,
    Instruction,
    Listen,
    Model,
    RunCommand,
    State,
    Transcribe,
)

__all__ = ["Edge", "GraphvizMissing", "edges", "state_notes", "to_dot", "to_mermaid", "to_svg"]

_MAIN = "main"
_PLAIN = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
# Words Mermaid's state diagrams read as syntax when used as a state id.
_RESERVED = {"state", "note", "end", "direction", "class", "classDef", "style", "click", "as"}


@dataclass(frozen=True, slots=True)
class Edge:
    """One arrow: from a state to a state of the same unit, with what takes it."""

    unit: str
    source: str
    target: str
    label: str = ""
    kind: str = "next"  # on, next, goto, error, handler, confirm, timeout


def _code_edges(code: tuple[Instruction, ...], unit: str, source: str) -> Iterator[Edge]:
    for ins in code:
        if isinstance(ins, Goto):
            yield Edge(unit, source, ins.state, "goto", "goto")
        elif isinstance(ins, RunCommand) and ins.on_error:
            yield Edge(unit, source, ins.on_error, f"{ins.command} failed", "error")
        elif isinstance(ins, Listen) and ins.prompt is not None and ins.prompt.then:
            yield Edge(unit, source, ins.prompt.then, "no answer", "timeout")


def _state_edges(unit: str, state: State) -> Iterator[Edge]:
    name = state.name
    for intent, transitions in state.on.items():
        for t in transitions:
            label = intent if t.when is None else f"{intent} [{t.when.source}]"
            yield Edge(unit, name, t.target, label, "on")
    yield from _code_edges(state.code, unit, name)
    for t in state.next:
        yield Edge(unit, name, t.target, "" if t.when is None else t.when.source, "next")
    handlers: dict[str, Handler | None] = {
        "no match": state.no_match,
        "not allowed": state.not_allowed,
        "ambiguous": state.ambiguous,
        "timeout": state.timeout,
    }
    for what, h in handlers.items():
        if h is None:
            continue
        if h.target:
            yield Edge(unit, name, h.target, what, "handler")
        yield from _code_edges(h.code, unit, name)
    if state.prompt is not None and state.prompt.then:
        yield Edge(unit, name, state.prompt.then, "no answer", "timeout")
    if state.confirm is not None:
        if state.confirm.yes:
            yield Edge(unit, name, state.confirm.yes, "yes", "confirm")
        if state.confirm.no:
            yield Edge(unit, name, state.confirm.no, "no", "confirm")


def _units(model: Model) -> dict[str, Mapping[str, State]]:
    units: dict[str, Mapping[str, State]] = {_MAIN: model.states}
    for name, unit in model.units.items():
        if name != _MAIN and name != model.unit:
            units[name] = unit.states
    return units


def _starts(model: Model) -> dict[str, str]:
    starts = {_MAIN: model.start}
    for name, unit in model.units.items():
        if name != _MAIN and name != model.unit:
            starts[name] = unit.start
    return starts


def edges(model: Model) -> list[Edge]:
    """Every transition of every state of every unit, in declaration order, each once."""
    seen: set[Edge] = set()
    out: list[Edge] = []
    for unit, states in _units(model).items():
        for state in states.values():
            for e in _state_edges(unit, state):
                if e not in seen and e.target in states:
                    seen.add(e)
                    out.append(e)
    return out


def state_notes(state: State) -> list[str]:
    """What a state does, in a few words each: waits, asks, runs commands, calls units."""
    notes: list[str] = []
    if state.confirm is not None:
        notes.append("asks yes/no")
    elif state.ask is not None or state.prompt is not None:
        notes.append("asks, then waits")
    elif state.waits:
        notes.append("waits for input")
    for ins in state.code:
        if isinstance(ins, RunCommand):
            notes.append(f"runs {ins.command}")
        elif isinstance(ins, Call):
            notes.append(f"calls unit {ins.unit}")
        elif isinstance(ins, Listen):
            notes.append("waits for input")
        elif isinstance(ins, Transcribe):
            notes.append(f"dictation into {ins.variable}")
    if state.final:
        notes.append("final")
    return list(dict.fromkeys(notes))


def _waits(state: State) -> bool:
    return (
        state.waits or state.confirm is not None or any(isinstance(i, Listen) for i in state.code)
    )


# --- Mermaid ---------------------------------------------------------------------------------


_MERMAID_CODES = {"#": "#35;", ";": "#59;", '"': "#quot;"}


def _mermaid_text(text: str) -> str:
    """Text safe inside a Mermaid label: its syntax characters as entity codes."""
    return "".join(_MERMAID_CODES.get(ch, ch) for ch in " ".join(text.split()))


class _Ids:
    """Mermaid ids for states: the name when it is a plain word, else a generated one."""

    def __init__(self) -> None:
        self.ids: dict[tuple[str, str], str] = {}
        self.used: set[str] = set()

    def __call__(self, unit: str, name: str) -> str:
        key = (unit, name)
        if key not in self.ids:
            base = name if unit == _MAIN else f"{unit}__{name}"
            if not _PLAIN.fullmatch(base) or base in _RESERVED or base in self.used:
                base = f"s{len(self.ids)}"
            self.used.add(base)
            self.ids[key] = base
        return self.ids[key]


def to_mermaid(model: Model) -> str:
    """The model as a Mermaid ``stateDiagram-v2``."""
    ids = _Ids()
    units = _units(model)
    starts = _starts(model)
    lines = ["stateDiagram-v2", f"    %% model {model.id} v{model.version}"]
    waiting: list[str] = []
    final: list[str] = []
    commands: list[str] = []
    all_edges = edges(model)

    def body(unit: str, indent: str) -> None:
        states = units[unit]
        for name, state in states.items():
            sid = ids(unit, name)
            if sid != name:
                lines.append(f'{indent}state "{_mermaid_text(name)}" as {sid}')
            for note in state_notes(state):
                lines.append(f"{indent}{sid} : {_mermaid_text(note)}")
            if _waits(state):
                waiting.append(sid)
            if state.final:
                final.append(sid)
            if any(isinstance(i, RunCommand) for i in state.code):
                commands.append(sid)
        if starts[unit] in states:
            lines.append(f"{indent}[*] --> {ids(unit, starts[unit])}")
        for e in all_edges:
            if e.unit != unit:
                continue
            label = f" : {_mermaid_text(e.label)}" if e.label else ""
            lines.append(f"{indent}{ids(unit, e.source)} --> {ids(unit, e.target)}{label}")
        for name, state in states.items():
            if state.final:
                lines.append(f"{indent}{ids(unit, name)} --> [*]")

    body(_MAIN, "    ")
    for unit in units:
        if unit == _MAIN:
            continue
        lines.append(f'    state "unit {_mermaid_text(unit)}" as unit__{len(lines)} {{')
        body(unit, "        ")
        lines.append("    }")
    lines.append("    classDef waiting fill:#e3f2fd,stroke:#1565c0")
    lines.append("    classDef command fill:#fff3e0,stroke:#ef6c00")
    lines.append("    classDef final stroke-width:3px")
    for cls, members in (("waiting", waiting), ("command", commands), ("final", final)):
        if members:
            lines.append(f"    class {','.join(members)} {cls}")
    return "\n".join(lines) + "\n"


# --- Graphviz --------------------------------------------------------------------------------


def _dot_text(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(model: Model) -> str:
    """The model as a Graphviz ``digraph``: boxes for states, double borders for final ones."""
    units = _units(model)
    starts = _starts(model)
    lines = [
        f"digraph {_dot_text(model.id)} {{",
        "  rankdir=LR;",
        '  node [shape=box, style="rounded", fontname="Helvetica"];',
        '  edge [fontname="Helvetica", fontsize=10];',
    ]
    for k, (unit, states) in enumerate(units.items()):
        indent = "  "
        if unit != _MAIN:
            lines.append(f"  subgraph cluster_{k} {{")
            lines.append(f"    label={_dot_text('unit ' + unit)};")
            indent = "    "
        start_id = _dot_text(f"[*] {unit}")
        lines.append(f"{indent}{start_id} [shape=point, width=0.15];")
        for name, state in states.items():
            label = "\n".join([name, *state_notes(state)])
            attrs = [f"label={_dot_text(label)}"]
            if state.final:
                attrs.append("peripheries=2")
            if _waits(state):
                attrs.append('style="rounded,filled"')
                attrs.append('fillcolor="#e3f2fd"')
            elif any(isinstance(i, RunCommand) for i in state.code):
                attrs.append('style="rounded,filled"')
                attrs.append('fillcolor="#fff3e0"')
            lines.append(f"{indent}{_dot_text(f'{unit}/{name}')} [{', '.join(attrs)}];")
        if starts[unit] in states:
            lines.append(f"{indent}{start_id} -> {_dot_text(f'{unit}/{starts[unit]}')};")
        if unit != _MAIN:
            lines.append("  }")
    for e in edges(model):
        edge_attrs = [f"label={_dot_text(e.label)}"] if e.label else []
        if e.kind in ("handler", "error", "timeout"):
            edge_attrs.append("style=dashed")
        src = _dot_text(f"{e.unit}/{e.source}")
        dst = _dot_text(f"{e.unit}/{e.target}")
        tail = f" [{', '.join(edge_attrs)}]" if edge_attrs else ""
        lines.append(f"  {src} -> {dst}{tail};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def to_svg(model: Model, *, dot: str | None = None, timeout: float = 60.0) -> str:
    """The model as an SVG image, drawn by Graphviz ``dot`` (``dot``: its path, if not found)."""
    program = dot or shutil.which("dot")
    if program is None:
        raise GraphvizMissing(
            "Graphviz's 'dot' is not installed, so no SVG can be drawn; install Graphviz "
            "(e.g. apt-get install graphviz) or use --format mermaid"
        )
    done = subprocess.run(
        [program, "-Tsvg"],
        input=to_dot(model),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise DialoghubError(f"dot failed: {done.stderr.strip() or done.returncode}")
    return done.stdout
