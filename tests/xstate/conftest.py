"""Fixtures of the differential tests: one XState process per test session (two: one with
XState's development warnings for the corpus, whose expected files record them, one in
production mode, a third faster, for the generated machines)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.xstate.reference import Interpreter, Reference, interpreter, reference_problem


def _need_reference() -> None:
    problem = reference_problem()
    if problem is None:
        return
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"XState is needed on CI: {problem}")
    pytest.skip(problem)


@pytest.fixture(scope="session")
def xstate() -> Iterator[Reference]:
    """XState (v4 and v5) in one Node process, development mode (v4 warns)."""
    _need_reference()
    with Reference() as ref:
        yield ref


@pytest.fixture(scope="session")
def xstate_fast() -> Iterator[Reference]:
    """XState in production mode: the same traces without v4's warnings."""
    _need_reference()
    with Reference(production=True) as ref:
        yield ref


@pytest.fixture(scope="session")
def dialoghub_charts() -> Interpreter:
    """dialoghub's XState compiler and statechart interpreter."""
    interp = interpreter()
    if interp is None:
        pytest.skip("interpreter not built yet")
    return interp
