"""Two ``dialoghub serve`` processes on one store answering one round, through the Python
client: concurrent human votes both count once and the round is decided once; the same
answer sent to both servers is taken once and refused once."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from dialoghub.client import APIError, Client, SyncClient
from tests.server.test_process import CLI, free_port

MACHINE = {
    "id": "panel",
    "initial": "pending",
    "default": "done",
    "states": {
        "pending": {
            "meta": {"prompt": "Accept the paper?"},
            "on": {"ACCEPT": "done", "REJECT": "rejected"},
        },
        "done": {"on": {"AGAIN": "pending"}},
        "rejected": {"type": "final"},
    },
    "decision": {
        "deadline": 3600,
        "specialists": [
            {"id": "rule.yes", "kind": "rule", "rules": [{"propose": "ACCEPT"}], "votes": False},
            {"id": "rule.no", "kind": "rule", "rules": [{"propose": "REJECT"}], "votes": False},
            {"id": "ann", "kind": "human", "human": True, "proposes": False},
            {"id": "bob", "kind": "human", "human": True, "proposes": False},
        ],
        "policy": {"kind": "weighted", "margin": 1},
    },
}


def _start(env: dict[str, str], models: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [*CLI, "serve", "--models", str(models), "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    return proc, f"http://127.0.0.1:{port}"


def _wait(proc: subprocess.Popen[bytes], url: str) -> None:
    import time

    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            out = proc.stdout.read().decode() if proc.stdout else ""
            raise AssertionError(f"server did not start:\n{out}")
        time.sleep(0.1)


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[tuple[str, str, str]]:
    models = tmp_path / "models"
    models.mkdir()
    (models / "panel.json").write_text(json.dumps(MACHINE))
    env = {**os.environ, "DIALOGHUB_STORE": f"sqlite:///{tmp_path / 'shared.db'}"}
    made = subprocess.run(
        [*CLI, "keys", "create", "--tenant", "t1", "--scope", "write"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    key = made.stdout.strip().splitlines()[-1]
    procs = [_start(env, models) for _ in range(2)]
    try:
        for proc, url in procs:
            _wait(proc, url)
        yield procs[0][1], procs[1][1], key
    finally:
        for proc, _ in procs:
            proc.terminate()
        for proc, _ in procs:
            proc.wait(timeout=10)


async def _open_round(c: Client) -> str:
    """A new session whose round asks the humans: its WebSocket pushes the solicitation
    (the backlog first, then live updates), so the test waits for that event, not a time."""
    view = await c.create_session("panel")
    sid = view.session.id
    attachment = await c.attach(sid, after=0)
    try:
        while True:
            push = await asyncio.wait_for(attachment.receive(), timeout=30)
            events = push.get("events") or []
            if any(e["type"] == "vote_solicited" for e in events):
                return sid
    finally:
        await attachment.close()


def test_two_servers_answer_one_round(servers: tuple[str, str, str]) -> None:
    one, two, key = servers

    async def run() -> None:
        async with Client(one, api_key=key) as a, Client(two, api_key=key) as b:
            sid = await _open_round(a)
            rd = await b.round(sid)
            assert sorted(rd.waiting) == ["ann", "bob"]
            (pair,) = rd.waiting["ann"]["pairs"]
            accept = "A" if rd.proposals[0].transition == "ACCEPT" else "B"
            # ann through server one, bob through server two, at the same moment
            va, vb = await asyncio.gather(
                a.vote(sid, "r1", "ann", [(pair[0], pair[1], accept)]),
                b.vote(sid, "r1", "bob", [(pair[0], pair[1], accept)]),
            )
            final = max(va, vb, key=lambda v: v.session.version)
            assert final.session.state == "done"
            events = await a.events(sid, limit=1000)
            votes = [e for e in events if e.type == "vote_submitted"]
            assert sorted(e.data["specialist"] for e in votes) == ["ann", "bob"]
            assert len([e for e in events if e.type == "transition_executed"]) == 1
            assert len([e for e in events if e.type == "consensus_evaluated"]) == 1

            # the same human answer sent to both servers: taken once, refused once
            sid = await _open_round(b)
            rd = await a.round(sid)
            (pair,) = rd.waiting["ann"]["pairs"]
            results = await asyncio.gather(
                a.vote(sid, rd.round, "ann", [(pair[0], pair[1], "A")]),
                b.vote(sid, rd.round, "ann", [(pair[0], pair[1], "A")]),
                return_exceptions=True,
            )
            refused = [r for r in results if isinstance(r, APIError)]
            assert len(refused) == 1 and refused[0].status == 422
            assert refused[0].code == "not_solicited"
            inbox = await b.inbox(model="panel")
            assert [i.session_id for i in inbox.items] == [sid]
            assert inbox.items[0].waiting == ["bob"]
            done = await a.override(sid, "REJECT", reason="chair decides")
            assert done.session.state == "rejected"

    asyncio.run(run())
    with SyncClient(one, api_key=key) as sc:  # the blocking client has the same methods
        assert sc.inbox(model="panel").items == []
