"""XState machines (v4 and v5 spellings) compiled into a :class:`~dialoghub.model.chart.Chart`.

:func:`compile_xstate` reads a machine configuration as plain data (parsed JSON or YAML, with
the lines of :class:`~dialoghub.model.source.Located`) and returns the chart the engine's
interpreter runs, or raises :class:`~dialoghub.errors.ModelValidationError` with every
problem, each at its file:line:column and naming the XState feature. It accepts only what then
runs as XState runs it: a machine XState itself would refuse (a target that resolves nowhere,
a compound state without ``initial``) is refused here, and so is one XState would run in a way
the chart cannot say (a final state with transitions, several targets in one region).

What is read, and how (the XState source each rule relies on is named: ``v5`` is
packages/core/src of statelyai/xstate at tag xstate@5.32.5, ``v4`` the same at xstate@4.38.3):

* **Dialect.** :func:`detect_dialect` decides from the keys used. XState v4 only: ``cond``,
  ``in``, ``internal``, ``onEntry``/``onExit``, the ``""`` key of ``on`` (eventless), ``data``
  (a final state's done data, an invoke's input), ``on`` or ``after`` written as a list,
  ``parallel: true``, ``strict``, ``autoForward``, and a target from the root without a leading
  ``.`` (v5 StateNode resolveTarget throws "Invalid target ... Did you mean '.x'?"; v4 resolves
  it from the root). XState v5 only: ``guard``, ``reenter``, ``output``, ``initial`` as
  ``{target}``, a guard ``{type: 'stateIn' | 'and' | 'or' | 'not'}``, an invoke's
  ``input``/``systemId``/``onSnapshot``; weakly, a partial wildcard ``a.*`` (v5 unless a v4 key
  says otherwise: v4 reads ``a.*``, and any descriptor with a ``*`` but ``*`` itself, as that
  literal event name, and so does the chart then). Neither: ``entry``, ``exit``,
  ``always`` (v4 has it since 4.11: v4 StateNode formatTransitions' ``eventlessConfig``),
  ``after`` as a mapping, and the rest. ``predictableActionArguments``,
  ``preserveActionOrder``, ``schema`` and ``tsTypes`` lean to v4 but never conflict (v5 ignores
  them). Nothing either way: v5. A machine mixing the two is one problem naming both keys and
  their lines; ``dialect=`` forces one version and reports every key of the other.
* **Ids** (v5 StateNode constructor; v4 likewise): the root's id is the machine's ``id``, else
  ``name``; a state's id is its own ``id``, else the machine id and the *keys* of its path
  joined by dots (``machine.a.b``, even under a parent with an ``id`` of its own). Two states
  with one id are refused (XState silently keeps the last). Keys with ``.`` or a leading ``#``
  are refused (a target could not name them).
* **Document order**: ``Node.order`` is pre-order (a parent before its children; v5's
  ``idMap.size``, v4's ``dfs``). The keys of ``states``, ``on`` and ``after`` are taken in
  JavaScript's property order: keys that are array indices (``"0"``, ``"10"``) first, ascending,
  then the rest as written; ``Object.keys`` returns them so.
* **Kinds** (v5 StateNode ``type``): ``type``, else compound when ``states`` is not empty, else
  history when ``history`` is set, else atomic. ``Node.children`` lists every child, history
  nodes included (the interpreter skips those when entering a parallel state, as v5
  ``getChildren`` does).
* **Initial**: a child key (``initial: 'a'``, v5 also ``{target: 'a', actions}``, whose actions
  go to ``Node.initial_actions``); ``Node.initial`` is that child's id. A compound without
  ``initial`` is refused (v5 throws "No initial state specified for compound state node"; v4
  warns and leaves the machine *in* the compound node, a configuration SCXML has no name for).
* **Transitions**, in ``Node.transitions``: ``on`` (keys in JS order; per key the alternatives in
  order), ``always`` and v4's ``""`` (``event=None``), ``onDone``
  (``xstate.done.state.<id>``), each invoke's ``onDone``/``onError``
  (``xstate.done.actor.<invoke id>``/``xstate.error.actor.<invoke id>``), then ``after``
  (``xstate.after.<delay>.<id>``). Events only meet one another through wildcards, and XState
  tries exact descriptors before wildcard ones (v5 ``getCandidates``: then longer descriptors
  first; v4 moves ``*`` after every other key), so the interpreter does that, and this order
  decides only among transitions of one descriptor. v4 machines that name internal events by
  hand (``done.state.x``, ``done.invoke.x``, ``error.platform.x``, ``xstate.after(1000)#x``)
  get the v5 names above.
* **Targets** (v5 ``resolveTarget``, ``getStateNodeByPath``, ``StateMachine.getStateNodeById``;
  v4 ``resolveTarget``, ``getStateNodeById``): ``#id`` and ``#id.child.grandchild`` (v5: the
  first dot-separated segment is the id, ``\\.`` escapes a dot; v4: the whole string as an id
  first, then the same split); ``.child.grandchild`` from the source; anything else a path from
  the source's parent (v4 also from the root). A list is several targets (refused unless they
  lie in different regions of a parallel state, the only legal case); ``''`` or no ``target``
  is targetless. ``on: {X: ['a', 'b']}`` is two alternatives, not two targets (v5
  ``toTransitionConfigArray``). ``Transition.reenter``: v5 ``reenter`` (default false); v4 not
  ``internal``, whose default is true for a ``.child`` target or no target, false otherwise (v4
  ``formatTransition``).
* **Guards** become :class:`~dialoghub.model.chart.Ref`: a name (v5 ``guard: 'g'`` or
  ``{type: 'g', params: {...}}``; v4 ``cond: 'g'`` or ``{type: 'g', ...params}``), which must
  be one of ``guards`` (the application's registered names) or it is a problem at its line;
  ``{type: 'and' | 'or', guards: [...]}``, ``{type: 'not', guards: [g]}`` (or ``guard: g``)
  as ``and``/``or``/``not`` with ``params["guards"]``; ``{type: 'stateIn', stateValue: v}``
  (v5, checked against the snapshot: v5 guards ``checkStateIn``) and v4's ``in: v`` (relative
  to the source's grandparent unless ``#id``: v4 ``StateNode.next``) as ``stateIn`` with
  ``params["state"]`` a node id, or an ``and`` of those when the state value has several leaves.
  ``in`` beside ``cond`` is ``and`` of both, ``in`` first.
* **Actions**: ``entry``/``exit`` (v4 also ``onEntry``/``onExit``), transition ``actions``;
  strings or ``{type, params}`` (v4: ``{type, ...params}``). A name the application did not
  register (``actions``) is a command action for it to carry out, not an error, unless
  ``strict``. Built-ins, in the JSON spelling of the action objects XState v4 itself builds
  (v4 actions.ts ``assign``, ``raise``, ``log``): ``{type: 'xstate.assign', assignment: {key:
  value}}`` (values are literal; v4 runs this object as it is, and v5's ``assign`` keeps the same
  ``assignment``) becomes ``Ref('xstate.assign', {'assignments': {...}})``; ``{type:
  'xstate.raise', event: 'E' | {type: 'E', ...}}`` becomes ``Ref('xstate.raise', {'event':
  {'type': 'E', ...}})``; ``{type: 'xstate.log', label?, expr?}`` (strings) becomes
  ``Ref('xstate.log', {'label': ..., 'value': expr})``. Other ``xstate.*`` actions and guards
  are refused by name. Built-ins live under the ``xstate.`` prefix only (model/chart.py
  ``BUILTIN_PREFIX``), so an application's own ``log`` or ``and`` is called as XState calls it
  (``entry: 'log'`` runs the registered ``log``), never captured; an unprefixed guard object
  ``{type: 'and' | 'or' | 'not' | 'stateIn', ...}`` is the built-in unless the application
  registered a guard of that name.
* **after**: ``{1000: 'b'}``, ``{'1000': [{target, guard}, ...]}``, v4 also ``[{delay, target,
  cond}]``. A delay is a number of milliseconds or a string JavaScript's ``Number()`` reads as a
  whole number (v5 ``getDelayedTransitions``: ``+delay``), else the name of a delay in
  ``delays`` (name -> milliseconds); the event then carries the name, as XState's does.
* **History** (v5 ``resolveHistoryDefaultTransition``; v4 ``resolveHistory``): ``history:
  'shallow' | 'deep' | true``; ``target`` (v5: paths from the parent or ``#id``; v4: a child key,
  ``#id`` or a state value); without one, the parent's initial child (a parallel parent: the
  parent). ``Node.history_default`` is always resolved to ids.
* **Final** states: ``output`` (v5, any value; the root's ``output`` too) or ``data`` (v4, a
  mapping: v4 ``mapContext`` copies its keys) in ``Node.output``; no transitions, children,
  ``after``, ``invoke`` or ``onDone``.
* **invoke** (one or a list): ``src`` a service name (or v4 ``{type: name}``), ``id`` (default
  as XState names it: v5 ``createInvokeId`` ``<index>.<node id>``, v4
  ``<node id>:invocation[<index>]``), ``input`` (v5) / ``data`` (v4), ``onDone``, ``onError``.
* ``context`` (plain data), ``tags``, ``meta`` (kept whole, ``meta.prompt`` included),
  ``description`` (accepted), ``version``, ``types``, ``schemas``, ``schema``, ``tsTypes``
  (ignored), ``predictableActionArguments`` (v4: ``Chart.predictable``; v5 is always
  predictable), v4's root ``strict: true`` (``Chart.strict``, as is ``strict=``).

:func:`looks_like_xstate` tells an XState machine from a model of dialoghub's own language.

Why one file of this length: the rules above are one table of XState's vocabulary, read in one
pass that shares the node table, the dialect and the problem list; split, every part would take
all three.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeGuard, cast

from dialoghub.errors import ModelValidationError, Problem
from dialoghub.model.chart import (
    AFTER_PREFIX,
    AND,
    ASSIGN,
    BUILTIN_PREFIX,
    DONE_INVOKE_PREFIX,
    DONE_STATE_PREFIX,
    ERROR_PREFIX,
    LOG,
    RAISE,
    STATE_IN,
    Chart,
    Delayed,
    Invoke,
    Kind,
    Node,
    Ref,
    Transition,
    is_builtin,
)
from dialoghub.model.keys import KEYS
from dialoghub.model.source import Located, Path

__all__ = [
    "Dialect",
    "compile_xstate",
    "detect_dialect",
    "looks_like_xstate",
]

Dialect = Literal["v4", "v5"]
Marks = Located | Mapping[Path, tuple[int, int]]


_KINDS = ("atomic", "compound", "parallel", "final", "history")

#: keys of a state node (either version); the root also takes _ROOT_KEYS
_NODE_KEYS = frozenset({
    "id", "type", "states", "initial", "on", "entry", "exit", "onEntry", "onExit", "always",
    "after", "onDone", "invoke", "meta", "tags", "description", "history", "target", "output",
    "data", "parallel",
})  # fmt: skip
_ROOT_KEYS = frozenset({
    "context", "version", "types", "schemas", "schema", "tsTypes",
    "predictableActionArguments", "preserveActionOrder", "strict",
})  # fmt: skip
#: XState features that exist but are not supported, with why
_UNSUPPORTED_NODE = {
    "activities": "XState v4 'activities' are functions started and stopped with a state; "
    "they do not survive JSON (use 'invoke' with a service name)",
    "route": "XState v5 'route' transitions are not supported",
    "delimiter": "XState v4 'delimiter' (another path separator than '.') is not supported",
    "key": "XState v4 'key' (a state key other than its name in 'states') is not supported",
    "order": "XState 'order' is computed from the document, not written",
    "parent": "XState 'parent' is set by XState itself, not written",
    "options": "XState v5 machine 'options' are not supported",
}
_TRANSITION_KEYS = frozenset({
    "target", "actions", "description", "meta", "guard", "reenter", "cond", "in", "internal",
})  # fmt: skip
_INVOKE_KEYS = frozenset({"id", "src", "input", "data", "onDone", "onError"})
_UNSUPPORTED_INVOKE = {
    "onSnapshot": "XState v5 'invoke.onSnapshot' is not supported",
    "systemId": "XState v5 'invoke.systemId' is a name (a string)",
    "autoForward": "XState v4 'invoke.autoForward' is not supported",
    "forward": "XState v4 'invoke.forward' is not supported",
}
#: keys only a state of the given kind may have
_KIND_KEYS: dict[str, frozenset[str]] = {
    "history": frozenset({"id", "type", "history", "target", "description", "meta"}),
    "final": frozenset({
        "id", "type", "entry", "exit", "onEntry", "onExit", "meta", "tags", "description",
        "output", "data",
    }),
}  # fmt: skip
_XSTATE_ACTIONS = frozenset({"xstate.assign", "xstate.raise", "xstate.log"})
#: v5's guard helpers as data, and the keys that carry their argument (beside ``type`` or in
#: ``params``; an ``xstate.`` prefix is allowed): ``{type: 'and', guards: [...]}``,
#: ``{type: 'not', params: {guard: g}}``, ``{type: 'stateIn', params: {state: '#id'}}``
_GUARD_ARGS: dict[str, tuple[str, ...]] = {
    "and": ("guards",),
    "or": ("guards",),
    "not": ("guards", "guard"),
    "stateIn": ("state", "stateValue"),
}

_ARRAY_INDEX = re.compile(r"0|[1-9][0-9]*")
_JS_NUMBER = re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*")
#: v4's internal event names, written by hand in a v4 ``on``, and their v5 spelling
_V4_EVENTS = (
    ("done.state.", DONE_STATE_PREFIX),
    ("done.invoke.", DONE_INVOKE_PREFIX),
    ("error.platform.", ERROR_PREFIX),
)
_V4_AFTER = re.compile(r"xstate\.after\((.+)\)#(.+)")


def _is_index(key: Any) -> bool:
    text = str(key) if isinstance(key, int) and not isinstance(key, bool) else key
    return isinstance(text, str) and bool(_ARRAY_INDEX.fullmatch(text)) and int(text) < 2**32 - 1


def _js_keys(data: Mapping[Any, Any]) -> list[Any]:
    """``Object.keys`` order: array-index keys ascending, then the others as written."""
    index = [k for k in data if _is_index(k)]
    rest = [k for k in data if not _is_index(k)]
    return sorted(index, key=int) + rest


def _is_json(value: Any) -> bool:
    if value is None or isinstance(value, bool | int | float | str):
        return True
    if isinstance(value, list):
        return all(_is_json(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_json(v) for k, v in value.items())
    return False


def _copy(value: Any) -> Any:
    if isinstance(value, list):
        return [_copy(v) for v in value]
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    return value


def _hint(word: str, options: Collection[str]) -> str:
    match = difflib.get_close_matches(word, sorted(options), n=1)
    return f"; did you mean {match[0]!r}?" if match else ""


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _kind_of(value: Any) -> str:
    if value is None:
        return "null"
    if callable(value):
        return "a function"
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), f"a {type(value).__name__}"
    )


# --- detection ----------------------------------------------------------------------------

#: keys of a state that only XState uses (the model language's states have none of them)
_XSTATE_STATE_ONLY = frozenset({
    "type", "states", "initial", "entry", "exit", "onEntry", "onExit", "always", "after",
    "onDone", "invoke", "meta", "tags", "history", "target", "output", "data", "id", "parallel",
})  # fmt: skip
_XSTATE_ROOT_ONLY = (_XSTATE_STATE_ONLY | _ROOT_KEYS | {"on"}) - {"id", "states", "version"}
_MODEL_ONLY = (KEYS["model"] - {"id", "version", "description", "states"}) | {"start"}
_MODEL_STATE_ONLY = KEYS["state"] - {"on", "description"}


def looks_like_xstate(data: Any) -> bool:
    """True for an XState machine rather than a model of dialoghub's own language.

    A mapping is XState when it has ``initial`` or ``type``, or any key at the top only XState
    uses (``on``, ``after``, ``always``, ``entry``, ``invoke``, ``context``, ...), or, having
    none of the model language's own keys (``start``, ``intents``, ...), a state that uses an
    XState key (``type``, ``states``, ``after``, ``entry``, ``meta``, ...), or states whose
    keys are only ``on`` and ``description``. So a parallel root, an ``after``-only machine and
    a machine without ``initial`` are XState; a model with ``start`` is not.
    """
    if not isinstance(data, Mapping):
        return False
    if "initial" in data or "type" in data:
        return True
    if any(k in _XSTATE_ROOT_ONLY for k in data):
        return True
    if any(k in _MODEL_ONLY for k in data):
        return False
    states = data.get("states")
    if not isinstance(states, Mapping) or not states:
        return False
    configs = [s for s in states.values() if isinstance(s, Mapping)]
    if any(k in _MODEL_STATE_ONLY for s in configs for k in s):
        return False
    return any(k in _XSTATE_STATE_ONLY or k == "on" for s in configs for k in s) or all(
        not s for s in configs
    )


@dataclass(frozen=True, slots=True)
class _Marker:
    dialect: Dialect
    what: str  # "'cond'", "the '' key of 'on'"
    path: Path
    fix: str  # what the other version writes instead
    #: a spelling the other version reads too, meaning something else (v5's ``a.*`` is a
    #: literal event name in v4): it decides the version alone, never conflicts with the other's
    weak: bool = False


def _markers(root: Mapping[str, Any]) -> list[_Marker]:
    """Every version-exclusive key of the machine, in document order (strong markers)."""
    out: list[_Marker] = []

    def transition(item: Any, path: Path, from_root: bool) -> None:
        if isinstance(item, str):
            target(item, path, from_root)
            return
        if not isinstance(item, Mapping):
            return
        for key, d, fix in (
            ("cond", "v4", "write 'guard'"),
            ("in", "v4", "write guard: {type: 'stateIn', stateValue: ...}"),
            ("internal", "v4", "write 'reenter' (its opposite); v5 transitions are internal"),
            ("guard", "v5", "write 'cond'"),
            ("reenter", "v5", "write 'internal' (its opposite)"),
        ):
            if key in item:
                out.append(_Marker(cast(Dialect, d), f"{key!r}", (*path, key), fix))
        if isinstance(item.get("guard"), Mapping):
            guard(item["guard"], (*path, "guard"))
        t = item.get("target")
        for i, one in enumerate(_list(t)):
            if isinstance(one, str):
                target(one, (*path, "target", i) if isinstance(t, list) else (*path, "target"),
                       from_root)  # fmt: skip

    def target(text: str, path: Path, from_root: bool) -> None:
        if from_root and text and text[0] not in ".#":
            out.append(_Marker("v4", f"the target {text!r} from the machine's root", path,
                               f"write '.{text}'"))  # fmt: skip

    def guard(g: Mapping[str, Any], path: Path) -> None:
        kind = g.get("type")
        if isinstance(kind, str) and kind.removeprefix("xstate.") in _GUARD_ARGS:
            out.append(_Marker("v5", f"the {kind!r} guard", path,
                               "write 'in' on the transition" if kind.endswith("stateIn")
                               else "v4 has no such guard"))  # fmt: skip

    def transitions(value: Any, path: Path, from_root: bool) -> None:
        for i, item in enumerate(_list(value)):
            transition(item, (*path, i) if isinstance(value, list) else path, from_root)

    def node(cfg: Mapping[str, Any], path: Path) -> None:
        is_root = not path
        for key, d, fix in (
            ("onEntry", "v4", "write 'entry'"),
            ("onExit", "v4", "write 'exit'"),
            ("parallel", "v4", "write type: 'parallel'"),
            ("strict", "v4", "v5 has no strict mode"),
            ("output", "v5", "write 'data'"),
            ("data", "v4", "write 'output'"),
        ):
            if key in cfg:
                out.append(_Marker(cast(Dialect, d), f"{key!r}", (*path, key), fix))
        if isinstance(cfg.get("initial"), Mapping):
            out.append(_Marker("v5", "'initial' as {target}", (*path, "initial"),
                               "write the child's key"))  # fmt: skip
        on = cfg.get("on")
        if isinstance(on, list):
            out.append(_Marker("v4", "'on' as a list", (*path, "on"),
                               "write 'on' as a mapping of events"))  # fmt: skip
            for i, item in enumerate(on):
                transition(item, (*path, "on", i), is_root)
        elif isinstance(on, Mapping):
            for event in on:
                if not isinstance(event, str):
                    continue
                if event == "":
                    out.append(_Marker("v4", "the '' key of 'on'", (*path, "on", event),
                                       "write 'always'"))  # fmt: skip
                elif event.endswith(".*") and event != ".*":
                    out.append(_Marker("v5", f"the partial wildcard {event!r}",
                                       (*path, "on", event),
                                       "XState v4 reads it as an event of that exact name "
                                       "(v4 has only '*')", weak=True))  # fmt: skip
                transitions(on[event], (*path, "on", event), is_root)
        for key in ("always", "onDone"):
            if key in cfg:
                transitions(cfg[key], (*path, key), is_root)
        after = cfg.get("after")
        if isinstance(after, list):
            out.append(_Marker("v4", "'after' as a list", (*path, "after"),
                               "write 'after' as a mapping of delays"))  # fmt: skip
            transitions(after, (*path, "after"), is_root)
        elif isinstance(after, Mapping):
            for delay in after:
                transitions(after[delay], (*path, "after", delay), is_root)
        invoke = cfg.get("invoke")
        for i, inv in enumerate(_list(invoke) if invoke is not None else []):
            if not isinstance(inv, Mapping):
                continue
            ipath: Path = (*path, "invoke", i) if isinstance(invoke, list) else (*path, "invoke")
            for key, d, fix in (
                ("data", "v4", "write 'input'"),
                ("autoForward", "v4", "v5 has no autoForward"),
                ("input", "v5", "write 'data'"),
                ("systemId", "v5", "v4 has no systemId"),
                ("onSnapshot", "v5", "v4 has no onSnapshot"),
            ):
                if key in inv:
                    out.append(_Marker(cast(Dialect, d), f"'invoke.{key}'", (*ipath, key), fix))
            for key in ("onDone", "onError"):
                if key in inv:
                    transitions(inv[key], (*ipath, key), is_root)
        states = cfg.get("states")
        if isinstance(states, Mapping):
            for key in _js_keys(states):
                if isinstance(states[key], Mapping):
                    node(states[key], (*path, "states", key))

    node(root, ())
    return out


_WEAK_V4 = ("predictableActionArguments", "preserveActionOrder", "schema", "tsTypes")


def detect_dialect(config: Any) -> Dialect | None:
    """ "v4" or "v5" from the keys a machine uses; None if it uses both versions' keys."""
    if not isinstance(config, Mapping):
        return "v5"
    markers = _markers(config)
    found = {m.dialect for m in markers if not m.weak} or {m.dialect for m in markers}
    if len(found) == 2:
        return None
    if found:
        return found.pop()
    return "v4" if any(k in config for k in _WEAK_V4) else "v5"


