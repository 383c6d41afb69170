"""Agent rounds: dialoghub's AgentApp against Google ADK with a scripted model, on SQLite.

``python -m benchmarks.agent`` (a table) or ``--json``. The same agent on both sides: a
planner that calls two plugins (a weather lookup, a counter that reads and sets a session
variable) and answers; on dialoghub a :class:`~dialoghub.agent.RulePlanner` on
``sqlite:///``; on ADK an ``LlmAgent`` whose model is a scripted ``BaseLlm`` (it asks for the
two tools in turn, then answers: no network, no LLM), run by ADK's ``Runner`` on its
``DatabaseSessionService`` over ``sqlite+aiosqlite``. Measured, each side:

* rounds per second and events per second: ``--sessions`` sessions play ``--rounds``
  rounds each, all sessions at once (the rounds of one session one after the other);
* time to first event (p50, p99): from the call to the first event its handler (dialoghub)
  or its async iterator (ADK) delivers;
* stored bytes per round: the growth of the database file (after a checkpoint) divided by
  the rounds; for dialoghub also with the reply streamed as 200 chunks instead of 1, which
  must not change it;
* memory per idle session: Python heap (tracemalloc) held by the app after ``--idle``
  sessions were created and left idle, divided by their number.

The ratio column is dialoghub over ADK (higher is better for rates, lower for the rest).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import re
import sqlite3
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import AsyncGenerator
from importlib.metadata import version
from pathlib import Path
from typing import Any

from benchmarks.table import grid

APP = "bench"


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def _db_bytes(path: Path) -> int:
    with sqlite3.connect(path) as db:  # fold the WAL into the file: what is kept
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path.stat().st_size


# --- dialoghub -------------------------------------------------------------------------


def _dialoghub_agent(chunks: int = 1) -> tuple[Any, Any]:
    from dialoghub.agent import Plugins, RulePlanner, Turn

    plugins = Plugins()

    @plugins.register()
    async def lookup(ctx: Any, city: str) -> dict[str, Any]:
        return {"city": city, "forecast": "sunny"}

    @plugins.register()
    async def count(ctx: Any) -> int:
        n = int(ctx.get_session_var("count", 0)) + 1
        ctx.set_session_var("count", n)
        return n

    planner = RulePlanner()

    async def weather(turn: Turn, m: re.Match[str]) -> str:
        found = await turn.call("lookup", {"city": m["city"]})
        n = await turn.call("count")
        reply = f"{found['city']}: {found['forecast']} (round {n}) " + "x" * 200
        if chunks > 1:
            step = len(reply) // chunks + 1
            for i in range(0, len(reply), step):
                await turn.say(reply[i : i + step])
        return reply

    planner.add(r"weather in (?P<city>\w+)", weather)
    return planner, plugins


async def _dialoghub_run(
    directory: Path, sessions: int, rounds: int, chunks: int = 1
) -> dict[str, float]:
    from dialoghub.agent import AgentApp
    from dialoghub.hub import Hub

    db = directory / f"agent-{chunks}.db"
    planner, plugins = _dialoghub_agent(chunks)
    async with (
        Hub(f"sqlite:///{db}") as hub,
        AgentApp(hub, planner=planner, plugins=plugins) as app,
    ):
        ids = [(await app.get_session(f"s{i}")).id for i in range(sessions)]
        before = _db_bytes(db)
        events = 0
        first: list[float] = []

        async def play(sid: str) -> None:
            nonlocal events
            for _ in range(rounds):
                sent = time.perf_counter()
                seen = False

                def handler(event: Any, sent: float = sent) -> None:
                    nonlocal events, seen
                    events += 1
                    if not seen:
                        seen = True
                        first.append(time.perf_counter() - sent)

                rnd = await app.send_message(sid, "weather in Paris", event_handler=handler)
                assert rnd.status == "finished", rnd.error

        started = time.perf_counter()
        await asyncio.gather(*(play(sid) for sid in ids))
        elapsed = time.perf_counter() - started
    total = sessions * rounds
    return {
        "rounds_per_s": total / elapsed,
        "events_per_s": events / elapsed,
        "ttfe_p50_ms": statistics.median(first) * 1000,
        "ttfe_p99_ms": _pct(first, 0.99) * 1000,
        "stored_bytes_per_round": (_db_bytes(db) - before) / total,
        "events_per_round": events / total,
    }


async def _dialoghub_idle(directory: Path, idle: int, *, cache: bool = True) -> float:
    from dialoghub.agent import AgentApp
    from dialoghub.hub import Hub

    planner, plugins = _dialoghub_agent()
    name = "idle" if cache else "idle-nocache"
    async with (
        Hub(f"sqlite:///{directory}/{name}.db", cache_size=10_000 if cache else 0) as hub,
        AgentApp(hub, planner=planner, plugins=plugins) as app,
    ):
        await app.get_session("warm-up")

        async def make() -> None:  # returns nothing: the handles are dropped, as when idle
            for start in range(0, idle, 500):
                await asyncio.gather(
                    *(app.get_session(f"idle-{i}") for i in range(start, min(idle, start + 500)))
                )

        gc.collect()
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        await make()
        for _ in range(3):  # let the finished tasks go
            await asyncio.sleep(0)
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - base
        tracemalloc.stop()
    return held / idle


# --- Google ADK ------------------------------------------------------------------------


def _adk_parts() -> tuple[Any, Any, Any]:
    from google.adk.models import BaseLlm, LlmRequest, LlmResponse
    from google.genai import types

    class Scripted(BaseLlm):
        """Asks for lookup, then count, then answers: the rule planner's moves."""

        async def generate_content_async(
            self, llm_request: LlmRequest, stream: bool = False
        ) -> AsyncGenerator[LlmResponse, None]:
            contents = llm_request.contents
            last_user = max(
                i
                for i, c in enumerate(contents)
                if c.role == "user" and any(p.text for p in c.parts or ())
            )
            done = {
                p.function_response.name
                for c in contents[last_user:]
                for p in c.parts or ()
                if p.function_response
            }
            if "lookup" not in done:
                part = types.Part(
                    function_call=types.FunctionCall(name="lookup", args={"city": "Paris"})
                )
            elif "count" not in done:
                part = types.Part(function_call=types.FunctionCall(name="count", args={}))
            else:
                part = types.Part(text="Paris: sunny " + "x" * 200)
            yield LlmResponse(content=types.Content(role="model", parts=[part]))

    def lookup(city: str) -> dict[str, Any]:
        """The weather of a city."""
        return {"city": city, "forecast": "sunny"}

    def count(tool_context: Any) -> int:
        """Counts the rounds of the session in its state."""
        n = int(tool_context.state.get("count", 0)) + 1
        tool_context.state["count"] = n
        return n

    return Scripted, lookup, count


