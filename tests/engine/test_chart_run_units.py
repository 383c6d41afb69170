"""Unit tests of a macrostep's working state (src/dialoghub/engine/chart_run.py): the
microstep bound, exactly at MAX_MICROSTEPS, and a stored state naming no node."""

from __future__ import annotations

from typing import Any

import pytest

from dialoghub.engine import chart as E
from dialoghub.engine.chart import MAX_MICROSTEPS, ChartState, Registry
from dialoghub.engine.chart_index import _compiled
from dialoghub.errors import InvalidInput, ModelError
from dialoghub.model.chart import Ref
from tests.engine.test_chart import build

INC = Registry(actions={"inc": lambda ctx, ev, params: {"n": ctx["n"] + 1}})


def _counting(limit: int) -> Any:
    """The initial microstep, then one eventless microstep per count below ``limit``."""
    guard = Ref("xstate.condition", {"expr": f"n < {limit}"})
    return build({
        "initial": "a", "context": {"n": 0},
        "states": {"a": {"always": {"guard": guard, "actions": ["inc"]}}},
    })  # fmt: skip


def test_exactly_max_microsteps_come_to_rest() -> None:
    step = E.start(_counting(MAX_MICROSTEPS - 1), registry=INC)
    assert len(step.microsteps) == MAX_MICROSTEPS
    assert step.state.context == {"n": MAX_MICROSTEPS - 1}


def test_one_microstep_more_is_a_cycle() -> None:
    with pytest.raises(ModelError) as err:
        E.start(_counting(MAX_MICROSTEPS), registry=INC)
    assert err.value.message == (
        "chart 'm': more than 1000 microsteps in one macrostep without coming to rest: "
        "eventless transitions or raised events go round in a cycle (XState would loop for ever)"
    )


def test_a_state_naming_no_node_is_refused() -> None:
    chart = build({"initial": "a", "states": {"a": {}}})
    with pytest.raises(InvalidInput) as err:
        E.send(chart, ChartState(configuration=("m", "m.gone")), {"type": "E"})
    assert err.value.message == "chart 'm' has no state 'm.gone'"


def test_a_pure_step_of_a_flat_chart_is_remembered_and_an_impure_one_is_not() -> None:
    """A step that evaluates no guard and runs no action is a function of (configuration,
    event type): remembered in the chart's memo (a flat dialog then costs a lookup)."""
    chart = build({"initial": "a", "states": {
        "a": {"on": {"GO": "m.b", "BEEP": {"actions": ["beep"]}}}, "b": {}}})  # fmt: skip
    state = E.start(chart).state
    E.send(chart, state, {"type": "GO"})
    E.send(chart, state, {"type": "BEEP"})
    memo = _compiled(chart).memo
    assert memo == {(("m", "m.a"), "GO"): (("m", "m.b"), (("m.a",), ("m.b",)))}
