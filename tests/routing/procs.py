"""Real ``dialoghub serve`` processes for the cross-process tests: started on free ports,
sharing one PostgreSQL schema and one bus, killed with SIGKILL on demand."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.routing.conftest import RELAY

DIALOGHUB = str(Path(sys.executable).with_name("dialoghub"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Proc:
    port: int
    popen: subprocess.Popen[bytes]

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v1/clients/ws"

    def kill(self) -> None:
        self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(10)


def start(store: str, bus: str, *, dispatch_timeout: float = 5.0, models: str = RELAY) -> Proc:
    port = free_port()
    env = {**os.environ, "DIALOGHUB_LOG_LEVEL": "warning"}
    log = tempfile.TemporaryFile()  # noqa: SIM115 - open as long as the server runs
    popen = subprocess.Popen(
        [
            DIALOGHUB,
            "serve",
            "--store",
            store,
            "--models",
            models,
            "--port",
            str(port),
            "--no-auth",
            "--no-timers",
            "--rate-limit",
            "0",
            "--bus",
            bus,
            "--dispatch-timeout",
            str(dispatch_timeout),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log,  # a file, not a pipe: a pipe nobody reads would block the server
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # until it answers (or dies)
        if popen.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"server exited: {log.read().decode()[-2000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return Proc(port, popen)
        time.sleep(0.05)
    popen.kill()
    raise RuntimeError("server did not start")


@contextlib.contextmanager
def two(store: str, bus: str) -> Iterator[tuple[Proc, Proc]]:
    a = start(store, bus)
    try:
        b = start(store, bus)
    except Exception:
        a.kill()
        raise
    try:
        yield a, b
    finally:
        for p in (a, b):
            if p.popen.poll() is None:
                p.popen.terminate()
                try:
                    p.popen.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()


#: NATS with JetStream, as the routing bus's second adapter needs it.
NATS = ("NATS", "127.0.0.1", 4222)