async def _adk_run(directory: Path, sessions: int, rounds: int) -> dict[str, float]:
    import logging

    from google.adk.agents import LlmAgent
    from google.adk.runners import Runner
    from google.adk.sessions import DatabaseSessionService
    from google.genai import types

    logging.getLogger("google_adk").setLevel(logging.ERROR)
    Scripted, lookup, count = _adk_parts()
    db = directory / "adk.db"
    service = DatabaseSessionService(
        f"sqlite+aiosqlite:///{db}", connect_args={"timeout": 120.0}, pool_timeout=120.0
    )
    agent = LlmAgent(name="weather", model=Scripted(model="scripted"), tools=[lookup, count])
    runner = Runner(app_name=APP, agent=agent, session_service=service)
    try:
        ids = [
            (await service.create_session(app_name=APP, user_id=f"u{i}")).id
            for i in range(sessions)
        ]
        before = _db_bytes(db)
        events = 0
        first: list[float] = []
        message = types.Content(role="user", parts=[types.Part(text="weather in Paris")])

        async def play(i: int, sid: str) -> None:
            nonlocal events
            for _ in range(rounds):
                sent = time.perf_counter()
                seen = False
                async for _event in runner.run_async(
                    user_id=f"u{i}", session_id=sid, new_message=message
                ):
                    events += 1
                    if not seen:
                        seen = True
                        first.append(time.perf_counter() - sent)

        started = time.perf_counter()
        await asyncio.gather(*(play(i, sid) for i, sid in enumerate(ids)))
        elapsed = time.perf_counter() - started
    finally:
        await service.close()
    total = sessions * rounds
    return {
        "rounds_per_s": total / elapsed,
        "events_per_s": events / elapsed,
        "ttfe_p50_ms": statistics.median(first) * 1000,
        "ttfe_p99_ms": _pct(first, 0.99) * 1000,
        "stored_bytes_per_round": (_db_bytes(db) - before) / total,
        "events_per_round": events / total,
    }


async def _adk_idle(directory: Path, idle: int) -> float:
    from google.adk.sessions import DatabaseSessionService

    service = DatabaseSessionService(f"sqlite+aiosqlite:///{directory}/adk-idle.db")
    try:
        await service.create_session(app_name=APP, user_id="warm")
        gc.collect()
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        for i in range(idle):
            await service.create_session(app_name=APP, user_id=f"idle-{i}")
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - base
        tracemalloc.stop()
    finally:
        await service.close()
    return held / idle


