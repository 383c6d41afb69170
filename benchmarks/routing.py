"""``python -m benchmarks.routing``: command round trips through the client router.

The servers are real ``dialoghub serve`` subprocesses; the providers run here, in this
process, on one ``RoutedClient`` per server (``dialoghub.provider``), over WebSockets. The
model (``benchmarks/routing_loop.yaml``) asks for command ``tick`` again as soon as the last
one is answered, so each round trip is: the router dispatches the command action to a
provider, the provider answers, the result is applied durably (one compare-and-set write),
the next command action is dispatched. ``--sessions`` sessions run at once.

Rows:

- **max**: round trips per second with every session as fast as it goes;
- **half**: the providers pace their answers to half the max rate; its p50/p99 are the
  latencies at that load;
- p50/p99 are measured at the provider, from sending an answer to receiving the session's
  next command: the result's durable write, the next dispatch and both WebSocket legs;
- setups: one server on SQLite; two servers on one PostgreSQL schema sharing the bus on
  Redis, and on NATS (each provider connected to its own server; sessions created half on
  each);
- **idle clients**: the server's resident memory per connected idle client, from
  ``--idle-clients`` raw WebSocket connections that said hello (role observer).

Prints a table, or ``--json`` its rows.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import msgspec
from tests.routing import procs
from websockets.asyncio.client import connect

from dialoghub.provider import Call, RoutedClient

MODEL = str(Path(__file__).with_name("routing_loop.yaml"))
PG = "postgresql://postgres@127.0.0.1:5432/test"


class Meter:
    """Round trips and latencies, counted inside the measuring window only."""

    def __init__(self, pace: float = 0.0) -> None:
        self.pace = pace  # seconds a provider waits before answering (0: at once)
        self.sent: dict[str, float] = {}
        self.latencies: list[float] = []
        self.count = 0
        self.measuring = False

    def handler(self) -> Any:
        async def tick(call: Call) -> dict[str, int]:
            now = time.perf_counter()
            before = self.sent.pop(call.session_id, None)
            if self.measuring:
                self.count += 1
                if before is not None:
                    self.latencies.append(now - before)
            if self.pace:
                await asyncio.sleep(self.pace)
            self.sent[call.session_id] = time.perf_counter()
            return {"n": 1}

        return tick


def _serve(store: str, bus: str) -> procs.Proc:
    return procs.start(store, bus, dispatch_timeout=30.0, models=MODEL)


async def _run(
    servers: list[procs.Proc], sessions: int, seconds: float, pace: float
) -> tuple[float, list[float]]:
    meter = Meter(pace)
    providers = []
    for n, server in enumerate(servers):
        p = RoutedClient(
            server.ws,
            name=f"p{n}",
            role="provider",
            concurrency=sessions,
            handlers={"tick": meter.handler()},
        )
        providers.append(await p.connect())
    starters = [
        await RoutedClient(s.ws, name=f"u{n}", role="observer").connect()
        for n, s in enumerate(servers)
    ]
    run = uuid.uuid4().hex[:6]
    for i in range(sessions):  # a mention creates the session: its first command goes out
        await starters[i % len(starters)].set_session(f"b{run}-{i}")
    await asyncio.sleep(1.0)  # warm up
    meter.measuring = True
    started = time.perf_counter()
    await asyncio.sleep(seconds)
    meter.measuring = False
    elapsed = time.perf_counter() - started
    for c in (*providers, *starters):
        await c.close()
    return meter.count / elapsed, meter.latencies


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] * 1000


async def _setup(
    name: str, stores: list[str], bus: str, args: argparse.Namespace
) -> list[dict[str, Any]]:
    rows = []
    pace = 0.0
    for load in ("max", "half"):
        servers = [_serve(store, bus) for store in stores]  # fresh servers for each load
        try:
            rate, lat = await _run(servers, args.sessions, args.seconds, pace)
        finally:
            for s in servers:
                s.kill()
        rows.append(
            {
                "setup": name,
                "load": load,
                "rate": rate,
                "p50_ms": _pct(lat, 0.5),
                "p99_ms": _pct(lat, 0.99),
            }
        )
        # half the rate: each session answers after a pause that halves its pace
        pace = args.sessions / max(rate, 1.0)
    return rows


def _rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


async def _idle(n: int, store: str) -> dict[str, Any]:
    server = _serve(store, "")
    try:
        before = _rss(server.popen.pid)
        sockets: list[Any] = []
        gate = asyncio.Semaphore(50)  # handshakes in flight at once

        async def one(i: int) -> None:
            async with gate:
                ws = await connect(server.ws, max_size=1 << 16, compression=None, open_timeout=60)
                await ws.send(json.dumps({"type": "hello", "name": f"idle{i}", "role": "observer"}))
                await ws.recv()
                sockets.append(ws)

        await asyncio.gather(*(one(i) for i in range(n)))
        await asyncio.sleep(1.0)
        after = _rss(server.popen.pid)
        for ws in sockets:
            await ws.close()
        return {
            "setup": "sqlite, 1 process",
            "load": f"{n} idle clients",
            "bytes_per_client": (after - before) / n,
        }
    finally:
        server.kill()


async def _pg_schema() -> tuple[str, Any]:
    import asyncpg

    from dialoghub.hub import Hub

    schema = f"bench_{uuid.uuid4().hex[:8]}"
    url = f"{PG}?schema={schema}"
    async with Hub(url, migrate=True):
        pass

    async def drop() -> None:
        conn = await asyncpg.connect(PG)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await conn.close()

    return url, drop


async def main(args: argparse.Namespace) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        sqlite = f"sqlite:///{tmp}/routing.db"
        if "sqlite" in args.setups:
            rows += await _setup("sqlite, 1 process", [sqlite], "", args)
        for kind, bus in (
            ("redis", "redis://127.0.0.1:6379/0?prefix=bench{}:"),
            ("nats", "nats://127.0.0.1:4222?prefix=bench{}"),
        ):
            if kind not in args.setups:
                continue
            url, drop = await _pg_schema()
            prefix = uuid.uuid4().hex[:8]
            try:
                rows += await _setup(
                    f"postgres, 2 processes, {kind}", [url, url], bus.format(prefix), args
                )
            finally:
                await drop()
                if kind == "nats":
                    from dialoghub.routing.bus_nats import drop_prefix

                    await drop_prefix("nats://127.0.0.1:4222", f"bench{prefix}")
        if "sqlite2" in args.setups:  # the bus's cost apart from PostgreSQL's: one SQLite file
            bus = f"redis://127.0.0.1:6379/0?prefix=bench{uuid.uuid4().hex[:8]}:"
            rows += await _setup("sqlite, 2 processes, redis", [sqlite, sqlite], bus, args)
        if "postgres1" in args.setups:
            url, drop = await _pg_schema()
            try:
                rows += await _setup("postgres, 1 process", [url], "", args)
            finally:
                await drop()
        if args.idle_clients:
            rows.append(await _idle(args.idle_clients, f"sqlite:///{tmp}/idle.db"))
    return rows


def _table(rows: list[dict[str, Any]]) -> str:
    lines = [f"{'setup':34} {'load':18} {'round trips/s':>14} {'p50 ms':>8} {'p99 ms':>8}"]
    for r in rows:
        if "bytes_per_client" in r:
            lines.append(
                f"{r['setup']:34} {r['load']:18} "
                f"{r['bytes_per_client'] / 1024:>10.1f} KiB per idle client"
            )
            continue
        lines.append(
            f"{r['setup']:34} {r['load']:18} {r['rate']:>14,.0f} "
            f"{r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f}"
        )
    return "\n".join(lines)


def cli(argv: list[str] | None = None) -> int:
    """Run the benchmark; print a table (or ``--json``)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.routing")
    parser.add_argument("--sessions", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--idle-clients", type=int, default=10_000)
    parser.add_argument(
        "--setups",
        default="sqlite,redis,nats",
        help="comma-separated: sqlite, redis, nats, postgres1, sqlite2",
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    args.setups = set(args.setups.split(","))
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()
    rows = asyncio.run(main(args))
    print(json.dumps(msgspec.to_builtins(rows), indent=2) if args.json else _table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(cli())
