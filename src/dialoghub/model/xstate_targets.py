"""XState targets: state paths, ``#id``, state values, and several targets in one step.

Part of the XState compiler's chain (:mod:`dialoghub.model.xstate_base` draws it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dialoghub.model.chart import ancestors_in
from dialoghub.model.source import Path
from dialoghub.model.xstate_base import CompilerBase, RawNode, hint, kind_of

__all__ = ["TargetsPart"]


class TargetsPart(CompilerBase):
    """XState targets: state paths, ``#id``, state values, and several targets in one step."""

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

    def walk(self, start: RawNode, keys: list[str], path: Path, text: str) -> str | None:
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
                         f"no child {key!r} ({have}){hint(key, node.by_key)}")  # fmt: skip
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
                     f"{first!r}{hint(first, self.nodes)}")  # fmt: skip
            return None
        return self.walk(self.nodes[first], keys[1:], path, text)

    def target(self, source: RawNode, text: str, path: Path) -> str | None:
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
        return ancestors_in(self.nodes, node_id)

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

    def state_value(self, base: RawNode, value: Any, path: Path, what: str) -> list[str] | None:
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
                             f"{hint(key, base.by_key)}")  # fmt: skip
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
                 f"{kind_of(value)}")  # fmt: skip
        return None
