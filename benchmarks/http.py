"""``python -m benchmarks.http``: W1 through the HTTP API, then through WebSockets.

A ``dialoghub serve`` subprocess (one worker, SQLite, API keys on, rate limit off) serves the
weather model on a free loopback port. This process is the load: ``--clients`` concurrent
clients (100 by default), each with its own keep-alive connection, together play
``--sessions`` sessions of W1 (:mod:`benchmarks.workload`) for ``--turns`` turns each. A turn
is what an application does for one user message: post the text, then, while the last action
is a command, post its result (from the local weather table); every reply is checked. Then
the same sessions' worth of turns run over WebSockets (one socket per session, inputs sent on
it, each update awaited by its request id). Last, the same clients hammer ``GET /health`` as
many times as the HTTP run sent requests: the framework's ceiling on this machine.

The HTTP client is a minimal HTTP/1.1 keep-alive client on asyncio streams, so the load
generator costs far less than the server and the numbers are the server's. Sessions are
created before each timed run. Prints a table (or ``--json`` rows).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import math
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import msgspec

from benchmarks.workload import expected_reply, lookup_weather, message

ROOT = Path(__file__).resolve().parent.parent
WEATHER = ROOT / "examples" / "weather"
_decode = msgspec.json.decode
_encode = msgspec.json.encode


class WrongReply(AssertionError):
    """The server answered a turn with something other than the expected reply."""


class Conn:
    """One keep-alive HTTP/1.1 connection."""

    def __init__(self, host: str, port: int, key: str) -> None:
        self.host, self.port = host, port
        self.auth = f"Authorization: Bearer {key}\r\n".encode()
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        sock = self.writer.get_extra_info("socket")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    async def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        assert self.reader is not None and self.writer is not None
        head = f"{method} {path} HTTP/1.1\r\nHost: bench\r\n".encode() + self.auth
        if body is not None:
            head += b"Content-Type: application/json\r\nContent-Length: %d\r\n" % len(body)
        self.writer.write(head + b"\r\n" + (body or b""))
        raw = await self.reader.readuntil(b"\r\n\r\n")
        status = int(raw[9:12])
        length = 0
        for line in raw.split(b"\r\n")[1:]:
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        return status, await self.reader.readexactly(length) if length else b""

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


class WS:
    """One client WebSocket, as little as RFC 6455 allows: text frames, masked, unfragmented
    (the server sends small unfragmented text frames). Like :class:`Conn`, it keeps the load
    generator's cost per message far below the server's."""

    def __init__(self, host: str, port: int, key: str) -> None:
        self.host, self.port, self.key = host, port, key
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self, path: str) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        self.writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        nonce = base64.b64encode(os.urandom(16)).decode()
        self.writer.write(
            f"GET {path} HTTP/1.1\r\nHost: bench\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {nonce}\r\n"
            f"Sec-WebSocket-Version: 13\r\nAuthorization: Bearer {self.key}\r\n\r\n".encode()
        )
        head = await self.reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 101"):
            raise RuntimeError(f"WebSocket upgrade refused: {head[:200]!r}")

    async def send(self, text: bytes) -> None:
        assert self.writer is not None
        n = len(text)
        head = b"\x81" + (bytes((0x80 | n,)) if n < 126 else b"\xfe" + n.to_bytes(2, "big"))
        mask = os.urandom(4)
        key = (mask * (n // 4 + 1))[:n]
        masked = (int.from_bytes(text, "big") ^ int.from_bytes(key, "big")).to_bytes(n, "big")
        self.writer.write(head + mask + masked)

    async def recv(self) -> bytes:
        assert self.reader is not None
        b0, b1 = await self.reader.readexactly(2)
        n = b1 & 0x7F
        if n == 126:
            n = int.from_bytes(await self.reader.readexactly(2), "big")
        elif n == 127:
            n = int.from_bytes(await self.reader.readexactly(8), "big")
        data = await self.reader.readexactly(n)
        if b0 & 0x0F == 0x8:
            raise ConnectionError(f"server closed the WebSocket: {data!r}")
        return data

    async def close(self) -> None:
        if self.writer is not None:
            with contextlib.suppress(Exception):
                mask = os.urandom(4)
                self.writer.write(b"\x88\x82" + mask + bytes(
                    a ^ b for a, b in zip(b"\x03\xe8", mask, strict=False)))
                self.writer.close()


def _answer(action: dict[str, Any]) -> dict[str, Any]:
    found = lookup_weather(str(action["params"]["city"]))
    return {"forecast": found.forecast, "temperature": found.temperature}


def _replies(view: dict[str, Any]) -> list[str]:
    return [a["text"] for a in view["actions"] if a["type"] == "reply"]


async def http_turn(conn: Conn, sid: str, text: str) -> tuple[str, int]:
    """One turn over HTTP; return (replies, requests sent)."""
    path = f"/v1/sessions/{sid}/inputs"
    status, body = await conn.request("POST", path, _encode(
        {"input": {"type": "text", "text": text}}))
    requests = 1
    view = _decode(body)
    if status != 200:
        raise WrongReply(f"{sid}: HTTP {status}: {body[:200]!r}")
    replies = _replies(view)
    while view["actions"][-1]["type"] == "command":
        command = view["actions"][-1]
        inp = {"type": "command_result", "id": command["id"], "outputs": _answer(command)}
        status, body = await conn.request("POST", path, _encode({"input": inp}))
        requests += 1
        view = _decode(body)
        replies += _replies(view)
    return " ".join(replies), requests


async def ws_turn(ws: WS, text: str, n: int) -> tuple[str, int]:
    """One turn over a session's WebSocket."""
    async def send(inp: dict[str, Any], rid: str) -> dict[str, Any]:
        await ws.send(_encode({"type": "input", "input": inp, "request_id": rid}))
        while True:
            msg = _decode(await ws.recv())
            if msg.get("request_id") == rid:
                if msg["type"] == "error":
                    raise WrongReply(str(msg))
                return msg  # type: ignore[no-any-return]

    view = await send({"type": "text", "text": text}, f"{n}")
    replies, requests = _replies(view), 1
    while view["actions"][-1]["type"] == "command":
        command = view["actions"][-1]
        view = await send({"type": "command_result", "id": command["id"],
                           "outputs": _answer(command)}, f"{n}c{requests}")
        replies += _replies(view)
        requests += 1
    return " ".join(replies), requests


