"""Inputs every face must refuse, decided by the engine step or the Hub's own checks: a
``set_variables`` for a unit the model does not have, a ``timeout`` with an unknown name, a
session id a URL cannot name (``.``, ``..``), an empty model id, values nested too deep.
Each refusal is an error of the library tree and leaves the store exactly as it was."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from dialoghub import Hub
from dialoghub.engine.records import SetVariables, Timeout, WaitForUser
from dialoghub.engine.step import TIMEOUT_NAMES, start, step
from dialoghub.errors import InvalidInput, UnknownModel
from dialoghub.model.loader import load_model
from dialoghub.model.spec import Model
from dialoghub.stores.base import SessionFilter
from tests.conftest import EXAMPLES

T0 = 1_700_000_000.0


@pytest.fixture(scope="module")
def pizza() -> Model:
    return load_model(EXAMPLES / "pizza" / "pizza.yaml")


async def stored(hub: Hub) -> list[tuple[Any, list[Any]]]:
    """Everything the store holds for tenant default: each snapshot with its whole log."""
    page = await hub.store.list_sessions(SessionFilter(tenant="default"), limit=1000)
    return [(s, await hub.store.events(s.id, limit=10_000)) for s in page.sessions]


@pytest.fixture(params=["memory://", "sqlite:///{tmp}/r.db"])
async def hub(request: pytest.FixtureRequest, tmp_path: Path, weather: Model,
              pizza: Model) -> AsyncIterator[Hub]:
    async with Hub(request.param.format(tmp=tmp_path), timers=False) as h:
        h.add_model(weather)
        h.add_model(pizza)
        yield h


# --- the pure step ------------------------------------------------------------------------


def test_step_refuses_set_variables_of_an_unknown_unit(pizza: Model) -> None:
    s = start(pizza, "p", now=T0).session
    with pytest.raises(InvalidInput, match="no unit 'nope'") as info:
        step(pizza, s, SetVariables(variables={"x": 1}, unit="nope"), T0 + 1)
    assert info.value.details["unit"] == "nope"
    assert "address" in info.value.message  # the units it has are named
    # The units it has are fine: the main one by name, and another one.
    for unit in (pizza.unit, "address"):
        r = step(pizza, s, SetVariables(variables={"street": "Baker"}, unit=unit), T0 + 1)
        assert r.session.variables[unit]["street"] == "Baker"


def test_step_refuses_a_timeout_of_an_unknown_name(weather: Model) -> None:
    s = start(weather, "w", now=T0).session
    for name in ("nope", "", "expire"):
        with pytest.raises(InvalidInput, match="no timeout") as info:
            step(weather, s, Timeout(name=name), T0 + 1)
        assert info.value.details["name"] == name
    assert {"prompt"} == TIMEOUT_NAMES
    r = step(weather, s, Timeout(name="prompt"), T0 + 1)
    assert isinstance(r.actions[-1], WaitForUser)


# --- through the Hub: refused, nothing stored ----------------------------------------------


async def test_hub_refusals_store_nothing(hub: Hub) -> None:
    await hub.create_session("weather", session_id="w1")
    await hub.create_session("pizza", session_id="p1")
    before = await stored(hub)
    with pytest.raises(InvalidInput):
        await hub.set_variables("p1", {"x": 1}, unit="nope")
    with pytest.raises(InvalidInput):
        await hub.timeout("w1", "nope")
    with pytest.raises(UnknownModel):
        await hub.create_session("", session_id="w2")
    for bad in (".", ".."):
        with pytest.raises(InvalidInput, match=r"not '\.' or '\.\.'"):
            await hub.create_session("weather", session_id=bad)
        with pytest.raises(InvalidInput):
            await hub.process_text(bad, "hi")
        with pytest.raises(InvalidInput):
            await hub.fork_session("w1", new_id=bad)
    assert await stored(hub) == before
    # Ids that merely contain dots are fine.
    for fine in ("...", ".a", "a.", "a..b"):
        assert (await hub.create_session("weather", session_id=fine)).id == fine


def nested(depth: int, leaf: Any = 1) -> Any:
    """``{"k": {"k": ... leaf}}`` with ``depth`` dicts, built without recursion."""
    value = leaf
    for _ in range(depth):
        value = {"k": value}
    return value


def test_too_deep_counts_levels_without_recursing() -> None:
    from dialoghub.engine.values import MAX_VALUE_DEPTH, too_deep

    assert too_deep(nested(MAX_VALUE_DEPTH)) is None
    assert too_deep(nested(MAX_VALUE_DEPTH + 1)) == ".".join(["k"] * MAX_VALUE_DEPTH)
    assert too_deep([[1]], 1) == "0" and too_deep([[1]], 2) is None
    assert too_deep(nested(200_000)) is not None  # far past the recursion limit: no error
    loop: dict[str, Any] = {}
    loop["self"] = loop
    assert too_deep(loop) is not None  # a cycle is simply too deep


async def test_hub_refuses_values_nested_too_deep(hub: Hub) -> None:
    from dialoghub.engine.records import CommandResult, EventInput, Jump

    await hub.create_session("weather", session_id="w1")
    before = await stored(hub)
    for depth in (65, 990, 50_000):
        deep = nested(depth)
        for call in (
            hub.create_session("weather", session_id="w2", metadata={"m": deep}),
            hub.create_session("weather", session_id="w2", params={"p": deep}),
            hub.set_variables("w1", {"v": deep}),
            hub.update("w1", EventInput(name="e", params={"p": deep})),
            hub.update("w1", Jump(state="start", params={"p": deep})),
            hub.update("w1", CommandResult(id="c", outputs={"o": deep})),
        ):
            with pytest.raises(InvalidInput, match="deeper than 64 levels") as info:
                await call
            assert info.value.details == {"max_depth": 64}
    assert await stored(hub) == before
    # 63 levels under a top-level key is the limit's own depth (64): accepted.
    await hub.create_session("weather", session_id="w2", metadata={"m": nested(63)})
    await hub.set_variables("w1", {"v": nested(63)})


async def test_hub_refuses_versions_the_stores_cannot_keep(hub: Hub) -> None:
    from dialoghub.engine.records import Text

    await hub.create_session("weather", session_id="w1")
    before = await stored(hub)
    for bad in (-1, 2**63, -(2**70)):
        with pytest.raises(InvalidInput, match="expected_version"):
            await hub.update("w1", Text(text="hi"), expected_version=bad, idempotency_key="k")
    assert await stored(hub) == before
