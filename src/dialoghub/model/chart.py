"""A statechart, compiled: the immutable description the engine's interpreter runs.

An XState machine (v4 or v5 spelling; :mod:`dialoghub.model.xstate_chart` compiles one) becomes
a :class:`Chart`: a tree of :class:`Node` objects addressed by their full id, each with its
transitions in document order. Everything here is data; nothing runs. Guards and actions are
referred to by :class:`Ref` (a name and its parameters, or a built-in such as ``assign``), and
the interpreter (:mod:`dialoghub.engine.chart`) resolves them against what the application
registered, so a chart stays serializable and a session replays from its events alone.

Ids: the root's id is the machine's ``id`` (the file name when it has none); a state's id is the
machine's id and the keys of its path from the root, joined by dots (``machine.a.b``, even when
``a`` names an ``id`` of its own), unless the state names its own ``id``, which then replaces
the whole path (XState's rule: v5 StateNode, ``[machine.id, ...path].join('.')``).
``Chart.nodes`` maps every id to its node, and ``Node.children`` lists child ids in document
order (that order decides entry and exit order).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

__all__ = [
    "AFTER_PREFIX",
    "AND",
    "ASSIGN",
    "BUILTIN_PREFIX",
    "CONDITION",
    "CONTEXT",
    "DONE_INVOKE_PREFIX",
    "DONE_STATE_PREFIX",
    "ERROR_PREFIX",
    "EVENT",
    "LOG",
    "NOT",
    "OR",
    "RAISE",
    "STATE_IN",
    "Chart",
    "Delayed",
    "Invoke",
    "Kind",
    "Node",
    "Ref",
    "Transition",
    "ancestors_in",
    "is_builtin",
]

Kind = Literal["atomic", "compound", "parallel", "final", "history"]

#: Internal event names, XState v5 spelling (v4's ``done.state.<id>`` etc. compile to these).
DONE_STATE_PREFIX = "xstate.done.state."  # + node id: a compound/parallel node is done
DONE_INVOKE_PREFIX = "xstate.done.actor."  # + invoke id: an invoked service answered
ERROR_PREFIX = "xstate.error.actor."  # + invoke id: an invoked service failed
AFTER_PREFIX = "xstate.after."  # + "<delay>.<node id>": a delayed transition is due


#: Built-in guards, actions and expressions live under this prefix, which no application name
#: may take (XState's own: ``xstate.assign``, ``xstate.raise``, ``xstate.log``; v5's guard
#: helpers ``xstate.stateIn``, ``xstate.and``, ``xstate.or``, ``xstate.not``), so an application
#: may register ``log`` or ``and`` of its own and have them called, never captured.
BUILTIN_PREFIX = "xstate."
ASSIGN = "xstate.assign"  # params["assignments"]: context key -> value or expression Ref
RAISE = "xstate.raise"  # params["event"]: the event raised to the internal queue
LOG = "xstate.log"  # params "label", "value": a log effect
STATE_IN = "xstate.stateIn"  # params["state"]: a node id or a state value
AND = "xstate.and"  # params["guards"]: a list of Ref
OR = "xstate.or"  # params["guards"]
NOT = "xstate.not"  # params["guards"]: one Ref
CONDITION = "xstate.condition"  # params["expr"]: a condition of the model language
CONTEXT = "xstate.context"  # an expression: params["path"] (dotted) in the context
EVENT = "xstate.event"  # an expression: params["path"] (dotted) in the event


def is_builtin(name: str) -> bool:
    """Whether ``name`` is reserved for the interpreter's built-ins (the ``xstate.`` prefix)."""
    return name.startswith(BUILTIN_PREFIX)


@dataclass(frozen=True, slots=True)
class Ref:
    """A named guard or action with its parameters.

    ``name`` is the application's name for it, or one of the built-ins the interpreter knows,
    all under the ``xstate.`` prefix (:data:`BUILTIN_PREFIX`): actions :data:`ASSIGN`,
    :data:`RAISE`, :data:`LOG`; guards :data:`STATE_IN`, :data:`AND`, :data:`OR`, :data:`NOT`,
    :data:`CONDITION`; expressions :data:`CONTEXT`, :data:`EVENT` (and :data:`CONDITION`).
    ``line`` is where it was written (1-based, 0 if unknown), for messages.
    """

    name: str
    params: dict[str, Any] = field(default_factory=dict)
    line: int = 0


