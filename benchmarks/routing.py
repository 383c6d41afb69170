"""``python -m benchmarks.routing``: command round trips through the client router.

The servers are real ``dialoghub serve`` subprocesses; the providers run here, in this
process, one WebSocket connection per server. The model (``benchmarks/routing_loop.yaml``)
asks for command ``tick`` again as soon as the last one is answered, so each round trip is:
the provider answers a command, the result is applied durably (one compare-and-set write),
the router dispatches the session's next command action, the provider receives it.
``--sessions`` sessions run at once.

The load side is kept cheap so that it measures the server, not itself: each provider is
a bare WebSocket client (:class:`Wire`, the framing written out: a few microseconds per
frame, no task per command), and the server's CPU is read from ``/proc`` over the
measuring window. On a machine shared with other work the rates move with the load; the
server's **CPU per round trip** is the stable figure.

Rows:

- **max**: round trips per second with every answer sent as soon as its command arrives;
- **half**: open loop at half the max rate: answers are sent on a fixed schedule (one
  every ``1/rate`` seconds, the oldest waiting command first), whatever the server does,
  and each latency is counted from the *scheduled* time, so a late load side or a
  stalled server counts against p99 (no coordinated omission); ``missed`` counts the slots
  for which no command was waiting (the server was behind);
- p50/p99: from the answer (its scheduled time) to the session's next command: the
  result's durable write, the next dispatch and both WebSocket legs;
- ``cpu us/rt``: the server processes' CPU (user + system, every thread) per round trip;
  ``redis cmds/rt``: Redis commands per round trip, a script's own commands included, and
  in brackets the scripts (EVALSHA) among them (from ``INFO commandstats``, so any other
  client of the same Redis counts too);
- setups: ``sqlite`` (one server, local bus); ``redis`` / ``nats``: two servers on one
  PostgreSQL schema sharing the bus (each provider connected to its own server, sessions
  created half on each); ``sqlite2``: two servers on one SQLite file and Redis;
  ``redis1``: one server on SQLite with the Redis bus (the bus's own cost);
  ``postgres1``: one server on PostgreSQL;
- **idle clients**: the server's resident memory per connected idle client, from
  ``--idle-clients`` raw WebSocket connections that said hello (role observer).

Prints a table, or ``--json`` its rows.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import collections
import contextlib
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import msgspec
from tests.routing import procs
from websockets.asyncio.client import connect

MODEL = str(Path(__file__).with_name("routing_loop.yaml"))
PG = "postgresql://postgres@127.0.0.1:5432/test"
REDIS = "redis://127.0.0.1:6379/0"
NATS = "nats://127.0.0.1:4222"
_TICKS = os.sysconf("SC_CLK_TCK")


class _Frame(msgspec.Struct):
    """What the load side reads of a server frame."""

    type: str
    key: str | None = None
    session_id: str | None = None


_read = msgspec.json.Decoder(_Frame).decode


class Wire(asyncio.Protocol):
    """A bare WebSocket client (RFC 6455, text frames): the load side's connection.

    Client frames are masked with a zero key (the XOR leaves the bytes as they are; servers
    only require the mask bit), server frames are unmasked, pings are answered. Each text
    frame goes to ``on_frame`` synchronously, on the loop, without a task."""

    def __init__(self, on_frame: Any) -> None:
        self.on_frame = on_frame
        self.transport: asyncio.Transport | None = None
        self._buf = bytearray()
        self._open = False
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    @classmethod
    async def connect(cls, url: str, on_frame: Any) -> Wire:
        parts = urlsplit(url)
        loop = asyncio.get_running_loop()
        _, wire = await loop.create_connection(
            lambda: cls(on_frame), parts.hostname or "127.0.0.1", parts.port or 80
        )
        assert wire.transport is not None
        key = base64.b64encode(os.urandom(16)).decode()
        wire.transport.write(
            (
                f"GET {parts.path}?{parts.query} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        await wire.ready
        return wire

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is no subclass

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.ready.done():
            self.ready.set_exception(ConnectionError(f"handshake failed: {exc}"))
        if not self.closed.done():
            self.closed.set_result(None)

    def send(self, payload: bytes, opcode: int = 0x1) -> None:
        """One masked frame (FIN set)."""
        n = len(payload)
        if n < 126:
            head = bytes((0x80 | opcode, 0x80 | n))
        elif n < 65536:
            head = bytes((0x80 | opcode, 0xFE)) + n.to_bytes(2, "big")
        else:
            head = bytes((0x80 | opcode, 0xFF)) + n.to_bytes(8, "big")
        assert self.transport is not None
        self.transport.write(head + b"\0\0\0\0" + payload)

    def data_received(self, data: bytes) -> None:
        buf = self._buf
        buf += data
        if not self._open:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            if not buf.startswith(b"HTTP/1.1 101"):
                self.ready.set_exception(ConnectionError(bytes(buf[:200]).decode()))
                assert self.transport is not None
                self.transport.close()
                return
            del buf[: end + 4]
            self._open = True
            self.ready.set_result(None)
        pos, size = 0, len(buf)
        while size - pos >= 2:
            opcode, n = buf[pos] & 0x0F, buf[pos + 1] & 0x7F
            start = pos + 2
            if n == 126:
                if size - pos < 4:
                    break
                n, start = int.from_bytes(buf[pos + 2 : pos + 4], "big"), pos + 4
            elif n == 127:
                if size - pos < 10:
                    break
                n, start = int.from_bytes(buf[pos + 2 : pos + 10], "big"), pos + 10
            if size - start < n:
                break
            payload = bytes(buf[start : start + n])
            pos = start + n
            if opcode == 0x1:
                self.on_frame(payload)
            elif opcode == 0x9:
                self.send(payload, 0xA)
            elif opcode == 0x8:
                assert self.transport is not None
                self.transport.close()
        del buf[:pos]

    def close(self) -> None:
        """Close the connection (a close frame, then the socket)."""
        if self.transport is not None and not self.transport.is_closing():
            self.send(b"\x03\xe8", 0x8)
            self.transport.close()


class Load:
    """The providers' side: answers, latencies and round trips inside the window only."""

    def __init__(self) -> None:
        self.answered: dict[str, float] = {}  # session -> when its answer was (due to be) sent
        self.latencies: list[float] = []
        self.count = 0
        self.measuring = False
        self.rate = 0.0  # 0: answer at once; else answers per second on a fixed schedule
        self.ready: collections.deque[tuple[Wire, bytes, str]] = collections.deque()
        self.missed = 0
        self.wires: list[Wire] = []

    def on_frame(self, wire_index: int) -> Any:
        def frame(payload: bytes) -> None:
            msg = _read(payload)
            if msg.type != "command" or msg.key is None or msg.session_id is None:
                return
            now = time.perf_counter()
            before = self.answered.pop(msg.session_id, None)
            if self.measuring:
                self.count += 1
                if before is not None:
                    self.latencies.append(now - before)
            answer = b'{"type":"result","key":%s,"outputs":{"n":1}}' % msgspec.json.encode(
                msg.key
            )
            wire = self.wires[wire_index]
            if self.rate:
                self.ready.append((wire, answer, msg.session_id))
            else:
                self.answered[msg.session_id] = now
                wire.send(answer)

        return frame

    async def paced(self) -> None:
        """Open loop: one answer per slot of a fixed schedule, oldest waiting first."""
        step = 1.0 / self.rate
        due = time.perf_counter()
        while True:
            now = time.perf_counter()
            while due <= now:
                if self.ready:
                    wire, answer, sid = self.ready.popleft()
                    self.answered[sid] = due  # the schedule's time, not the actual one
                    wire.send(answer)
                elif self.measuring:
                    self.missed += 1
                due += step
            await asyncio.sleep(max(0.0, due - time.perf_counter()))


