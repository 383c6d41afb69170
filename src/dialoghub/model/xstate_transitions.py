"""XState transitions: ``on`` (v4 and v5 spellings), eventless, ``invoke`` with its
``onDone``/``onError``, and ``after`` delays.

Part of the XState compiler's chain (:mod:`dialoghub.model.xstate_base` draws it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dialoghub.model.chart import (
    AFTER_PREFIX,
    DONE_INVOKE_PREFIX,
    ERROR_PREFIX,
    Delayed,
    Invoke,
    Transition,
)
from dialoghub.model.source import Path
from dialoghub.model.xstate_base import (
    INVOKE_KEYS,
    JS_NUMBER,
    TRANSITION_KEYS,
    UNSUPPORTED_INVOKE,
    V4_AFTER,
    V4_EVENTS,
    RawNode,
    as_list,
    copy_plain,
    hint,
    is_json,
    js_keys,
    kind_of,
)  # fmt: skip
from dialoghub.model.xstate_behaviour import BehaviourPart

__all__ = ["TransitionsPart"]


class TransitionsPart(BehaviourPart):
    """XState transitions: ``on`` (v4 and v5 spellings), eventless, ``invoke`` with its"""

    def event(self, raw_event: str, path: Path) -> str | None:
        """An ``on`` key as the event descriptor the chart uses (None: eventless)."""
        if raw_event == "":
            return None if self.dialect == "v4" else ""  # v5: reported by the markers
        if self.dialect == "v4":
            for old, new in V4_EVENTS:
                if raw_event.startswith(old) and len(raw_event) > len(old):
                    return new + raw_event[len(old) :]
            m = V4_AFTER.fullmatch(raw_event)
            if m:
                return f"{AFTER_PREFIX}{m.group(1)}.{m.group(2)}"
        # A '*' anywhere but as the whole descriptor or its last token: XState v5 warns
        # ("Wildcards can only be the last token of an event descriptor") and runs it as
        # matchesEventDescriptor reads it: 'event*' is that literal name, an infix '*'
        # ('a.*.b.*') matches nothing but the literal; the interpreter does the same. v4 has
        # only '*': `a.*` (or `m*`) is that literal event name there (v4 StateNode.transition
        # compares event types), which the interpreter then matches exactly.
        return raw_event

    def on(self, raw: RawNode) -> None:
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
            self.bad(path, f"XState 'on' must map events to transitions, not {kind_of(on)}")
            return
        for key in js_keys(on):
            epath: Path = (*path, key)
            if not isinstance(key, str):
                self.bad(epath, f"XState event types are strings, not {kind_of(key)}")
                continue
            if self.dialect == "v5" and key == "":
                continue  # reported by the markers
            event = self.event(key, epath)
            if event is None and key != "":
                continue
            self.add(raw, event, on[key], epath)

    def add(self, raw: RawNode, event: str | None, value: Any, path: Path) -> None:
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

    def transition(
        self, raw: RawNode, event: str | None, item: Any, path: Path
    ) -> Transition | None:
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
                         f"not {kind_of(item)}")  # fmt: skip
            return None
        ok = True
        for key in item:
            if key in TRANSITION_KEYS:
                continue
            self.bad((*path, key), f"XState has no transition key {key!r}"
                     f"{hint(key, TRANSITION_KEYS)}")  # fmt: skip
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
                             f"not {kind_of(one)}")  # fmt: skip
                    ok = False
                else:
                    texts.append((one, (*tpath, i)))
        elif isinstance(written, str):
            if written:
                texts.append((written, tpath))
        elif written is not None:
            self.bad(tpath, f"an XState target is a state's key, path or '#id', not "
                     f"{kind_of(written)}")  # fmt: skip
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

    def invokes(self, raw: RawNode) -> None:
        cfg, path = raw.config, (*raw.path, "invoke")
        if "invoke" not in cfg:
            return
        value = cfg["invoke"]
        for i, inv in enumerate(as_list(value)):
            ipath: Path = (*path, i) if isinstance(value, list) else path
            if not isinstance(inv, Mapping):
                self.bad(ipath, f"XState 'invoke' is {{src, id, input, onDone, onError}}, not "
                         f"{kind_of(inv)}")  # fmt: skip
                continue
            ok = True
            for k in inv:
                if k in INVOKE_KEYS or (k == "data" and self.dialect == "v5") or (
                        k == "input" and self.dialect == "v4"):  # fmt: skip
                    continue
                if k == "systemId" and self.dialect == "v5" and isinstance(inv[k], str):
                    continue  # the actor's name in its system (system.get): no transition
                    # of the machine reads it, so it is kept out of the chart
                ok = False
                self.bad((*ipath, k), UNSUPPORTED_INVOKE.get(k) or f"XState has no 'invoke' "
                         f"key {k!r}{hint(k, INVOKE_KEYS)}")  # fmt: skip
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
                    if is_json(given):
                        data = copy_plain(given)
                    else:
                        self.plain(given, (*ipath, key), "'invoke.input'")
                        ok = False
                elif not isinstance(given, Mapping):
                    self.bad((*ipath, key), f"XState 'invoke.{key}' must be a mapping here, not "
                             f"{kind_of(given)}")  # fmt: skip
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

    def delay(self, raw: RawNode, value: Any, path: Path) -> tuple[int, str] | None:
        """A delay as (milliseconds, the text of its event), as v5 ``+delay`` reads it."""
        number: float | None = None
        if isinstance(value, bool):
            pass
        elif isinstance(value, int | float) or (
            isinstance(value, str) and JS_NUMBER.fullmatch(value)
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

    def afters(self, raw: RawNode) -> None:
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
            for key in js_keys(after):
                entries.append((key, after[key], (*path, key), (*path, key)))
        else:
            self.bad(path, f"XState 'after' must map delays to transitions, not "
                     f"{kind_of(after)}")  # fmt: skip
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
