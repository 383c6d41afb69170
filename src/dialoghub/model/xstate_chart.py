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

The compiler is a chain of parts, one per share of the vocabulary above;
:mod:`dialoghub.model.xstate_base` draws it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any, cast

from dialoghub.errors import ModelValidationError, Problem
from dialoghub.model.chart import Chart, Kind, Node
from dialoghub.model.source import Located, Path
from dialoghub.model.xstate_base import (
    KINDS,
    NODE_KEYS,
    ROOT_KEYS,
    Dialect,
    RawNode,
    hint,
    js_keys,
    kind_of,
)  # fmt: skip
from dialoghub.model.xstate_detect import (
    WEAK_V4,
    detect_dialect,
    dialect_markers,
    looks_like_xstate,
)
from dialoghub.model.xstate_nodes import NodesPart

__all__ = [
    "NODE_KEYS",
    "ROOT_KEYS",
    "Dialect",
    "compile_xstate",
    "detect_dialect",
    "looks_like_xstate",
]

Marks = Located | Mapping[Path, tuple[int, int]]


class _Compiler(NodesPart):
    """The whole machine: the tree of states first, then each state's details."""

    def run(self) -> Chart | None:
        root = self.loc.data
        if not isinstance(root, Mapping):
            self.bad((), f"an XState machine is a mapping, not {kind_of(root)}")
            return None
        self.decide_dialect(root)
        machine_id = root.get("id", self.name)
        if self.dialect == "v4" and "id" not in root and isinstance(root.get("key"), str):
            # v4 StateNode: key = config.key || config.id; a root's id is its key's
            machine_id = root["key"] or machine_id
        if not isinstance(machine_id, str) or not machine_id:
            self.bad(("id",), f"XState machine 'id' must be a non-empty string, not "
                     f"{kind_of(machine_id)}")  # fmt: skip
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
                         f"{kind_of(root[key])}")  # fmt: skip
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
        markers = dialect_markers(root)
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
            "v4" if any(k in root for k in WEAK_V4) else "v5")  # fmt: skip

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
                         f"{kind_of(own)}")  # fmt: skip
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
                     f"{kind_of(states)}")  # fmt: skip
            states = None
        kind = self.kind(cfg, path, bool(states))
        raw = RawNode(node_id, key, kind, parent, path, keys, cfg, len(self.nodes))
        self.nodes[node_id] = raw
        self.by_path[keys] = node_id
        children: Mapping[Any, Any] = states if states and kind in ("compound", "parallel") else {}
        for child_key in js_keys(children):
            cpath: Path = (*path, "states", child_key)
            child = children[child_key]
            if not isinstance(child_key, str):
                self.bad(cpath, f"XState state keys are strings, not {kind_of(child_key)}")
                continue
            if not child_key or "." in child_key or child_key.startswith("#"):
                self.bad(cpath, f"XState state key {child_key!r} cannot be targeted: a key has "
                         "no '.' and does not start with '#'")  # fmt: skip
                continue
            if not isinstance(child, Mapping):
                self.bad(cpath, f"XState state {child_key!r} must be a mapping, not "
                         f"{kind_of(child)} (write {{}} for a state with nothing)")  # fmt: skip
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
        if t not in KINDS:
            kinds = ", ".join(map(repr, KINDS))
            self.bad(
                (*path, "type"),
                f"XState state 'type' must be one of {kinds}, not {t!r}{hint(str(t), KINDS)}",
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
    conditions: bool = False,
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
    ``name``). ``conditions``: guards may be conditions of the model language (the dialog
    language's nested states compile through here; an XState machine never has them).
    """
    loc = _located(config, marks, name, file)
    compiler = _Compiler(loc, name, guards, actions, delays or {}, strict, dialect, conditions)
    chart = compiler.run()
    if chart is None:
        problems = sorted(compiler.problems, key=lambda p: (p.line, p.column))
        raise ModelValidationError(problems or [Problem("the machine is invalid", loc.file)])
    return chart