def _cpu(pid: int) -> float:
    """Seconds of CPU (user + system, all threads) a process has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def _redis_commands() -> tuple[int, int]:
    """Commands Redis ran (a script's own commands included), and scripts called."""
    import redis

    r = redis.Redis.from_url(REDIS)
    try:
        stats = r.info("commandstats")
    finally:
        r.close()
    calls = {k.removeprefix("cmdstat_"): int(v["calls"]) for k, v in stats.items()}
    return sum(calls.values()), calls.get("evalsha", 0) + calls.get("eval", 0)


async def _run(
    servers: list[procs.Proc], sessions: int, seconds: float, rate: float, redis: bool
) -> dict[str, Any]:
    load = Load()
    load.rate = rate
    for n, server in enumerate(servers):
        wire = await Wire.connect(server.ws, load.on_frame(n))
        load.wires.append(wire)
        hello = {"type": "hello", "name": f"p{n}", "role": "provider", "commands": ["tick"]}
        wire.send(_encode({**hello, "concurrency": sessions}))
    starters = [await Wire.connect(s.ws, lambda _: None) for s in servers]
    for n, wire in enumerate(starters):
        wire.send(_encode({"type": "hello", "name": f"u{n}", "role": "observer"}))
    pacer = asyncio.create_task(load.paced()) if rate else None
    run = uuid.uuid4().hex[:6]
    for i in range(sessions):  # a mention creates the session: its first command goes out
        frame = {"type": "set_session", "session_id": f"b{run}-{i}", "request_id": str(i)}
        starters[i % len(starters)].send(_encode(frame))
    await asyncio.sleep(1.5)  # warm up
    cpu = [_cpu(s.popen.pid) for s in servers]
    ops = _redis_commands() if redis else (0, 0)
    mine = time.process_time()
    load.measuring = True
    started = time.perf_counter()
    await asyncio.sleep(seconds)
    load.measuring = False
    elapsed = time.perf_counter() - started
    mine = time.process_time() - mine
    used = sum(_cpu(s.popen.pid) - c for s, c in zip(servers, cpu, strict=True))
    after = _redis_commands() if redis else (0, 0)
    if pacer is not None:
        pacer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pacer
    for wire in (*load.wires, *starters):
        wire.close()
    count = max(load.count, 1)
    return {
        "rate": load.count / elapsed,
        "p50_ms": _pct(load.latencies, 0.5),
        "p99_ms": _pct(load.latencies, 0.99),
        "cpu_us": used / count * 1e6,
        "load_us": mine / count * 1e6,
        "bus_ops": (after[0] - ops[0]) / count if redis else None,
        "scripts": (after[1] - ops[1]) / count if redis else None,
        "missed": load.missed,
    }


_encode = msgspec.json.Encoder().encode


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] * 1000


