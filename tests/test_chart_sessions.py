"""Sessions of XState machines through the Hub: durable, replayable, timed by the store.

The interpreter's semantics are checked against xstate itself in tests/xstate; here the
question is whether a statechart session is a session like any other: its log folds into its
snapshot, its delayed transitions are delivered by the timer service exactly once, its
invocations come back as command actions answered by command results, unregistered actions
reach the application, and it survives a restart of the store."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from dialoghub import Hub, errors
from dialoghub.engine.chart import Registry
from dialoghub.engine.fold import replay
from dialoghub.engine.records import (
    CommandAction,
    CommandResult,
    EndAction,
    Jump,
    Reply,
    Text,
    Timeout,
    WaitForUser,
)
from dialoghub.hub.timers import TimerService

T0 = 1_800_000_000.0

LIGHT: dict[str, Any] = {
    "id": "light",
    "initial": "green",
    "context": {"count": 0},
    "states": {
        "green": {
            "meta": {"prompt": "Go"},
            "on": {"TIMER": {"target": "yellow", "actions": ["inc"]}},
        },
        "yellow": {"entry": ["beep"], "after": {"1000": "red"}},
        "red": {
            "initial": "walk",
            "invoke": {"src": "camera", "id": "cam", "onDone": {"actions": ["inc"]}},
            "states": {
                "walk": {"on": {"PED": "wait"}},
                "wait": {"on": {"PED": "stop"}},
                "stop": {"type": "final"},
            },
            "onDone": "green",
        },
    },
}

FUNCTIONS = Registry(actions={"inc": lambda ctx, ev, params: {"count": ctx["count"] + 1}})


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["memory://", "sqlite:///{tmp}/c.db"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return str(request.param).format(tmp=tmp_path)


@pytest.fixture
def machines(tmp_path: Path) -> Path:
    folder = tmp_path / "machines"
    folder.mkdir()
    (folder / "light.json").write_text(json.dumps(LIGHT))
    return folder


@pytest.fixture
async def hub(url: str, machines: Path) -> AsyncIterator[Hub]:
    clock = Clock()
    async with Hub(url, clock=clock) as h:
        h.load_models(machines, functions=FUNCTIONS)
        yield h


async def folds(hub: Hub, sid: str) -> None:
    events = await hub.events(sid, limit=10_000)
    assert replay(events) == await hub.get_session(sid)


async def test_a_machine_session_runs_as_xstate_says(hub: Hub) -> None:
    v = await hub.create_session("light", session_id="s")
    assert v.session.state == "green"
    assert v.session.configuration == ["light", "light.green"]
    assert v.actions == (Reply(text="Go"), WaitForUser())

    v = await hub.process_event("s", "TIMER")
    assert v.session.state == "yellow" and v.session.variables["main"] == {"count": 1}
    # an action the application did not register is its to carry out: a command action
    assert v.actions[0] == CommandAction(id="beep", params={"action": True})
    assert isinstance(v.actions[-1], WaitForUser)
    await folds(hub, "s")


async def test_an_unhandled_event_is_ignored_and_recorded(hub: Hub) -> None:
    await hub.create_session("light", session_id="s")
    v = await hub.process_event("s", "NOPE")
    assert v.session.state == "green" and v.session.version == 2
    assert [e.data.get("event") for e in v.events if e.type == "chart_event_ignored"] == ["NOPE"]
    with pytest.raises(errors.UnexpectedInput, match="events"):
        await hub.update("s", Text(text="hello"))
    await folds(hub, "s")


async def test_a_delayed_transition_is_delivered_once_by_the_timer_service(hub: Hub) -> None:
    await hub.create_session("light", session_id="s")
    v = await hub.process_event("s", "TIMER")
    timer = v.session.timer
    assert timer is not None and timer.name == "xstate.after.1000.light.yellow"
    assert timer.due_at == pytest.approx(T0 + 1.0)
    service = TimerService(hub)
    assert (await service.run_once(now=T0 + 0.5)).delivered == 0
    assert (await service.run_once(now=T0 + 1.0)).delivered == 1
    assert (await service.run_once(now=T0 + 5.0)).delivered == 0  # exactly once
    s = await hub.get_session("s")
    assert s.state == "red.walk" and s.chart is not None and s.chart["armed"] == []
    # the invocation started on entry: answered by a command result, its onDone runs
    v = await hub.update("s", CommandResult(id="cam", outputs={"frames": 3}))
    assert v.session.variables["main"]["count"] == 2
    with pytest.raises(errors.UnknownCommand):
        await hub.update("s", CommandResult(id="xstate.nope"))
    # a timeout that is not armed is refused, nothing stored
    before = await hub.get_session("s")
    with pytest.raises(errors.InvalidInput, match="armed"):
        await hub.update("s", Timeout(name="xstate.after.1000.light.yellow"))
    assert await hub.get_session("s") == before
    await folds(hub, "s")


async def test_done_regions_and_the_final_state(hub: Hub) -> None:
    await hub.create_session("light", session_id="s")
    await hub.process_event("s", "TIMER")
    await TimerService(hub).run_once(now=T0 + 2)
    await hub.process_event("s", "PED")
    v = await hub.process_event("s", "PED")  # red.stop is final: red is done -> green
    assert v.session.state == "green" and Reply(text="Go") in v.actions
    await folds(hub, "s")


async def test_a_final_root_ends_the_session_with_its_output(tmp_path: Path) -> None:
    # XState v5: the machine's output is the root's ``output`` (a final child's is the data
    # of its parent's done event)
    machine = {
        "id": "once",
        "initial": "a",
        "output": {"ok": True},
        "states": {"a": {"on": {"GO": "b"}}, "b": {"type": "final"}},
    }
    (tmp_path / "once.json").write_text(json.dumps(machine))
    async with Hub("memory://") as hub:
        hub.load_models(tmp_path / "once.json")
        await hub.create_session("once", session_id="o")
        v = await hub.process_event("o", "GO")
        assert v.ended and isinstance(v.actions[-1], EndAction)
        assert v.session.chart is not None and v.session.chart["output"] == {"ok": True}
        with pytest.raises(errors.SessionClosed):
            await hub.process_event("o", "GO")
        await folds(hub, "o")


async def test_a_chart_session_survives_a_restart(tmp_path: Path, machines: Path) -> None:
    url = f"sqlite:///{tmp_path}/r.db"
    async with Hub(url) as hub:
        hub.load_models(machines, functions=FUNCTIONS)
        await hub.create_session("light", session_id="s")
        await hub.process_event("s", "TIMER")
    async with Hub(url) as hub:
        hub.load_models(machines, functions=FUNCTIONS)
        s = await hub.get_session("s")
        assert s.state == "yellow" and s.timer is not None
        page = await hub.list_sessions(model="light", state="yellow")
        assert [x.id for x in page.sessions] == ["s"]
        fork = await hub.fork_session("s", new_id="f")
        assert fork.configuration == s.configuration and fork.chart == s.chart
        await folds(hub, "s")


async def test_a_stopped_invocation_is_reported_and_its_late_answer_moves_nothing(
    hub: Hub,
) -> None:
    await hub.create_session("light", session_id="s")
    await hub.process_event("s", "TIMER")
    await TimerService(hub).run_once(now=T0 + 2)  # red: the camera runs
    await hub.process_event("s", "PED")
    v = await hub.process_event("s", "PED")  # red is done -> green: XState stops the camera
    stopped = [e.data for e in v.events if e.type == "chart_invoke_stopped"]
    assert stopped == [{"id": "cam", "src": "camera"}]
    assert v.session.chart is not None and v.session.chart["invoked"] == []
    late = await hub.update("s", CommandResult(id="cam", outputs={"frames": 9}))
    assert late.session.state == "green" and late.session.variables["main"]["count"] == 1
    assert not [e for e in late.events if e.type == "chart_stepped"]
    await folds(hub, "s")


async def test_ending_a_session_stops_what_it_invoked(hub: Hub) -> None:
    await hub.create_session("light", session_id="s")
    await hub.process_event("s", "TIMER")
    await TimerService(hub).run_once(now=T0 + 2)
    v = await hub.end_session("s")
    assert [e.data["id"] for e in v.events if e.type == "chart_invoke_stopped"] == ["cam"]
    await folds(hub, "s")


async def test_a_jump_is_a_root_level_transition_and_text_needs_intents(hub: Hub) -> None:
    """A jump moves to a state (its path or id) as XState's root-level ``on`` to it would:
    exits and entries with their actions, the entered state's invocations and delays;
    ``variables`` replace the context. Text is refused by a machine without intents."""
    await hub.create_session("light", session_id="s")
    v = await hub.update("s", Jump(state="red.wait", variables={"count": 5}))
    assert v.session.state == "red.wait" and v.session.variables["main"] == {"count": 5}
    assert CommandAction(id="cam", params={"src": "camera", "input": None}) in v.actions
    v = await hub.update("s", Jump(state="light.yellow", params={"why": "test"}))  # by id
    assert v.session.state == "yellow" and v.session.params == {"why": "test"}
    assert [e.data["id"] for e in v.events if e.type == "chart_invoke_stopped"] == ["cam"]
    assert CommandAction(id="beep", params={"action": True}) in v.actions  # yellow's entry
    assert v.session.timer is not None  # yellow's delay, armed by the jump
    before = await hub.get_session("s")
    with pytest.raises(errors.InvalidInput, match="has no state 'purple' to jump to"):
        await hub.update("s", Jump(state="purple"))
    with pytest.raises(errors.UnexpectedInput, match=r"takes events \(an 'event' input\)"):
        await hub.update("s", Text(text="turn red"))
    assert await hub.get_session("s") == before  # nothing written
    await folds(hub, "s")


def test_a_jump_in_a_v4_machine_is_refused() -> None:
    from dialoghub.engine import chart as E
    from dialoghub.model.xstate_chart import compile_xstate

    v4 = compile_xstate({"initial": "a", "states": {"a": {}, "b": {}}}, dialect="v4", name="m")
    with pytest.raises(errors.InvalidInput, match="XState v4 machine"):
        E.jump(v4, E.start(v4).state, "m.b")


PLAYER = """
id: player
intents:
  play: [play, start playing]
  pause: [pause, hold on]
  stop: [stop, stop it]
  louder: [louder, turn it up]
