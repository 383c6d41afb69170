"""Compiling the vocabulary of a model: entities, intents with their slots, and commands."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlparse

from dialoghub.model.compile_ctx import Ctx
from dialoghub.model.compile_ctx import kind as kind_of
from dialoghub.model.keys import KEYS
from dialoghub.model.source import Path
from dialoghub.model.spec import CommandSpec, Confirm, IntentDef, SlotSpec, Webhook
from dialoghub.nlu.types import EntityKind, EntitySpec, EntityValue

__all__ = ["BUILTIN_ENTITIES", "compile_commands", "compile_entities", "compile_intents"]

# ``{slot}``, or ``{slot=value}``: a placeholder with the value a user said (issue 15).
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?:=[^{}]*)?\}")

#: Entities every model has without declaring them (the recognizer knows how to find them).
BUILTIN_ENTITIES = {"number": EntityKind.NUMBER, "time": EntityKind.TIME}


def compile_entities(ctx: Ctx, raw: Any) -> dict[str, EntitySpec]:
    out: dict[str, EntitySpec] = {}
    for name, spec in ctx.mapping(raw, ("entities",), "entities").items():
        path: Path = ("entities", name)
        if isinstance(spec, list):
            spec = {"values": spec}
        if not isinstance(spec, dict):
            ctx.error(path, f"entity {name!r} must be a list of values or a mapping")
            continue
        ctx.keys(spec, KEYS["entity"], path, f"entity {name!r}")
        kind = spec.get("type", "regex" if "pattern" in spec else "list")
        if kind not in {k.value for k in EntityKind}:
            ctx.error(
                (*path, "type"),
                f"unknown entity type {kind!r}; use list, regex, number, time or text",
            )
            continue
        values: list[EntityValue] = []
        raw_values = spec.get("values") or []
        if not isinstance(raw_values, list):
            ctx.error((*path, "values"), f"values must be a list, not {kind_of(raw_values)}")
            raw_values = []
        for i, item in enumerate(raw_values):
            vpath: Path = (*path, "values", i)
            if isinstance(item, str | int | float) and not isinstance(item, bool):
                values.append(EntityValue(str(item)))
            elif isinstance(item, dict) and "value" in item:
                ctx.keys(item, KEYS["entity_value"], vpath, "an entity value")
                syn = ctx.strings(item.get("synonyms", []), (*vpath, "synonyms"), "synonyms")
                cased = None  # case_sensitive of one value (issue 15); None: the entity's
                if "case_sensitive" in item:
                    cased = ctx.boolean(
                        item["case_sensitive"], (*vpath, "case_sensitive"), "case_sensitive"
                    )
                values.append(EntityValue(str(item["value"]), tuple(syn), cased))
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
        is_open = False
        if "open" in spec:
            is_open = ctx.boolean(spec["open"], (*path, "open"), "open")
            if is_open and kind != "list":
                ctx.error((*path, "open"), "only a list entity can be open (take other values)")
        cased = False  # case_sensitive values (issue 15)
        if "case_sensitive" in spec:
            cased = ctx.boolean(spec["case_sensitive"], (*path, "case_sensitive"), "case_sensitive")
        out[name] = EntitySpec(
            name, EntityKind(kind), tuple(values), pattern, open=is_open, case_sensitive=cased
        )
    return out


def compile_confirm(ctx: Ctx, raw: Any, path: Path, *, targets: bool) -> Confirm | None:
    """``confirm``: a question text, or {ask, yes, no} (targets only on states)."""
    if isinstance(raw, str):
        if targets:
            ctx.error(path, "a state's confirm is {ask: question, yes: state, no: state}")
            return None
        tmpl = ctx.template(raw, path)
        return Confirm(tmpl) if tmpl is not None else None
    data = ctx.mapping(raw, path, "confirm")
    ctx.keys(data, KEYS["confirm"] if targets else {"ask"}, path, "confirm")
    if "ask" not in data:
        ctx.error(path, "confirm needs 'ask' (the yes/no question)")
        return None
    tmpl = ctx.template(data["ask"], (*path, "ask"))
    yes = no = None
    if targets:
        for key in ("yes", "no"):
            if key not in data:
                ctx.error(path, f"a state's confirm needs '{key}' (the state to go to)")
        yes = ctx.target(data["yes"], (*path, "yes")) if "yes" in data else None
        no = ctx.target(data["no"], (*path, "no")) if "no" in data else None
    return Confirm(tmpl, yes, no) if tmpl is not None else None


def _slot(ctx: Ctx, slot: str, sspec: Any, spath: Path, entities: dict[str, EntitySpec]) -> Any:
    if isinstance(sspec, str):
        sspec = {"entity": sspec}
    if not isinstance(sspec, dict):
        ctx.error(spath, "a slot is an entity name or {entity, required, prompt}")
        return None
    ctx.keys(sspec, KEYS["slot"], spath, f"slot {slot!r}")
    entity = sspec.get("entity", slot)
    if not isinstance(entity, str):
        ctx.error((*spath, "entity"), f"entity must be a name, not {kind_of(entity)}")
    elif entity not in entities and entity not in BUILTIN_ENTITIES:
        ctx.error(spath, f"slot {slot!r} uses unknown entity {entity!r}")
    required = sspec.get("required", False)
    if not isinstance(required, bool):
        ctx.error((*spath, "required"), "required must be true or false")
    prompt = sspec.get("prompt")
    wordings = ctx.templates(prompt, (*spath, "prompt")) if prompt is not None else []
    if required is True and prompt is None:
        ctx.error(spath, f"required slot {slot!r} needs a 'prompt' to ask for it")
    first = wordings[0] if wordings else None
    carry = ctx.boolean(sspec["carry"], (*spath, "carry"), "carry") if "carry" in sspec else False
    tries = sspec.get("tries")
    if tries is not None and (not isinstance(tries, int) or isinstance(tries, bool) or tries < 1):
        ctx.error((*spath, "tries"), f"tries must be a whole number >= 1, not {tries!r}")
        tries = None
    # give_up is compiled by the model compiler, once commands and actions are known
    return SlotSpec(slot, str(entity), required is True, first, tuple(wordings[1:]),
                    carry=carry, tries=tries)


def compile_intents(ctx: Ctx, raw: Any, entities: dict[str, EntitySpec]) -> dict[str, IntentDef]:
    out: dict[str, IntentDef] = {}
    for name, spec in ctx.mapping(raw, ("intents",), "intents").items():
        path: Path = ("intents", name)
        if isinstance(spec, list | str):
            spec = {"examples": spec}
        if not isinstance(spec, dict):
            ctx.error(path, f"intent {name!r} must be a list of examples or a mapping")
            continue
        ctx.keys(spec, KEYS["intent"], path, f"intent {name!r}")
        examples = ctx.strings(spec.get("examples"), (*path, "examples"), "examples")
        if not examples:
            ctx.error(path, f"intent {name!r} has no examples")
        slots: dict[str, SlotSpec] = {}
        for slot, sspec in ctx.mapping(spec.get("slots"), (*path, "slots"), "slots").items():
            compiled = _slot(ctx, slot, sspec, (*path, "slots", slot), entities)
            if compiled is not None:
                slots[slot] = compiled
        for i, example in enumerate(examples):
            for placeholder in _PLACEHOLDER.findall(example):
                if placeholder in slots:
                    continue
                if placeholder in entities or placeholder in BUILTIN_ENTITIES:
                    slots[placeholder] = SlotSpec(placeholder, placeholder)  # implicit slot
                else:
                    ctx.error(
                        (*path, "examples", i),
                        f"placeholder {{{placeholder}}} is neither a slot nor an entity",
                    )
        confirm = None
        if spec.get("confirm") is not None:
            confirm = compile_confirm(ctx, spec["confirm"], (*path, "confirm"), targets=False)
        interrupt = None
        if spec.get("interrupt") is not None:
            interrupt = ctx.call(spec["interrupt"], (*path, "interrupt"))
        out[name] = IntentDef(name, tuple(examples), tuple(slots.values()), confirm, interrupt)
    return out


def _webhook(ctx: Ctx, raw: Any, path: Path) -> Webhook | None:
    if isinstance(raw, str):
        raw = {"url": raw}
    data = ctx.mapping(raw, path, "webhook")
    ctx.keys(data, KEYS["webhook"], path, "webhook")
    url = ctx.string(data.get("url"), (*path, "url"), "webhook url")
    if url is not None and (
        urlparse(url).scheme not in ("http", "https") or not urlparse(url).netloc
    ):
        ctx.error((*path, "url"), f"webhook url {url!r} must be an http:// or https:// URL")
        url = None
    timeout = 10.0
    if "timeout" in data:
        timeout = ctx.number(data["timeout"], (*path, "timeout"), "webhook timeout") or 10.0
    follow = False
    if "follow_redirects" in data:
        follow = ctx.boolean(
            data["follow_redirects"], (*path, "follow_redirects"), "webhook follow_redirects"
        )
    return Webhook(url, timeout, follow) if url is not None else None


def compile_commands(ctx: Ctx, raw: Any) -> dict[str, CommandSpec]:
    out: dict[str, CommandSpec] = {}
    for name, spec in ctx.mapping(raw, ("commands",), "commands").items():
        path: Path = ("commands", name)
        spec = ctx.mapping(spec, path, f"command {name!r}") if spec is not None else {}
        ctx.keys(spec, KEYS["command"], path, f"command {name!r}")
        inputs = ctx.strings(spec.get("inputs", []), (*path, "inputs"), "inputs")
        outputs = ctx.strings(spec.get("outputs", []), (*path, "outputs"), "outputs")
        webhook = _webhook(ctx, spec["webhook"], (*path, "webhook")) if "webhook" in spec else None
        out[name] = CommandSpec(name, tuple(inputs), tuple(outputs), webhook)
    return out
