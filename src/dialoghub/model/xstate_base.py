"""The shared ground of the XState compiler (:mod:`dialoghub.model.xstate_chart`).

The compiler reads a machine in one pass over a node table, with one dialect and one list of
problems; it is a chain of classes, each adding one part of XState's vocabulary to the one
below: :class:`CompilerBase` here (the node table, problems with their lines, plain data),
:mod:`~dialoghub.model.xstate_targets` (state paths and ids),
:mod:`~dialoghub.model.xstate_behaviour` (guards and actions),
:mod:`~dialoghub.model.xstate_transitions` (``on``, ``always``, ``invoke``, ``after``),
:mod:`~dialoghub.model.xstate_nodes` (each state's details) and the compiler itself in
:mod:`~dialoghub.model.xstate_chart`. This module also holds the key tables every part checks
against and the helpers that read JavaScript-shaped data.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from dialoghub.errors import Problem
from dialoghub.model.chart import (
    DONE_INVOKE_PREFIX,
    DONE_STATE_PREFIX,
    ERROR_PREFIX,
    Delayed,
    Invoke,
    Kind,
    Ref,
    Transition,
)
from dialoghub.model.source import Located, Path

__all__ = [
    "ARRAY_INDEX",
    "GUARD_ARGS",
    "INVOKE_KEYS",
    "JS_NUMBER",
    "KINDS",
    "KIND_KEYS",
    "NODE_KEYS",
    "ROOT_KEYS",
    "TRANSITION_KEYS",
    "UNSUPPORTED_INVOKE",
    "UNSUPPORTED_NODE",
    "V4_AFTER",
    "V4_EVENTS",
    "XSTATE_ACTIONS",
    "CompilerBase",
    "Dialect",
    "RawNode",
    "as_list",
    "copy_plain",
    "hint",
    "is_index",
    "is_json",
    "js_keys",
    "kind_of",
]  # fmt: skip

Dialect = Literal["v4", "v5"]

KINDS = ("atomic", "compound", "parallel", "final", "history")

#: keys of a state node (either version); the root also takes ROOT_KEYS
NODE_KEYS = frozenset({
    "id", "type", "states", "initial", "on", "entry", "exit", "onEntry", "onExit", "always",
    "after", "onDone", "invoke", "meta", "tags", "description", "history", "target", "output",
    "data", "parallel",
})  # fmt: skip
ROOT_KEYS = frozenset({
    "context", "version", "types", "schemas", "schema", "tsTypes",
    "predictableActionArguments", "preserveActionOrder", "strict",
})  # fmt: skip
#: XState features that exist but are not supported, with why
UNSUPPORTED_NODE = {
    "activities": "XState v4 'activities' are functions started and stopped with a state; "
    "they do not survive JSON (use 'invoke' with a service name)",
    "route": "XState v5 'route' transitions are not supported",
    "delimiter": "XState v4 'delimiter' (another path separator than '.') is not supported",
    "key": "XState v4 'key' (a state key other than its name in 'states') is not supported",
    "order": "XState 'order' is computed from the document, not written",
    "parent": "XState 'parent' is set by XState itself, not written",
    "options": "XState v5 machine 'options' are not supported",
}
TRANSITION_KEYS = frozenset({
    "target", "actions", "description", "meta", "guard", "reenter", "cond", "in", "internal",
})  # fmt: skip
INVOKE_KEYS = frozenset({"id", "src", "input", "data", "onDone", "onError"})
UNSUPPORTED_INVOKE = {
    "onSnapshot": "XState v5 'invoke.onSnapshot' is not supported",
    "systemId": "XState v5 'invoke.systemId' is a name (a string)",
    "autoForward": "XState v4 'invoke.autoForward' is not supported",
    "forward": "XState v4 'invoke.forward' is not supported",
}
#: keys only a state of the given kind may have
KIND_KEYS: dict[str, frozenset[str]] = {
    "history": frozenset({"id", "type", "history", "target", "description", "meta"}),
    "final": frozenset({
        "id", "type", "entry", "exit", "onEntry", "onExit", "meta", "tags", "description",
        "output", "data",
    }),
}  # fmt: skip
XSTATE_ACTIONS = frozenset({"xstate.assign", "xstate.raise", "xstate.log"})
#: v5's guard helpers as data, and the keys that carry their argument (beside ``type`` or in
#: ``params``; an ``xstate.`` prefix is allowed): ``{type: 'and', guards: [...]}``,
#: ``{type: 'not', params: {guard: g}}``, ``{type: 'stateIn', params: {state: '#id'}}``
GUARD_ARGS: dict[str, tuple[str, ...]] = {
    "and": ("guards",),
    "or": ("guards",),
    "not": ("guards", "guard"),
    "stateIn": ("state", "stateValue"),
}

ARRAY_INDEX = re.compile(r"0|[1-9][0-9]*")
JS_NUMBER = re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*")
#: v4's internal event names, written by hand in a v4 ``on``, and their v5 spelling
V4_EVENTS = (
    ("done.state.", DONE_STATE_PREFIX),
    ("done.invoke.", DONE_INVOKE_PREFIX),
    ("error.platform.", ERROR_PREFIX),
)
V4_AFTER = re.compile(r"xstate\.after\((.+)\)#(.+)")


def is_index(key: Any) -> bool:
    text = str(key) if isinstance(key, int) and not isinstance(key, bool) else key
    return isinstance(text, str) and bool(ARRAY_INDEX.fullmatch(text)) and int(text) < 2**32 - 1


def js_keys(data: Mapping[Any, Any]) -> list[Any]:
    """``Object.keys`` order: array-index keys ascending, then the others as written."""
    index = [k for k in data if is_index(k)]
    rest = [k for k in data if not is_index(k)]
    return sorted(index, key=int) + rest


def is_json(value: Any) -> bool:
    if value is None or isinstance(value, bool | int | float | str):
        return True
    if isinstance(value, list):
        return all(is_json(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and is_json(v) for k, v in value.items())
    return False


def copy_plain(value: Any) -> Any:
    if isinstance(value, list):
        return [copy_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: copy_plain(v) for k, v in value.items()}
    return value


def hint(word: str, options: Collection[str]) -> str:
    match = difflib.get_close_matches(word, sorted(options), n=1)
    return f"; did you mean {match[0]!r}?" if match else ""


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def kind_of(value: Any) -> str:
    if value is None:
        return "null"
    if callable(value):
        return "a function"
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), f"a {type(value).__name__}"
    )



@dataclass
class RawNode:
    """A state node once its place in the tree is known, before its details."""

    id: str
    key: str
    kind: Kind
    parent: str | None
    path: Path  # into the document
    keys: tuple[str, ...]  # state keys from the root
    config: Mapping[str, Any]
    order: int
    children: list[str] = field(default_factory=list)
    by_key: dict[str, str] = field(default_factory=dict)
    # filled in by the second pass
    initial: tuple[str, ...] = ()
    initial_actions: tuple[Ref, ...] = ()
    transitions: list[Transition] = field(default_factory=list)
    entry: tuple[Ref, ...] = ()
    exit: tuple[Ref, ...] = ()
    after: list[Delayed] = field(default_factory=list)
    invoke: list[Invoke] = field(default_factory=list)
    history: Literal["shallow", "deep"] | None = None
    history_default: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    meta: dict[str, Any] | None = None
    output: Any = None




class CompilerBase:
    """The compiler's state: the machine, the node table, the dialect, the problems."""

    def __init__(
        self,
        loc: Located,
        name: str,
        guards: Collection[str],
        actions: Collection[str],
        delays: Mapping[str, int],
        strict: bool,
        dialect: Dialect | None,
        conditions: bool = False,
    ) -> None:
        self.loc = loc
        #: guards written as conditions of the model language (``{type: 'xstate.condition',
        #: params: {expr}}``): only for the dialog language's nested states, never for XState
        self.conditions = conditions
        self.name = name
        self.guards = frozenset(guards)
        self.actions = frozenset(actions)
        self.delays = dict(delays)
        self.strict = strict
        self.forced = dialect
        self.dialect: Dialect = dialect or "v5"
        self.problems: list[Problem] = []
        self.nodes: dict[str, RawNode] = {}
        self.by_path: dict[tuple[str, ...], str] = {}
        self.invoke_ids: dict[str, Path] = {}
        self.multi: list[tuple[str, tuple[str, ...], Path]] = []  # several targets, checked last
        self.machine_id = name

    def bad(self, path: Path, message: str) -> None:
        self.problems.append(self.loc.problem(path, message))

    def line(self, path: Path) -> int:
        return self.loc.where(path)[0]

    def plain(self, value: Any, path: Path, what: str) -> Any:
        """``value`` copied if it is plain data, else a problem (and None)."""
        if isinstance(value, Mapping) and not isinstance(value, dict):
            value = dict(value)
        if not is_json(value):
            self.bad(path, f"XState {what} must be plain data: functions do not survive JSON")
            return None
        return copy_plain(value)

    def params(self, value: Any, path: Path, what: str) -> dict[str, Any] | None:
        if not isinstance(value, Mapping):
            self.bad(path, f"XState {what} 'params' must be a mapping, not {kind_of(value)}")
            return None
        out = self.plain(value, path, f"{what} 'params'")
        return cast("dict[str, Any] | None", out)

    def other_dialect_key(self, key: str) -> bool:
        """True for a key the chosen dialect does not have (reported once, by the markers)."""
        v4_only = {"cond", "in", "internal", "onEntry", "onExit", "parallel", "strict", "data"}
        v5_only = {"guard", "reenter", "output"}
        return key in (v5_only if self.dialect == "v4" else v4_only)
