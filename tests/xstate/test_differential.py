"""dialoghub's statecharts against XState itself, at every step (issue 18, part 5).

(a) the corpus (corpus/*.json): every machine runs in XState as recorded in corpus/expected/
    (the harness is right), and dialoghub agrees with XState on every step of every sequence
    (or refuses the machine at load where the corpus says it deliberately does);
(b) generated machines (generate.py): XState runs each (the generator makes valid, finite
    machines), and dialoghub agrees with it at every one of the 50 steps, in v5 and, where the
    machine has a v4 spelling, in v4.

``DIALOGHUB_XSTATE_EXAMPLES`` sets how many generated machines (b) draws: 200 by default,
1000 with ``make test``. The draws are derandomized: every run tries the same machines.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from tests.xstate.corpus import EXPECTED_DIR, FEATURES, Case, load_corpus
from tests.xstate.generate import EVENT_COUNT, MAX_DEPTH, Generated, cases, generate
from tests.xstate.record import expected_document
from tests.xstate.reference import Interpreter, Reference, as_trace, compare, ours_trace

ENTRIES = load_corpus()
CASES = [c for e in ENTRIES for c in e.cases()]
EXAMPLES = int(os.environ.get("DIALOGHUB_XSTATE_EXAMPLES", "200"))

#: corpus cases where dialoghub does not agree with XState yet, and why; each is an xfail
#: that must fail (strict): delete its line when it agrees
KNOWN_DISAGREEMENTS: dict[str, str] = {}


def _settings(examples: int) -> Callable[[Callable[..., None]], Callable[..., None]]:
    return settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


@pytest.fixture(scope="module")
def corpus_results(xstate: Reference) -> dict[str, list[dict[str, Any]]]:
    """What XState does with every corpus case now, all in one batch: case name -> answers."""
    requests = [r for c in CASES for r in c.requests()]
    answers = iter(xstate.results(requests))
    return {c.name: [next(answers) for _ in c.requests()] for c in CASES}


@pytest.fixture(scope="module")
def background() -> Iterator[ThreadPoolExecutor]:
    """A thread that waits for XState while dialoghub computes its side (two processes)."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="xstate") as pool:
        yield pool


# --- the corpus ---------------------------------------------------------------------------


def test_corpus_covers_issue_18() -> None:
    """At least 60 machines, 3+ sequences each, every feature of issue 18 shown by one."""
    assert len(ENTRIES) >= 60, len(ENTRIES)
    for entry in ENTRIES:
        assert len(entry.sequences) >= 3, entry.name
        unknown = set(entry.features) - set(FEATURES)
        assert not unknown, (entry.name, unknown)
    shown = {f for e in ENTRIES for f in e.features}
    missing = sorted(set(FEATURES) - shown)
    assert not missing, missing
    assert {c.version for c in CASES} == {"v4", "v5"}
    assert set(KNOWN_DISAGREEMENTS) <= {c.name for c in CASES}


def test_expected_files_are_the_corpus() -> None:
    """Each case has its recorded file and no file is left from a case gone."""
    files = {p.name for p in EXPECTED_DIR.glob("*.json")}
    wanted = {c.expected_path.name for c in CASES}
    assert wanted - files == set(), "run: .venv/bin/python -m tests.xstate.record"
    assert files - wanted == set()


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_xstate_does_what_is_recorded(
    case: Case, corpus_results: dict[str, list[dict[str, Any]]], xstate: Reference
) -> None:
    """XState, run now, does exactly what corpus/expected/<case>.json says it does."""
    recorded = json.loads(case.expected_path.read_text())
    live = expected_document(case, corpus_results[case.name], xstate.versions[case.version])
    assert live == recorded, f"XState no longer does what {case.expected_path.name} records"


def _corpus_params() -> list[Any]:
    out = []
    for case in CASES:
        marks = []
        if case.name in KNOWN_DISAGREEMENTS:
            marks.append(pytest.mark.xfail(reason=KNOWN_DISAGREEMENTS[case.name], strict=True))
        out.append(pytest.param(case, id=case.name, marks=marks))
    return out


@pytest.mark.parametrize("case", _corpus_params())
def test_corpus_agrees_with_xstate(
    case: Case,
    corpus_results: dict[str, list[dict[str, Any]]],
    dialoghub_charts: Interpreter,
) -> None:
    """dialoghub's configuration, value, context, done, output, tags and meta equal XState's
    after every event of every sequence; a machine the corpus says dialoghub refuses is
    refused at load, whatever XState does with it."""
    problems = []
    for req, result in zip(case.requests(), corpus_results[case.name], strict=True):
        ours = ours_trace(req["machine"], req["events"], case.version, req.get("context"))
        if case.entry.refused_in(case.version):
            if not (len(ours) == 1 and "error" in ours[0]):
                problems.append(f"dialoghub runs what it should refuse at load: {ours[:2]}")
            continue
        problem = compare(ours, as_trace(result), req["machine"], req["events"], case.version)
        if problem:
            problems.append(problem)
    assert not problems, "\n\n".join(problems)


# --- generated machines -------------------------------------------------------------------


def _run(g: Generated, ref: Reference) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    runs = g.versions()
    answers = ref.results({"machine": m, "version": v, "events": g.events} for v, m in runs)
    return [(v, m, a) for (v, m), a in zip(runs, answers, strict=True)]


def _valid(g: Generated, version: str, machine: dict[str, Any], answer: dict[str, Any]) -> None:
    """XState refuses none of the generator's machines, and none fails but for XState's own
    reasons: v5 stopping on a service that fails with no onError; v4 overflowing its stack
    or arming timers without end (in configurations it should never reach)."""
    error = answer["error"]
    if error is None or error["kind"] != "error":
        return
    where = f"seed {g.seed}, {version}: {error}\nmachine: {json.dumps(machine)}"
    assert error["step"] > 0, f"XState refuses a generated machine: {where}"
    event = g.events[error["step"] - 1]
    assert version == "v5" and event.get("type") == "$reject", where


@_settings(min(EXAMPLES, 200))
@given(cases())
def test_generated_machines_run_in_xstate(xstate_fast: Reference, g: Generated) -> None:
    """The generator's machines are valid XState and run to the end (see :func:`_valid`)."""
    assert len(g.events) == EVENT_COUNT
    for version, machine, answer in _run(g, xstate_fast):
        _valid(g, version, machine, answer)


def test_generated_machines_are_deep() -> None:
    """Depth 4 is reached, and both spellings are drawn."""

    def depth(node: dict[str, Any]) -> int:
        return max([0, *(1 + depth(c) for c in node.get("states", {}).values())])

    drawn = [generate(seed) for seed in range(100)]
    assert max(depth(g.machine) for g in drawn) == MAX_DEPTH
    assert 20 < sum(g.machine_v4 is not None for g in drawn) < 90


@_settings(EXAMPLES)
@given(cases())
def test_generated_machines_agree_with_xstate(
    xstate_fast: Reference,
    dialoghub_charts: Interpreter,
    background: ThreadPoolExecutor,
    g: Generated,
) -> None:
    """dialoghub agrees with XState at every step of 50 events, in every spelling."""
    theirs = background.submit(_run, g, xstate_fast)
    ours = {version: ours_trace(machine, g.events, version) for version, machine in g.versions()}
    for version, machine, answer in theirs.result():
        _valid(g, version, machine, answer)
        problem = compare(ours[version], as_trace(answer), machine, g.events, version)
        assert problem is None, (
            f"seed {g.seed} (tests.xstate.generate.generate({g.seed})):\n{problem}"
        )
