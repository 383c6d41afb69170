"""Per-session log files (opened on the first message, closed when the session ends,
rotated by size) and session alarms (named timers delivered once by the timer service)."""

from __future__ import annotations

import json
from pathlib import Path

from dialoghub.engine.records import MemoryOp, SetAlarm
from dialoghub.hub import Hub
from dialoghub.hub.timers import TimerService
from dialoghub.provider import RoutedClient
from dialoghub.routing.logs import SessionLogs
from tests.routing.conftest import RELAY, serving


async def test_one_log_file_per_session_closed_when_it_ends(tmp_path: Path) -> None:
    async with serving(logs=str(tmp_path)) as served:
        logs = served.router.logs
        ui = await RoutedClient(served.url, name="ui", role="ui").connect()
        await ui.send("hello", session_id="L1")
        await ui.send("hello", session_id="L2")
        await served.router.idle()
        await logs.flush()
        assert logs.is_open("default", "L1") and logs.is_open("default", "L2")
        await ui.end_session("L1")
        await served.router.idle()
        await logs.flush()
        assert not logs.is_open("default", "L1") and logs.is_open("default", "L2")
        lines = [json.loads(x) for x in logs.path("default", "L1").read_text().splitlines()]
        assert lines[0]["type"] == "session_started" and lines[-1]["type"] == "session_ended"
        assert [x["seq"] for x in lines] == list(range(1, len(lines) + 1))
        assert "L2" in logs.path("default", "L2").read_text().split('"id": ')[1]
        await ui.close()


async def test_a_log_is_rotated_by_size(tmp_path: Path) -> None:
    async with Hub("memory://", default_model="relay") as hub:
        hub.load_models(RELAY)
        logs = SessionLogs(tmp_path, max_bytes=600, backups=2)
        view = await hub.create_session(session_id="big")
        for _ in range(20):
            view = await hub.update("big", MemoryOp(op="increment", key="n"))
            logs.record("default", "big", list(view.events), False)
        await logs.close()
        path = logs.path("default", "big")
        rotated = sorted(p.name for p in path.parent.iterdir())
        assert rotated == ["big.log", "big.log.1", "big.log.2"]  # older ones dropped
        assert path.with_name("big.log.1").stat().st_size >= 600


async def test_an_alarm_is_delivered_once_by_the_timer_service() -> None:
    now = [1000.0]
    async with Hub("memory://", default_model="relay", clock=lambda: now[0]) as hub:
        hub.load_models(RELAY)
        await hub.create_session(session_id="A")
        view = await hub.update("A", SetAlarm(name="remind", seconds=30))
        assert view.session.alarms == {"remind": 1030.0}
        timers = TimerService(hub)
        assert (await timers.run_once(now=1029.0)).delivered == 0
        assert (await timers.run_once(now=1031.0)).delivered == 1
        assert (await timers.run_once(now=1100.0)).delivered == 0  # exactly once
        session = await hub.get_session("A")
        assert session.alarms == {}
        events = [e.type for e in await hub.events("A")]
        assert events.count("alarm_fired") == 1
        await hub.update("A", SetAlarm(name="x", seconds=5))
        await hub.update("A", SetAlarm(name="x", seconds=None))  # cancelled
        assert (await timers.run_once(now=2000.0)).delivered == 0


async def test_a_client_sets_an_alarm_and_its_ui_sees_it_fire() -> None:
    async with serving() as served:
        ui = await RoutedClient(served.url, name="ui", role="ui", session_id="T").connect()
        await ui.watch("T")
        answer = await ui.alarm("ping", 0)
        assert "ping" in answer["alarms"]
        await TimerService(served.router.hub).run_once(now=served.router.hub.now() + 1)
        while True:
            update = await ui.updates(wait=10)
            if any(e[3] == "alarm_fired" for e in update.get("events") or []):
                break
        await ui.close()
