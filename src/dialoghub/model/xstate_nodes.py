"""Each XState state's details: its keys checked by kind, ``initial``, ``entry``/``exit``,
``tags``, ``meta``, a final state's output, history states, and the machine's ``context``.

Part of the XState compiler's chain (:mod:`dialoghub.model.xstate_base` draws it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, cast

from dialoghub.model.chart import DONE_STATE_PREFIX, Ref
from dialoghub.model.source import Path
from dialoghub.model.xstate_base import (
    KIND_KEYS,
    NODE_KEYS,
    ROOT_KEYS,
    UNSUPPORTED_NODE,
    RawNode,
    as_list,
    copy_plain,
    hint,
    is_json,
    kind_of,
)  # fmt: skip
from dialoghub.model.xstate_transitions import TransitionsPart

__all__ = ["NodesPart"]


class NodesPart(TransitionsPart):
    """Each XState state's details: its keys checked by kind, ``initial``, ``entry``/``exit``,"""

    def details(self, raw: RawNode) -> None:
        cfg, path, kind = raw.config, raw.path, raw.kind
        is_root = raw.parent is None
        allowed = KIND_KEYS.get(kind, NODE_KEYS - {"target", "history"}) | (
            ROOT_KEYS if is_root else frozenset()
        )
        for key in cfg:
            if key in allowed or self.other_dialect_key(key):
                continue
            if key == "key" and is_root and self.dialect == "v4" and cfg["key"] == self.machine_id:
                continue  # v4's root key names the machine (its id when it has none): run()
            if key in UNSUPPORTED_NODE:
                self.bad((*path, key), UNSUPPORTED_NODE[key])
            elif key in ROOT_KEYS:
                self.bad((*path, key), f"XState {key!r} belongs to the machine's root")
            elif key in NODE_KEYS:
                self.bad((*path, key), self.misplaced(key, kind))
            else:
                self.bad((*path, key), f"XState has no state key {key!r}"
                         f"{hint(key, NODE_KEYS | ROOT_KEYS)}")  # fmt: skip
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

    def initial(self, raw: RawNode) -> None:
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
            self.bad(path, f"XState 'initial' must be a child state's key, not {kind_of(target)}")
            return
        child = raw.by_key.get(target)
        if child is None:
            self.bad(path, f"XState 'initial' {target!r} is not a child of {raw.id!r} (XState: "
                     f"\"Initial state node '{target}' not found\"); its children: "
                     f"{', '.join(raw.by_key) or 'none'}{hint(target, raw.by_key)}")  # fmt: skip
            return
        if self.nodes[child].kind == "history":
            self.bad(path, "XState 'initial' naming a history state is not supported")
            return
        raw.initial = (child,)

    def entries(self, raw: RawNode, key: str, v4_key: str) -> tuple[Ref, ...]:
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

    def tags_meta(self, raw: RawNode) -> None:
        cfg, path = raw.config, raw.path
        if "tags" in cfg:
            tags = cfg["tags"]
            items = as_list(tags)
            if not all(isinstance(t, str) for t in items):
                self.bad((*path, "tags"), "XState 'tags' must be a string or a list of strings")
            else:
                raw.tags = tuple(dict.fromkeys(items))
        if "meta" in cfg:
            meta = cfg["meta"]
            if not isinstance(meta, Mapping):
                self.bad((*path, "meta"), f"XState 'meta' must be a mapping here, not "
                         f"{kind_of(meta)}")  # fmt: skip
            elif self.plain(meta, (*path, "meta"), "'meta'") is not None:
                raw.meta = copy_plain(dict(meta))

    def context(self, root: Mapping[str, Any]) -> dict[str, Any]:
        if "context" not in root:
            return {}
        ctx = root["context"]
        if not isinstance(ctx, Mapping):
            self.bad(("context",), f"XState 'context' must be a mapping of initial values, not "
                     f"{kind_of(ctx)} (a function does not survive JSON)")  # fmt: skip
            return {}
        out: dict[str, Any] = {}
        for k, v in ctx.items():
            if not is_json(v):
                self.bad(("context", k), f"XState 'context.{k}' must be plain data: functions "
                         "do not survive JSON")  # fmt: skip
            else:
                out[k] = copy_plain(v)
        return out

    def final_output(self, raw: RawNode) -> None:
        cfg, path = raw.config, raw.path
        if self.dialect == "v5" and "output" in cfg:
            raw.output = self.plain(cfg["output"], (*path, "output"), "'output'")
        if self.dialect == "v4" and "data" in cfg:
            data = cfg["data"]
            if not isinstance(data, Mapping):
                self.bad((*path, "data"), f"XState v4 'data' of a final state must be a mapping "
                         f"(v4 copies its keys), not {kind_of(data)}")  # fmt: skip
            else:
                raw.output = self.plain(data, (*path, "data"), "'data'")

    def history(self, raw: RawNode) -> None:
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
            for i, one in enumerate(as_list(value)):
                opath = (*tpath, i) if isinstance(value, list) else tpath
                if not isinstance(one, str) or not one:
                    self.bad(opath, f"XState history 'target' must name a state, not "
                             f"{kind_of(one)}")  # fmt: skip
                    return
                if one.startswith("#"):
                    found = self.by_id(one, opath)
                elif self.dialect == "v4":
                    found = parent.by_key.get(one)
                    if found is None:
                        self.bad(opath, f"XState v4 history 'target' {one!r} is not a child of "
                                 f"{parent.id!r} (v4 reads it as one key, not a path, and fails:"
                                 f" \"Child state '{one}' does not exist on '{parent.id}'\")"
                                 f"{hint(one, parent.by_key)}")  # fmt: skip
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
