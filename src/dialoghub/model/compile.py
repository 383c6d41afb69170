"""From plain data (a parsed model file) to a runnable :class:`~dialoghub.model.spec.Model`.

The compiler checks as it goes and keeps going after a problem, so one run reports every
problem of a file, each at its line and column. A model with any problem is never returned:
the caller gets one :class:`~dialoghub.errors.ModelValidationError` carrying them all.

The work is split by concern: :mod:`.compile_ctx` (typed readers and the problem list),
:mod:`.compile_vocab` (entities, intents, commands), :mod:`.compile_code` (``do`` lists into
instructions), :mod:`.compile_states` (states, units, reachability), :mod:`.chart_model` (XState
machines, compiled into statecharts instead) and :mod:`.analysis` (whole-model checks).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from dialoghub.errors import Problem
from dialoghub.model.analysis import analyse, blank_templates
from dialoghub.model.compile_code import Actions, CodeBuilder, compile_handler
from dialoghub.model.compile_ctx import Ctx, closest
from dialoghub.model.compile_states import (
    check_reachable,
    compile_state,
    compile_unit,
    main_loops,
    story_states,
)
from dialoghub.model.compile_vocab import compile_commands, compile_entities, compile_intents
from dialoghub.model.keys import KEYS
from dialoghub.model.source import Located
from dialoghub.model.spec import Handler, IntentDef, Model, Unit
from dialoghub.nlu.types import IntentSpec

__all__ = ["compile_model"]

_ID = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*")

MAIN = "main"  # the name of the unit a model's top-level states form


def _lifetime(ctx: Ctx, data: dict[str, Any]) -> dict[str, float] | None:
    """``lifetime: {idle: seconds, absolute: seconds}``; the timer service expires sessions."""
    if "lifetime" not in data:
        return None
    raw = ctx.mapping(data["lifetime"], ("lifetime",), "lifetime")
    ctx.keys(raw, KEYS["lifetime"], ("lifetime",), "lifetime")
    out: dict[str, float] = {}
    for name, value in raw.items():
        if name not in KEYS["lifetime"]:
            continue
        if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
            ctx.error(("lifetime", name), f"lifetime {name} must be a positive number of seconds")
            continue
        out[name] = float(value)
    if not out and raw:
        return None
    if not raw:
        ctx.error(("lifetime",), "lifetime needs 'idle' and/or 'absolute' seconds")
    return out or None


def _max_tries(ctx: Ctx, data: dict[str, Any]) -> int | None:
    settings = data.get("settings")
    if not isinstance(settings, dict) or "max_tries" not in settings:
        return 3
    value = settings["max_tries"]
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        ctx.error(("settings", "max_tries"), "max_tries must be a whole number >= 1")
        return 3
    return value


def _globals(
    ctx: Ctx, data: dict[str, Any], intents: dict[str, Any], commands: Any, actions: Actions
) -> dict[str, Handler]:
    """``global: {intent: state or handler}``: intents every waiting state takes."""
    out: dict[str, Handler] = {}
    for name, raw in ctx.mapping(data.get("global"), ("global",), "global").items():
        path = ("global", name)
        if name not in intents:
            ctx.error(path, f"global {name!r} is not an intent of this model"
                      + (closest(name, intents) if intents else ""))
            continue
        if isinstance(raw, str):
            target = ctx.target(raw, path)
            if target is not None:
                out[name] = Handler(target=target)
            continue
        handler = compile_handler(ctx, raw, path, commands, actions)
        if handler is not None:
            out[name] = replace(handler, reask=handler.target is None)
    return out


def _give_ups(ctx: Ctx, data: dict[str, Any], intents: dict[str, IntentDef], commands: Any,
              actions: Actions) -> None:
    """Each slot's ``give_up`` handler (compiled once commands and actions are known)."""
    raw_intents = data.get("intents")
    if not isinstance(raw_intents, dict):
        return
    for name, intent in list(intents.items()):
        raw = raw_intents.get(name)
        slots_raw = raw.get("slots") if isinstance(raw, dict) else None
        if not isinstance(slots_raw, dict):
            continue
        slots = []
        for slot in intent.slots:
            sraw = slots_raw.get(slot.name)
            if isinstance(sraw, dict) and sraw.get("give_up") is not None:
                path = ("intents", name, "slots", slot.name, "give_up")
                slot = replace(slot, give_up=compile_handler(ctx, sraw["give_up"], path,
                                                             commands, actions))
            slots.append(slot)
        intents[name] = replace(intent, slots=tuple(slots))


def _settings(ctx: Ctx, data: dict[str, Any]) -> tuple[float, float]:
    settings = ctx.mapping(data.get("settings"), ("settings",), "settings")
    ctx.keys(settings, KEYS["settings"], ("settings",), "settings")
    threshold = settings.get("threshold", 0.5)
    if not isinstance(threshold, int | float) or not 0 < threshold <= 1:
        ctx.error(("settings", "threshold"), "threshold must be a number in (0, 1]")
        threshold = 0.5
    margin = settings.get("ambiguity_margin", 0.0)
    if not isinstance(margin, int | float) or isinstance(margin, bool) or not 0 <= margin < 1:
        ctx.error(("settings", "ambiguity_margin"), "ambiguity_margin must be a number in [0, 1)")
        margin = 0.0
    return float(threshold), float(margin)