# --- the run ---------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """Every figure of both sides, as a dict."""
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        ours = await _dialoghub_run(d, args.sessions, args.rounds)
        chunked = await _dialoghub_run(d, args.sessions, args.rounds, chunks=200)
        ours["stored_bytes_per_round_200_chunks"] = chunked["stored_bytes_per_round"]
        ours["idle_bytes_per_session"] = await _dialoghub_idle(d, args.idle)
        ours["idle_bytes_per_session_no_cache"] = await _dialoghub_idle(d, args.idle, cache=False)
        result: dict[str, Any] = {
            "config": {
                "sessions": args.sessions,
                "rounds": args.rounds,
                "idle": args.idle,
                "python": sys.version.split()[0],
                "dialoghub": version("dialoghub"),
            },
            "dialoghub": ours,
        }
        if not args.no_peer:
            # dialoghub again at the peer's load, so the ratio compares like with like
            same = await _dialoghub_run(d, args.peer_sessions, args.peer_rounds)
            for key in (
                "idle_bytes_per_session",
                "idle_bytes_per_session_no_cache",
                "stored_bytes_per_round_200_chunks",
            ):
                same[key] = ours[key]
            result["dialoghub_at_peer_load"] = same
            peer = await _adk_run(d, args.peer_sessions, args.peer_rounds)
            peer["idle_bytes_per_session"] = await _adk_idle(d, min(args.idle, args.peer_idle))
            result["adk"] = peer
            result["config"].update(
                adk=f"google-adk {version('google-adk')}",
                adk_sessions=args.peer_sessions,
                adk_rounds=args.peer_rounds,
                adk_idle=min(args.idle, args.peer_idle),
            )
            result["ratio"] = {k: same[k] / peer[k] for k in peer if peer[k] and k in same}
    return result


ROWS = [
    ("rounds/s", "rounds_per_s", "{:,.0f}"),
    ("events/s", "events_per_s", "{:,.0f}"),
    ("events/round", "events_per_round", "{:.1f}"),
    ("time to first event p50 (ms)", "ttfe_p50_ms", "{:.2f}"),
    ("time to first event p99 (ms)", "ttfe_p99_ms", "{:.2f}"),
    ("stored bytes/round", "stored_bytes_per_round", "{:,.0f}"),
    ("stored bytes/round, 200 chunks", "stored_bytes_per_round_200_chunks", "{:,.0f}"),
    ("heap bytes per idle session", "idle_bytes_per_session", "{:,.0f}"),
    ("... the hub's cache off", "idle_bytes_per_session_no_cache", "{:,.0f}"),
]


def table(result: dict[str, Any]) -> list[str]:
    """The figures as the fixed-width table."""
    ours, peer = result["dialoghub"], result.get("adk", {})
    same = result.get("dialoghub_at_peer_load", {})
    ratio = result.get("ratio", {})

    def cell(fig: dict[str, Any], key: str, fmt: str) -> str:
        return fmt.format(fig[key]) if key in fig else "-"

    rows = []
    for label, key, fmt in ROWS:
        rows.append(
            [
                label,
                "",
                "",
                "",
                cell(ours, key, fmt),
                cell(same, key, fmt),
                cell(peer, key, fmt),
                f"{ratio[key]:.2f}x" if key in ratio else "-",
            ]
        )
    c = result["config"]
    big = f"{c['sessions']}x{c['rounds']}"
    small = f"{c.get('adk_sessions')}x{c.get('adk_rounds')}"
    cols = [
        ("figure", 30),
        ("", 0),
        ("", 0),
        ("", 0),
        (f"dh {big}", 11),
        (f"dh {small}", 11),
        (f"adk {small}", 11),
        ("ratio", 8),
    ]
    head = (
        f"dialoghub (dh) at {big} and at ADK's {small} (sessions x rounds, all sessions "
        f"at once); ratio = dh / adk at {small}; idle sessions {c['idle']} (ADK "
        f"{c.get('adk_idle')}); {c.get('adk', '')}"
    )
    return [head, *grid(cols, rows)]


def main(argv: list[str] | None = None) -> None:
    """``python -m benchmarks.agent [--json] [--sessions N] [--rounds N] ...``"""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.agent")
    parser.add_argument("--sessions", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--peer-sessions", type=int, default=20)
    parser.add_argument("--peer-rounds", type=int, default=5)
    parser.add_argument("--idle", type=int, default=10_000)
    parser.add_argument(
        "--peer-idle",
        type=int,
        default=1000,
        help="idle sessions for ADK (each create is a transaction)",
    )
    parser.add_argument("--no-peer", action="store_true", help="dialoghub only")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = asyncio.run(run(args))
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print("\n".join(table(result)))


if __name__ == "__main__":
    main()
