"""Telling an XState machine from a dialog model, and XState v4 from v5, by the keys used.

:func:`looks_like_xstate` and :func:`detect_dialect`; the compiler
(:mod:`dialoghub.model.xstate_chart`) reads the same markers to report a machine that mixes the
two versions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

from dialoghub.model.keys import KEYS
from dialoghub.model.source import Path
from dialoghub.model.xstate_base import GUARD_ARGS, ROOT_KEYS, Dialect, as_list, js_keys

__all__ = ["WEAK_V4", "Marker", "detect_dialect", "dialect_markers", "looks_like_xstate"]

#: keys of a state that only XState uses (the model language's states have none of them)
_XSTATE_STATE_ONLY = frozenset({
    "type", "states", "initial", "entry", "exit", "onEntry", "onExit", "always", "after",
    "onDone", "invoke", "meta", "tags", "history", "target", "output", "data", "id", "parallel",
})  # fmt: skip
_XSTATE_ROOT_ONLY = (_XSTATE_STATE_ONLY | ROOT_KEYS | {"on"}) - {"id", "states", "version"}
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
class Marker:
    dialect: Dialect
    what: str  # "'cond'", "the '' key of 'on'"
    path: Path
    fix: str  # what the other version writes instead
    #: a spelling the other version reads too, meaning something else (v5's ``a.*`` is a
    #: literal event name in v4): it decides the version alone, never conflicts with the other's
    weak: bool = False


def dialect_markers(root: Mapping[str, Any]) -> list[Marker]:
    """Every version-exclusive key of the machine, in document order (strong markers)."""
    out: list[Marker] = []

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
                out.append(Marker(cast(Dialect, d), f"{key!r}", (*path, key), fix))
        if isinstance(item.get("guard"), Mapping):
            guard(item["guard"], (*path, "guard"))
        t = item.get("target")
        for i, one in enumerate(as_list(t)):
            if isinstance(one, str):
                target(one, (*path, "target", i) if isinstance(t, list) else (*path, "target"),
                       from_root)  # fmt: skip

    def target(text: str, path: Path, from_root: bool) -> None:
        if from_root and text and text[0] not in ".#":
            out.append(Marker("v4", f"the target {text!r} from the machine's root", path,
                               f"write '.{text}'"))  # fmt: skip

    def guard(g: Mapping[str, Any], path: Path) -> None:
        kind = g.get("type")
        if isinstance(kind, str) and kind.removeprefix("xstate.") in GUARD_ARGS:
            out.append(Marker("v5", f"the {kind!r} guard", path,
                               "write 'in' on the transition" if kind.endswith("stateIn")
                               else "v4 has no such guard"))  # fmt: skip

    def transitions(value: Any, path: Path, from_root: bool) -> None:
        for i, item in enumerate(as_list(value)):
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
                out.append(Marker(cast(Dialect, d), f"{key!r}", (*path, key), fix))
        if isinstance(cfg.get("initial"), Mapping):
            out.append(Marker("v5", "'initial' as {target}", (*path, "initial"),
                               "write the child's key"))  # fmt: skip
        on = cfg.get("on")
        if isinstance(on, list):
            out.append(Marker("v4", "'on' as a list", (*path, "on"),
                               "write 'on' as a mapping of events"))  # fmt: skip
            for i, item in enumerate(on):
                transition(item, (*path, "on", i), is_root)
        elif isinstance(on, Mapping):
            for event in on:
                if not isinstance(event, str):
                    continue
                if event == "":
                    out.append(Marker("v4", "the '' key of 'on'", (*path, "on", event),
                                       "write 'always'"))  # fmt: skip
                elif event.endswith(".*") and event != ".*":
                    out.append(Marker("v5", f"the partial wildcard {event!r}",
                                       (*path, "on", event),
                                       "XState v4 reads it as an event of that exact name "
                                       "(v4 has only '*')", weak=True))  # fmt: skip
                transitions(on[event], (*path, "on", event), is_root)
        for key in ("always", "onDone"):
            if key in cfg:
                transitions(cfg[key], (*path, key), is_root)
        after = cfg.get("after")
        if isinstance(after, list):
            out.append(Marker("v4", "'after' as a list", (*path, "after"),
                               "write 'after' as a mapping of delays"))  # fmt: skip
            transitions(after, (*path, "after"), is_root)
        elif isinstance(after, Mapping):
            for delay in after:
                transitions(after[delay], (*path, "after", delay), is_root)
        invoke = cfg.get("invoke")
        for i, inv in enumerate(as_list(invoke) if invoke is not None else []):
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
                    out.append(Marker(cast(Dialect, d), f"'invoke.{key}'", (*ipath, key), fix))
            for key in ("onDone", "onError"):
                if key in inv:
                    transitions(inv[key], (*ipath, key), is_root)
        states = cfg.get("states")
        if isinstance(states, Mapping):
            for key in js_keys(states):
                if isinstance(states[key], Mapping):
                    node(states[key], (*path, "states", key))

    node(root, ())
    return out


WEAK_V4 = ("predictableActionArguments", "preserveActionOrder", "schema", "tsTypes")


def detect_dialect(config: Any) -> Dialect | None:
    """ "v4" or "v5" from the keys a machine uses; None if it uses both versions' keys."""
    if not isinstance(config, Mapping):
        return "v5"
    markers = dialect_markers(config)
    found = {m.dialect for m in markers if not m.weak} or {m.dialect for m in markers}
    if len(found) == 2:
        return None
    if found:
        return found.pop()
    return "v4" if any(k in config for k in WEAK_V4) else "v5"
