"""The load generator of ``python -m benchmarks.http``: a separate process, open or closed loop.

Started by :mod:`benchmarks.http` as ``python -m benchmarks.http_load SPEC_JSON``, it plays the
weather dialog (:mod:`benchmarks.workload`) against one server and prints one JSON object.

- **open** loop (wrk2-style, coordinated omission corrected): turn ``k`` is *scheduled* at
  ``start + k / rate``, whether or not earlier answers came back, and its latency is measured
  from that scheduled time, so a stalled server is charged for every turn that should have been
  sent while it stalled. A dialog is stateful, so a session cannot take two turns at once:
  turns are dealt round-robin to ``active`` session slots (each slot plays its session's
  turns in order, then the next session); a slot whose previous turn is late sends the next
  one at once, its latency still counted from its scheduled time. Turns still unanswered
  ``drain`` seconds after the last scheduled time count as errors (``timeouts``).
- **closed** loop: ``connections`` clients each play turns back to back for ``seconds``:
  the server's maximum throughput.
- **health**: ``connections`` clients send the server's trivial endpoint back to back.

The client is raw HTTP/1.1 on keep-alive connections (an ``asyncio.Protocol`` on uvloop,
content-length and chunked bodies), a shared pool of ``connections``, so the generator costs
a fraction of a server's CPU; it reports its own CPU (``time.process_time``) and the server's
(``/proc/PID/stat`` of the server and its children) over the timed phase only. Sessions are
created before it. Every reply is checked; a wrong one is an error.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec

from benchmarks.workload import expected_reply, lookup_weather, message

__all__ = ["Conn", "main", "percentile", "stop_group", "tree_cpu"]

_decode = msgspec.json.decode
_encode = msgspec.json.encode


class HTTPError(Exception):
    """A request got a status other than the expected one, or a wrong reply."""


class Conn(asyncio.Protocol):
    """One keep-alive HTTP/1.1 client connection, one request at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError(f"connection lost: {exc}"))

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if self.waiter is None or self.waiter.done():
            return
        parsed = _parse(self.buf)
        if parsed is not None:
            status, body, used = parsed
            del self.buf[:used]
            self.waiter.set_result((status, body))

    async def request(self, head: bytes, body: bytes = b"") -> tuple[int, bytes]:
        """Send one request (``head`` ends with the blank line); return (status, body)."""
        if self.closed or self.transport is None:
            raise ConnectionError("connection closed")
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(head + body if body else head)
        return await self.waiter