states:
  stopped:
    ask: Say play.
    on: {play: playing}
  playing:
    type: parallel
    on: {stop: done}
    states:
      track:
        states:
          normal: {say: Playing., on: {pause: paused}}
          paused: {ask: Paused. Say play., on: {play: playing.track.normal}}
      volume:
        initial: soft
        states:
          soft: {on: {louder: loud}}
          loud: {say: Loud now.}
  done: {say: Bye., final: true}
"""


async def test_a_dialog_whose_states_nest_runs_as_a_statechart(tmp_path: Path) -> None:
    """Nested and parallel states in the dialog language: the same chart runtime, text
    recognised as the model's intents, listings by any state the session is in."""
    (tmp_path / "player.yaml").write_text(PLAYER)
    async with Hub("memory://") as hub:
        hub.load_models(tmp_path / "player.yaml")
        v = await hub.create_session("player", session_id="p")
        assert v.session.state == "stopped" and v.actions == (
            Reply(text="Say play."),
            WaitForUser(),
        )
        v = await hub.update("p", Text(text="start playing"))
        assert v.session.configuration == [
            "player", "playing", "playing.track", "playing.track.normal",
            "playing.volume", "playing.volume.soft",
        ]  # fmt: skip
        assert Reply(text="Playing.") in v.actions
        v = await hub.update("p", Text(text="hold on"))
        assert "playing.track.paused" in v.session.configuration
        v = await hub.update("p", Text(text="turn it up"))  # the other region moves alone
        assert {"playing.track.paused", "playing.volume.loud"} <= set(v.session.configuration)
        for state in ("playing", "playing.track", "playing.track.paused", "playing.volume.loud"):
            page = await hub.list_sessions(model="player", state=state)
            assert [s.id for s in page.sessions] == ["p"], state
        v = await hub.update("p", Text(text="what is this"))  # no intent: nothing moves
        assert [e.data for e in v.events if e.type == "chart_event_ignored"] == [{"event": None}]
        v = await hub.update("p", Text(text="play"))  # a target by its path
        assert "playing.track.normal" in v.session.configuration
        v = await hub.update("p", Text(text="stop it"))
        assert v.ended and Reply(text="Bye.") in v.actions
        await folds(hub, "p")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("    on: {play: playing}", "    on: {play: normal}"), "2 states are called 'normal'"),
        (("    on: {play: playing}", "    on: {play: nowhere}"), "no state is called 'nowhere'"),
        (("  stopped:\n", "  stopped:\n    do: [{say: x}]\n"), "'do' is not supported"),
        (("        initial: soft", "        initial: mute"), "'initial' 'mute' is not a child"),
    ],
)
def test_a_nested_dialog_refuses_what_it_cannot_run(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    from dialoghub.model.loader import load_model

    text = PLAYER.replace(*change)
    if "normal" in change[1]:
        text = text.replace(
            "loud: {say: Loud now.}", "loud: {say: Loud now.}\n          normal: {}"
        )
    (tmp_path / "player.yaml").write_text(text)
    with pytest.raises(errors.ModelValidationError) as info:
        load_model(tmp_path / "player.yaml")
    assert any(message in p.message and p.line > 0 for p in info.value.problems), info.value


DOCS = Path(__file__).resolve().parents[1] / "docs" / "statecharts.md"


def test_the_statecharts_guide_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """docs/statecharts.md: its model is the one tested above, and its Python block runs."""
    import re

    text = DOCS.read_text(encoding="utf-8")
    yaml_block, python_block = (
        re.search(rf"```{kind}\n(.*?)```", text, re.S).group(1)  # type: ignore[union-attr]
        for kind in ("yaml", "python")
    )
    assert yaml_block.strip() == PLAYER.strip()
    (tmp_path / "player.yaml").write_text(yaml_block)
    monkeypatch.chdir(tmp_path)
    exec(compile(python_block, str(DOCS), "exec"), {})