def _recognizer_kind(ctx: Ctx, data: dict[str, Any]) -> str:
    """``settings.recognizer``: ``matcher`` (the default) or ``learned`` (issue 15)."""
    settings = data.get("settings")
    kind = settings.get("recognizer", "matcher") if isinstance(settings, dict) else "matcher"
    if kind not in ("matcher", "learned"):
        ctx.error(("settings", "recognizer"), "recognizer must be 'matcher' or 'learned'")
        return "matcher"
    return str(kind)


def _everyday_values(ctx: Ctx, intents: dict[str, IntentDef], entities: dict[str, Any]) -> None:
    """Warn about list values that are ordinary words of the examples (issue 15)."""
    from dialoghub.nlu.lint import everyday_values

    specs = [IntentSpec(i.name, i.examples) for i in intents.values()]
    for entity, _, said in everyday_values(specs, entities.values()):
        ctx.warn(
            ("entities", entity), 0,
            f"value {said!r} of entity {entity!r} is also a word of the examples: it matches"
            " that word wherever it is written (case_sensitive: true, or settings.recognizer:"
            " learned, which reads it from its context)",
        )  # fmt: skip


def _actions(ctx: Ctx, data: dict[str, Any], commands: Any) -> Actions:
    actions: Actions = {}
    for name, steps in ctx.mapping(data.get("actions"), ("actions",), "actions").items():
        actions[name] = (steps, ("actions", name))
    for steps, path in actions.values():
        # compiled once on their own so that a list nobody runs is still checked
        CodeBuilder(ctx, commands, actions).steps(steps, path)
    return actions


