"""Nothing a caller receives from the Hub can change the Hub's state (issue 8, item 3).

A :class:`~dialoghub.hub.view.SessionView` holds the session, actions and events of an update;
the engine shares dicts and lists between them (copy on write), and the hub caches the
snapshot. A caller that changes what it was given (``view.session.metadata``, the variables,
a command's params, an event's data, or the dicts it passed to ``create_session``) must not
change the next turn, the stored snapshot or the log: the stored snapshot stays the fold of
the log, time travel agrees with it, and an exported session is accepted by an import.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dialoghub import Hub, errors
from dialoghub.engine.fold import replay
from dialoghub.engine.records import (
    ASR,
    CommandResult,
    End,
    Input,
    Jump,
    Session,
    SetVariables,
    Text,
    Timeout,
)
from dialoghub.hub.view import SessionView
from dialoghub.model.spec import Model

UTTERANCES = [
    "hello", "what's the weather in Paris", "how about London", "Tokyo", "thanks",
    "weather in Rome tomorrow", "bye", "purple monkey dishwasher", "forecast for Madrid",
]  # fmt: skip
STATES = ["start", "listen", "greet", "forecast", "unknown_city", "welcome"]
nested = st.recursive(
    st.integers(-5, 5) | st.text(max_size=3),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=2), inner),
    max_leaves=6,
)
inputs = st.one_of(
    st.builds(Text, text=st.sampled_from(UTTERANCES)),
    st.builds(ASR, text=st.sampled_from(UTTERANCES), confidence=st.floats(0, 1)),
    st.builds(
        CommandResult,
        id=st.just("lookup_weather"),
        outputs=st.fixed_dictionaries(
            {}, optional={"forecast": nested, "temperature": st.integers(-30, 45)}
        ),
        error=st.none() | st.just("down"),
    ),
    st.builds(
        Jump,
        state=st.sampled_from(STATES),
        params=st.none() | st.dictionaries(st.sampled_from(["p", "q"]), nested),
        variables=st.none() | st.dictionaries(st.sampled_from(["city", "x"]), nested),
    ),
    st.builds(
        SetVariables,
        variables=st.dictionaries(st.sampled_from(["a", "b", "city"]), nested, min_size=1),
    ),
    st.builds(Timeout),
    st.builds(End),
)


def _vandalize(value: Any, seen: set[int]) -> None:
    """Change every dict and list reachable from ``value`` in place (structs: their fields)."""
    if id(value) in seen:
        return
    seen.add(id(value))
    if isinstance(value, dict):
        for item in list(value.values()):
            _vandalize(item, seen)
        value["__vandal__"] = ["x"]
    elif isinstance(value, list):
        for item in list(value):
            _vandalize(item, seen)
        value.append({"__vandal__": 1})
    elif isinstance(value, msgspec.Struct):
        for name in value.__struct_fields__:
            _vandalize(getattr(value, name), seen)


def vandalize(view: SessionView) -> None:
    """Change everything a view exposes: every container in place, then the session's fields."""
    seen: set[int] = set()
    _vandalize(view.variables, seen)
    _vandalize(view.session, seen)
    for action in view.actions:
        _vandalize(action, seen)
    for event in view.events:
        _vandalize(event, seen)
    command = view.command
    if command is not None:
        command.params["__vandal__"] = True
    s = view.session
    s.state, s.unit, s.version, s.seq = "vandal", "vandal", s.version + 50, s.seq + 50
    s.metadata, s.variables, s.params = {"new": 1}, {"u": {"new": 1}}, {"new": 1}
    s.awaiting, s.stack, s.counters, s.lifetime = {"new": 1}, [{"new": 1}], {"new": 1}, None


async def _step(hub: Hub, inp: Input) -> SessionView | type[Exception]:
    try:
        return await hub.update("s", inp)
    except (errors.InputError, errors.SessionClosed) as exc:
        return type(exc)


