"""XState guards (v5 ``guard``, v4 ``cond`` and ``in``, the built-in helpers) and actions
(named, ``xstate.assign``, ``xstate.raise``, ``xstate.log``).

Part of the XState compiler's chain (:mod:`dialoghub.model.xstate_base` draws it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeGuard

from dialoghub.model.chart import (
    AND,
    ASSIGN,
    BUILTIN_PREFIX,
    CONDITION,
    LOG,
    RAISE,
    STATE_IN,
    Ref,
    is_builtin,
)
from dialoghub.model.conditions import Condition, ConditionError
from dialoghub.model.source import Path
from dialoghub.model.xstate_base import GUARD_ARGS, XSTATE_ACTIONS, RawNode, hint, kind_of
from dialoghub.model.xstate_targets import TargetsPart

__all__ = ["BehaviourPart"]


class BehaviourPart(TargetsPart):
    """XState guards (v5 ``guard``, v4 ``cond`` and ``in``, the built-in helpers) and actions"""

    def transition_guard(self, raw: RawNode, item: Mapping[str, Any], path: Path) -> Ref | None:
        if self.dialect == "v5":
            if "guard" not in item:
                return None
            return self.guard(item["guard"], (*path, "guard"))
        cond = self.cond(item["cond"], (*path, "cond")) if "cond" in item else None
        if "in" not in item:
            return cond
        ipath: Path = (*path, "in")
        value = item["in"]
        if isinstance(value, str) and value.startswith("#"):
            found = self.by_id(value, ipath)
            ids = [found] if found is not None else None
        else:
            base = self.by_path[raw.keys[:-2]] if len(raw.keys) >= 2 else self.machine_id
            ids = self.state_value(self.nodes[base], value, ipath, "'in'")
        if ids is None:
            return None
        state = self.state_in(ids, ipath)
        if cond is None:
            return state
        return Ref(AND, {"guards": [state, cond]}, self.line(ipath))

    def state_in(self, ids: list[str], path: Path) -> Ref:
        line = self.line(path)
        refs = [Ref(STATE_IN, {"state": i}, line) for i in ids]
        return refs[0] if len(refs) == 1 else Ref(AND, {"guards": refs}, line)

    def named(self, name: Any, path: Path, what: str) -> str | None:
        if not isinstance(name, str) or not name:
            self.bad(path, f"XState {what} must be a name (a string) or {{type, params}}: "
                     "functions do not survive JSON")  # fmt: skip
            return None
        if is_builtin(name):
            self.bad(
                path,
                f"XState built-in guard {name!r} is written as an object ({{type: "
                f"{name!r}, params: {{...}}}})"
                if name[len(BUILTIN_PREFIX) :] in GUARD_ARGS
                else f"XState built-in guard {name!r} is not supported (supported: "
                "xstate.stateIn, xstate.and, xstate.or, xstate.not, written as objects)",
            )
            return None
        if name not in self.guards:
            known = ", ".join(sorted(self.guards)) or "none"
            self.bad(path, f"XState guard {name!r} is not implemented: the application registers"
                     f" it (registered guards: {known}){hint(name, self.guards)}")  # fmt: skip
            return None
        return name

    def guard(self, g: Any, path: Path) -> Ref | None:
        """A v5 guard."""
        if isinstance(g, str):
            name = self.named(g, path, "'guard'")
            return Ref(name, {}, self.line(path)) if name else None
        if not isinstance(g, Mapping):
            self.named(g, path, "'guard'")
            return None
        kind = g.get("type")
        line = self.line(path)
        if self.conditions and kind == CONDITION:
            return self.condition(g, path)
        if self.builtin_guard(kind):
            kind = kind.removeprefix("xstate.")
            found = self.builtin_args(g, path, kind)
            if found is None:
                return None
            value, vpath, key = found
            if kind == "stateIn":
                ids = self.state_value(self.nodes[self.machine_id], value, vpath, "'stateIn'")
                return self.state_in(ids, vpath) if ids is not None else None
            subs = [value] if key == "guard" else value
            if not isinstance(subs, list) or not subs:
                self.bad(vpath, f"XState {kind!r} guard needs 'guards': a list of guards")
                return None
            if kind == "not" and len(subs) != 1:
                self.bad(vpath, "XState 'not' guard takes one guard")
                return None
            refs = [
                self.guard(sub, vpath if key == "guard" else (*vpath, i))
                for i, sub in enumerate(subs)
            ]
            if any(r is None for r in refs):
                return None
            return Ref(BUILTIN_PREFIX + kind, {"guards": refs}, line)
        name = self.named(kind, (*path, "type"), "'guard' type")
        for k in g:
            if k not in ("type", "params"):
                self.bad((*path, k), f"XState v5 guard objects take 'type' and 'params', not "
                         f"{k!r}")  # fmt: skip
                name = None
        params: dict[str, Any] | None = {}
        if "params" in g:
            params = self.params(g["params"], (*path, "params"), "guard")
        if name is None or params is None:
            return None
        return Ref(name, params, line)

    def condition(self, g: Mapping[str, Any], path: Path) -> Ref | None:
        """A guard that is a condition of the model language, parsed now (its errors at its
        line), evaluated by the interpreter against the context and the event."""
        params = g.get("params")
        expr = params.get("expr") if isinstance(params, Mapping) else None
        if not isinstance(expr, str):
            self.bad(path, "a condition guard needs params.expr: a condition (a text)")
            return None
        try:
            Condition.parse(expr)
        except ConditionError as exc:
            self.bad((*path, "params", "expr"), f"bad condition {expr!r}: {exc}")
            return None
        return Ref(CONDITION, {"expr": expr}, self.line(path))

    def builtin_guard(self, kind: Any) -> TypeGuard[str]:
        """Whether a guard object's ``type`` is a built-in: always with the ``xstate.`` prefix
        (v5's helpers are ``xstate.and`` etc.), and unprefixed (``and``, ``stateIn``: the data
        spelling of ``and([...])``) unless the application registered a guard of that name,
        which then is its own."""
        if not isinstance(kind, str):
            return False
        if kind.startswith(BUILTIN_PREFIX):
            return kind[len(BUILTIN_PREFIX) :] in GUARD_ARGS
        return kind in GUARD_ARGS and kind not in self.guards

    def builtin_args(
        self, g: Mapping[str, Any], path: Path, kind: str
    ) -> tuple[Any, Path, str] | None:
        """The argument of a built-in guard, written beside ``type`` or in its ``params``."""
        names = GUARD_ARGS[kind]
        spelled = " or ".join(map(repr, names))
        params = g.get("params", {})
        if not isinstance(params, Mapping):
            self.bad((*path, "params"), f"XState {kind!r} guard 'params' must be a mapping")
            return None
        found: tuple[Any, Path, str] | None = None
        for where, data in ((path, g), ((*path, "params"), params)):
            for k in data:
                if k in names and found is None:
                    found = (data[k], (*where, k), k)
                elif k not in names and not (data is g and k in ("type", "params")):
                    self.bad((*where, k), f"XState {kind!r} guard takes {spelled}, not {k!r}")
                    return None
        if found is None:
            self.bad(path, f"XState {kind!r} guard needs {spelled}")
        return found

    def cond(self, c: Any, path: Path) -> Ref | None:
        """A v4 guard (``cond``)."""
        if isinstance(c, str):
            name = self.named(c, path, "'cond'")
            return Ref(name, {}, self.line(path)) if name else None
        if not isinstance(c, Mapping):
            self.named(c, path, "'cond'")
            return None
        if c.get("type") in GUARD_ARGS and c["type"] not in self.guards:
            self.bad((*path, "type"), f"XState v4 has no built-in {c['type']!r} guard (it is "
                     "v5's)")  # fmt: skip
            return None
        name = self.named(c.get("type"), (*path, "type"), "'cond' type")
        rest = {k: v for k, v in c.items() if k != "type"}
        params = self.plain(rest, path, "'cond'")
        if name is None or params is None:
            return None
        return Ref(name, params, self.line(path))

    def action_list(self, value: Any, path: Path) -> tuple[Ref, ...]:
        items = value if isinstance(value, list) else [value]
        out = []
        for i, item in enumerate(items):
            ref = self.action(item, (*path, i) if isinstance(value, list) else path)
            if ref is not None:
                out.append(ref)
        return tuple(out)

    def action_name(self, name: Any, path: Path) -> str | None:
        if not isinstance(name, str) or not name:
            self.bad(path, f"an XState action is a name (a string) or {{type, params}}, not "
                     f"{kind_of(name)}: functions do not survive JSON")  # fmt: skip
            return None
        if name.startswith("xstate."):
            self.bad(path, f"XState built-in action {name!r} is not supported"
                     + ("" if name in XSTATE_ACTIONS else
                        " (supported: xstate.assign, xstate.raise, xstate.log, written as "
                        "objects)"))  # fmt: skip
            return None
        if self.strict and name not in self.actions:
            known = ", ".join(sorted(self.actions)) or "none"
            self.bad(
                path,
                f"XState action {name!r} is not implemented (strict: every action is "
                f"registered; registered actions: {known}){hint(name, self.actions)}",
            )
            return None
        return name

    def action(self, a: Any, path: Path) -> Ref | None:
        line = self.line(path)
        if isinstance(a, str) or not isinstance(a, Mapping):
            name = self.action_name(a, path)
            return Ref(name, {}, line) if name else None
        kind = a.get("type")
        if kind == "xstate.assign":
            return self.assign(a, path)
        if kind == "xstate.raise":
            return self.raise_(a, path)
        if kind == "xstate.log":
            return self.log(a, path)
        name = self.action_name(kind, (*path, "type"))
        if name is None and isinstance(kind, str) and kind.startswith("xstate."):
            return None  # one problem: the built-in is not supported
        if self.dialect == "v5":
            for k in a:
                if k not in ("type", "params"):
                    self.bad((*path, k), f"XState v5 action objects take 'type' and 'params', "
                             f"not {k!r}")  # fmt: skip
                    name = None
            params = self.params(a["params"], (*path, "params"), "action") if "params" in a \
                else {}  # fmt: skip
        else:
            params = self.plain({k: v for k, v in a.items() if k != "type"}, path, "action")
        if name is None or params is None:
            return None
        return Ref(name, params, line)

    def assign(self, a: Mapping[str, Any], path: Path) -> Ref | None:
        for k in a:
            if k not in ("type", "assignment"):
                self.bad((*path, k), f"XState 'xstate.assign' takes 'assignment' (context key: "
                         f"value), not {k!r}")  # fmt: skip
                return None
        value = a.get("assignment")
        if not isinstance(value, Mapping) or not value:
            self.bad((*path, "assignment") if "assignment" in a else path,
                     "XState 'xstate.assign' needs 'assignment': a mapping of context keys to "
                     "values (an assigner function does not survive JSON)")  # fmt: skip
            return None
        values = self.plain(value, (*path, "assignment"), "'assignment'")
        if values is None:
            return None
        return Ref(ASSIGN, {"assignments": values}, self.line(path))

    def raise_(self, a: Mapping[str, Any], path: Path) -> Ref | None:
        for k in a:
            if k not in ("type", "event"):
                self.bad(
                    (*path, k),
                    f"XState 'xstate.raise' takes 'event', not {k!r}"
                    + (" (delayed raise is not supported)" if k in ("delay", "id") else ""),
                )
                return None
        event = a.get("event")
        epath: Path = (*path, "event")
        if isinstance(event, str) and event:
            return Ref(RAISE, {"event": {"type": event}}, self.line(path))
        if isinstance(event, Mapping) and isinstance(event.get("type"), str) and event["type"]:
            copied = self.plain(event, epath, "raised event")
            if copied is None:
                return None
            return Ref(RAISE, {"event": copied}, self.line(path))
        self.bad(epath if "event" in a else path, "XState 'xstate.raise' needs 'event': an "
                 "event type or {type, ...}")  # fmt: skip
        return None

    def log(self, a: Mapping[str, Any], path: Path) -> Ref | None:
        params: dict[str, Any] = {}
        for k in a:
            if k == "type":
                continue
            if k not in ("label", "expr"):
                self.bad((*path, k), f"XState 'xstate.log' takes 'label' and 'expr', not {k!r}")
                return None
            if not isinstance(a[k], str):
                self.bad((*path, k), f"XState 'xstate.log' {k!r} must be a string: functions "
                         "do not survive JSON")  # fmt: skip
                return None
            params["value" if k == "expr" else k] = a[k]
        return Ref(LOG, params, self.line(path))
