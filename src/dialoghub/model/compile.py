"""From plain data (a parsed model file) to a runnable :class:`~dialoghub.model.spec.Model`.

The compiler checks as it goes and keeps going after a problem, so one run reports every
problem of a file, each at its line and column. A model with any problem is never returned:
the caller gets one :class:`~dialoghub.errors.ModelValidationError` carrying them all.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from dialoghub.errors import Problem
from dialoghub.model.conditions import Condition, ConditionError
from dialoghub.model.source import Located, Path
from dialoghub.model.spec import (
    Branch,
    Clear,
    CommandSpec,
    End,
    Goto,
    Handler,
    Instruction,
    IntentDef,
    Jump,
    Model,
    RunCommand,
    Say,
    SetVar,
    SlotSpec,
    State,
    Transcribe,
    Transition,
)
from dialoghub.model.templates import Template, TemplateError
from dialoghub.nlu.types import EntityKind, EntitySpec, EntityValue, IntentSpec

__all__ = ["compile_model"]

_ID = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*")
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")

MODEL_KEYS = {
    "id", "version", "description", "language", "sample_rate", "start", "default_state",
    "wake_word", "entities", "intents", "commands", "events", "states", "no_match",
    "not_allowed", "command_error", "settings",
}  # fmt: skip
STATE_KEYS = {
    "say", "do", "ask", "wait", "on", "next", "final", "no_match", "not_allowed",
    "timeout", "wake_word", "description",
}  # fmt: skip
HANDLER_KEYS = {"say", "do", "goto"}
SETTINGS_KEYS = {"threshold"}


class _Ctx:
    """Collects problems while compiling one file."""

    def __init__(self, loc: Located) -> None:
        self.loc = loc
        self.problems: list[Problem] = []
        # checks that need the whole model, run at the end: (path, state name)
        self.targets: list[tuple[Path, str]] = []

    def error(self, path: Path, message: str) -> None:
        self.problems.append(self.loc.problem(path, message))

    def mapping(self, value: Any, path: Path, what: str) -> dict[str, Any]:
        if isinstance(value, dict):
            return value
        if value is not None:
            self.error(path, f"{what} must be a mapping, not {_kind(value)}")
        return {}

    def keys(self, data: dict[str, Any], allowed: set[str], path: Path, what: str) -> None:
        for key in data:
            if key not in allowed:
                hint = _closest(key, allowed)
                self.error((*path, key), f"unknown key {key!r} in {what}{hint}")

    def string(self, value: Any, path: Path, what: str) -> str | None:
        if isinstance(value, str) and value.strip():
            return value
        self.error(path, f"{what} must be a non-empty string, not {_kind(value)}")
        return None

    def strings(self, value: Any, path: Path, what: str) -> list[str]:
        if isinstance(value, str):
            return [value]
        if not isinstance(value, list):
            self.error(path, f"{what} must be a string or a list of strings, not {_kind(value)}")
            return []
        out = []
        for i, item in enumerate(value):
            if isinstance(item, str | int | float) and not isinstance(item, bool):
                out.append(str(item))
            else:
                self.error((*path, i), f"{what} must be strings, not {_kind(item)}")
        return out

    def template(self, value: Any, path: Path) -> Template | None:
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            self.error(path, f"text must be a string, not {_kind(value)}")
            return None
        try:
            return Template.parse(value)
        except TemplateError as exc:
            self.error(path, f"bad template {value!r} at column {exc.column + 1}: {exc}")
            return None

    def condition(self, value: Any, path: Path) -> Condition | None:
        if not isinstance(value, str):
            self.error(path, f"a condition must be a string, not {_kind(value)}")
            return None
        try:
            return Condition.parse(value)
        except ConditionError as exc:
            self.error(path, f"cannot parse condition {value!r} at column {exc.column + 1}: {exc}")
            return None

    def target(self, value: Any, path: Path) -> str | None:
        name = self.string(value, path, "a target state")
        if name is not None:
            self.targets.append((path, name))
        return name


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), f"a {type(value).__name__}"
    )


def _closest(word: str, options: Iterable[str]) -> str:
    import difflib

    match = difflib.get_close_matches(word, sorted(options), n=1)
    return f"; did you mean {match[0]!r}?" if match else f"; expected one of {sorted(options)}"


# --- vocabulary -----------------------------------------------------------------------------


def _entities(ctx: _Ctx, raw: Any) -> dict[str, EntitySpec]:
    out: dict[str, EntitySpec] = {}
    for name, spec in ctx.mapping(raw, ("entities",), "entities").items():
        path: Path = ("entities", name)
        if isinstance(spec, list):
            spec = {"values": spec}
        if not isinstance(spec, dict):
            ctx.error(path, f"entity {name!r} must be a list of values or a mapping")
            continue
        ctx.keys(spec, {"values", "pattern", "type"}, path, f"entity {name!r}")
        kind = spec.get("type", "regex" if "pattern" in spec else "list")
        if kind not in {k.value for k in EntityKind}:
            ctx.error(
                (*path, "type"), f"unknown entity type {kind!r}; use list, regex, number or time"
            )
            continue
        values: list[EntityValue] = []
        for i, item in enumerate(spec.get("values") or []):
            vpath: Path = (*path, "values", i)
            if isinstance(item, str | int | float) and not isinstance(item, bool):
                values.append(EntityValue(str(item)))
            elif isinstance(item, dict) and "value" in item:
                ctx.keys(item, {"value", "synonyms"}, vpath, "an entity value")
                syn = ctx.strings(item.get("synonyms", []), (*vpath, "synonyms"), "synonyms")
                values.append(EntityValue(str(item["value"]), tuple(syn)))
            elif isinstance(item, dict) and len(item) == 1:
                ((value, syn_raw),) = item.items()
                syn = ctx.strings(syn_raw or [], (*vpath, value), "synonyms")
                values.append(EntityValue(str(value), tuple(syn)))
            else:
                ctx.error(
                    vpath,
                    "an entity value is a string, {value: ..., synonyms: [...]}"
                    " or {VALUE: [synonyms]}",
                )
        pattern = spec.get("pattern")
        if kind == "regex":
            if not isinstance(pattern, str):
                ctx.error(path, f"regex entity {name!r} needs a 'pattern' string")
                continue
            try:
                re.compile(pattern)
            except re.error as exc:
                ctx.error((*path, "pattern"), f"invalid regular expression: {exc}")
                continue
        if kind == "list" and not values:
            ctx.error(path, f"list entity {name!r} has no values")
        out[name] = EntitySpec(name, EntityKind(kind), tuple(values), pattern)
    return out


def _intents(ctx: _Ctx, raw: Any, entities: dict[str, EntitySpec]) -> dict[str, IntentDef]:
    out: dict[str, IntentDef] = {}
    for name, spec in ctx.mapping(raw, ("intents",), "intents").items():
        path: Path = ("intents", name)
        if isinstance(spec, list | str):
            spec = {"examples": spec}
        if not isinstance(spec, dict):
            ctx.error(path, f"intent {name!r} must be a list of examples or a mapping")
            continue
        ctx.keys(spec, {"examples", "slots"}, path, f"intent {name!r}")
        examples = ctx.strings(spec.get("examples"), (*path, "examples"), "examples")
        if not examples:
            ctx.error(path, f"intent {name!r} has no examples")
        slots: dict[str, SlotSpec] = {}
        for slot, sspec in ctx.mapping(spec.get("slots"), (*path, "slots"), "slots").items():
            spath: Path = (*path, "slots", slot)
            if isinstance(sspec, str):
                sspec = {"entity": sspec}
            if not isinstance(sspec, dict):
                ctx.error(spath, "a slot is an entity name or {entity, required, prompt}")
                continue
            ctx.keys(sspec, {"entity", "required", "prompt"}, spath, f"slot {slot!r}")
            entity = sspec.get("entity", slot)
            if entity not in entities:
                ctx.error(spath, f"slot {slot!r} uses unknown entity {entity!r}")
            required = sspec.get("required", False)
            if not isinstance(required, bool):
                ctx.error((*spath, "required"), "required must be true or false")
            prompt = sspec.get("prompt")
            tmpl = ctx.template(prompt, (*spath, "prompt")) if prompt is not None else None
            if required is True and tmpl is None and prompt is None:
                ctx.error(spath, f"required slot {slot!r} needs a 'prompt' to ask for it")
            slots[slot] = SlotSpec(slot, str(entity), required is True, tmpl)
        for i, example in enumerate(examples):
            for placeholder in _PLACEHOLDER.findall(example):
                if placeholder in slots:
                    continue
                if placeholder in entities:  # {city} with an entity "city": an implicit slot
                    slots[placeholder] = SlotSpec(placeholder, placeholder)
                else:
                    ctx.error(
                        (*path, "examples", i),
                        f"placeholder {{{placeholder}}} is neither a slot nor an entity",
                    )
        out[name] = IntentDef(name, tuple(examples), tuple(slots.values()))
    return out


def _commands(ctx: _Ctx, raw: Any) -> dict[str, CommandSpec]:
    out: dict[str, CommandSpec] = {}
    for name, spec in ctx.mapping(raw, ("commands",), "commands").items():
        path: Path = ("commands", name)
        spec = ctx.mapping(spec, path, f"command {name!r}") if spec is not None else {}
        ctx.keys(spec, {"inputs", "outputs", "description"}, path, f"command {name!r}")
        inputs = ctx.strings(spec.get("inputs", []), (*path, "inputs"), "inputs")
        outputs = ctx.strings(spec.get("outputs", []), (*path, "outputs"), "outputs")
        out[name] = CommandSpec(name, tuple(inputs), tuple(outputs))
    return out


# --- code -----------------------------------------------------------------------------------


class _CodeBuilder:
    """Compiles a ``do`` list (with nested if/then/else) into flat instructions."""

    def __init__(self, ctx: _Ctx, commands: dict[str, CommandSpec]) -> None:
        self.ctx = ctx
        self.commands = commands
        self.code: list[Instruction | None] = []

    def build(self, steps: Any, path: Path) -> tuple[Instruction, ...]:
        self.steps(steps, path)
        # every placeholder left by branch() has been patched by now
        return tuple(i for i in self.code if i is not None)

    def steps(self, steps: Any, path: Path) -> None:
        if isinstance(steps, dict):
            steps = [steps]
        if not isinstance(steps, list):
            self.ctx.error(path, f"'do' must be a list of steps, not {_kind(steps)}")
            return
        for i, step in enumerate(steps):
            self.step(step, (*path, i))

    def step(self, step: Any, path: Path) -> None:
        ctx = self.ctx
        if not isinstance(step, dict) or not step:
            ctx.error(path, "a step is a mapping such as {say: ...}, {command: ...}, {set: ...}")
            return
        verbs = [k for k in step if k in _VERBS]
        if len(verbs) != 1:
            what = "no step verb" if not verbs else f"several verbs {verbs}"
            ctx.error(path, f"{what}; a step has exactly one of {sorted(_VERBS)}")
            return
        verb = verbs[0]
        allowed = {verb, *_VERBS[verb]}
        ctx.keys(step, allowed, path, f"a {verb!r} step")
        arg = step[verb]
        vpath: Path = (*path, verb)
        if verb == "say":
            for text in ctx.strings(arg, vpath, "say") if isinstance(arg, list) else [arg]:
                tmpl = ctx.template(text, vpath)
                if tmpl is not None:
                    self.code.append(Say(tmpl))
        elif verb == "command":
            self.command(step, path)
        elif verb in ("set", "append"):
            for name, value in ctx.mapping(arg, vpath, verb).items():
                self.code.append(SetVar(name, self.value(value, (*vpath, name)), verb))
        elif verb == "increment":
            items = (
                arg if isinstance(arg, dict) else dict.fromkeys(ctx.strings(arg, vpath, verb), 1)
            )
            for name, by in items.items():
                if not isinstance(by, int | float) or isinstance(by, bool):
                    ctx.error((*vpath, name), "increment by a number")
                    continue
                self.code.append(SetVar(name, by, "increment"))
        elif verb == "clear":
            self.code.append(Clear(tuple(ctx.strings(arg, vpath, "clear"))))
        elif verb == "goto":
            target = ctx.target(arg, vpath)
            if target:
                self.code.append(Goto(target))
        elif verb == "end":
            reason = arg if isinstance(arg, str) else "dialog ended"
            self.code.append(End(reason))
        elif verb == "transcribe":
            variable = ctx.string(arg, vpath, "transcribe (a variable name)")
            if variable:
                self.code.append(Transcribe(variable))
        elif verb == "if":
            self.branch(step, path)

    def value(self, value: Any, path: Path) -> Any:
        if isinstance(value, str) and "{" in value:
            return self.ctx.template(value, path)
        return value

    def command(self, step: dict[str, Any], path: Path) -> None:
        ctx = self.ctx
        name = ctx.string(step["command"], (*path, "command"), "command")
        if name is None:
            return
        spec = self.commands.get(name)
        if spec is None:
            ctx.error(
                (*path, "command"),
                f"unknown command {name!r}{_closest(name, self.commands)}"
                if self.commands
                else f"unknown command {name!r}; declare it under 'commands'",
            )
        params = {}
        for key, value in ctx.mapping(step.get("with"), (*path, "with"), "with").items():
            if spec is not None and key not in spec.inputs:
                ctx.error((*path, "with", key), f"command {name!r} has no input {key!r}")
            params[key] = self.value(value, (*path, "with", key))
        on_error = step.get("on_error")
        if on_error is not None:
            ctx.target(on_error, (*path, "on_error"))
        self.code.append(RunCommand(name, params, on_error))

    def branch(self, step: dict[str, Any], path: Path) -> None:
        cond = self.ctx.condition(step["if"], (*path, "if"))
        if "then" not in step:
            self.ctx.error(path, "an 'if' step needs 'then'")
        at = len(self.code)
        self.code.append(None)  # patched below, once the 'then' part's length is known
        self.steps(step.get("then", []), (*path, "then"))
        if "else" in step:
            jump_at = len(self.code)
            self.code.append(None)
            else_start = len(self.code)
            self.steps(step["else"], (*path, "else"))
            self.code[jump_at] = Jump(len(self.code))
        else:
            else_start = len(self.code)
        if cond is not None:
            self.code[at] = Branch(cond, else_start)
        else:
            self.code[at] = Jump(else_start)


_VERBS: dict[str, set[str]] = {
    "say": set(),
    "command": {"with", "on_error"},
    "set": set(),
    "append": set(),
    "increment": set(),
    "clear": set(),
    "goto": set(),
    "end": set(),
    "transcribe": set(),
    "if": {"then", "else"},
}


def _handler(ctx: _Ctx, raw: Any, path: Path, commands: dict[str, CommandSpec]) -> Handler | None:
    if raw is None:
        return None
    if isinstance(raw, str):
        raw = {"say": raw}
    data = ctx.mapping(raw, path, "a handler")
    ctx.keys(data, HANDLER_KEYS, path, "a handler")
    steps: list[Any] = []
    if "say" in data:
        steps.append({"say": data["say"]})
    if "do" in data:
        steps.extend(data["do"] if isinstance(data["do"], list) else [data["do"]])
    code = _CodeBuilder(ctx, commands).build(steps, path)
    target = ctx.target(data["goto"], (*path, "goto")) if "goto" in data else None
    return Handler(code, target)


def _transitions(ctx: _Ctx, raw: Any, path: Path) -> tuple[Transition, ...]:
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
        ctx.keys(data, {"goto", "when"}, ipath, "a transition")
        if "goto" not in data:
            ctx.error(ipath, "a transition needs 'goto'")
            continue
        target = ctx.target(data["goto"], (*ipath, "goto"))
        when = ctx.condition(data["when"], (*ipath, "when")) if "when" in data else None
        if target:
            out.append(Transition(target, when))
    return tuple(out)


def _state(
    ctx: _Ctx, name: str, raw: Any, commands: dict[str, CommandSpec], listens: set[str]
) -> State:
    path: Path = ("states", name)
    data = ctx.mapping(raw, path, f"state {name!r}") if raw is not None else {}
    ctx.keys(data, STATE_KEYS, path, f"state {name!r}")
    steps: list[Any] = []
    if "say" in data:
        steps.append({"say": data["say"]})
    if "do" in data:
        steps.extend(data["do"] if isinstance(data["do"], list) else [data["do"]])
    code = _CodeBuilder(ctx, commands).build(steps, path)
    ask = ctx.template(data["ask"], (*path, "ask")) if "ask" in data else None
    on: dict[str, tuple[Transition, ...]] = {}
    for key, value in ctx.mapping(data.get("on"), (*path, "on"), "'on'").items():
        if key not in listens:
            ctx.error(
                (*path, "on", key),
                f"{key!r} is not an intent or event of this model"
                + (_closest(key, listens) if listens else ""),
            )
        on[key] = _transitions(ctx, value, (*path, "on", key))
    final = data.get("final", False)
    if not isinstance(final, bool):
        ctx.error((*path, "final"), "final must be true or false")
        final = False
    wait = data.get("wait", False)
    if not isinstance(wait, bool):
        ctx.error((*path, "wait"), "wait must be true or false")
        wait = False
    nxt = _transitions(ctx, data["next"], (*path, "next")) if "next" in data else ()
    waits = bool(ask is not None or on or wait)
    if final and (waits or nxt):
        ctx.error(path, f"final state {name!r} cannot also wait or have 'next'")
    if not final and not waits and not nxt and not any(isinstance(i, Goto | End) for i in code):
        ctx.error(
            path,
            f"state {name!r} is a dead end: give it 'ask', 'on', 'wait', 'next', or 'final: true'",
        )
    wake = data.get("wake_word")
    line, _ = ctx.loc.where(path)
    return State(
        name=name,
        code=code,
        ask=ask,
        waits=waits,
        on=on,
        next=nxt,
        final=bool(final),
        no_match=_handler(ctx, data.get("no_match"), (*path, "no_match"), commands),
        not_allowed=_handler(ctx, data.get("not_allowed"), (*path, "not_allowed"), commands),
        timeout=_handler(ctx, data.get("timeout"), (*path, "timeout"), commands),
        wake_word=wake if isinstance(wake, bool) else None,
        line=line,
    )


def compile_model(
    loc: Located, recognizer_factory: Callable[[list[IntentSpec], list[EntitySpec], float], Any]
) -> tuple[Model | None, list[Problem]]:
    """Compile located data into a Model; returns (None, problems) if anything is wrong."""
    ctx = _Ctx(loc)
    data = loc.data
    if not isinstance(data, dict):
        ctx.error((), f"a model must be a mapping at the top, not {_kind(data)}")
        return None, ctx.problems
    ctx.keys(data, MODEL_KEYS, (), "the model")
    model_id = ctx.string(data.get("id"), ("id",), "the model 'id'")
    if model_id and not _ID.fullmatch(model_id):
        ctx.error(("id",), f"model id {model_id!r} may use letters, digits, '_' and '-' only")
    version = str(data.get("version", "1"))
    entities = _entities(ctx, data.get("entities"))
    intents = _intents(ctx, data.get("intents"), entities)
    commands = _commands(ctx, data.get("commands"))
    events = set(ctx.strings(data.get("events", []), ("events",), "events"))
    settings = ctx.mapping(data.get("settings"), ("settings",), "settings")
    ctx.keys(settings, SETTINGS_KEYS, ("settings",), "settings")
    threshold = settings.get("threshold", 0.5)
    if not isinstance(threshold, int | float) or not 0 < threshold <= 1:
        ctx.error(("settings", "threshold"), "threshold must be a number in (0, 1]")
        threshold = 0.5
    raw_states = ctx.mapping(data.get("states"), ("states",), "states")
    if not raw_states:
        ctx.error(("states",) if "states" in data else (), "the model has no states")
    listens = set(intents) | events
    states = {n: _state(ctx, n, s, commands, listens) for n, s in raw_states.items()}
    start = data.get("start", next(iter(raw_states), None))
    if start is not None:
        ctx.target(start, ("start",) if "start" in data else ("states",))
    default_state = data.get("default_state")
    if default_state is not None:
        ctx.target(default_state, ("default_state",))
    handlers = {
        key: _handler(ctx, data.get(key), (key,), commands)
        for key in ("no_match", "not_allowed", "command_error")
    }
    for path, target in ctx.targets:
        if target not in states:
            ctx.error(path, f"no state {target!r}{_closest(target, states) if states else ''}")
    roots = [h.target for h in handlers.values() if h is not None and h.target]
    _check_reachable(ctx, states, start, roots)
    if ctx.problems or model_id is None or start is None:
        return None, ctx.problems
    recognizer = recognizer_factory(
        [
            IntentSpec(i.name, i.examples, {s.name: s.entity for s in i.slots})
            for i in intents.values()
        ],
        list(entities.values()),
        float(threshold),
    )
    wake = data.get("wake_word", False)
    model = Model(
        id=model_id,
        version=version,
        start=str(start),
        states=states,
        intents=intents,
        entities=entities,
        commands=commands,
        recognizer=recognizer,
        events=frozenset(events),
        language=str(data.get("language", "en-US")),
        sample_rate=int(data.get("sample_rate", 16000)),
        description=str(data.get("description", "")),
        default_state=default_state,
        no_match=handlers["no_match"],
        not_allowed=handlers["not_allowed"],
        command_error=handlers["command_error"],
        wake_word=wake is True,
        source=loc.file,
    )
    return model, []


def _check_reachable(ctx: _Ctx, states: dict[str, State], start: Any, roots: list[str]) -> None:
    """Report states no path from the start (or a model-wide handler) reaches."""
    if not isinstance(start, str) or start not in states:
        return
    seen = {start, *(r for r in roots if r in states)}
    todo = list(seen)
    while todo:
        state = states[todo.pop()]
        targets = [t.target for ts in state.on.values() for t in ts] + [
            t.target for t in state.next
        ]
        targets += [i.state for i in state.code if isinstance(i, Goto)]
        targets += [i.on_error for i in state.code if isinstance(i, RunCommand) and i.on_error]
        for h in (state.no_match, state.not_allowed, state.timeout):
            if h is not None:
                targets += [h.target] if h.target else []
                targets += [i.state for i in h.code if isinstance(i, Goto)]
        for t in targets:
            if t in states and t not in seen:
                seen.add(t)
                todo.append(t)
    for name in states:
        if name not in seen:
            ctx.error(("states", name), f"state {name!r} is unreachable from start state {start!r}")