def _parse(buf: bytearray) -> tuple[int, bytes, int] | None:
    """(status, body, bytes used) of the complete response at the start of ``buf``, or None."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None
    head = bytes(buf[:end]).lower()
    status = int(head[9:12])
    start = end + 4
    at = head.find(b"\ncontent-length:")
    if at >= 0:
        stop = head.find(b"\r", at + 16)
        length = int(head[at + 16:stop if stop > 0 else len(head)])
        if len(buf) < start + length:
            return None
        return status, bytes(buf[start:start + length]), start + length
    if b"\ntransfer-encoding: chunked" not in head:
        return status, b"", start
    body, pos = bytearray(), start
    while True:
        line_end = buf.find(b"\r\n", pos)
        if line_end < 0:
            return None
        size = int(bytes(buf[pos:line_end]).split(b";")[0], 16)
        if len(buf) < line_end + 2 + size + 2:
            return None
        body += buf[line_end + 2:line_end + 2 + size]
        pos = line_end + 2 + size + 2
        if size == 0:
            return status, bytes(body), pos


def _head(method: str, path: str, extra: bytes, body: bytes) -> bytes:
    line = f"{method} {path} HTTP/1.1\r\nHost: bench\r\n".encode() + extra
    if body:
        line += b"Content-Type: application/json\r\nContent-Length: %d\r\n" % len(body)
    return line + b"\r\n"


async def call(conn: Conn, method: str, path: str, payload: Any = None, *,
               extra: bytes = b"", want: int = 200) -> Any:
    """One JSON request; the decoded answer (HTTPError on another status)."""
    body = _encode(payload) if payload is not None else b""
    status, answer = await conn.request(_head(method, path, extra, body), body)
    if status != want:
        raise HTTPError(f"{method} {path}: HTTP {status}: {answer[:200]!r}")
    return _decode(answer) if answer else None


# --- the systems' dialog APIs: create(conn, sid), turn(conn, sid, text) -> (reply, requests)

class Dialoghub:
    """``dialoghub serve``: a turn posts the text, then each command's result."""

    health = "/health"
    base = 0  # the first session number of this run

    def __init__(self, key: str) -> None:
        self.auth = f"Authorization: Bearer {key}\r\n".encode()

    def sid(self, n: int) -> str:
        return f"s{self.base + n:07d}"

    async def create(self, conn: Conn, sid: str) -> None:
        await call(conn, "POST", "/v1/sessions", {"model_id": "weather", "session_id": sid},
                   extra=self.auth, want=201)

    async def turn(self, conn: Conn, sid: str, text: str) -> tuple[str, int]:
        path = f"/v1/sessions/{sid}/inputs"
        view = await call(conn, "POST", path, {"input": {"type": "text", "text": text}},
                          extra=self.auth)
        replies, requests = [a["text"] for a in view["actions"] if a["type"] == "reply"], 1
        while view["actions"][-1]["type"] == "command":
            command = view["actions"][-1]
            found = lookup_weather(str(command["params"]["city"]))
            result = {"type": "command_result", "id": command["id"],
                      "outputs": {"forecast": found.forecast, "temperature": found.temperature}}
            view = await call(conn, "POST", path, {"input": result}, extra=self.auth)
            replies += [a["text"] for a in view["actions"] if a["type"] == "reply"]
            requests += 1
        return " ".join(replies), requests


class Adk:
    """``adk api_server``: a session per user, a turn is one ``POST /run``."""

    health = "/health"
    base = 0  # the first session number of this run

    def sid(self, n: int) -> str:
        return f"s{self.base + n:07d}"

    async def create(self, conn: Conn, sid: str) -> None:
        await call(conn, "POST", f"/apps/weather/users/{sid}/sessions/{sid}", {})

    async def turn(self, conn: Conn, sid: str, text: str) -> tuple[str, int]:
        events = await call(conn, "POST", "/run", {
            "app_name": "weather", "user_id": sid, "session_id": sid,
            "new_message": {"role": "user", "parts": [{"text": text}]}})
        return str(events[-1]["content"]["parts"][0]["text"]), 1


class LangGraphDev:
    """``langgraph dev``: a thread per session, a turn is one ``POST .../runs/wait``."""

    health = "/ok"
    base = 0  # the first session number of this run

    def sid(self, n: int) -> str:
        return f"00000000-0000-4000-8000-{self.base + n:012d}"  # thread ids are UUIDs

    async def create(self, conn: Conn, sid: str) -> None:
        await call(conn, "POST", "/threads", {"thread_id": sid})

    async def turn(self, conn: Conn, sid: str, text: str) -> tuple[str, int]:
        state = await call(conn, "POST", f"/threads/{sid}/runs/wait", {
            "assistant_id": "weather",
            "input": {"messages": [{"role": "human", "content": text}]}})
        return str(state["messages"][-1]["content"]), 1


class LangGraphFastAPI:
    """The graph behind FastAPI (:mod:`benchmarks.servers.langgraph_fastapi`)."""

    health = "/health"
    base = 0  # the first session number of this run

    def sid(self, n: int) -> str:
        return f"s{self.base + n:07d}"

    async def create(self, conn: Conn, sid: str) -> None:
        """Nothing: a thread starts with its first checkpoint."""

    async def turn(self, conn: Conn, sid: str, text: str) -> tuple[str, int]:
        answer = await call(conn, "POST", f"/threads/{sid}/turn", {"message": text})
        return str(answer["reply"]), 1


