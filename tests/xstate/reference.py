"""Both sides of the differential test: XState (a Node process) and dialoghub, as traces.

A *trace* is what a machine does under a sequence of events, one step per moment: step 0 right
after start, step k after ``events[k-1]``. A step is a dict with ``value`` (the XState state
value), ``context``, ``done``, ``output``, ``configuration`` (every active state node id, the
root included, sorted), ``tags`` (sorted) and ``meta`` ({node id: meta} of the active nodes
that have one); XState's steps also carry the ``event`` that led to them, for the reader. A
failure (a machine refused, an action or guard that throws) is a last step ``{"error": ...}``
at the index it happened.

* :class:`Reference` runs ``ref/run.mjs`` once and feeds it many cases (thousands a second);
* :func:`ours_trace` runs the same case through ``dialoghub.model.xstate_chart.compile_xstate``
  and ``dialoghub.engine.chart.start/send`` (imported lazily: :func:`interpreter` is None until
  they exist, and the comparison tests skip);
* :func:`compare` names the first disagreement, with the machine and the events as JSON.

Events: ``{"type": "E", ...}`` is sent as it is; ``{"advance": ms}`` moves the clock (XState: a
clock with real-time semantics, see ref/run.mjs; dialoghub: this module fires the delayed
events the interpreter armed, in due order); ``{"type": "$resolve" | "$reject", "id": I,
"data": D}`` answers the invoked service I (XState: its promise settles; dialoghub: the command
result, the event ``xstate.done.actor.I`` with ``output`` D, or ``xstate.error.actor.I`` with
``error`` D; both also carry ``data`` D, v4's name for it).
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "FIELDS",
    "REF_DIR",
    "Interpreter",
    "Reference",
    "ReferenceUnavailable",
    "compare",
    "interpreter",
    "ours_trace",
    "reference_problem",
]

HERE = Path(__file__).resolve().parent
REF_DIR = HERE / "ref"
RUNNER = REF_DIR / "run.mjs"
VERSIONS = ("v4", "v5")

#: the fields of a step compared, in the order a disagreement is looked for
FIELDS = ("configuration", "value", "context", "done", "output", "tags", "meta")

#: XState's id for the root of a machine without ``id``
ANONYMOUS_ROOT = "(machine)"


class ReferenceUnavailable(RuntimeError):
    """Node or the installed xstate packages are missing (``make xstate-ref`` installs them)."""


def _pinned(version: str) -> str:
    package = json.loads((REF_DIR / version / "package.json").read_text())
    return str(package["dependencies"]["xstate"])


def reference_problem() -> str | None:
    """Why the reference cannot run here, or None when it can."""
    node = shutil.which("node")
    if node is None:
        return "node is not installed (XState runs on Node.js; make xstate-ref installs xstate)"
    for version in VERSIONS:
        installed = REF_DIR / version / "node_modules" / "xstate" / "package.json"
        if not installed.exists():
            return f"xstate {version} is not installed in {installed.parent.parent}: run make xstate-ref"
        got = json.loads(installed.read_text())["version"]
        if got != _pinned(version):
            return f"xstate {got} installed in ref/{version}, {_pinned(version)} pinned: run make xstate-ref"
    return None


class Reference:
    """One Node process running XState, fed cases through a pipe.

    ``traces(cases)`` writes every case from a thread while reading the answers, so a batch of
    any size streams without filling either pipe.
    """

    def __init__(self) -> None:
        problem = reference_problem()
        if problem is not None:
            raise ReferenceUnavailable(problem)
        node = shutil.which("node")
        assert node is not None
        env = {**os.environ, "NODE_ENV": "development"}
        self._proc = subprocess.Popen(
            [node, str(RUNNER)],
            cwd=REF_DIR,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            bufsize=1,
            env=env,
        )
        self._lock = threading.Lock()
        hello = self.raw([{"hello": True}])[0]
        self.versions: dict[str, str] = hello["versions"]
        self.node: str = hello["node"]
        for version in VERSIONS:
            if self.versions[version] != _pinned(version):
                self.close()
                raise ReferenceUnavailable(
                    f"xstate {self.versions[version]} runs for {version}, {_pinned(version)} pinned"
                )

    def raw(self, requests: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """The runner's answers to ``requests``, as it printed them (warnings included)."""
        proc = self._proc
        assert proc.stdin is not None and proc.stdout is not None
        with self._lock:
            lines = [json.dumps(r, separators=(",", ":")) + "\n" for r in requests]
            failure: list[BaseException] = []

            def write() -> None:
                try:
                    assert proc.stdin is not None
                    for line in lines:
                        proc.stdin.write(line)
                    proc.stdin.flush()
                except BaseException as e:  # the reader reports the dead process
                    failure.append(e)

            writer = threading.Thread(target=write, daemon=True)
            writer.start()
            answers = []
            for _ in lines:
                line = proc.stdout.readline()
                if not line:
                    err = proc.stderr.read() if proc.stderr else ""
                    raise RuntimeError(f"the XState runner died: {err or failure}")
                answers.append(json.loads(line))
            writer.join()
            return answers

    def results(self, cases: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        """The runner's answers to ``cases`` (``{"machine", "version", "events", "context"?}``)."""
        return self.raw(list(cases))

    def traces(self, cases: Iterable[dict[str, Any]]) -> list[list[dict[str, Any]]]:
        """The trace of every case, in order."""
        return [as_trace(r) for r in self.results(cases)]

    def trace(
        self,
        machine: dict[str, Any],
        events: Sequence[dict[str, Any]],
        version: str = "v5",
        context: dict[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """The trace of one case."""
        return self.traces([case(machine, events, version, context)])[0]

    def close(self) -> None:
        proc = self._proc
        if proc.poll() is None:
            assert proc.stdin is not None
            proc.stdin.close()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()

    def __enter__(self) -> Reference:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def case(
    machine: dict[str, Any],
    events: Sequence[dict[str, Any]],
    version: str = "v5",
    context: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A request for the runner."""
    out: dict[str, Any] = {"machine": machine, "version": version, "events": list(events)}
    if context is not None:
        out["context"] = context
    return out


def as_trace(result: dict[str, Any]) -> list[dict[str, Any]]:
    """A runner answer as a trace: its steps, then ``{"error": message}`` if it failed."""
    steps = list(result["trace"])
    if result.get("error"):
        steps.append({"error": result["error"]["message"]})
    return steps


# --- dialoghub's side ------------------------------------------------------------------------


@dataclass(frozen=True)
class Interpreter:
    """dialoghub's compiler and interpreter, once they exist."""

    compile_xstate: Callable[..., Any]
    start: Callable[..., Any]
    send: Callable[..., Any]


def interpreter() -> Interpreter | None:
    """The compiler and interpreter, or None while they are not built yet."""
    try:
        compiler = importlib.import_module("dialoghub.model.xstate_chart")
        engine = importlib.import_module("dialoghub.engine.chart")
        return Interpreter(compiler.compile_xstate, engine.start, engine.send)
    except (ImportError, AttributeError):
        return None


def _registry() -> Any:
    """The library as the interpreter takes it: a ``Registry(guards=, actions=)`` if the engine
    defines one, else one dict by name (guards and actions share no name)."""
    from tests.xstate import library

    engine = importlib.import_module("dialoghub.engine.chart")
    registry_type = getattr(engine, "Registry", None)
    if registry_type is not None:
        return registry_type(guards=dict(library.GUARDS), actions=dict(library.ACTIONS))
    return dict(library.REGISTRY)


def _compile(interp: Interpreter, machine: dict[str, Any], version: str) -> Any:
    """``compile_xstate(machine, ...)``, told the dialect and the anonymous root's id when its
    signature has a place for them; a (chart, problems) answer with problems is a refusal."""
    try:
        params = inspect.signature(interp.compile_xstate).parameters
    except (TypeError, ValueError):
        params = {}  # type: ignore[assignment]
    kwargs: dict[str, Any] = {}
    for name in ("dialect", "version"):
        if name in params:
            kwargs[name] = version
            break
    for name in ("name", "default_id", "machine_id"):
        if name in params:
            kwargs[name] = ANONYMOUS_ROOT
            break
    result = interp.compile_xstate(machine, **kwargs)
    if isinstance(result, tuple):
        chart, problems = result[0], result[1] if len(result) > 1 else []
        if chart is None or problems:
            raise ValueError(f"refused: {problems}")
        return chart
    return result


_ARMED_FIELDS = ("delayed", "timers", "armed", "scheduled", "pending_delays", "after")
_KEY_FIELDS = ("id", "key", "seq", "token", "send_id")
_DELAY_FIELDS = ("delay_ms", "delay", "ms")


def _armed(state: Any) -> list[tuple[Any, Any, int, Any]]:
    """The delayed events ``state`` has armed, as (identity, event, delay in ms, item).

    The identity tells a timer armed again (a state re-entered) from one still running: an
    ``id``-like field of the item if it has one, else the item object itself (an interpreter
    that carries unchanged items over keeps their identity).
    """
    items: Any = ()
    for name in _ARMED_FIELDS:
        if hasattr(state, name):
            items = getattr(state, name) or ()
            break
    if isinstance(items, dict):
        items = list(items.values())
    out = []
    for item in items:
        key: Any = None
        for name in _KEY_FIELDS:
            if hasattr(item, name):
                key = (name, getattr(item, name))
                break
        if key is None:
            key = ("object", id(item))
        delay = next((getattr(item, n) for n in _DELAY_FIELDS if hasattr(item, n)), 0)
        event = getattr(item, "event", item)
        out.append((key, event, int(delay), item))
    return out


class _Clock:
    """The delayed events of dialoghub's side: due times over the interpreter's armed list."""

    def __init__(self) -> None:
        self.now = 0
        self.seq = 0
        self.armed: dict[Any, tuple[int, int, Any, Any]] = {}  # key -> (due, seq, event, keepalive)

    def sync(self, state: Any) -> None:
        fresh: dict[Any, tuple[int, int, Any, Any]] = {}
        for key, event, delay, item in _armed(state):
            if key in self.armed:
                fresh[key] = self.armed[key]
            else:
                self.seq += 1
                fresh[key] = (self.now + max(0, delay), self.seq, event, item)
        self.armed = fresh

    def next_due(self, end: int) -> tuple[Any, Any] | None:
        due = [(d, s, k) for k, (d, s, _e, _) in self.armed.items() if d <= end]
        if not due:
            return None
        d, _s, key = min(due, key=lambda t: (t[0], t[1]))
        event = self.armed.pop(key)[2]
        self.now = d
        return key, event


def _event_dict(event: Any) -> dict[str, Any]:
    if isinstance(event, dict):
        return event
    if isinstance(event, str):
        return {"type": event}
    return {"type": getattr(event, "event", str(event))}


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value, default=lambda o: list(o) if isinstance(o, tuple | set | frozenset) else str(o)))


def ours_trace(
    machine: dict[str, Any],
    events: Sequence[dict[str, Any]],
    version: str = "v5",
    context: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """dialoghub's trace of the case (raises LookupError while the interpreter is not built)."""
    interp = interpreter()
    if interp is None:
        raise LookupError("interpreter not built yet")
    from dialoghub.model.chart import DONE_INVOKE_PREFIX, ERROR_PREFIX

    steps: list[dict[str, Any]] = []
    try:
        chart = _compile(interp, machine, version)
    except Exception as e:
        return [{"error": f"compile: {type(e).__name__}: {e}"}]
    registry = _registry()
    anonymous = "id" not in machine

    def rename(node_id: str) -> str:
        # XState names an anonymous root "(machine)"; dialoghub may name it after its file
        if anonymous and chart.root != ANONYMOUS_ROOT:
            if node_id == chart.root:
                return ANONYMOUS_ROOT
            if node_id.startswith(chart.root + "."):
                return ANONYMOUS_ROOT + node_id[len(chart.root) :]
        return node_id

    def step(state: Any) -> dict[str, Any]:
        active = set(state.configuration) | {chart.root}
        nodes = [chart.nodes[i] for i in active]
        return _plain({
            "value": state.value,
            "context": state.context,
            "done": bool(state.done),
            "output": state.output,
            "configuration": sorted(rename(i) for i in active),
            "tags": sorted({t for n in nodes for t in n.tags}),
            "meta": {rename(n.id): n.meta for n in nodes if n.meta is not None},
        })  # fmt: skip

    clock = _Clock()

    def deliver(state: Any, event: dict[str, Any]) -> Any:
        try:
            new = interp.send(chart, state, event, registry)
        except Exception:
            if state.done:  # dialoghub refuses what XState ignores after the final state
                return state
            raise
        clock.sync(new)
        return new

    try:
        state = interp.start(chart, context, registry)
        clock.sync(state)
        steps.append(step(state))
        for event in events:
            if "advance" in event and "type" not in event:
                end = clock.now + int(event["advance"])
                while (due := clock.next_due(end)) is not None:
                    state = deliver(state, _event_dict(due[1]))
                clock.now = end
            elif event.get("type") in ("$resolve", "$reject"):
                if event["type"] == "$resolve":
                    answer = {"type": DONE_INVOKE_PREFIX + str(event["id"]), "output": event.get("data")}
                else:
                    answer = {"type": ERROR_PREFIX + str(event["id"]), "error": event.get("data")}
                answer["data"] = event.get("data")
                answer["actorId"] = event["id"]
                state = deliver(state, answer)
            else:
                state = deliver(state, dict(event))
            steps.append(step(state))
    except Exception as e:
        steps.append({"error": f"{type(e).__name__}: {e}"})
    return steps


# --- the comparison --------------------------------------------------------------------------


def _same(field: str, ours: Any, theirs: Any) -> bool:
    if field == "context":  # XState v4 has no context (undefined) where dialoghub has {}
        ours = ours or {}
        theirs = theirs or {}
    return bool(ours == theirs)


def _dump(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def compare(
    ours: Sequence[dict[str, Any]],
    theirs: Sequence[dict[str, Any]],
    machine: dict[str, Any] | None = None,
    events: Sequence[dict[str, Any]] | None = None,
    version: str | None = None,
) -> str | None:
    """The first disagreement between dialoghub's trace and XState's, or None.

    Errors agree when both sides fail at the same step; dialoghub refusing a machine at load
    (its step 0) agrees with XState failing at any step (XState finds a missing guard only when
    it evaluates it, dialoghub when it loads the machine).
    """

    def where(k: int) -> str:
        if k == 0:
            return "step 0 (start)"
        if events is not None and k - 1 < len(events):
            return f"step {k} (after {_dump(events[k - 1])})"
        return f"step {k}"

    def report(text: str) -> str:
        lines = [text]
        if version is not None:
            lines.append(f"version: {version}")
        if machine is not None:
            lines.append(f"machine: {_dump(machine)}")
        if events is not None:
            lines.append(f"events: {_dump(list(events))}")
        return "\n".join(lines)

    if ours and "error" in ours[0] and any("error" in s for s in theirs):
        return None
    for k in range(max(len(ours), len(theirs))):
        a = ours[k] if k < len(ours) else None
        b = theirs[k] if k < len(theirs) else None
        if a is None or b is None:
            return report(f"{where(k)}: trace ends early on the {'dialoghub' if a is None else 'xstate'} side")
        if "error" in a or "error" in b:
            if "error" in a and "error" in b:
                return None
            return report(
                f"{where(k)}: {'dialoghub' if 'error' in a else 'xstate'} fails\n"
                f"  xstate:    {_dump(b)}\n  dialoghub: {_dump(a)}"
            )
        for field in FIELDS:
            if not _same(field, a.get(field), b.get(field)):
                return report(
                    f"{where(k)}: {field} differs\n"
                    f"  xstate:    {_dump(b.get(field))}\n  dialoghub: {_dump(a.get(field))}"
                )
    return None
