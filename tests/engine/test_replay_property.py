"""Replaying a session's stored events reproduces its stored snapshot, for any inputs.

Hypothesis drives the weather dialog with random sequences of every input type (good ones,
refused ones, garbage), through a real Hub on SQLite and in memory; after each sequence the
fold of the stored log must equal the stored snapshot, field for field.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

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
    SetVariables,
    Text,
    Timeout,
)
from dialoghub.model.spec import Model

UTTERANCES = [
    "hello", "what's the weather in Paris", "how about London", "what is the weather like",
    "Tokyo", "thanks", "weather in Rome tomorrow", "bye", "purple monkey dishwasher", "",
    "NYC", "is it raining in san fran tonight", "forecast for Madrid",
]  # fmt: skip
STATES = ["start", "listen", "greet", "forecast", "unknown_city", "welcome", "bye", "nope"]

inputs = st.one_of(
    st.builds(Text, text=st.sampled_from(UTTERANCES) | st.text(max_size=30)),
    st.builds(ASR, text=st.sampled_from(UTTERANCES), confidence=st.floats(0, 1)),
    st.builds(
        CommandResult,
        id=st.sampled_from(["lookup_weather", "other"]),
        outputs=st.fixed_dictionaries(
            {},
            optional={
                "forecast": st.sampled_from(["sunny", "grey"]),
                "temperature": st.integers(-30, 45),
            },
        ),
        error=st.none() | st.just("down"),
    ),
    st.builds(Jump, state=st.sampled_from(STATES), variables=st.none() | st.just({"city": "Oslo"})),
    st.builds(
        SetVariables,
        variables=st.dictionaries(st.sampled_from(["a", "b", "city"]), st.integers(), min_size=1),
    ),
    st.builds(Timeout),
    st.builds(End),
)


async def _drive(url: str, model_dir: Path, seq: list[Input]) -> tuple[Any, Any]:
    async with Hub(url, clock=iter(range(1, 10_000)).__next__) as hub:
        hub.load_models(model_dir)
        await hub.create_session("weather", session_id="prop")
        for inp in seq:
            before = await hub.get_session("prop")
            try:
                await hub.update("prop", inp)
            except errors.InputError:
                # refused: the stored session must not have changed at all
                assert await hub.get_session("prop") == before
            except errors.SessionClosed:
                assert before.ended
        stored = await hub.get_session("prop")
        events = await hub.events("prop", limit=10_000)
        return stored, events


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seq=st.lists(inputs, max_size=25))
def test_replay_equals_snapshot_on_sqlite(seq: list[Input], tmp_path: Path, weather: Model) -> None:
    db = tmp_path / f"{uuid.uuid4().hex}.db"  # hypothesis may run one sequence twice
    stored, events = asyncio.run(
        _drive(f"sqlite:///{db}?synchronous=normal", Path(weather.source).parent, seq)
    )
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert replay(events) == stored
    db.unlink()


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seq=st.lists(inputs, max_size=25))
def test_replay_equals_snapshot_in_memory(seq: list[Input], weather: Model) -> None:
    stored, events = asyncio.run(_drive("memory://", Path(weather.source).parent, seq))
    assert replay(events) == stored