def compile_model(
    loc: Located,
    recognizer_factory: Callable[..., Any],  # (intents, entities, threshold[, kind])
    functions: Any = None,
) -> tuple[Model | None, list[Problem]]:
    """Compile located data into a Model; returns (None, problems) if anything is wrong.

    An XState machine compiles into a statechart model (:mod:`.chart_model`), with the
    guards and actions the application registered in ``functions`` (an
    ``engine.chart.Registry``)."""
    # Imported here: the XState compiler is large, and most processes load no machine.
    from dialoghub.model.chart_model import compile_chart_model, looks_like_xstate

    if looks_like_xstate(loc.data):
        return compile_chart_model(loc, recognizer_factory, functions)
    from dialoghub.model.chart_dialog import compile_nested_model, has_nested_states

    if has_nested_states(loc.data):  # nested or parallel states: the statechart runtime
        return compile_nested_model(loc, recognizer_factory, functions)
    ctx = Ctx(loc)
    data = loc.data
    if not isinstance(data, dict):
        ctx.error((), f"a model must be a mapping at the top, not {type(data).__name__}")
        return None, ctx.problems
    ctx.keys(data, KEYS["model"], (), "the model")
    model_id = ctx.string(data.get("id"), ("id",), "the model 'id'")
    if model_id and not _ID.fullmatch(model_id):
        ctx.error(("id",), f"model id {model_id!r} may use letters, digits, '_' and '-' only")
    version = str(data.get("version", "1"))
    entities = compile_entities(ctx, data.get("entities"))
    intents = compile_intents(ctx, data.get("intents"), entities)
    commands = compile_commands(ctx, data.get("commands"))
    events = set(ctx.strings(data.get("events", []), ("events",), "events"))
    threshold, margin = _settings(ctx, data)
    lifetime = _lifetime(ctx, data)
    sample_rate = data.get("sample_rate", 16000)
    if not isinstance(sample_rate, int) or isinstance(sample_rate, bool) or sample_rate <= 0:
        ctx.error(("sample_rate",), "sample_rate must be a positive integer (Hz)")
        sample_rate = 16000
    if not isinstance(data.get("wake_word", False), bool):
        ctx.error(("wake_word",), "wake_word must be true or false")
    if not isinstance(data.get("restart_on_request", False), bool):
        ctx.error(("restart_on_request",), "restart_on_request must be true or false")
    actions = _actions(ctx, data, commands)
    _give_ups(ctx, data, intents, commands, actions)
    global_intents = _globals(ctx, data, intents, commands, actions)
    give_up = compile_handler(ctx, data.get("give_up"), ("give_up",), commands, actions)
    max_tries = _max_tries(ctx, data)
    listens = set(intents) | events

    raw_states = ctx.mapping(data.get("states"), ("states",), "states")
    first = data.get("start", next(iter(raw_states), None))
    story = story_states(ctx, data, first if isinstance(first, str) else None)
    if not raw_states and not story:
        ctx.error(("states",) if "states" in data else (), "the model has no states")
    states = {
        n: compile_state(ctx, n, s, (n,), commands, listens, actions, do_path=(n,))
        for n, s in story.items()
    }
    for n, s in raw_states.items():
        states[n] = compile_state(ctx, n, s, ("states", n), commands, listens, actions)
    main_loops(ctx, states, "main" in story)
    if "start" in data:
        start = data["start"]
        ctx.target(start, ("start",))
    else:
        start = next(iter(states), None)
    default_state = data.get("default_state")
    if default_state is not None:
        ctx.target(default_state, ("default_state",))
    handlers = {
        key: compile_handler(ctx, data.get(key), (key,), commands, actions)
        for key in ("no_match", "not_allowed", "ambiguous", "command_error")
    }

    units: dict[str, Unit] = {}
    raw_units = ctx.mapping(data.get("units"), ("units",), "units")
    for name, raw in raw_units.items():
        if name == MAIN:
            ctx.error(("units", name), f"'{MAIN}' is the unit the top-level states form")
            continue
        unit = compile_unit(ctx, name, raw, commands, listens, actions)
        if unit is not None:
            units[name] = unit
    main = Unit(MAIN, str(start), states)
    all_units = {MAIN: main, **units}

    for unit in all_units.values():
        for sname, state in unit.states.items():
            for g in sorted(state.globals or ()):
                if g not in global_intents:
                    spath: tuple[str, ...] = (sname,) if sname in story else ("states", sname)
                    if unit.name != MAIN:
                        spath = ("units", unit.name, "states", sname)
                    ctx.error((*spath, "global"), f"{g!r} is not a global intent of this model"
                              + (closest(g, global_intents) if global_intents else ""))
    for path, unit_name, target in ctx.targets:
        scope = all_units[unit_name].states if unit_name in all_units else {}
        if target not in scope and unit_name in all_units:
            hint = closest(target, scope) if scope else ""
            where = "" if unit_name == MAIN else f" in unit {unit_name!r}"
            ctx.error_in(path, 0, f"no state {target!r}{where}{hint}")
    for path, unit_name in ctx.calls:
        if unit_name not in raw_units or unit_name == MAIN:  # (a broken unit is reported once)
            hint = closest(unit_name, units) if units else "; declare it under 'units'"
            ctx.error_in(path, 0, f"no unit {unit_name!r}{hint}")
    if all(t in all_units[u].states for _, u, t in ctx.targets if u in all_units):
        # (else states would look unreachable by cascade)
        roots = [h.target for h in handlers.values() if h is not None and h.target]
        roots += [h.target for h in global_intents.values() if h.target]
        roots += [give_up.target] if give_up is not None and give_up.target else []
        roots += [s.give_up.target for i in intents.values() for s in i.slots
                  if s.give_up is not None and s.give_up.target]
        check_reachable(ctx, main, roots)
        for unit in units.values():
            check_reachable(ctx, unit, [], ("units", unit.name))
    analyse(
        ctx.error,
        units={n: u.states for n, u in all_units.items() if u.python is None},
        intents=intents,
        commands=commands,
        templates=ctx.template_uses,
        handlers=[*handlers.values(), *global_intents.values(), give_up,
                  *(s.give_up for i in intents.values() for s in i.slots)],
        code_units=[n for n, u in all_units.items() if u.python is not None],
        report_at=ctx.error_in,
        state_path=lambda u, n: (
            ((n,) if n in story else ("states", n)) if u == MAIN else ("units", u, "states", n)
        ),
    )
    blank_templates(ctx.warn, ctx.template_uses, intents, commands)
    recognizer_kind = _recognizer_kind(ctx, data)  # issue 15
    if recognizer_kind == "matcher":
        _everyday_values(ctx, intents, entities)
    problems = _unique(ctx.problems)
    if problems or model_id is None or start is None:
        return None, problems
    recognizer = recognizer_factory(
        [
            IntentSpec(i.name, i.examples, {s.name: s.entity for s in i.slots})
            for i in intents.values()
        ],
        list(entities.values()),
        threshold,
        # A factory of three arguments keeps working for models that do not ask.
        *(() if recognizer_kind == "matcher" else (recognizer_kind,)),
    )
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
        unit=MAIN,
        language=str(data.get("language", "en-US")),
        sample_rate=sample_rate,
        description=str(data.get("description", "")),
        default_state=default_state,
        lifetime=lifetime,
        no_match=handlers["no_match"],
        not_allowed=handlers["not_allowed"],
        command_error=handlers["command_error"],
        ambiguous=handlers["ambiguous"],
        ambiguity_margin=margin,
        wake_word=data.get("wake_word", False) is True,
        restart_on_request=data.get("restart_on_request", False) is True,
        source=loc.file,
        units=all_units,
        globals=global_intents,
        max_tries=max_tries,
        give_up=give_up,
        warnings=tuple(_unique(ctx.warnings)),
    )
    return model, []


def _unique(problems: list[Problem]) -> list[Problem]:
    """Problems in file order, each once (an action list run twice reports its problem once)."""
    seen: set[tuple[Any, ...]] = set()
    out = []
    for p in problems:
        key = (p.line, p.column, p.message)
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out
