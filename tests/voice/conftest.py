"""Fixtures of the voice tests: speech made by espeak-ng, and one real server for the module.

The server is uvicorn on a free port of 127.0.0.1 in a thread of its own, with the weather and
pizza examples and a wake-word model, sessions in SQLite; one per test module, so its voice
engine (and the LMs it builds) serves every test of the module. Tests that need espeak-ng,
SoX or pocketsphinx skip locally when one is missing and fail under CI=true (``make test``
installs them).
"""

from __future__ import annotations

import asyncio
import functools
import os
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from benchmarks.voice import say as speak

from tests.conftest import EXAMPLES

WAKE_MODEL = """
id: wakeful
version: "1"
wake_word: true
intents:
  greet: [hello, hi there, good morning]
  goodbye: [goodbye, bye]
states:
  start:
    on: {greet: hi, goodbye: bye}
  hi:
    say: Hello to you!
    next: start
  bye:
    say: Goodbye!
    final: true
"""


def need_speech() -> None:
    """Skip (fail on CI) unless espeak-ng, SoX and pocketsphinx are installed."""
    missing = [c for c in ("espeak-ng", "sox") if shutil.which(c) is None]
    try:
        import pocketsphinx  # noqa: F401
    except ImportError:
        missing.append("pocketsphinx")
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{', '.join(missing)} missing: make test installs them")
        pytest.skip(f"{', '.join(missing)} not installed")


@functools.lru_cache(maxsize=256)
def say(text: str, voice: str = "en-us", rate: int = 16000, pad: float = 0.3) -> bytes:
    """``text`` spoken by espeak-ng as 16-bit mono PCM at ``rate``, with ``pad`` seconds of
    silence before and after (as a microphone hears a turn)."""
    need_speech()
    return speak(text, voice, rate=rate, before=pad, after=pad)


@dataclass
class Live:
    url: str
    key: str
    app: Any

    @property
    def service(self) -> Any:
        return self.app.state.service


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    need_speech()
    import uvicorn

    from dialoghub.server import Settings, create_app
    from dialoghub.server.auth import create_key
    from dialoghub.server.keystore import MemoryKeyStore

    tmp = tmp_path_factory.mktemp("voice")
    (tmp / "wakeful.yaml").write_text(WAKE_MODEL)
    keystore = MemoryKeyStore()
    key, _ = asyncio.run(create_key(keystore, "acme", scopes=("write",)))
    settings = Settings(
        store=f"sqlite:///{tmp / 's.db'}",
        rate_limit=0,
        models=(str(EXAMPLES / "weather"), str(EXAMPLES / "pizza"), str(tmp / "wakeful.yaml")),
        token_keys=("k1:0123456789abcdef0123456789abcdef",),
    )
    app = create_app(settings, keystore=keystore)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield Live(f"http://127.0.0.1:{port}", key, app)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def reply_texts(actions: Any) -> list[str]:
    """The texts of the reply actions in a list of actions (dicts or records)."""
    out = []
    for a in actions:
        d = (
            a
            if isinstance(a, dict)
            else {"type": type(a).__name__, "text": getattr(a, "text", None)}
        )
        if d.get("type") in ("reply", "Reply"):
            out.append(d["text"])
    return out


def wer(ref: str, hyp: str) -> float:
    """Word error rate of ``hyp`` against ``ref``: edit distance over the reference's words."""
    r, h = ref.lower().split(), hyp.lower().split()
    d = list(range(len(h) + 1))
    for i, rw in enumerate(r, 1):
        prev, d[0] = d[0], i
        for j, hw in enumerate(h, 1):
            prev, d[j] = d[j], min(d[j] + 1, d[j - 1] + 1, prev + (rw != hw))
    return d[len(h)] / max(1, len(r))