async def _drive(model_dir: Path, seq: list[Input], metadata: dict[str, Any]) -> None:
    clock_a, clock_b = iter(range(1, 10_000)).__next__, iter(range(1, 10_000)).__next__
    async with Hub("memory://", clock=clock_a) as ref, Hub("memory://", clock=clock_b) as hub:
        ref.load_models(model_dir)
        hub.load_models(model_dir)
        params = {"p": [1, {"q": 2}]}
        await ref.create_session("weather", session_id="s", metadata=metadata, params=params)
        mine_meta, mine_params = msgspec.json.decode(msgspec.json.encode((metadata, params)))
        view = await hub.create_session(
            "weather", session_id="s", metadata=mine_meta, params=mine_params
        )
        _vandalize(mine_meta, set())  # the caller's own arguments, changed after the call
        _vandalize(mine_params, set())
        vandalize(view)
        kept: list[Session] = [await hub.get_session("s")]
        for inp in seq:
            expected, got = await _step(ref, inp), await _step(hub, inp)
            stored = await hub.get_session("s")
            if isinstance(expected, SessionView):
                assert isinstance(got, SessionView)
                assert got.session == stored == expected.session  # what it says was stored
                assert got.actions == expected.actions and got.events == expected.events
                vandalize(got)
            else:
                assert got is expected
            assert stored == await ref.get_session("s")
            log = await hub.events("s", limit=10_000)
            assert replay(log) == stored
            kept.append(stored)
        for snapshot in kept:  # time travel agrees with what each update stored
            assert await hub.get_session("s", at=snapshot.seq) == snapshot
        async with Hub("memory://") as other:  # an export is accepted by an import
            async for session, events in hub.export_sessions():
                await other.import_session(session, events)
            assert await other.get_session("s") == await hub.get_session("s")


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    seq=st.lists(inputs, max_size=20),
    metadata=st.dictionaries(st.sampled_from(["user", "tags"]), nested),
)
def test_changing_every_view_changes_nothing_stored(
    seq: list[Input], metadata: dict[str, Any], weather: Model
) -> None:
    asyncio.run(_drive(Path(weather.source).parent, seq, metadata))


def test_changing_view_session_metadata_and_variables_is_not_kept(weather: Model) -> None:
    """The issue's case: change ``view.session.metadata`` and ``view.variables``, then update."""

    async def main() -> None:
        async with Hub("memory://") as hub:
            hub.add_model(weather)
            view = await hub.create_session(session_id="m", metadata={"user": {"name": "ann"}})
            view = await hub.set_variables("m", {"city": "Paris"})
            then = await hub.get_session("m")
            view.session.metadata["user"]["name"] = "eve"
            view.session.metadata["admin"] = True
            view.variables["city"] = "Oslo"
            view.session.variables.setdefault("other", {})["x"] = 1
            after = await hub.process_text("m", "hello")
            assert after.session.metadata == {"user": {"name": "ann"}}
            assert after.session.variables == {"main": {"city": "Paris"}}
            stored = await hub.get_session("m")
            assert stored == after.session
            assert replay(await hub.events("m", limit=1000)) == stored
            assert await hub.get_session("m", at=then.seq) == then
            async with Hub("memory://") as other:
                async for session, events in hub.export_sessions():
                    await other.import_session(session, events)

    asyncio.run(main())


def test_changing_create_arguments_after_the_call_is_not_kept(weather: Model) -> None:
    async def main() -> None:
        async with Hub("memory://") as hub:
            hub.add_model(weather)
            metadata: dict[str, Any] = {"tags": ["a"]}
            params: dict[str, Any] = {"limits": {"n": 1}}
            await hub.create_session(session_id="c", metadata=metadata, params=params)
            metadata["tags"].append("b")
            params["limits"]["n"] = 2
            view = await hub.process_text("c", "hello")
            assert view.session.metadata == {"tags": ["a"]}
            assert view.session.params == {"limits": {"n": 1}}
            assert replay(await hub.events("c", limit=1000)) == await hub.get_session("c")

    asyncio.run(main())