class CPU:
    """CPU seconds used by the server process and by this load generator during a run."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self._tick = os.sysconf("SC_CLK_TCK")
        self._server0 = self._load0 = 0.0

    def _server(self) -> float:
        with open(f"/proc/{self.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / self._tick  # utime + stime

    def start(self) -> None:
        self._server0, self._load0 = self._server(), time.process_time()

    def stop(self, row: dict[str, Any]) -> dict[str, Any]:
        server, load = self._server() - self._server0, time.process_time() - self._load0
        row["server_cpu_s"], row["load_cpu_s"] = round(server, 2), round(load, 2)
        row["server_cpu_share"] = round(server / row["seconds"], 2)  # of one CPU
        row["load_cpu_share"] = round(load / row["seconds"], 2)
        row["server_us_per_request"] = round(server / row["requests"] * 1e6)
        return row


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p * len(ordered)) - 1)] * 1000


def _row(name: str, seconds: float, latencies: list[float], requests: int,
         turns: int | None) -> dict[str, Any]:
    return {
        "run": name, "turns": turns, "requests": requests, "seconds": round(seconds, 3),
        "turns_per_s": round(turns / seconds, 1) if turns else None,
        "requests_per_s": round(requests / seconds, 1),
        "p50_ms": round(_pct(latencies, 0.50), 2), "p99_ms": round(_pct(latencies, 0.99), 2),
    }


async def create_sessions(host: str, port: int, key: str, ids: list[str]) -> None:
    conns = [Conn(host, port, key) for _ in range(min(50, len(ids)))]
    await asyncio.gather(*(c.open() for c in conns))

    async def worker(conn: Conn, mine: list[str]) -> None:
        for sid in mine:
            status, body = await conn.request("POST", "/v1/sessions", _encode(
                {"model_id": "weather", "session_id": sid}))
            if status != 201:
                raise RuntimeError(f"create {sid}: {status} {body[:200]!r}")

    await asyncio.gather(*(worker(c, ids[i::len(conns)]) for i, c in enumerate(conns)))
    await asyncio.gather(*(c.close() for c in conns))


async def run_http(host: str, port: int, key: str, ids: list[str], clients: int,
                   turns: int, cpu: CPU) -> dict[str, Any]:
    await create_sessions(host, port, key, ids)
    conns = [Conn(host, port, key) for _ in range(clients)]
    await asyncio.gather(*(c.open() for c in conns))
    latencies: list[float] = []
    counted = [0]

    async def worker(conn: Conn, mine: list[str]) -> None:
        for sid in mine:
            for i in range(turns):
                t0 = time.perf_counter()
                reply, requests = await http_turn(conn, sid, message(i))
                latencies.append(time.perf_counter() - t0)
                counted[0] += requests
                if reply != expected_reply(i):
                    raise WrongReply(f"{sid} turn {i}: {reply!r}")

    cpu.start()
    start = time.perf_counter()
    await asyncio.gather(*(worker(c, ids[i::clients]) for i, c in enumerate(conns)))
    seconds = time.perf_counter() - start
    await asyncio.gather(*(c.close() for c in conns))
    return cpu.stop(_row("W1 over HTTP", seconds, latencies, counted[0], len(latencies)))


async def run_ws(host: str, port: int, key: str, ids: list[str], clients: int,
                   turns: int, cpu: CPU) -> dict[str, Any]:
    await create_sessions(host, port, key, ids)
    latencies: list[float] = []
    counted = [0]

    async def worker(mine: list[str]) -> None:
        for sid in mine:
            ws = WS(host, port, key)
            await ws.open(f"/v1/sessions/{sid}/ws")
            try:
                while _decode(await ws.recv())["type"] != "attached":
                    pass
                for i in range(turns):
                    t0 = time.perf_counter()
                    reply, requests = await ws_turn(ws, message(i), i)
                    latencies.append(time.perf_counter() - t0)
                    counted[0] += requests
                    if reply != expected_reply(i):
                        raise WrongReply(f"{sid} turn {i}: {reply!r}")
            finally:
                await ws.close()

    cpu.start()
    start = time.perf_counter()
    await asyncio.gather(*(worker(ids[i::clients]) for i in range(clients)))
    seconds = time.perf_counter() - start
    return cpu.stop(_row("W1 over WebSocket", seconds, latencies, counted[0], len(latencies)))


async def run_health(host: str, port: int, key: str, clients: int,
                     requests: int, cpu: CPU) -> dict[str, Any]:
    conns = [Conn(host, port, key) for _ in range(clients)]
    await asyncio.gather(*(c.open() for c in conns))
    latencies: list[float] = []
    per = max(1, requests // clients)

    async def worker(conn: Conn) -> None:
        for _ in range(per):
            t0 = time.perf_counter()
            status, _ = await conn.request("GET", "/health")
            latencies.append(time.perf_counter() - t0)
            assert status == 200

    cpu.start()
    start = time.perf_counter()
    await asyncio.gather(*(worker(c) for c in conns))
    seconds = time.perf_counter() - start
    await asyncio.gather(*(c.close() for c in conns))
    return cpu.stop(_row("GET /health (ceiling)", seconds, latencies, len(latencies), None))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-c", "from dialoghub.cli import main; main()", *args]


def format_table(rows: list[dict[str, Any]]) -> str:
    """A fixed-width table of the rows."""
    head = (f"{'run':<24}{'turns/s':>9}{'requests/s':>12}{'p50 ms':>8}{'p99 ms':>8}"
            f"{'server CPU':>12}{'load CPU':>10}{'server us/req':>15}")
    lines = [head, "-" * len(head)]
    for r in rows:
        tps = f"{r['turns_per_s']:.0f}" if r["turns_per_s"] else "-"
        lines.append(f"{r['run']:<24}{tps:>9}{r['requests_per_s']:>12.0f}"
                     f"{r['p50_ms']:>8.1f}{r['p99_ms']:>8.1f}{r['server_cpu_share']:>12.0%}"
                     f"{r['load_cpu_share']:>10.0%}{r['server_us_per_request']:>15}")
    return "\n".join(lines)


async def _bench(args: argparse.Namespace, host: str, port: int, key: str,
                 cpu: CPU) -> list[dict[str, Any]]:
    http_ids = [f"h{n:06d}" for n in range(args.sessions)]
    ws_ids = [f"w{n:06d}" for n in range(args.sessions)]
    http = await run_http(host, port, key, http_ids, args.clients, args.turns, cpu)
    ws = await run_ws(host, port, key, ws_ids, args.clients, args.turns, cpu)
    health = await run_health(host, port, key, args.clients, http["requests"], cpu)
    for row in (http, ws):
        row["share_of_health"] = round(row["requests_per_s"] / health["requests_per_s"], 3)
    return [http, ws, health]


def _run(main: Any) -> Any:
    """Run the load on uvloop when it is installed: it halves the load generator's CPU."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover
        return asyncio.run(main)
    return uvloop.run(main)