def _serve(store: str, bus: str) -> procs.Proc:
    return procs.start(store, bus, dispatch_timeout=30.0, models=MODEL)


async def _setup(
    name: str, stores: list[str], bus: str, args: argparse.Namespace
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    rate = 0.0
    for load in ("max", "half"):
        servers = [_serve(store, bus) for store in stores]  # fresh servers for each load
        try:
            row = await _run(servers, args.sessions, args.seconds, rate, bus.startswith("redis"))
        finally:
            for s in servers:
                s.kill()
        rows.append({"setup": name, "load": load, **row})
        # the half row: open loop at half the measured max (or at --rate, the same offered
        # load for runs to compare on a machine whose max moves with other work)
        rate = args.rate or row["rate"] / 2
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


async def _drop_bus(bus: str) -> None:
    prefix = dict(p.split("=", 1) for p in urlsplit(bus).query.split("&") if "=" in p)["prefix"]
    if bus.startswith("nats"):
        from dialoghub.routing.bus_nats import drop_prefix

        await drop_prefix(NATS, prefix)
        return
    import redis.asyncio as aioredis

    r = aioredis.from_url(REDIS)
    try:
        keys = [k async for k in r.scan_iter(match=f"{prefix}*", count=1000)]
        if keys:
            await r.delete(*keys)
    finally:
        await r.aclose()


async def main(args: argparse.Namespace) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:

        def sqlite() -> str:
            return f"sqlite:///{tmp}/routing-{uuid.uuid4().hex[:6]}.db"

        def bus(kind: str) -> str:
            prefix = f"bench{uuid.uuid4().hex[:8]}"
            return f"{REDIS}?prefix={prefix}:" if kind == "redis" else f"{NATS}?prefix={prefix}"

        plan: list[tuple[str, str, int, str]] = [  # setup, store kind, processes, bus
            ("sqlite", "sqlite", 1, ""),
            ("redis1", "sqlite", 1, "redis"),
            ("redis", "postgres", 2, "redis"),
            ("sqlite2", "sqlite", 2, "redis"),
            ("nats", "postgres", 2, "nats"),
            ("postgres1", "postgres", 1, ""),
        ]
        for setup, kind, n, bus_kind in plan:
            if setup not in args.setups:
                continue
            url, drop = await _pg_schema() if kind == "postgres" else (sqlite(), None)
            bus_url = bus(bus_kind) if bus_kind else ""
            name = f"{kind}, {n} process{'es' if n > 1 else ''}" + (
                f", {bus_kind}" if bus_kind else ""
            )
            try:
                rows += await _setup(name, [url] * n, bus_url, args)
            finally:
                if drop is not None:
                    await drop()
                if bus_url:
                    await _drop_bus(bus_url)
        if args.idle_clients:
            rows.append(await _idle(args.idle_clients, sqlite()))
    return rows


def _table(rows: list[dict[str, Any]]) -> str:
    lines = [
        f"{'setup':30} {'load':6} {'round trips/s':>13} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'cpu us/rt':>9} {'load us/rt':>10} {'redis cmds/rt':>13} {'missed':>6}"
    ]
    for r in rows:
        if "bytes_per_client" in r:
            lines.append(
                f"{r['setup']:30} {r['load']}: "
                f"{r['bytes_per_client'] / 1024:.1f} KiB per idle client"
            )
            continue
        ops = "" if r["bus_ops"] is None else f"{r['bus_ops']:.1f} ({r['scripts']:.1f})"
        lines.append(
            f"{r['setup']:30} {r['load']:6} {r['rate']:>13,.0f} {r['p50_ms']:>7.2f} "
            f"{r['p99_ms']:>7.2f} {r['cpu_us']:>9.0f} {r['load_us']:>10.0f} {ops:>13} "
            f"{r['missed']:>6}"
        )
    return "\n".join(lines)


def cli(argv: list[str] | None = None) -> int:
    """Run the benchmark; print a table (or ``--json``)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.routing")
    parser.add_argument("--sessions", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--idle-clients", type=int, default=10_000)
    parser.add_argument(
        "--rate", type=float, default=0.0, help="the half row's open-loop rate (default: max/2)"
    )
    parser.add_argument(
        "--setups",
        default="sqlite,redis,nats",
        help="comma-separated: sqlite, redis, nats, sqlite2, redis1, postgres1",
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
