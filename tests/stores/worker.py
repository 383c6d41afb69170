"""A Hub in a child process, for the tests that need real processes.

``python -m tests.stores.worker race URL TAG SESSIONS UPDATES``
    updates each of SESSIONS sessions UPDATES times (variable ``TAG_i``), half of the updates
    pinned with ``expected_version`` and retried on VersionConflict, the others left to the
    Hub's own retry; prints ``done CONFLICTS``.
``python -m tests.stores.worker crash URL RUN``
    updates sessions c0..c9 from 16 tasks until killed, printing ``SID VERSION`` for every
    update the Hub acknowledged, after it was acknowledged.

Both create missing sessions of ``examples/weather`` first and print ``ready``.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import sys
from pathlib import Path

from dialoghub import Hub
from dialoghub.errors import SessionExists, VersionConflict

WEATHER = Path(__file__).parents[2] / "examples" / "weather"
CRASH_SESSIONS = [f"c{i}" for i in range(10)]


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def ensure(hub: Hub, ids: list[str]) -> None:
    for sid in ids:
        with contextlib.suppress(SessionExists):
            await hub.create_session("weather", session_id=sid)


async def race(url: str, tag: str, sessions: int, updates: int) -> None:
    ids = [f"r{i}" for i in range(sessions)]
    conflicts = 0
    async with Hub(url) as hub:
        hub.load_models(WEATHER)
        await ensure(hub, ids)
        say("ready")
        sys.stdin.readline()  # the parent starts both processes at once

        async def one(sid: str, i: int) -> None:
            nonlocal conflicts
            while True:
                try:
                    if i % 2:
                        current = await hub.get_session(sid)
                        await hub.set_variables(
                            sid, {f"{tag}_{i}": i}, expected_version=current.version
                        )
                    else:
                        await hub.set_variables(sid, {f"{tag}_{i}": i})
                    return
                except VersionConflict:
                    conflicts += 1
                    await asyncio.sleep(random.random() / 100)

        async def writer(sid: str, lane: int) -> None:
            for i in range(lane, updates, 4):
                await one(sid, i)

        await asyncio.gather(*(writer(sid, lane) for sid in ids for lane in range(4)))
    say(f"done {conflicts}")


async def crash(url: str, run: str) -> None:
    async with Hub(url) as hub:
        hub.load_models(WEATHER)
        await ensure(hub, CRASH_SESSIONS)
        say("ready")
        counter = 0

        async def loop() -> None:
            nonlocal counter
            while True:
                sid = random.choice(CRASH_SESSIONS)
                counter += 1
                try:
                    if counter % 3:
                        view = await hub.set_variables(sid, {f"{run}_{counter}": counter})
                    else:
                        view = await hub.process_text(sid, "hello")
                except VersionConflict:
                    continue
                say(f"{sid} {view.session.version}")

        await asyncio.gather(*(loop() for _ in range(16)))


def main() -> None:
    mode, url, *rest = sys.argv[1:]
    if mode == "race":
        asyncio.run(race(url, rest[0], int(rest[1]), int(rest[2])))
    else:
        asyncio.run(crash(url, rest[0]))


if __name__ == "__main__":
    main()
