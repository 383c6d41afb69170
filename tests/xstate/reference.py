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
events the interpreter armed, ``{"type": armed.event, "counter": armed.counter}``, in due
order); ``{"type": "$resolve" | "$reject", "id": I,
"data": D}`` answers the invoked service I (XState: its promise settles; dialoghub: the command
result, the event ``xstate.done.actor.I`` with ``output`` D, or ``xstate.error.actor.I`` with
``error`` D, as XState v5 spells them; the interpreter presents them to a v4 chart as v4 does).
"""

from __future__ import annotations

import collections
import contextlib
import heapq
import importlib
import inspect
import json
import os
import queue
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
    "XSTATE_BROKE",
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

    A batch (:meth:`raw`, :meth:`results`, :meth:`traces`) is written from a thread while the
    answers are read, so a batch of any size streams without filling either pipe. A case
    XState gives no answer to within ``timeout`` seconds (XState looping for ever) is answered
    with an error of kind "timeout", and the process is restarted for the rest.
    """

    def __init__(self, production: bool = False, timeout: float = 10.0) -> None:
        """``production``: NODE_ENV=production, which silences XState v4's warnings and its
        checks that only warn (a third faster; the same traces)."""
        problem = reference_problem()
        if problem is not None:
            raise ReferenceUnavailable(problem)
        node = shutil.which("node")
        assert node is not None
        self._node = node
        self._env = {**os.environ, "NODE_ENV": "production" if production else "development"}
        self.timeout = timeout
        self._lock = threading.Lock()
        self._spawn()
        hello = self.raw([{"hello": True}])[0]
        self.versions: dict[str, str] = hello["versions"]
        self.node: str = hello["node"]
        for version in VERSIONS:
            if self.versions[version] != _pinned(version):
                self.close()
                raise ReferenceUnavailable(
                    f"xstate {self.versions[version]} runs for {version}, {_pinned(version)} pinned"
                )

    def _spawn(self) -> None:
        self._proc = subprocess.Popen(
            [self._node, str(RUNNER)],
            cwd=REF_DIR,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            bufsize=1,
            env=self._env,
        )
        self._answers: queue.Queue[str | None] = queue.Queue()
        self._stderr: collections.deque[str] = collections.deque(maxlen=40)
        proc, answers, stderr = self._proc, self._answers, self._stderr

        def pump() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                answers.put(line)
            answers.put(None)

        def drain() -> None:
            assert proc.stderr is not None
            for line in proc.stderr:
                stderr.append(line)

        self._threads = [threading.Thread(target=f, daemon=True) for f in (pump, drain)]
        for t in self._threads:
            t.start()

    def _reap(self) -> None:
        """After the process ended: its readers finish at end of file, then the pipes close."""
        for t in self._threads:
            t.join(timeout=5)
        for stream in (self._proc.stdin, self._proc.stdout, self._proc.stderr):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()

    def _kill(self) -> None:
        self._proc.kill()
        self._proc.wait()
        self._reap()

    def raw(self, requests: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """The runner's answers to ``requests``, as it printed them (warnings included)."""
        with self._lock:
            return self._raw(list(requests))

    def _raw(self, requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if not requests:
            return []
        proc, answers = self._proc, self._answers
        lines = [json.dumps(r, separators=(",", ":")) + "\n" for r in requests]

        def write() -> None:
            try:
                assert proc.stdin is not None
                for line in lines:
                    proc.stdin.write(line)
                proc.stdin.flush()
            except (BrokenPipeError, ValueError, OSError):
                pass  # the process died or was killed: the reader reports it

        writer = threading.Thread(target=write, daemon=True)
        writer.start()
        out: list[dict[str, Any]] = []
        for i in range(len(lines)):
            try:
                line = answers.get(timeout=self.timeout)
            except queue.Empty:
                self._kill()
                writer.join()
                self._spawn()
                message = f"XState gave no answer within {self.timeout:g} s (an endless loop?)"
                out.append(
                    {
                        "trace": [],
                        "error": {"step": 0, "message": message, "kind": "timeout"},
                        "warnings": [],
                    }
                )
                return out + self._raw(requests[i + 1 :])
            if line is None:
                raise RuntimeError("the XState runner died: " + "".join(self._stderr))
            out.append(json.loads(line))
        writer.join()
        return out

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
            try:
                proc.stdin.close()
                proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                proc.kill()
                proc.wait()
        self._reap()

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


#: XState failures that are no behaviour to compare with: the comparison stops there
XSTATE_BROKE = frozenset({"stack-overflow", "timer-storm", "timeout"})

#: the most delayed events one advance fires, and the most armed at once (ref/run.mjs
#: MAX_FIRED, MAX_ARMED): past them, a timer storm
MAX_FIRED = 2000
MAX_ARMED = 500


def as_trace(result: dict[str, Any]) -> list[dict[str, Any]]:
    """A runner answer as a trace: its steps, then ``{"error": message, "kind": kind}`` if it
    failed (kind "error", or one of :data:`XSTATE_BROKE`)."""
    steps = list(result["trace"])
    error = result.get("error")
    if error:
        steps.append({"error": error["message"], "kind": error.get("kind", "error")})
    return steps


# --- dialoghub's side ------------------------------------------------------------------------


@dataclass(frozen=True)
class Interpreter:
    """dialoghub's compiler and interpreter (``dialoghub.model.xstate_chart``,
    ``dialoghub.engine.chart``), once they exist."""

    compile_xstate: Callable[..., Any]
    start: Callable[..., Any]
    send: Callable[..., Any]
    value: Callable[..., Any] | None
    registry: Any


def interpreter() -> Interpreter | None:
    """The compiler and interpreter, or None while they are not built yet."""
    try:
        compiler = importlib.import_module("dialoghub.model.xstate_chart")
        engine = importlib.import_module("dialoghub.engine.chart")
        return Interpreter(
            compiler.compile_xstate,
            engine.start,
            engine.send,
            getattr(engine, "value", None),
            getattr(engine, "Registry", None),
        )
    except (ImportError, AttributeError):
        return None


def _registry(interp: Interpreter) -> Any:
    """The library as the interpreter takes it: ``Registry(guards=, actions=)``."""
    from tests.xstate import library

    if interp.registry is not None:
        return interp.registry(guards=dict(library.GUARDS), actions=dict(library.ACTIONS))
    return dict(library.REGISTRY)


def _compile(interp: Interpreter, machine: dict[str, Any], version: str) -> Any:
    """``compile_xstate(machine, ...)`` told the dialect, the library's names, and XState's id
    for an anonymous root, where its signature has a place for them."""
    from tests.xstate import library

    try:
        params = inspect.signature(interp.compile_xstate).parameters
    except (TypeError, ValueError):
        params = {}  # type: ignore[assignment]
    offers = {
        "dialect": version,
        "name": ANONYMOUS_ROOT,
        "guards": tuple(library.GUARDS),
        "actions": tuple(library.ACTIONS),
    }
    kwargs = {k: v for k, v in offers.items() if k in params}
    result = interp.compile_xstate(machine, **kwargs)
    if isinstance(result, tuple):  # (chart, problems)
        chart, problems = result[0], result[1] if len(result) > 1 else []
        if chart is None or problems:
            raise ValueError(f"refused: {problems}")
        return chart
    return result


class _Clock:
    """The clock of dialoghub's side, the same as the runner's (ref/run.mjs StepClock): each
    armed delayed event is due ``delay_ms`` after the instant it was armed; advancing fires
    every one due within the interval in due order, ties in arming order."""

    def __init__(self) -> None:
        self.now = 0
        self.fired = 0  # in the current advance
        self.due: dict[Any, tuple[int, int, dict[str, Any]]] = {}  # arming -> (due, order, event)
        self.heap: list[tuple[int, int, Any]] = []  # (due, order, arming); gone ones skipped

    def sync(self, state: Any) -> None:
        """Take the interpreter's armed list: new armings are due from now, gone ones drop."""
        armed = getattr(state, "armed", ())
        if len(armed) > MAX_ARMED:
            raise RuntimeError(f"timer storm: more than {MAX_ARMED} timers armed at once")
        old = self.due
        fresh: dict[Any, tuple[int, int, dict[str, Any]]] = {}
        for a in armed:
            counter = getattr(a, "counter", None)
            key = counter if counter is not None else ("object", id(a))
            entry = old.get(key)
            if entry is None:
                event = (
                    {"type": a.event} if counter is None else {"type": a.event, "counter": counter}
                )
                order = counter if counter is not None else len(old) + len(fresh)
                entry = (self.now + max(0, int(a.delay_ms)), order, event)
                heapq.heappush(self.heap, (entry[0], entry[1], key))
            fresh[key] = entry
        self.due = fresh

    def next_due(self, end: int) -> dict[str, Any] | None:
        """The next event due by ``end`` (the clock moves to its instant), or None."""
        heap = self.heap
        while heap and heap[0][2] not in self.due:
            heapq.heappop(heap)
        if not heap or heap[0][0] > end:
            return None
        self.fired += 1
        if self.fired > MAX_FIRED:
            raise RuntimeError(f"timer storm: more than {MAX_FIRED} timers fired in one advance")
        due, _order, key = heapq.heappop(heap)
        self.now = due
        return self.due.pop(key)[2]


def _plain(value: Any) -> Any:
    def default(o: Any) -> Any:
        if isinstance(o, tuple | set | frozenset):
            return list(o)
        return str(o)

    return json.loads(json.dumps(value, default=default))


def _state_of(result: Any) -> Any:
    return getattr(result, "state", result)  # start/send answer a Step(state, effects, ...)


def ours_trace(
    machine: dict[str, Any],
    events: Sequence[dict[str, Any]],
    version: str = "v5",
    context: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """dialoghub's trace of the case (raises LookupError while the interpreter is not built).

    A refusal at load is a step-0 error; an exception while running, or the chart stopping on
    an error (``ChartState.error``: an invoked service failed unhandled, XState v5's error
    status), is an error at its step. An event after the machine is done is refused by
    dialoghub and ignored by XState: the step repeats the done state.
    """
    interp = interpreter()
    if interp is None:
        raise LookupError("interpreter not built yet")
    from dialoghub.model.chart import DONE_INVOKE_PREFIX, ERROR_PREFIX

    try:
        chart = _compile(interp, machine, version)
    except Exception as e:
        return [{"error": f"compile: {type(e).__name__}: {e}", "kind": "error"}]
    registry = _registry(interp)
    # (a v4 root's `key` names it too: StateNode key = config.key || config.id)
    anonymous = "id" not in machine and not (version == "v4" and machine.get("key"))

    def rename(node_id: str) -> str:
        # XState names an anonymous root "(machine)"; dialoghub may name it after its file
        if anonymous and chart.root != ANONYMOUS_ROOT:
            if node_id == chart.root:
                return ANONYMOUS_ROOT
            if node_id.startswith(chart.root + "."):
                return ANONYMOUS_ROOT + node_id[len(chart.root) :]
        return node_id

    def step(state: Any) -> dict[str, Any]:
        active = set(state.configuration)
        nodes = [chart.nodes[i] for i in active]
        value = interp.value(chart, state) if interp.value is not None else state.value
        out: dict[str, Any] = _plain({
            "value": value,
            "context": state.context,
            "done": bool(state.done),
            "output": state.output,
            "configuration": sorted(rename(i) for i in active),
            "tags": sorted({t for n in nodes for t in n.tags}),
            "meta": {rename(n.id): n.meta for n in nodes if n.meta is not None},
        })  # fmt: skip
        return out

    def stopped(state: Any) -> bool:
        return bool(state.done) or getattr(state, "error", None) is not None

    clock = _Clock()

    def deliver(state: Any, event: dict[str, Any]) -> Any:
        if stopped(state):
            try:
                return _state_of(interp.send(chart, state, event, registry=registry))
            except Exception:  # dialoghub refuses what XState ignores after the end
                return state
        new = _state_of(interp.send(chart, state, event, registry=registry))
        clock.sync(new)
        return new

    steps: list[dict[str, Any]] = []
    try:
        state = _state_of(interp.start(chart, context=context, registry=registry))
        clock.sync(state)
        steps.append(step(state))
        for event in events:
            if "advance" in event and "type" not in event:
                end = clock.now + int(event["advance"])
                clock.fired = 0
                while not stopped(state) and (due := clock.next_due(end)) is not None:
                    state = deliver(state, due)
                clock.now = end
            elif event.get("type") in ("$resolve", "$reject"):
                ident = str(event["id"])
                if event["type"] == "$resolve":
                    answer = {"type": DONE_INVOKE_PREFIX + ident, "output": event.get("data")}
                else:
                    answer = {"type": ERROR_PREFIX + ident, "error": event.get("data")}
                answer["actorId"] = ident
                state = deliver(state, answer)
            else:
                state = deliver(state, dict(event))
            if getattr(state, "error", None) is not None and not (steps and "error" in steps[-1]):
                steps.append({"error": f"stopped: {state.error!r}", "kind": "error"})
                break
            steps.append(step(state))
    except Exception as e:
        steps.append({"error": f"{type(e).__name__}: {e}", "kind": "error"})
    return steps


# --- the comparison --------------------------------------------------------------------------


def _same(field: str, ours: Any, theirs: Any) -> bool:
    if field == "context":  # XState v4 has no context (undefined) where dialoghub has {}
        ours = ours or {}
        theirs = theirs or {}
    return bool(ours == theirs)


def _dump(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


#: compare past the first step XState marks illegal (DIALOGHUB_XSTATE_ILLEGAL=1), see compare
THROUGH_ILLEGAL = os.environ.get("DIALOGHUB_XSTATE_ILLEGAL", "") not in ("", "0")


def compare(
    ours: Sequence[dict[str, Any]],
    theirs: Sequence[dict[str, Any]],
    machine: dict[str, Any] | None = None,
    events: Sequence[dict[str, Any]] | None = None,
    version: str | None = None,
    through_illegal: bool | None = None,
) -> str | None:
    """The first disagreement between dialoghub's trace and XState's, or None.

    Errors agree when both sides fail at the same step; dialoghub refusing a machine at load
    (its step 0) agrees with XState failing at any step (XState finds a missing guard only when
    it evaluates it, dialoghub when it loads the machine). Where XState itself broke (its
    stack overflowing, its timers firing without end, or looping for ever: :data:`XSTATE_BROKE`)
    the comparison stops: the steps before must
    agree, nothing after is compared. The first step XState marks ``illegal`` (a
    configuration it should never reach: v4 taking conflicting transitions of parallel
    regions, v5 entering a parallel state's history) is compared, and the comparison stops
    after it, unless ``through_illegal`` (default :data:`THROUGH_ILLEGAL`): what XState does
    from a configuration it cannot be in is no specification, though the interpreter follows
    it a long way.
    """
    if through_illegal is None:
        through_illegal = THROUGH_ILLEGAL

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
        if b is not None and b.get("kind") in XSTATE_BROKE:
            return None
        if a is None or b is None:
            return report(
                f"{where(k)}: trace ends early on the {'dialoghub' if a is None else 'xstate'} side"
            )
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
                    + (
                        f"\n  (XState: illegal configuration, {b['illegal']})"
                        if "illegal" in b
                        else ""
                    )
                )
        if "illegal" in b and not through_illegal:
            return None
    return None
