"""Random valid statecharts and event sequences, for the differential test (hypothesis).

:func:`cases` draws a :class:`Generated`: a machine in XState v5's spelling (run in v4 too, via
:func:`tests.xstate.spelling.to_v4`, unless it uses something v4 lacks), and a sequence of
events. The machines are random but valid, and their runs are finite:

* a tree of depth at most 4 under the root: compound, parallel, atomic, final and history
  (shallow and deep, with and without a default target) nodes, some with their own ``id``;
* transitions for events (``on``, the wildcard ``*``, v5's partial wildcard ``X.*``), on the
  root too, to random targets spelled every way XState has (sibling key, ``a.b``,
  ``.child``, ``#id``), self transitions, several targets in distinct regions of a parallel
  state, targetless ones; ``reenter`` true/false/default; named guards from the library
  (with params), ``stateIn``, v5's ``and``/``or``/``not``; library actions and unregistered
  ones; entry and exit actions; ``after`` (delays of 50 ms and more: a delay of 0 that
  re-enters its state would fire forever within one advance); ``invoke`` answered by
  ``$resolve``/``$reject``; tags, meta, outputs;
* eventless (``always``), ``onDone`` and wildcard transitions, the ones XState may take
  without an outside event (a wildcard takes the done events XState raises itself), are all
  guarded by ``ticksBelow`` and increment ``ticks`` (``tick``): within one macrostep they fire
  a bounded number of times, so no machine loops forever (XState would); only transitions
  taken for a named event or a delay reset ``ticks`` (``untick``).
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

from tests.xstate.spelling import NotInV4, to_v4

__all__ = ["EVENT_COUNT", "MAX_DEPTH", "Generated", "cases", "generate"]

MAX_DEPTH = 4
EVENT_COUNT = 50
EVENTS = ("A", "B", "C", "D", "E")
DOTTED = ("X.a", "X.b")  # for v5's partial wildcard X.*
DELAYS = (50, 100, 200, 500)
ADVANCES = (0, 10, 50, 100, 150, 300, 1000)


@dataclass
class _Node:
    key: str
    kind: str  # atomic | compound | parallel | final | history
    parent: _Node | None
    depth: int
    custom: str | None = None
    history: str = "shallow"
    children: list[_Node] = field(default_factory=list)
    path: tuple[str, ...] = ()

    def xid(self, machine_id: str) -> str:
        return self.custom or ".".join((machine_id, *self.path))

    def ancestors(self) -> list[_Node]:
        out, node = [], self.parent
        while node is not None:
            out.append(node)
            node = node.parent
        return out

    def is_descendant_of(self, other: _Node) -> bool:
        return other in self.ancestors()


@dataclass(frozen=True)
class Generated:
    """A generated machine (v5 spelling), its v4 spelling when it has one, and events."""

    seed: int
    machine: dict[str, Any] = field(repr=False)
    machine_v4: dict[str, Any] | None = field(repr=False)
    events: list[dict[str, Any]] = field(repr=False)

    def versions(self) -> list[tuple[str, dict[str, Any]]]:
        out = [("v5", self.machine)]
        if self.machine_v4 is not None:
            out.append(("v4", self.machine_v4))
        return out


MACHINE_ID = "gen"


def _tree(rng: random.Random) -> tuple[_Node, list[_Node]]:
    counter = itertools.count(1)
    root_kind = rng.choice(["compound"] * 9 + ["parallel"])
    root = _Node("", root_kind, None, 0)
    nodes = [root]

    def grow(node: _Node) -> None:
        # small machines on the whole (XState's cost per event grows with the machine; about
        # ten nodes on average), the deepest ones four levels under the root
        deeper = node.depth + 1 < MAX_DEPTH
        if node.kind == "parallel":
            n = rng.choice([2, 2, 2, 3])
            kinds = (
                ["compound"] * 3 + ["atomic"] + (["parallel"] if deeper and node.depth < 2 else [])
            )
        else:
            n = (
                rng.randint(2, 4)
                if node.depth == 0
                else rng.randint(1, 3 if node.depth == 1 else 2)
            )
            kinds = ["atomic"] * 4 + ["final"]
            if deeper:
                kinds += ["compound"] * (2 if node.depth < 2 else 1)
                kinds += ["parallel"] if node.depth < 3 else []
        for _ in range(n):
            kind = rng.choice(kinds)
            if node.depth + 1 >= MAX_DEPTH and kind in ("compound", "parallel"):
                kind = "atomic"
            child = _Node(f"s{next(counter)}", kind, node, node.depth + 1)
            child.path = (*node.path, child.key)
            if rng.randint(0, 9) == 0:
                child.custom = f"id_{child.key}"
            node.children.append(child)
            nodes.append(child)
            if kind in ("compound", "parallel"):
                grow(child)
        if rng.randint(0, 3) == 0:
            h = _Node(f"h{next(counter)}", "history", node, node.depth + 1)
            h.path = (*node.path, h.key)
            h.history = rng.choice(["shallow", "deep"])
            node.children.append(h)
            nodes.append(h)

    grow(root)
    return root, nodes


class _Builder:
    def __init__(self, rng: random.Random, root: _Node, nodes: list[_Node]) -> None:
        self.rng = rng
        self.root = root
        self.nodes = nodes
        self.targets = [n for n in nodes if n is not root]
        self.plain_targets = [n for n in self.targets if n.kind != "history"]
        self.parallels = [
            n
            for n in nodes
            if n.kind == "parallel" and len([c for c in n.children if c.kind != "history"]) >= 2
        ]
        self.invokes: list[str] = []
        self.v5 = rng.random() < 0.4  # may use what v4 lacks (and/or/not, X.*): v5 only
        self.invoke_counter = itertools.count(1)

    # --- pieces -------------------------------------------------------------------------------

    def spell(self, source: _Node, target: _Node) -> str:
        """A target as XState reads it from ``source``: key, a.b, .child or #id."""
        if self.rng.randint(0, 4) == 0:
            return "#" + target.xid(MACHINE_ID)
        if target is source and source.parent is not None:
            return source.key
        if target.is_descendant_of(source):
            rel = target.path[len(source.path) :]
            return "." + ".".join(rel)
        parent = source.parent
        if parent is not None and target.is_descendant_of(parent):
            return ".".join(target.path[len(parent.path) :])
        return "#" + target.xid(MACHINE_ID)

    def guard(self, internal: bool) -> Any:
        rng = self.rng
        if internal:
            ticks = {"type": "ticksBelow", "params": {"n": rng.randint(1, 4)}}
            if self.v5 and rng.randint(0, 3) == 0:
                return {"type": "and", "params": {"guards": [ticks, self.simple_guard()]}}
            return ticks
        choice = rng.randint(0, 9)
        if choice < 4:
            return None
        if choice == 9 and self.v5:
            kind = rng.choice(["and", "or", "not"])
            inner = [self.simple_guard() for _ in range(1 if kind == "not" else 2)]
            return {"type": kind, "params": {"guards": inner}}
        return self.simple_guard()

    def simple_guard(self) -> Any:
        rng = self.rng
        choice = rng.randint(0, 4)
        if choice == 0:
            return "isEven"
        if choice == 1:
            return "eventOk"
        if choice == 2:
            target = rng.choice(self.plain_targets)
            return {"type": "stateIn", "params": {"state": "#" + target.xid(MACHINE_ID)}}
        return {"type": "countAbove", "params": {"n": rng.randint(0, 4)}}

    def action(self, node: _Node, where: str) -> Any:
        choices: list[Any] = [
            "inc",
            "dec",
            "record",
            "setFromEvent",
            {"type": "inc", "params": {"by": 2}},
            {"type": "mark", "params": {"m": f"{node.key or 'root'}:{where}"}},
            "notify",  # unregistered: XState skips it
        ]
        if where in ("event", "after"):
            choices += ["reset", "untick"]
        return self.rng.choice(choices)

    def actions(self, node: _Node, where: str, internal: bool = False) -> list[Any]:
        # a transition XState may take within a macrostep never resets ticks
        kind = "internal" if internal else where
        out = [self.action(node, kind) for _ in range(self.rng.randint(0, 2))]
        if internal:
            out.insert(self.rng.randint(0, len(out)), "tick")
        return out

    def transition(self, source: _Node, where: str, internal: bool = False) -> dict[str, Any]:
        rng = self.rng
        t: dict[str, Any] = {}
        shape = rng.randint(0, 11)
        if shape == 0 and not internal:
            pass  # targetless
        elif shape == 1 and self.parallels:
            p = rng.choice(self.parallels)
            regions = [c for c in p.children if c.kind != "history"]
            picks = []
            for region in rng.sample(regions, 2):
                inside = [
                    n for n in self.plain_targets if n is region or n.is_descendant_of(region)
                ]
                picks.append("#" + rng.choice(inside).xid(MACHINE_ID))
            t["target"] = picks
        elif shape == 2 and source is not self.root:
            t["target"] = self.spell(source, source)
        else:
            target = rng.choice(self.targets)
            t["target"] = self.spell(source, target)
        guard = self.guard(internal)
        if guard is not None:
            t["guard"] = guard
        acts = self.actions(source, where, internal)
        if acts:
            t["actions"] = acts if len(acts) > 1 else acts[0]
        if "target" in t:
            reenter = rng.choice([None, None, True, False])
            if reenter is not None:
                t["reenter"] = reenter
        return t

    def transitions(self, source: _Node, where: str, internal: bool = False) -> Any:
        ts = [self.transition(source, where, internal) for _ in range(self.rng.randint(1, 2))]
        return ts if len(ts) > 1 else ts[0]

    # --- nodes --------------------------------------------------------------------------------

    def node(self, node: _Node) -> dict[str, Any]:
        rng = self.rng
        out: dict[str, Any] = {}
        if node.custom:
            out["id"] = node.custom
        if node.kind == "history":
            out["type"] = "history"
            if node.history == "deep":
                out["history"] = "deep"
            siblings = (
                [c for c in node.parent.children if c.kind != "history"] if node.parent else []
            )
            if siblings and rng.random() < 0.5:
                out["target"] = rng.choice(siblings).key
            return out
        if node.kind == "parallel":
            out["type"] = "parallel"
        if node.kind == "final":
            out["type"] = "final"
        if node.kind == "compound":
            initial = [c for c in node.children if c.kind != "history"]
            out["initial"] = rng.choice(initial).key
        if node.children:
            out["states"] = {c.key: self.node(c) for c in node.children}
        for hook in ("entry", "exit"):
            if rng.randint(0, 2) == 0:
                acts = self.actions(node, hook)
                if acts:
                    out[hook] = acts if len(acts) > 1 else acts[0]
        if rng.randint(0, 5) == 0:
            out["tags"] = rng.sample(["t1", "t2", "t3"], rng.randint(1, 2))
        if rng.randint(0, 7) == 0:
            out["meta"] = {"node": node.key or "root"}
        if node.kind == "final":
            if rng.randint(0, 2) == 0:
                out["output"] = {"final": node.key}
            return out
        on: dict[str, Any] = {}
        for _ in range(rng.randint(0, 3 if node.kind == "atomic" else 2)):
            event = rng.choice([*EVENTS, *EVENTS, "*", *DOTTED, *(["X.*"] if self.v5 else [])])
            # a wildcard also takes the done events XState raises within a macrostep: it is
            # bounded like an eventless transition
            on[event] = self.transitions(node, "event", internal=event.endswith("*"))
        if on:
            out["on"] = on
        if node.kind in ("atomic", "compound") and rng.randint(0, 4) == 0:
            out["always"] = self.transitions(node, "always", internal=True)
        if rng.randint(0, 3) == 0:
            delays = sorted(rng.sample(DELAYS, rng.randint(1, 2)))
            out["after"] = {str(d): self.transitions(node, "after") for d in delays}
        if (
            node.kind in ("compound", "parallel")
            and node is not self.root
            and rng.randint(0, 2) == 0
        ):
            out["onDone"] = self.transitions(node, "done", internal=True)
        if node.kind in ("atomic", "compound") and rng.randint(0, 6) == 0:
            inv_id = f"inv{next(self.invoke_counter)}"
            self.invokes.append(inv_id)
            inv: dict[str, Any] = {
                "id": inv_id,
                "src": "svc",
                "onDone": self.transitions(node, "event"),
            }
            if rng.random() < 0.9:  # without: v5 stops the machine when it fails
                inv["onError"] = self.transitions(node, "event")
            out["invoke"] = inv
        return out

    def machine(self) -> dict[str, Any]:
        rng = self.rng
        body = self.node(self.root)
        machine: dict[str, Any] = {"id": MACHINE_ID}
        machine["context"] = {"count": rng.randint(0, 3), "ticks": 0, "seen": [], "marks": []}
        machine.update(body)
        if rng.randint(0, 4) == 0:
            machine["output"] = {"machine": MACHINE_ID}
        return machine

    def events(self) -> list[dict[str, Any]]:
        rng = self.rng
        out: list[dict[str, Any]] = []
        for _ in range(EVENT_COUNT):
            kind = rng.randint(0, 19)
            if kind < 12:
                event: dict[str, Any] = {"type": rng.choice(EVENTS)}
                if rng.randint(0, 2) == 0:
                    event["ok"] = rng.random() < 0.5
                if rng.randint(0, 3) == 0:
                    event["value"] = rng.randint(0, 3)
                out.append(event)
            elif kind < 13:
                out.append({"type": rng.choice([*DOTTED, "Z"])})
            elif kind < 17:
                out.append({"advance": rng.choice(ADVANCES)})
            elif self.invokes:
                answer = rng.choice(["$resolve", "$resolve", "$reject"])
                out.append(
                    {"type": answer, "id": rng.choice(self.invokes), "data": rng.randint(0, 9)}
                )
            else:
                out.append({"type": rng.choice(EVENTS)})
        return out


def generate(seed: int) -> Generated:
    """The machine and events of ``seed`` (the same on every run and machine)."""
    rng = random.Random(seed)
    root, nodes = _tree(rng)
    builder = _Builder(rng, root, nodes)
    machine = builder.machine()
    events = builder.events()
    machine_v4: dict[str, Any] | None = None
    if not builder.v5:
        try:
            machine_v4 = to_v4(machine, predictable=rng.random() < 0.75)
        except NotInV4:
            machine_v4 = None
    return Generated(seed, machine, machine_v4, events)


def cases() -> st.SearchStrategy[Generated]:
    """Generated machines, one per seed hypothesis draws (see the module docstring)."""
    return st.integers(0, 2**63 - 1).map(generate)