def main(argv: list[str] | None = None) -> None:
    """Start the server, run the three loads, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--sessions", type=int, default=500)
    parser.add_argument("--turns", type=int, default=12)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--profile", metavar="FILE",
                        help="run the server under py-spy and write collapsed stacks here")
    args = parser.parse_args(argv)
    host, port = "127.0.0.1", _free_port()
    with tempfile.TemporaryDirectory(prefix="bench-http-") as tmp:
        env = {**os.environ, "DIALOGHUB_STORE": f"sqlite:///{tmp}/bench.db",
               "PYTHONPATH": str(ROOT)}
        made = subprocess.run(_cli("keys", "create", "--tenant", "bench", "--scope", "write"),
                              env=env, capture_output=True, text=True, check=True)
        key = made.stdout.strip().splitlines()[-1]
        command = _cli("serve", "--models", str(WEATHER), "--host", host, "--port", str(port),
                       "--rate-limit", "0", "--log-level", "warning")
        server = subprocess.Popen(command, env=env)
        profiler = None
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    with socket.create_connection((host, port), timeout=1):
                        break
                except OSError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        raise SystemExit("the server did not start") from None
                    time.sleep(0.1)
            if args.profile:
                profiler = subprocess.Popen(
                    [str(Path(sys.executable).parent / "py-spy"), "record", "--format", "raw",
                     "--rate", "200", "--nonblocking", "--gil",
                     "--pid", str(server.pid), "--output", args.profile],
                    stdout=subprocess.DEVNULL,
                )
                time.sleep(1)  # let py-spy attach
            rows = _run(_bench(args, host, port, key, CPU(server.pid)))
        finally:
            if profiler is not None:
                profiler.send_signal(signal.SIGINT)
                profiler.wait(timeout=60)
            server.terminate()
            server.wait(timeout=30)
    if args.json:
        print(json.dumps(rows))
        return
    print(f"dialoghub HTTP benchmark: {args.clients} clients, {args.sessions} sessions x "
          f"{args.turns} turns (W1), SQLite, 1 worker, {os.cpu_count()} CPUs")
    print(format_table(rows))
    for r in rows[:2]:
        print(f"{r['run']}: {r['share_of_health']:.0%} of /health's request rate")


if __name__ == "__main__":
    main()