@dataclass(frozen=True, slots=True)
class Transition:
    """One transition of a node, in document order among the node's transitions.

    ``event`` is the event type it takes (``"*"`` for any, ``"a.*"`` for a prefix) or None for
    an eventless (``always``; v4's ``""``) transition. ``targets`` are node ids, resolved at
    compile time; empty means a targetless transition (actions only, no state change).
    ``reenter``: exit and re-enter the source when a target is the source or its descendant
    (v5's ``reenter: true``; v4's external default, unless ``internal: true`` or a ``.child``
    target).
    """

    source: str
    event: str | None
    targets: tuple[str, ...] = ()
    guard: Ref | None = None
    actions: tuple[Ref, ...] = ()
    reenter: bool = False
    line: int = 0


@dataclass(frozen=True, slots=True)
class Delayed:
    """An ``after`` entry: ``delay_ms`` after the node is entered, its event is raised."""

    delay_ms: int
    event: str  # AFTER_PREFIX + f"{delay_ms}.{node_id}"


@dataclass(frozen=True, slots=True)
class Invoke:
    """An ``invoke``: the application runs ``src`` (a command action) while the node is
    active; its answer is the event ``DONE_INVOKE_PREFIX + id``, its failure
    ``ERROR_PREFIX + id`` (their transitions are ordinary transitions of the node)."""

    id: str
    src: str
    input: Any = None  # v5: any value (a mapping of expressions in v4's ``data``)


@dataclass(frozen=True, slots=True)
class Node:
    """One state node."""

    id: str
    key: str  # its key in its parent's ``states`` ("" for the root)
    kind: Kind
    parent: str | None
    children: tuple[str, ...] = ()
    initial: tuple[str, ...] = ()  # compound: the initial child (its target ids)
    transitions: tuple[Transition, ...] = ()  # event and eventless, document order
    entry: tuple[Ref, ...] = ()
    exit: tuple[Ref, ...] = ()
    after: tuple[Delayed, ...] = ()
    invoke: tuple[Invoke, ...] = ()
    history: Literal["shallow", "deep"] | None = None  # for kind == "history"
    history_default: tuple[str, ...] = ()  # a history node's target when nothing is recorded
    tags: tuple[str, ...] = ()
    meta: dict[str, Any] | None = None
    output: Any = None  # a final node's output (a value or a named expression Ref)
    order: int = 0  # document order over the whole chart (entry order ties)
    line: int = 0
    #: compound: the actions of v5's ``initial: {target, actions}``, run when the initial child
    #: is entered by default (after the node's entry actions, before the child's)
    initial_actions: tuple[Ref, ...] = ()


@dataclass(frozen=True, slots=True, weakref_slot=True)  # the interpreter caches by weakref
class Chart:
    """A compiled statechart: the root id and every node by id.

    ``dialect`` is the spelling it was written in ("v4" or "v5"): the two XState versions
    agree on nearly everything, and where they differ (default re-entry, done-event data) the
    interpreter follows the machine's own version. ``context`` is the initial context.
    ``strict``: an event no active state takes is an error rather than ignored.
    """

    id: str
    root: str
    nodes: dict[str, Node]
    dialect: Literal["v4", "v5"] = "v5"
    context: dict[str, Any] = field(default_factory=dict)
    strict: bool = False
    predictable: bool = True  # v4's predictableActionArguments (actions in document order)
    #: False for a v4 machine written without ``context``: XState v4 then has none (undefined)
    #: and its assigns change nothing (v4 ``updateContext``); v5 starts every machine with {}
    has_context: bool = True
    #: XState v4's own ``strict: true``: an event no transition of the machine names (any
    #: state, active or not; ``done.*``/``error.*`` aside) is refused, with XState's words;
    #: one the machine names but no active state takes is ignored as usual (v4 transition)
    v4_strict: bool = False

    def node(self, node_id: str) -> Node:
        """The node ``node_id`` (KeyError if the chart has none)."""
        return self.nodes[node_id]

    def ancestors(self, node_id: str) -> list[str]:
        """``node_id``'s proper ancestors, nearest first, ending with the root."""
        return ancestors_in(self.nodes, node_id)


class _HasParent(Protocol):
    @property
    def parent(self) -> str | None: ...


def ancestors_in(nodes: Mapping[str, _HasParent], node_id: str) -> list[str]:
    """The proper ancestors of ``node_id`` in a table of nodes by id (each with its
    ``parent``), nearest first, ending with the root: a chart's, or the compiler's while it
    builds one."""
    out = []
    parent = nodes[node_id].parent
    while parent is not None:
        out.append(parent)
        parent = nodes[parent].parent
    return out