def _system(spec: dict[str, Any]) -> Any:
    """The API ``spec["api"]`` names; its session ids start at ``spec["base"]`` (runs on one
    server use disjoint sessions)."""
    kind = spec["api"]
    system: Any = Dialoghub(spec["key"]) if kind == "dialoghub" else {
        "adk": Adk, "langgraph-dev": LangGraphDev, "langgraph-fastapi": LangGraphFastAPI}[kind]()
    system.base = spec.get("base", 0)
    return system


# --- measuring

def percentile(ordered: list[float], p: float) -> float | None:
    """The ``p`` quantile (nearest rank) of sorted seconds, in ms."""
    if not ordered:
        return None
    return round(ordered[max(0, math.ceil(p * len(ordered)) - 1)] * 1000, 2)


def tree_cpu(pid: int) -> float:
    """CPU seconds (user + system, all threads) of ``pid`` and its descendants."""
    tick = os.sysconf("SC_CLK_TCK")
    children: dict[int, list[int]] = {}
    times: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
        times[int(entry)] = (int(fields[11]) + int(fields[12])) / tick
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        total += times.get(p, 0.0)
        todo += children.get(p, [])
    return total


class Pool:
    """The shared keep-alive connections (a connection that failed is replaced)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.free: asyncio.LifoQueue[Conn] = asyncio.LifoQueue()

    async def open(self, n: int) -> None:
        loop = asyncio.get_running_loop()
        for _ in range(n):
            _, conn = await loop.create_connection(Conn, self.host, self.port)
            self.free.put_nowait(conn)

    async def use(self, job: Callable[[Conn], Awaitable[Any]]) -> Any:
        conn = await self.free.get()
        if conn.closed:  # the server closed it while idle (uvicorn's keep-alive timeout)
            _, conn = await asyncio.get_running_loop().create_connection(
                Conn, self.host, self.port)
        try:
            return await job(conn)
        except Exception:
            if conn.transport is not None:
                conn.transport.close()
            _, conn = await asyncio.get_running_loop().create_connection(
                Conn, self.host, self.port)
            raise
        finally:
            self.free.put_nowait(conn)


class Tally:
    """Latencies of answered turns, requests sent, errors (with the first one's message)."""

    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.requests = 0
        self.errors = 0
        self.first_error: str | None = None

    def fail(self, exc: BaseException) -> None:
        self.errors += 1
        if self.first_error is None:
            self.first_error = f"{type(exc).__name__}: {exc}"[:300]


async def _one_turn(pool: Pool, system: Any, sid: str, i: int, tally: Tally) -> bool:
    try:
        reply, requests = await pool.use(lambda c: system.turn(c, sid, message(i)))
        tally.requests += requests
        if reply != expected_reply(i):
            raise HTTPError(f"{sid} turn {i}: got {reply!r}, want {expected_reply(i)!r}")
    except (OSError, HTTPError, ValueError, KeyError, IndexError, TypeError,
            msgspec.DecodeError) as exc:
        tally.fail(exc)
        return False
    return True


async def run_open(spec: dict[str, Any], pool: Pool, system: Any, tally: Tally) -> float:
    """Turns on a fixed schedule; returns the timed phase's seconds."""
    rate, seconds, turns = spec["rate"], spec["seconds"], spec["turns"]
    total = int(rate * seconds)
    slots = spec["active"]
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.05

    async def slot(s: int) -> None:
        for k in range(s, total, slots):  # this slot's turns: k, k + slots, ...
            j = k // slots
            sid = system.sid((j // turns) * slots + s)
            due = start + k / rate
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            if await _one_turn(pool, system, sid, j % turns, tally):
                tally.latencies.append(loop.time() - due)

    tasks = [loop.create_task(slot(s)) for s in range(slots)]
    _, pending = await asyncio.wait(tasks, timeout=seconds + 0.05 + spec["drain"])
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    unanswered = total - len(tally.latencies) - tally.errors
    if unanswered > 0:
        tally.errors += unanswered
        tally.first_error = tally.first_error or f"{unanswered} turns unanswered after drain"
    return loop.time() - start


async def run_closed(spec: dict[str, Any], pool: Pool, system: Any, tally: Tally) -> float:
    """Turns back to back on every connection until ``seconds`` pass or sessions run out."""
    turns, sessions = spec["turns"], spec["sessions"]
    loop = asyncio.get_running_loop()
    start = loop.time()
    stop = start + spec["seconds"]
    clients = spec["connections"]

    async def client(c: int) -> None:
        for n in range(c, sessions, clients):
            for i in range(turns):
                if loop.time() >= stop:
                    return
                t0 = loop.time()
                if await _one_turn(pool, system, system.sid(n), i, tally):
                    tally.latencies.append(loop.time() - t0)

    await asyncio.gather(*(client(c) for c in range(clients)))
    return loop.time() - start


async def run_health(spec: dict[str, Any], pool: Pool, system: Any, tally: Tally) -> float:
    """The trivial endpoint, back to back on every connection, for ``seconds``."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    stop = start + spec["seconds"]
    head = _head("GET", system.health, b"", b"")

    async def client() -> None:
        while loop.time() < stop:
            t0 = loop.time()
            try:
                status, _ = await pool.use(lambda c: c.request(head))
                if status != 200:
                    raise HTTPError(f"GET {system.health}: HTTP {status}")
            except (OSError, HTTPError) as exc:
                tally.fail(exc)
                continue
            tally.requests += 1
            tally.latencies.append(loop.time() - t0)

    await asyncio.gather(*(client() for _ in range(spec["connections"])))
    return loop.time() - start


async def create_sessions(pool: Pool, system: Any, count: int, width: int) -> None:
    """Create sessions ``0 .. count - 1`` (not timed), ``width`` at a time."""
    async def worker(w: int) -> None:
        for n in range(w, count, width):
            sid = system.sid(n)
            await pool.use(lambda c: system.create(c, sid))  # noqa: B023 (awaited here)

    await asyncio.gather(*(worker(w) for w in range(width)))


async def measure(spec: dict[str, Any]) -> dict[str, Any]:
    """Run the load ``spec`` describes; the result row."""
    system = _system(spec)
    pool = Pool(spec["host"], spec["port"])
    await pool.open(spec["connections"])
    mode = spec["mode"]
    if mode != "health":
        await create_sessions(pool, system, spec["sessions"], min(32, spec["connections"]))
    tally = Tally()
    server0, load0 = tree_cpu(spec["pid"]), time.process_time()
    runner = {"open": run_open, "closed": run_closed, "health": run_health}[mode]
    seconds = await runner(spec, pool, system, tally)
    server_s, load_s = tree_cpu(spec["pid"]) - server0, time.process_time() - load0
    tally.latencies.sort()
    done, requests = len(tally.latencies), max(1, tally.requests)
    return {
        "seconds": round(seconds, 3),
        "turns": done if mode != "health" else None,
        "requests": tally.requests,
        "turns_per_s": round(done / seconds, 1) if mode != "health" else None,
        "requests_per_s": round(tally.requests / seconds, 1),
        "p50_ms": percentile(tally.latencies, 0.50),
        "p99_ms": percentile(tally.latencies, 0.99),
        "p999_ms": percentile(tally.latencies, 0.999),
        "max_ms": percentile(tally.latencies, 1.0),
        "server_cpu_share": round(server_s / seconds, 2),
        "load_cpu_share": round(load_s / seconds, 2),
        "server_us_per_req": round(server_s / requests * 1e6, 1),
        "load_us_per_req": round(load_s / requests * 1e6, 1),
        "server_us_per_turn": round(server_s / done * 1e6, 1) if done and mode != "health"
        else None,
        "errors": tally.errors,
        "error": tally.first_error,
    }


def main() -> None:
    """``python -m benchmarks.http_load SPEC_JSON``: print the result row as JSON."""
    spec = json.loads(sys.argv[1])
    try:
        import uvloop
    except ImportError:  # pragma: no cover
        row = asyncio.run(measure(spec))
    else:
        row = uvloop.run(measure(spec))
    print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()


def stop_group(proc: subprocess.Popen[Any], timeout: float = 30.0) -> None:
    """End a server started in its own process group (``start_new_session``): SIGTERM to
    the group, SIGKILL if it is still there after ``timeout`` seconds."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