# --- the compiler -------------------------------------------------------------------------


@dataclass
class _Raw:
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


class _Compiler:
    def __init__(
        self,
        loc: Located,
        name: str,
        guards: Collection[str],
        actions: Collection[str],
        delays: Mapping[str, int],
        strict: bool,
        dialect: Dialect | None,
    ) -> None:
        self.loc = loc
        self.name = name
        self.guards = frozenset(guards)
        self.actions = frozenset(actions)
        self.delays = dict(delays)
        self.strict = strict
        self.forced = dialect
        self.dialect: Dialect = dialect or "v5"
        self.problems: list[Problem] = []
        self.nodes: dict[str, _Raw] = {}
        self.by_path: dict[tuple[str, ...], str] = {}
        self.invoke_ids: dict[str, Path] = {}
        self.multi: list[tuple[str, tuple[str, ...], Path]] = []  # several targets, checked last
        self.machine_id = name

    # -- problems and lines

    def bad(self, path: Path, message: str) -> None:
        self.problems.append(self.loc.problem(path, message))

    def line(self, path: Path) -> int:
        return self.loc.where(path)[0]

    # -- the whole machine

    def run(self) -> Chart | None:
        root = self.loc.data
        if not isinstance(root, Mapping):
            self.bad((), f"an XState machine is a mapping, not {_kind_of(root)}")
            return None
        self.decide_dialect(root)
        machine_id = root.get("id", self.name)
        if self.dialect == "v4" and "id" not in root and isinstance(root.get("key"), str):
            # v4 StateNode: key = config.key || config.id; a root's id is its key's
            machine_id = root["key"] or machine_id
        if not isinstance(machine_id, str) or not machine_id:
            self.bad(("id",), f"XState machine 'id' must be a non-empty string, not "
                     f"{_kind_of(machine_id)}")  # fmt: skip
            machine_id = self.name
        self.machine_id = machine_id
        self.build(root, "", None, (), ())
        for raw in list(self.nodes.values()):
            self.details(raw)
        self.check_multi()
        context = self.context(root)
        strict = self.strict
        v4_strict = False
        if "strict" in root and self.dialect == "v4":
            if not isinstance(root["strict"], bool):
                self.bad(("strict",), "XState v4 'strict' must be true or false")
            else:
                v4_strict = root["strict"]
        predictable = True
        if self.dialect == "v4":
            pa = root.get("predictableActionArguments", False)
            if not isinstance(pa, bool):
                self.bad(
                    ("predictableActionArguments",),
                    "XState v4 'predictableActionArguments' must be true or false",
                )
            else:
                predictable = pa
            pao = root.get("preserveActionOrder", False)
            if pao is True and not predictable:
                self.bad(("preserveActionOrder",), "XState v4 'preserveActionOrder' without "
                         "'predictableActionArguments: true' is not supported")  # fmt: skip
        for key in ("version", "description"):
            if key in root and not isinstance(root[key], str):
                self.bad((key,), f"XState machine {key!r} must be a string, not "
                         f"{_kind_of(root[key])}")  # fmt: skip
        if self.problems:
            return None
        nodes = {
            r.id: Node(
                id=r.id,
                key=r.key,
                kind=r.kind,
                parent=r.parent,
                children=tuple(r.children),
                initial=r.initial,
                initial_actions=r.initial_actions,
                transitions=tuple(r.transitions),
                entry=r.entry,
                exit=r.exit,
                after=tuple(r.after),
                invoke=tuple(r.invoke),
                history=r.history,
                history_default=r.history_default,
                tags=r.tags,
                meta=r.meta,
                output=r.output,
                order=r.order,
                line=self.line(r.path),
            )
            for r in self.nodes.values()
        }
        return Chart(
            id=machine_id, root=machine_id, nodes=nodes, dialect=self.dialect, context=context,
            strict=strict, predictable=predictable, v4_strict=v4_strict,
            # v4 without `context` has none (undefined): its assigns change nothing
            has_context=self.dialect == "v5" or "context" in root,
        )  # fmt: skip

    def decide_dialect(self, root: Mapping[str, Any]) -> None:
        markers = _markers(root)
        strong = [m for m in markers if not m.weak]
        if strong and self.forced is None:
            markers = strong  # a weak marker only decides a machine with nothing else
        if self.forced is not None:
            markers = strong
            other = "v5" if self.forced == "v4" else "v4"
            for m in markers:
                if m.dialect == other:
                    self.bad(m.path, f"{m.what} is XState {other}'s spelling, but this machine "
                             f"is read as XState {self.forced}: {m.fix}")  # fmt: skip
            return
        v4 = [m for m in markers if m.dialect == "v4"]
        v5 = [m for m in markers if m.dialect == "v5"]
        if v4 and v5:
            a, b = v4[0], v5[0]
            later = a if self.line(a.path) >= self.line(b.path) else b
            l4, l5 = self.line(a.path), self.line(b.path)
            self.bad(later.path, f"this machine mixes XState v4 and v5: {a.what} (line {l4}) is "
                     f"v4's spelling, {b.what} (line {l5}) is v5's; write one version's "
                     "spelling throughout")  # fmt: skip
            self.dialect = "v5"
            return
        self.dialect = "v4" if v4 else "v5" if v5 else (
            "v4" if any(k in root for k in _WEAK_V4) else "v5")  # fmt: skip

    def other_dialect_key(self, key: str) -> bool:
        """True for a key the chosen dialect does not have (reported once, by the markers)."""
        v4_only = {"cond", "in", "internal", "onEntry", "onExit", "parallel", "strict", "data"}
        v5_only = {"guard", "reenter", "output"}
        return key in (v5_only if self.dialect == "v4" else v4_only)

    # -- first pass: the tree

    def build(
        self,
        cfg: Mapping[str, Any],
        key: str,
        parent: str | None,
        path: Path,
        keys: tuple[str, ...],
    ) -> str | None:
        own = cfg.get("id")
        if parent is None:
            node_id = self.machine_id
        elif own is not None:
            if not isinstance(own, str) or not own:
                self.bad((*path, "id"), f"XState state 'id' must be a non-empty string, not "
                         f"{_kind_of(own)}")  # fmt: skip
                node_id = ".".join((self.machine_id, *keys))
            else:
                node_id = own
        else:
            node_id = ".".join((self.machine_id, *keys))
        if node_id in self.nodes:
            first = self.line(self.nodes[node_id].path)
            self.bad(path if own is None else (*path, "id"),
                     f"two XState states have the id {node_id!r} (the other at line {first}); "
                     "XState would keep only the last")  # fmt: skip
            return None
        states = cfg.get("states")
        if states is not None and not isinstance(states, Mapping):
            self.bad((*path, "states"), f"XState 'states' must map state keys to states, not "
                     f"{_kind_of(states)}")  # fmt: skip
            states = None
        kind = self.kind(cfg, path, bool(states))
        raw = _Raw(node_id, key, kind, parent, path, keys, cfg, len(self.nodes))
        self.nodes[node_id] = raw
        self.by_path[keys] = node_id
        children: Mapping[Any, Any] = states if states and kind in ("compound", "parallel") else {}
        for child_key in _js_keys(children):
            cpath: Path = (*path, "states", child_key)
            child = children[child_key]
            if not isinstance(child_key, str):
                self.bad(cpath, f"XState state keys are strings, not {_kind_of(child_key)}")
                continue
            if not child_key or "." in child_key or child_key.startswith("#"):
                self.bad(cpath, f"XState state key {child_key!r} cannot be targeted: a key has "
                         "no '.' and does not start with '#'")  # fmt: skip
                continue
            if not isinstance(child, Mapping):
                self.bad(cpath, f"XState state {child_key!r} must be a mapping, not "
                         f"{_kind_of(child)} (write {{}} for a state with nothing)")  # fmt: skip
                continue
            child_id = self.build(child, child_key, node_id, cpath, (*keys, child_key))
            if child_id is not None:
                raw.children.append(child_id)
                raw.by_key[child_key] = child_id
        if kind == "parallel" and not any(self.nodes[c].kind != "history" for c in raw.children):
            self.bad(path or ("type",), "an XState parallel state needs at least one region "
                     "(a child state that is not a history state)")  # fmt: skip
        return node_id

    def kind(self, cfg: Mapping[str, Any], path: Path, has_states: bool) -> Kind:
        t = cfg.get("type")
        if t is None and cfg.get("parallel") is True and self.dialect == "v4":
            t = "parallel"
        if t is None:
            if has_states:
                return "compound"
            return "history" if cfg.get("history") else "atomic"
        if t not in _KINDS:
            kinds = ", ".join(map(repr, _KINDS))
            self.bad(
                (*path, "type"),
                f"XState state 'type' must be one of {kinds}, not {t!r}{_hint(str(t), _KINDS)}",
            )
            return "compound" if has_states else "atomic"
        kind = cast(Kind, t)
        if has_states and kind in ("atomic", "final", "history"):
            self.bad((*path, "states"), f"an XState {kind} state has no child states")
        if not has_states and kind == "compound":
            self.bad((*path, "type"), "an XState compound state needs child 'states'")
        if not path and kind in ("final", "history"):
            self.bad(("type",), f"the root of an XState machine cannot be a {kind} state")
        return kind

    # -- second pass: each node's details

    def details(self, raw: _Raw) -> None:
        cfg, path, kind = raw.config, raw.path, raw.kind
        is_root = raw.parent is None
        allowed = _KIND_KEYS.get(kind, _NODE_KEYS - {"target", "history"}) | (
            _ROOT_KEYS if is_root else frozenset()
        )
        for key in cfg:
            if key in allowed or self.other_dialect_key(key):
                continue
            if key == "key" and is_root and self.dialect == "v4" and cfg["key"] == self.machine_id:
                continue  # v4's root key names the machine (its id when it has none): run()
            if key in _UNSUPPORTED_NODE:
                self.bad((*path, key), _UNSUPPORTED_NODE[key])
            elif key in _ROOT_KEYS:
                self.bad((*path, key), f"XState {key!r} belongs to the machine's root")
            elif key in _NODE_KEYS:
                self.bad((*path, key), self.misplaced(key, kind))
            else:
                self.bad((*path, key), f"XState has no state key {key!r}"
                         f"{_hint(key, _NODE_KEYS | _ROOT_KEYS)}")  # fmt: skip
        if "description" in cfg and not isinstance(cfg["description"], str):
            self.bad((*path, "description"), "XState 'description' must be a string")
        self.initial(raw)
        if kind == "history":
            self.history(raw)
            self.tags_meta(raw)
            return
        raw.entry = self.entries(raw, "entry", "onEntry")
        raw.exit = self.entries(raw, "exit", "onExit")
        if kind == "final":
            self.final_output(raw)
            self.tags_meta(raw)
            return
        if is_root and "output" in cfg and self.dialect == "v5":
            raw.output = self.plain(cfg["output"], (*path, "output"), "'output'")
        elif "output" in cfg and self.dialect == "v5":
            self.bad((*path, "output"), "XState 'output' belongs to a final state (or the "
                     "machine's root)")  # fmt: skip
        if "data" in cfg and self.dialect == "v4":
            self.bad((*path, "data"), "XState v4 'data' is the done data of a final state")
        self.on(raw)
        if "always" in cfg:
            self.add(raw, None, cfg["always"], (*path, "always"))
        if "onDone" in cfg:
            if is_root:
                self.bad((*path, "onDone"), "XState takes no 'onDone' on the machine's root: "
                         "the machine is done (v4 warns and ignores it)")  # fmt: skip
            elif kind not in ("compound", "parallel"):
                self.bad((*path, "onDone"), "XState 'onDone' belongs to a compound or parallel "
                         "state (its done event), or to an 'invoke'")  # fmt: skip
            else:
                self.add(raw, DONE_STATE_PREFIX + raw.id, cfg["onDone"], (*path, "onDone"))
        self.invokes(raw)
        self.afters(raw)
        self.tags_meta(raw)

    def misplaced(self, key: str, kind: str) -> str:
        if key in ("target", "history"):
            return f"XState {key!r} belongs to a history state (type: 'history')"
        if key in ("output", "data"):
            return f"XState {key!r} belongs to a final state"
        what = {"history": "a history state", "final": "a final state"}.get(kind, "this state")
        if key in ("on", "always", "after", "onDone", "invoke") and kind == "final":
            return (
                f"an XState final state has no transitions ({key!r}): it is where its "
                "parent is done"
            )
        return f"XState {key!r} is not allowed on {what}"

    def initial(self, raw: _Raw) -> None:
        cfg, path = raw.config, (*raw.path, "initial")
        if raw.kind == "compound":
            if "initial" not in cfg:
                first = next(iter(raw.by_key), "")
                self.bad(raw.path, f"XState compound state {raw.id!r} has no 'initial' (XState "
                         f"v5 refuses it: \"No initial state specified for compound state node "
                         f"'#{raw.id}'. Try adding {{ initial: '{first}' }}\")")  # fmt: skip
                return
        elif "initial" in cfg:
            if raw.kind in ("atomic", "final", "history"):
                self.bad(path, f"XState 'initial' names a child state, and this {raw.kind} "
                         "state has none")  # fmt: skip
            elif not (isinstance(cfg["initial"], str) and cfg["initial"] in raw.by_key):
                # v5 formatInitialTransition throws for a key naming no child; one that names a
                # child is ignored (every region is entered), by v4 too: so it is here
                self.bad(path, "XState 'initial' of a parallel state names no child of "
                         f"{raw.id!r} (XState v5 throws: \"Initial state node not found\"); a "
                         "parallel state enters every region, leave 'initial' out")  # fmt: skip
            return
        else:
            return
        value = cfg["initial"]
        target: Any = value
        if isinstance(value, Mapping):
            if self.dialect == "v4":
                return  # reported by the markers
            for k in value:
                if k not in ("target", "actions", "description"):
                    self.bad((*path, k), f"XState v5 'initial' as a transition takes 'target' "
                             f"and 'actions', not {k!r}")  # fmt: skip
            target = value.get("target")
            if "actions" in value:
                raw.initial_actions = self.action_list(value["actions"], (*path, "actions"))
            path = (*path, "target")
        if not isinstance(target, str):
            self.bad(path, f"XState 'initial' must be a child state's key, not {_kind_of(target)}")
            return
        child = raw.by_key.get(target)
        if child is None:
            self.bad(path, f"XState 'initial' {target!r} is not a child of {raw.id!r} (XState: "
                     f"\"Initial state node '{target}' not found\"); its children: "
                     f"{', '.join(raw.by_key) or 'none'}{_hint(target, raw.by_key)}")  # fmt: skip
            return
        if self.nodes[child].kind == "history":
            self.bad(path, "XState 'initial' naming a history state is not supported")
            return
        raw.initial = (child,)

    def entries(self, raw: _Raw, key: str, v4_key: str) -> tuple[Ref, ...]:
        cfg, path = raw.config, raw.path
        if key in cfg and v4_key in cfg and self.dialect == "v4":
            self.bad((*path, v4_key), f"both {key!r} and {v4_key!r}: XState v4 runs only "
                     f"{key!r} then; write one")  # fmt: skip
            return ()
        if key in cfg:
            return self.action_list(cfg[key], (*path, key))
        if v4_key in cfg and self.dialect == "v4":
            return self.action_list(cfg[v4_key], (*path, v4_key))
        return ()

    def tags_meta(self, raw: _Raw) -> None:
        cfg, path = raw.config, raw.path
        if "tags" in cfg:
            tags = cfg["tags"]
            items = _list(tags)
            if not all(isinstance(t, str) for t in items):
                self.bad((*path, "tags"), "XState 'tags' must be a string or a list of strings")
            else:
                raw.tags = tuple(dict.fromkeys(items))
        if "meta" in cfg:
            meta = cfg["meta"]
            if not isinstance(meta, Mapping):
                self.bad((*path, "meta"), f"XState 'meta' must be a mapping here, not "
                         f"{_kind_of(meta)}")  # fmt: skip
            elif self.plain(meta, (*path, "meta"), "'meta'") is not None:
                raw.meta = _copy(dict(meta))

    def plain(self, value: Any, path: Path, what: str) -> Any:
        """``value`` copied if it is plain data, else a problem (and None)."""
        if isinstance(value, Mapping) and not isinstance(value, dict):
            value = dict(value)
        if not _is_json(value):
            self.bad(path, f"XState {what} must be plain data: functions do not survive JSON")
            return None
        return _copy(value)

    def context(self, root: Mapping[str, Any]) -> dict[str, Any]:
        if "context" not in root:
            return {}
        ctx = root["context"]
        if not isinstance(ctx, Mapping):
            self.bad(("context",), f"XState 'context' must be a mapping of initial values, not "
                     f"{_kind_of(ctx)} (a function does not survive JSON)")  # fmt: skip
            return {}
        out: dict[str, Any] = {}
        for k, v in ctx.items():
            if not _is_json(v):
                self.bad(("context", k), f"XState 'context.{k}' must be plain data: functions "
                         "do not survive JSON")  # fmt: skip
            else:
                out[k] = _copy(v)
        return out

    def final_output(self, raw: _Raw) -> None:
        cfg, path = raw.config, raw.path
        if self.dialect == "v5" and "output" in cfg:
            raw.output = self.plain(cfg["output"], (*path, "output"), "'output'")
        if self.dialect == "v4" and "data" in cfg:
            data = cfg["data"]
            if not isinstance(data, Mapping):
                self.bad((*path, "data"), f"XState v4 'data' of a final state must be a mapping "
                         f"(v4 copies its keys), not {_kind_of(data)}")  # fmt: skip
            else:
                raw.output = self.plain(data, (*path, "data"), "'data'")

    def history(self, raw: _Raw) -> None:
        cfg, path = raw.config, raw.path
        h = cfg.get("history", "shallow")
        if h is True or h is None or h is False:
            h = "shallow"  # v5: `history: true` is shallow; type: 'history' alone likewise
        if h not in ("shallow", "deep"):
            self.bad((*path, "history"), f"XState 'history' must be 'shallow', 'deep' or true, "
                     f"not {h!r}")  # fmt: skip
            return
        raw.history = cast(Literal["shallow", "deep"], h)
        parent = self.nodes[raw.parent] if raw.parent else None
        if parent is None:
            return
        if "target" not in cfg or cfg["target"] is None:
            raw.history_default = parent.initial if parent.kind == "compound" else (parent.id,)
            return
        tpath: Path = (*path, "target")
        value = cfg["target"]
        ids: list[str] = []
        if self.dialect == "v4" and isinstance(value, Mapping):
            ids = self.state_value(parent, value, tpath, "history 'target'") or []
        else:
            if self.dialect == "v4" and isinstance(value, list):
                self.bad(tpath, "XState v4 history 'target' is a child key, '#id' or a state "
                         "value, not a list")  # fmt: skip
                return
            for i, one in enumerate(_list(value)):
                opath = (*tpath, i) if isinstance(value, list) else tpath
                if not isinstance(one, str) or not one:
                    self.bad(opath, f"XState history 'target' must name a state, not "
                             f"{_kind_of(one)}")  # fmt: skip
                    return
                if one.startswith("#"):
                    found = self.by_id(one, opath)
                elif self.dialect == "v4":
                    found = parent.by_key.get(one)
                    if found is None:
                        self.bad(opath, f"XState v4 history 'target' {one!r} is not a child of "
                                 f"{parent.id!r} (v4 reads it as one key, not a path, and fails:"
                                 f" \"Child state '{one}' does not exist on '{parent.id}'\")"
                                 f"{_hint(one, parent.by_key)}")  # fmt: skip
                else:
                    found = self.walk(parent, self.split(one), opath, one)
                if found is None:
                    return
                ids.append(found)
        for one_id in ids:
            if one_id == raw.id or parent.id not in self.ancestors(one_id):
                self.bad(tpath, f"XState history 'target' must be a state inside {parent.id!r} "
                         f"(the history state's parent), not {one_id!r}")  # fmt: skip
                return
        if ids:
            raw.history_default = tuple(ids)
            if len(ids) > 1:
                self.multi.append((raw.id, tuple(ids), tpath))

    # -- targets

    def split(self, text: str) -> list[str]:
        """A state path into its keys: v5 ``toStatePath`` (``\\`` escapes), v4 ``split('.')``."""
        if self.dialect == "v4":
            return text.split(".")
        out, seg, i = [], "", 0
        while i < len(text):
            c = text[i]
            if c == "\\" and i + 1 < len(text):
                seg += text[i + 1]
                i += 2
                continue
            if c == ".":
                out.append(seg)
                seg = ""
            else:
                seg += c
            i += 1
        out.append(seg)
        return out

    def walk(self, start: _Raw, keys: list[str], path: Path, text: str) -> str | None:
        node = start
        for key in keys:
            if not key:
                self.bad(path, f"XState target {text!r} has an empty segment (XState stops "
                         "reading the path there)")  # fmt: skip
                return None
            if key.startswith("#"):
                self.bad(path, f"XState target {text!r}: '#' starts a target, not a segment")
                return None
            child = node.by_key.get(key)
            if child is None:
                have = (
                    f"its children: {', '.join(node.by_key)}"
                    if node.by_key
                    else "it has no child states"
                )
                self.bad(path, f"XState target {text!r} resolves to no state: {node.id!r} has "
                         f"no child {key!r} ({have}){_hint(key, node.by_key)}")  # fmt: skip
                return None
            node = self.nodes[child]
        return node.id

    def by_id(self, text: str, path: Path) -> str | None:
        """``#id`` or ``#id.child...``."""
        if self.dialect == "v4" and text[1:] in self.nodes:
            return text[1:]  # v4 getStateNodeById: the whole string is an id
        keys = self.split(text[1:]) if self.dialect == "v5" else text[1:].split(".")
        first = keys[0]
        if first not in self.nodes:
            self.bad(path, f"XState target {text!r} resolves to no state: no state has the id "
                     f"{first!r}{_hint(first, self.nodes)}")  # fmt: skip
            return None
        return self.walk(self.nodes[first], keys[1:], path, text)

    def target(self, source: _Raw, text: str, path: Path) -> str | None:
        if text.startswith("#"):
            return self.by_id(text, path)
        if text.startswith("."):
            return self.walk(source, self.split(text[1:]), path, text)
        if source.parent is None:
            if self.dialect == "v5":
                # v5 resolveTarget throws "Invalid target: 'x' is not a valid target from the
                # root node. Did you mean '.x'?"; the dialect markers report it (a v4 spelling)
                return None
            return self.walk(source, self.split(text), path, text)
        return self.walk(self.nodes[source.parent], self.split(text), path, text)

    def ancestors(self, node_id: str) -> list[str]:
        out = []
        parent = self.nodes[node_id].parent
        while parent is not None:
            out.append(parent)
            parent = self.nodes[parent].parent
        return out

    def check_multi(self) -> None:
        """Several targets must lie in different regions of one parallel state (SCXML's legal
        configurations; XState does not check, and would enter an impossible configuration)."""
        for source, ids, path in self.multi:
            if len(set(ids)) != len(ids):
                self.bad(path, f"XState targets of {source!r} name one state twice")
                continue
            for i, a in enumerate(ids):
                for b in ids[i + 1 :]:
                    up_a, up_b = [a, *self.ancestors(a)], [b, *self.ancestors(b)]
                    if a in up_b or b in up_a:
                        self.bad(path, f"XState targets {a!r} and {b!r}: one is inside the "
                                 "other")  # fmt: skip
                        return
                    lca = next(x for x in up_a if x in up_b)
                    if self.nodes[lca].kind != "parallel":
                        self.bad(path, f"XState targets {a!r} and {b!r} are both inside "
                                 f"{lca!r}, which is not parallel: one state cannot be in two "
                                 "of its children at once")  # fmt: skip
                        return

    # -- transitions

    def event(self, raw_event: str, path: Path) -> str | None:
        """An ``on`` key as the event descriptor the chart uses (None: eventless)."""
        if raw_event == "":
            return None if self.dialect == "v4" else ""  # v5: reported by the markers
        if self.dialect == "v4":
            for old, new in _V4_EVENTS:
                if raw_event.startswith(old) and len(raw_event) > len(old):
                    return new + raw_event[len(old) :]
            m = _V4_AFTER.fullmatch(raw_event)
            if m:
                return f"{AFTER_PREFIX}{m.group(1)}.{m.group(2)}"
        # A '*' anywhere but as the whole descriptor or its last token: XState v5 warns
        # ("Wildcards can only be the last token of an event descriptor") and runs it as
        # matchesEventDescriptor reads it: 'event*' is that literal name, an infix '*'
        # ('a.*.b.*') matches nothing but the literal; the interpreter does the same. v4 has
        # only '*': `a.*` (or `m*`) is that literal event name there (v4 StateNode.transition
        # compares event types), which the interpreter then matches exactly.
        return raw_event

    def on(self, raw: _Raw) -> None:
        cfg, path = raw.config, (*raw.path, "on")
        if "on" not in cfg:
            return
        on = cfg["on"]
        if isinstance(on, list):
            if self.dialect == "v5":
                return  # reported by the markers
            for i, item in enumerate(on):
                ipath: Path = (*path, i)
                if not isinstance(item, Mapping) or not isinstance(item.get("event"), str):
                    self.bad(ipath, "XState v4 'on' as a list takes {event, target, ...} "
                             "transitions")  # fmt: skip
                    continue
                event = self.event(item["event"], (*ipath, "event"))
                if event is not None or item["event"] == "":
                    rest = {k: v for k, v in item.items() if k != "event"}
                    self.add(raw, event, rest, ipath)
            return
        if not isinstance(on, Mapping):
            self.bad(path, f"XState 'on' must map events to transitions, not {_kind_of(on)}")
            return
        for key in _js_keys(on):
            epath: Path = (*path, key)
            if not isinstance(key, str):
                self.bad(epath, f"XState event types are strings, not {_kind_of(key)}")
                continue
            if self.dialect == "v5" and key == "":
                continue  # reported by the markers
            event = self.event(key, epath)
            if event is None and key != "":
                continue
            self.add(raw, event, on[key], epath)

    def add(self, raw: _Raw, event: str | None, value: Any, path: Path) -> None:
        """The transitions of one event (a target, a transition, or a list of those)."""
        if raw.kind == "final":
            return
        if isinstance(value, list):
            if not value:
                self.bad(path, "an empty list of XState transitions takes nothing; leave the "
                         "event out")  # fmt: skip
            for i, item in enumerate(value):
                t = self.transition(raw, event, item, (*path, i))
                if t is not None:
                    raw.transitions.append(t)
            return
        t = self.transition(raw, event, value, path)
        if t is not None:
            raw.transitions.append(t)

    def transition(self, raw: _Raw, event: str | None, item: Any, path: Path) -> Transition | None:
        if isinstance(item, str):
            item = {"target": item}
            tpath: Path = path
        elif isinstance(item, Mapping):
            tpath = (*path, "target")
        else:
            if item is None:
                self.bad(path, "an XState transition of null fails in XState; leave 'target' "
                         "out for a transition that changes no state")  # fmt: skip
            elif isinstance(item, list):
                self.bad(path, "XState transitions are a list of transitions, not of lists")
            else:
                self.bad(path, f"an XState transition is a target or {{target, guard, actions}}, "
                         f"not {_kind_of(item)}")  # fmt: skip
            return None
        ok = True
        for key in item:
            if key in _TRANSITION_KEYS:
                continue
            self.bad((*path, key), f"XState has no transition key {key!r}"
                     f"{_hint(key, _TRANSITION_KEYS)}")  # fmt: skip
            ok = False
        targets: list[str] = []
        texts: list[tuple[str, Path]] = []
        written = item.get("target")
        if "target" in item and written is None:
            self.bad(tpath, "XState target null fails in XState; leave 'target' out for a "
                     "transition that changes no state")  # fmt: skip
            ok = False
        elif isinstance(written, list):
            if not written:
                self.bad(tpath, "an empty XState 'target' list; leave 'target' out for a "
                         "transition that changes no state")  # fmt: skip
                ok = False
            for i, one in enumerate(written):
                if not isinstance(one, str) or not one:
                    self.bad((*tpath, i), f"an XState target is a state's key, path or '#id', "
                             f"not {_kind_of(one)}")  # fmt: skip
                    ok = False
                else:
                    texts.append((one, (*tpath, i)))
        elif isinstance(written, str):
            if written:
                texts.append((written, tpath))
        elif written is not None:
            self.bad(tpath, f"an XState target is a state's key, path or '#id', not "
                     f"{_kind_of(written)}")  # fmt: skip
            ok = False
        for text, opath in texts:
            found = self.target(raw, text, opath)
            if found is None:
                ok = False
            else:
                targets.append(found)
        reenter = self.reenter(item, [t for t, _ in texts], path)
        guard = self.transition_guard(raw, item, path)
        actions = self.action_list(item["actions"], (*path, "actions")) if "actions" in item \
            else ()  # fmt: skip
        if "description" in item and not isinstance(item["description"], str):
            self.bad((*path, "description"), "XState 'description' must be a string")
        if not ok or reenter is None:
            return None
        if len(targets) > 1:
            self.multi.append((raw.id, tuple(targets), tpath))
        return Transition(
            source=raw.id, event=event, targets=tuple(targets), guard=guard, actions=actions,
            reenter=reenter, line=self.line(path),
        )  # fmt: skip

    def reenter(self, item: Mapping[str, Any], texts: list[str], path: Path) -> bool | None:
        if self.dialect == "v5":
            value = item.get("reenter", False)
            if not isinstance(value, bool):
                self.bad((*path, "reenter"), "XState 'reenter' must be true or false")
                return None
            return value
        if "internal" in item:
            internal = item["internal"]
            if not isinstance(internal, bool):
                self.bad((*path, "internal"), "XState v4 'internal' must be true or false")
                return None
            return not internal
        # v4 formatTransition: internal when a target starts with '.', or there is none
        return bool(texts) and not any(t.startswith(".") for t in texts)

    # -- guards

    def transition_guard(self, raw: _Raw, item: Mapping[str, Any], path: Path) -> Ref | None:
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

    def state_value(self, base: _Raw, value: Any, path: Path, what: str) -> list[str] | None:
        """The node ids a state value (relative to ``base``) says are active (its leaves)."""
        if isinstance(value, str) and value:
            if value.startswith("#"):
                found = self.by_id(value, path)
            else:
                found = self.walk(base, self.split(value), path, value)
            return [found] if found is not None else None
        if isinstance(value, Mapping) and value:
            out: list[str] = []
            for key, sub in value.items():
                child = base.by_key.get(key)
                if child is None:
                    self.bad(path, f"XState {what}: {base.id!r} has no child {key!r}"
                             f"{_hint(key, base.by_key)}")  # fmt: skip
                    return None
                if isinstance(sub, Mapping) and not sub:
                    self.bad(path, f"XState {what}: an empty state value under {key!r} is not "
                             "supported; name the state")  # fmt: skip
                    return None
                ids = self.state_value(self.nodes[child], sub, path, what)
                if ids is None:
                    return None
                out.extend(ids)
            return out
        self.bad(path, f"XState {what} must be a state ('#id' or a path) or a state value, not "
                 f"{_kind_of(value)}")  # fmt: skip
        return None

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
                if name[len(BUILTIN_PREFIX) :] in _GUARD_ARGS
                else f"XState built-in guard {name!r} is not supported (supported: "
                "xstate.stateIn, xstate.and, xstate.or, xstate.not, written as objects)",
            )
            return None
        if name not in self.guards:
            known = ", ".join(sorted(self.guards)) or "none"
            self.bad(path, f"XState guard {name!r} is not implemented: the application registers"
                     f" it (registered guards: {known}){_hint(name, self.guards)}")  # fmt: skip
            return None
        return name

    def params(self, value: Any, path: Path, what: str) -> dict[str, Any] | None:
        if not isinstance(value, Mapping):
            self.bad(path, f"XState {what} 'params' must be a mapping, not {_kind_of(value)}")
            return None
        out = self.plain(value, path, f"{what} 'params'")
        return cast("dict[str, Any] | None", out)

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

    def builtin_guard(self, kind: Any) -> TypeGuard[str]:
        """Whether a guard object's ``type`` is a built-in: always with the ``xstate.`` prefix
        (v5's helpers are ``xstate.and`` etc.), and unprefixed (``and``, ``stateIn``: the data
        spelling of ``and([...])``) unless the application registered a guard of that name,
        which then is its own."""
        if not isinstance(kind, str):
            return False
        if kind.startswith(BUILTIN_PREFIX):
            return kind[len(BUILTIN_PREFIX) :] in _GUARD_ARGS
        return kind in _GUARD_ARGS and kind not in self.guards

    def builtin_args(
        self, g: Mapping[str, Any], path: Path, kind: str
    ) -> tuple[Any, Path, str] | None:
        """The argument of a built-in guard, written beside ``type`` or in its ``params``."""
        names = _GUARD_ARGS[kind]
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
        if c.get("type") in _GUARD_ARGS and c["type"] not in self.guards:
            self.bad((*path, "type"), f"XState v4 has no built-in {c['type']!r} guard (it is "
                     "v5's)")  # fmt: skip
            return None
        name = self.named(c.get("type"), (*path, "type"), "'cond' type")
        rest = {k: v for k, v in c.items() if k != "type"}
        params = self.plain(rest, path, "'cond'")
        if name is None or params is None:
            return None
        return Ref(name, params, self.line(path))

    # -- actions

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
                     f"{_kind_of(name)}: functions do not survive JSON")  # fmt: skip
            return None
        if name.startswith("xstate."):
            self.bad(path, f"XState built-in action {name!r} is not supported"
                     + ("" if name in _XSTATE_ACTIONS else
                        " (supported: xstate.assign, xstate.raise, xstate.log, written as "
                        "objects)"))  # fmt: skip
            return None
        if self.strict and name not in self.actions:
            known = ", ".join(sorted(self.actions)) or "none"
            self.bad(
                path,
                f"XState action {name!r} is not implemented (strict: every action is "
                f"registered; registered actions: {known}){_hint(name, self.actions)}",
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

    # -- invoke and after

    def invokes(self, raw: _Raw) -> None:
        cfg, path = raw.config, (*raw.path, "invoke")
        if "invoke" not in cfg:
            return
        value = cfg["invoke"]
        for i, inv in enumerate(_list(value)):
            ipath: Path = (*path, i) if isinstance(value, list) else path
            if not isinstance(inv, Mapping):
                self.bad(ipath, f"XState 'invoke' is {{src, id, input, onDone, onError}}, not "
                         f"{_kind_of(inv)}")  # fmt: skip
                continue
            ok = True
            for k in inv:
                if k in _INVOKE_KEYS or (k == "data" and self.dialect == "v5") or (
                        k == "input" and self.dialect == "v4"):  # fmt: skip
                    continue
                if k == "systemId" and self.dialect == "v5" and isinstance(inv[k], str):
                    continue  # the actor's name in its system (system.get): no transition
                    # of the machine reads it, so it is kept out of the chart
                ok = False
                self.bad((*ipath, k), _UNSUPPORTED_INVOKE.get(k) or f"XState has no 'invoke' "
                         f"key {k!r}{_hint(k, _INVOKE_KEYS)}")  # fmt: skip
            src = inv.get("src")
            if isinstance(src, Mapping) and set(src) == {"type"}:
                src = src["type"]
            if not isinstance(src, str) or not src:
                self.bad((*ipath, "src") if "src" in inv else ipath,
                         "XState 'invoke.src' must be the name of a service (a string): "
                         "functions and inline machines do not survive JSON")  # fmt: skip
                ok = False
            own = inv.get("id")
            if own is not None and (not isinstance(own, str) or not own):
                self.bad((*ipath, "id"), "XState 'invoke.id' must be a non-empty string")
                ok = False
                own = None
            invoke_id = own or (f"{i}.{raw.id}" if self.dialect == "v5"
                                else f"{raw.id}:invocation[{i}]")  # fmt: skip
            if invoke_id in self.invoke_ids:
                other = self.line(self.invoke_ids[invoke_id])
                self.bad((*ipath, "id") if own else ipath, f"two XState invocations have the id "
                         f"{invoke_id!r} (the other at line {other})")  # fmt: skip
                ok = False
            self.invoke_ids[invoke_id] = ipath
            key = "input" if self.dialect == "v5" else "data"
            data: Any = None
            if key in inv:
                given = inv[key]
                if key == "input" and not isinstance(given, Mapping):  # v5: any value
                    if _is_json(given):
                        data = _copy(given)
                    else:
                        self.plain(given, (*ipath, key), "'invoke.input'")
                        ok = False
                elif not isinstance(given, Mapping):
                    self.bad((*ipath, key), f"XState 'invoke.{key}' must be a mapping here, not "
                             f"{_kind_of(given)}")  # fmt: skip
                    ok = False
                else:
                    data = self.plain(given, (*ipath, key), f"'invoke.{key}'")
                    ok = ok and data is not None
            if "onDone" in inv:
                self.add(raw, DONE_INVOKE_PREFIX + invoke_id, inv["onDone"], (*ipath, "onDone"))
            if "onError" in inv:
                self.add(raw, ERROR_PREFIX + invoke_id, inv["onError"], (*ipath, "onError"))
            if ok and isinstance(src, str):
                raw.invoke.append(Invoke(id=invoke_id, src=src, input=data))

    def delay(self, raw: _Raw, value: Any, path: Path) -> tuple[int, str] | None:
        """A delay as (milliseconds, the text of its event), as v5 ``+delay`` reads it."""
        number: float | None = None
        if isinstance(value, bool):
            pass
        elif isinstance(value, int | float) or (
            isinstance(value, str) and _JS_NUMBER.fullmatch(value)
        ):
            number = float(value)
        if number is None:
            if isinstance(value, str) and value in self.delays:
                ms = self.delays[value]
                if isinstance(ms, bool) or not isinstance(ms, int) or ms < 0:
                    self.bad(path, f"the delay {value!r} is registered as {ms!r}, not a whole, "
                             "non-negative number of milliseconds")  # fmt: skip
                    return None
                return ms, value
            known = ", ".join(sorted(self.delays)) or "none"
            self.bad(
                path,
                f"XState 'after' delay {value!r} is not a number of milliseconds, and "
                f"no delay of that name is registered (registered delays: {known})",
            )
            return None
        if number < 0 or not number.is_integer():
            self.bad(path, f"XState 'after' delay {value!r} must be a whole, non-negative number "
                     "of milliseconds")  # fmt: skip
            return None
        ms = int(number)
        return ms, str(ms)

    def afters(self, raw: _Raw) -> None:
        cfg, path = raw.config, (*raw.path, "after")
        if "after" not in cfg:
            return
        after = cfg["after"]
        entries: list[tuple[Any, Any, Path, Path]] = []  # (delay, transitions, delay path, path)
        if isinstance(after, list):
            if self.dialect == "v5":
                return  # reported by the markers
            for i, item in enumerate(after):
                ipath: Path = (*path, i)
                if not isinstance(item, Mapping) or "delay" not in item:
                    self.bad(ipath, "XState v4 'after' as a list takes {delay, target, ...}")
                    continue
                rest = {k: v for k, v in item.items() if k != "delay"}
                entries.append((item["delay"], rest, (*ipath, "delay"), ipath))
        elif isinstance(after, Mapping):
            for key in _js_keys(after):
                entries.append((key, after[key], (*path, key), (*path, key)))
        else:
            self.bad(path, f"XState 'after' must map delays to transitions, not "
                     f"{_kind_of(after)}")  # fmt: skip
            return
        seen: set[str] = set()
        for value, transitions, dpath, tpath in entries:
            found = self.delay(raw, value, dpath)
            if found is None:
                continue
            ms, text = found
            event = f"{AFTER_PREFIX}{text}.{raw.id}"
            if event not in seen:
                seen.add(event)
                raw.after.append(Delayed(delay_ms=ms, event=event))
            self.add(raw, event, transitions, tpath)


def _located(
    config: Mapping[str, Any] | Located, marks: Marks | None, name: str, file: str | None
) -> Located:
    if isinstance(config, Located):
        loc = Located(data=config.data, file=file or config.file, marks=config.marks,
                      code_base=config.code_base)  # fmt: skip
        return loc
    if isinstance(marks, Located):
        return Located(data=config, file=file or marks.file, marks=marks.marks)
    return Located(data=config, file=file or name, marks=dict(marks or {}))


def compile_xstate(
    config: Mapping[str, Any] | Located,
    *,
    name: str = "machine",
    marks: Marks | None = None,
    guards: Collection[str] = (),
    actions: Collection[str] = (),
    delays: Mapping[str, int] | None = None,
    strict: bool = False,
    dialect: Dialect | None = None,
    file: str | None = None,
) -> Chart:
    """The XState machine ``config`` as a :class:`Chart`; ModelValidationError with every
    problem otherwise.

    ``config``: the machine as plain data, or a :class:`Located` (its lines are then used);
    ``marks``: the lines of a plain ``config`` (a Located, or its ``marks``: path -> (line,
    column)). ``name``: the machine's id when it has none (the file name). ``guards``,
    ``actions``: the names the application registered; an unregistered guard is a problem, an
    unregistered action a command action, unless ``strict`` (which also makes an event no
    state takes an error at run time: ``Chart.strict``). ``delays``: named ``after`` delays, in
    milliseconds. ``dialect``: "v4" or "v5" to read the machine as that version (else
    :func:`detect_dialect`). ``file``: the file name in problems (else the Located's, else
    ``name``).
    """
    loc = _located(config, marks, name, file)
    compiler = _Compiler(loc, name, guards, actions, delays or {}, strict, dialect)
    chart = compiler.run()
    if chart is None:
        problems = sorted(compiler.problems, key=lambda p: (p.line, p.column))
        raise ModelValidationError(problems or [Problem("the machine is invalid", loc.file)])
    return chart
