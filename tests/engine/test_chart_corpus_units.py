"""The XState corpus replayed against its recorded answers, without Node.js.

tests/xstate runs XState live (and skips where its node_modules are not installed); the
answers it checks against are also committed, one file per case, in
``tests/xstate/corpus/expected/``. This test compares dialoghub's trace of every recorded
sequence with the recorded one, step by step (configuration, value, context, done, output,
tags, meta), with the same ``compare`` the live test uses. It needs no XState process, so it
runs everywhere and is fast enough for mutation testing of the statechart engine.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.xstate.corpus import Case, load_corpus
from tests.xstate.reference import as_trace, compare, ours_trace

CASES = [c for e in load_corpus() for c in e.cases()]


def _recorded(case: Case) -> list[dict[str, Any]]:
    doc: dict[str, Any] = json.loads(case.expected_path.read_text())
    sequences: list[dict[str, Any]] = doc["sequences"]
    return sequences


def test_every_case_has_a_recording() -> None:
    """Each corpus case has its expected file, with one recorded answer per sequence."""
    assert len(CASES) > 100
    for case in CASES:
        recorded = _recorded(case)
        assert [s["events"] for s in recorded] == [r["events"] for r in case.requests()]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_corpus_agrees_with_recorded_xstate(case: Case) -> None:
    """dialoghub's trace equals XState's recorded one after every event of every sequence (a
    machine dialoghub deliberately refuses is refused at load)."""
    problems = []
    for req, result in zip(case.requests(), _recorded(case), strict=True):
        ours = ours_trace(req["machine"], req["events"], case.version, req.get("context"))
        if case.entry.refused_in(case.version):
            if not (len(ours) == 1 and "error" in ours[0]):
                problems.append(f"dialoghub runs what it should refuse at load: {ours[:2]}")
            continue
        problem = compare(ours, as_trace(result), req["machine"], req["events"], case.version)
        if problem:
            problems.append(problem)
    assert not problems, "\n\n".join(problems)
