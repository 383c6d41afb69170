"""Per-key locks: one holder at a time, waiters in arrival order, cancellation never loses it."""

from __future__ import annotations

import asyncio

import pytest

from dialoghub.hub.keyed import KeyedLocks


async def test_waiters_get_the_lock_in_arrival_order() -> None:
    locks: KeyedLocks[str] = KeyedLocks()
    order: list[int] = []
    inside = 0

    async def work(n: int) -> None:
        nonlocal inside
        async with locks.hold("k"):
            inside += 1
            assert inside == 1
            await asyncio.sleep(0)
            order.append(n)
            inside -= 1

    await asyncio.gather(*(work(n) for n in range(20)))
    assert order == list(range(20))
    assert len(locks) == 0


async def test_a_cancelled_waiter_is_skipped() -> None:
    locks: KeyedLocks[str] = KeyedLocks()
    release = asyncio.Event()
    got: list[str] = []

    async def holder() -> None:
        async with locks.hold("k"):
            await release.wait()

    async def waiter(name: str) -> None:
        async with locks.hold("k"):
            got.append(name)

    first = asyncio.create_task(holder())
    await asyncio.sleep(0)
    cancelled = asyncio.create_task(waiter("cancelled"))
    last = asyncio.create_task(waiter("last"))
    await asyncio.sleep(0)
    cancelled.cancel()
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    release.set()
    await asyncio.gather(first, last)
    assert got == ["last"]
    assert len(locks) == 0


async def test_a_waiter_cancelled_after_the_handoff_passes_the_lock_on() -> None:
    locks: KeyedLocks[str] = KeyedLocks()
    got: list[str] = []
    held = locks.hold("k")
    await held.__aenter__()

    async def waiter(name: str) -> None:
        async with locks.hold("k"):
            got.append(name)

    second = asyncio.create_task(waiter("second"))
    third = asyncio.create_task(waiter("third"))
    await asyncio.sleep(0)
    await held.__aexit__(None, None, None)  # hands the lock to "second" ...
    second.cancel()  # ... which is cancelled before it runs
    with pytest.raises(asyncio.CancelledError):
        await second
    await third
    assert got == ["third"]
    assert len(locks) == 0
