"""Compiling ``do`` lists (and handlers) into flat instruction lists.

``if``/``then``/``else`` and ``switch`` become conditional jumps, so where a session paused
(for a command result or an answer) is one integer that survives storage and replay. Named
action lists (``{run: name}``) are expanded in place: they cost nothing at run time, and a
list that runs itself is reported as a loop.
"""

from __future__ import annotations

from typing import Any

from dialoghub.model.compile_ctx import Ctx, closest, kind
from dialoghub.model.keys import KEYS, STEP_VERBS
from dialoghub.model.source import Path
from dialoghub.model.spec import (
    Branch,
    Call,
    Clear,
    CommandSpec,
    End,
    Goto,
    Handler,
    Instruction,
    Jump,
    Listen,
    Return,
    RunCommand,
    Say,
    SetVar,
    Transcribe,
)

__all__ = ["Actions", "CodeBuilder", "compile_handler"]

#: named action lists: name -> (raw steps, where they are defined)
Actions = dict[str, tuple[Any, Path]]


class CodeBuilder:
    """Compiles a ``do`` list (with nested if/switch and named action lists) into instructions."""

    def __init__(self, ctx: Ctx, commands: dict[str, CommandSpec], actions: Actions) -> None:
        self.ctx = ctx
        self.commands = commands
        self.actions = actions
        self.code: list[Instruction | None] = []
        self.running: list[str] = []  # action lists being expanded, to catch loops

    def build(self, steps: Any, path: Path) -> tuple[Instruction, ...]:
        self.steps(steps, path)
        # every placeholder left by branch() and switch() has been patched by now
        return tuple(i for i in self.code if i is not None)

    def build_parts(
        self, data: dict[str, Any], path: Path, do_path: Path | None = None
    ) -> tuple[Instruction, ...]:
        """A state's or handler's code: its 'say', then its 'do' steps, each at its own path."""
        if "say" in data:
            self.step({"say": data["say"]}, path)
        if "do" in data:
            self.steps(data["do"], do_path or (*path, "do"))
        return tuple(i for i in self.code if i is not None)

    def steps(self, steps: Any, path: Path) -> None:
        if isinstance(steps, dict):
            steps = [steps]
        if not isinstance(steps, list):
            self.ctx.error(path, f"'do' must be a list of steps, not {kind(steps)}")
            return
        for i, step in enumerate(steps):
            self.step(step, (*path, i))

    def step(self, step: Any, path: Path) -> None:
        ctx = self.ctx
        if not isinstance(step, dict) or not step:
            ctx.error(path, "a step is a mapping such as {say: ...}, {command: ...}, {set: ...}")
            return
        verbs = [k for k in step if k in STEP_VERBS]
        if len(verbs) != 1:
            what = "no step verb" if not verbs else f"several verbs {verbs}"
            ctx.error(path, f"{what}; a step has exactly one of {sorted(STEP_VERBS)}")
            return
        verb = verbs[0]
        ctx.keys(step, {verb, *STEP_VERBS[verb]}, path, f"a {verb!r} step")
        arg = step[verb]
        vpath: Path = (*path, verb)
        if verb == "say":
            for tmpl in ctx.templates(arg, vpath):
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
            self.code.append(End(arg if isinstance(arg, str) else "dialog ended"))
        elif verb == "transcribe":
            variable = ctx.string(arg, vpath, "transcribe (a variable name)")
            if variable:
                self.code.append(Transcribe(variable))
        elif verb == "if":
            self.branch(step, path)
        elif verb == "switch":
            self.switch(arg, vpath)
        elif verb == "ask":
            extra = {k: step[k] for k in ("timeout", "retries", "then") if k in step}
            prompt = ctx.prompt(arg, vpath, extra) if not isinstance(arg, dict) else None
            if isinstance(arg, dict):
                ctx.error(vpath, "an 'ask' step is a text or a list of wordings")
            if prompt is not None:
                self.code.append(Listen(prompt))
        elif verb == "listen":
            if arg is not True:
                ctx.error(vpath, "write 'listen: true' to wait for the user here")
            self.code.append(Listen(None))
        elif verb == "run":
            self.run(arg, vpath)
        elif verb == "call":
            unit = ctx.call(arg, vpath)
            if unit:
                self.code.append(Call(unit))
        elif verb == "return":
            self.code.append(Return())

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
                f"unknown command {name!r}{closest(name, self.commands)}"
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

    def run(self, arg: Any, path: Path) -> None:
        name = self.ctx.string(arg, path, "run (the name of an action list)")
        if name is None:
            return
        if name not in self.actions:
            hint = closest(name, self.actions) if self.actions else "; declare it under 'actions'"
            self.ctx.error(path, f"no action list {name!r}{hint}")
            return
        if name in self.running:
            chain = " -> ".join([*self.running, name])
            self.ctx.error(path, f"action list {name!r} runs itself ({chain})")
            return
        steps, where = self.actions[name]
        self.running.append(name)
        self.steps(steps, where)
        self.running.pop()

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
        self.code[at] = Branch(cond, else_start) if cond is not None else Jump(else_start)

    def switch(self, cases: Any, path: Path) -> None:
        """``switch: [{when: c1, do: ...}, {when: c2, do: ...}, {else: ...}]``: first match wins."""
        if not isinstance(cases, list) or not cases:
            self.ctx.error(path, "switch takes a list of {when: condition, do: steps}, then {else}")
            return
        ends: list[int] = []  # jumps to patch to the end of the switch
        for i, case in enumerate(cases):
            cpath: Path = (*path, i)
            data = self.ctx.mapping(case, cpath, "a switch case")
            self.ctx.keys(data, KEYS["case"], cpath, "a switch case")
            if "else" in data:
                if set(data) != {"else"}:
                    self.ctx.error(cpath, "the default case is only {else: steps}")
                if i != len(cases) - 1:
                    self.ctx.error(cpath, "the {else: ...} case must come last")
                self.steps(data["else"], (*cpath, "else"))
                continue
            if "when" not in data or "do" not in data:
                self.ctx.error(cpath, "a switch case needs 'when' and 'do'")
                continue
            cond = self.ctx.condition(data["when"], (*cpath, "when"))
            at = len(self.code)
            self.code.append(None)
            self.steps(data["do"], (*cpath, "do"))
            ends.append(len(self.code))
            self.code.append(None)
            nxt = len(self.code)
            self.code[at] = Branch(cond, nxt) if cond is not None else Jump(nxt)
        for at in ends:
            self.code[at] = Jump(len(self.code))


def compile_handler(
    ctx: Ctx, raw: Any, path: Path, commands: dict[str, CommandSpec], actions: Actions
) -> Handler | None:
    """A handler: a text to say, or {say, do, goto}."""
    if raw is None:
        return None
    if isinstance(raw, str | list):
        raw = {"say": raw}
    data = ctx.mapping(raw, path, "a handler")
    ctx.keys(data, KEYS["handler"], path, "a handler")
    code = CodeBuilder(ctx, commands, actions).build_parts(data, path)
    target = ctx.target(data["goto"], (*path, "goto")) if "goto" in data else None
    return Handler(code, target)
