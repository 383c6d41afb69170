"""Bus.advance and the mailboxes on every adapter, with two processes' buses on one
service: a round trip's take-and-claim is one step, a repeated claim is refused, and
concurrent frames for one mailbox get numbers 1..n, each once."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import pytest

from dialoghub.routing.bus import Bus, LocalBus, Pending
from dialoghub.routing.buses import open_bus
from tests.routing.procs import NATS
from tests.services import REDIS, require


async def _nothing(raw: bytes) -> None:
    return None


@pytest.fixture(params=["local", "redis", "nats"])
async def buses(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Bus, Bus]]:
    prefix = f"t{uuid.uuid4().hex[:12]}"
    if request.param == "local":
        one = LocalBus()
        pair: tuple[Bus, Bus] = (one, one)
    else:
        require(*(REDIS if request.param == "redis" else NATS))
        url = (
            f"redis://127.0.0.1:6379/0?prefix={prefix}:"
            if request.param == "redis"
            else f"nats://127.0.0.1:4222?prefix={prefix}"
        )
        pair = (open_bus(url, "a"), open_bus(url, "b"))
    for bus in set(pair):
        await bus.start(_nothing, _nothing)
    yield pair
    for bus in set(pair):
        await bus.close()
    if request.param == "nats":
        from dialoghub.routing.bus_nats import drop_prefix

        await drop_prefix("nats://127.0.0.1:4222", prefix)
    elif request.param == "redis":
        import redis.asyncio as aioredis

        r = aioredis.from_url("redis://127.0.0.1:6379/0")
        keys = [k async for k in r.scan_iter(match=f"{prefix}:*")]
        if keys:
            await r.delete(*keys)
        await r.aclose()


def _pending(version: int) -> Pending:
    return Pending(
        key=f"default/S/{version}",
        tenant="default",
        session_id="S",
        command="tick",
        deadline=time.time() + 10,
    )


async def test_advance_takes_the_answered_record_and_claims_the_next(
    buses: tuple[Bus, Bus],
) -> None:
    a, b = buses
    taken, claimed, seq = await a.advance(_pending(1), take=False, mail=("default", "p", b"{}"))
    assert (taken, claimed, seq) == (None, True, 1)
    # the same session's next command while the first is pending: refused, no frame kept
    assert await b.advance(_pending(2), take=False, mail=("default", "p", b"{}")) == (
        None,
        False,
        0,
    )
    # answered (by the other process): out with the first, in with the next, in one step
    taken, claimed, seq = await b.advance(_pending(3), take=True, mail=("default", "p", b"{}"))
    assert taken is not None and taken.key == "default/S/1" and claimed and seq == 2
    # a process whose memory of the slot is old still sees it as it is
    assert not await a.claim_pending(_pending(4))
    current = await a.take_session_pending("default", "S")
    assert current is not None and current.key == "default/S/3"
    assert await b.claim_pending(_pending(5))
    assert [(s, f) for s, f in await a.since("default", "p", 0)] == [(1, b"{}"), (2, b"{}")]


async def test_concurrent_frames_for_one_mailbox_are_numbered_once_each(
    buses: tuple[Bus, Bus],
) -> None:
    a, b = buses
    seqs = await asyncio.gather(
        *((a if i % 3 else b).append("default", "p", b'{"i":%d}' % i) for i in range(60))
    )
    assert sorted(seqs) == list(range(1, 61))
    kept = await b.since("default", "p", 50)
    assert [s for s, _ in kept] == list(range(51, 61))
    by_seq = dict(zip(seqs, range(60), strict=True))
    assert all(frame == b'{"i":%d}' % by_seq[s] for s, frame in kept)
