"""Per-key locks and a bounded snapshot cache, the two pieces of state a Hub keeps in memory."""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

__all__ = ["KeyedLocks", "LRUCache"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class KeyedLocks(Generic[K]):
    """One lock per key (FIFO, like an asyncio.Lock), created on first use and dropped when
    nobody holds or waits.

    Updates of one session queue on its lock; updates of different sessions never wait for
    each other. Memory stays proportional to the sessions being updated right now.
    """

    def __init__(self) -> None:
        self._locks: dict[K, _Held[K]] = {}

    def hold(self, key: K) -> _Held[K]:
        """``async with locks.hold(key):`` holds the lock of ``key`` for the block."""
        held = self._locks.get(key)
        if held is None:
            held = self._locks[key] = _Held(self, key)
        return held

    def __len__(self) -> int:
        return len(self._locks)


class _Held(Generic[K]):
    """The lock of one key and how many tasks hold or wait for it.

    A plain class rather than an ``asynccontextmanager``: this is on every update's path,
    and a generator-based context manager costs several microseconds more per use. For the
    same reason it is its own lock rather than an ``asyncio.Lock``: taking a free lock is a
    flag, and a waiter gets a future only when the lock is held. Release hands the lock to
    the first waiter, so waiters get it in arrival order (as with ``asyncio.Lock``).
    """

    __slots__ = ("key", "locked", "owner", "users", "waiters")

    def __init__(self, owner: KeyedLocks[K], key: K) -> None:
        self.owner = owner
        self.key = key
        self.locked = False
        self.waiters: collections.deque[asyncio.Future[None]] | None = None
        self.users = 0

    async def __aenter__(self) -> None:
        self.users += 1
        if not self.locked:
            self.locked = True
            return
        if self.waiters is None:
            self.waiters = collections.deque()
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiters.append(waiter)
        try:
            await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self._release()  # handed the lock just as we were cancelled: pass it on
            else:
                with contextlib.suppress(ValueError):
                    self.waiters.remove(waiter)
            self._leave()
            raise

    async def __aexit__(self, *exc: object) -> None:
        self._release()
        self._leave()

    def _release(self) -> None:
        waiters = self.waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():  # a cancelled waiter is skipped
                waiter.set_result(None)  # the lock passes to it: ``locked`` stays True
                return
        self.locked = False

    def _leave(self) -> None:
        self.users -= 1
        if self.users == 0:
            del self.owner._locks[self.key]


class LRUCache(Generic[K, V]):
    """A dict that forgets its least recently used entries beyond ``capacity``."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._data: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        """The value of ``key`` (now most recently used), or None."""
        value = self._data.get(key)
        if value is not None:
            self._data.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        """Remember ``value``; evicts the oldest entry if over capacity."""
        if self.capacity <= 0:
            return
        self._data[key] = value
        self._data.move_to_end(key)
        if len(self._data) > self.capacity:
            self._data.popitem(last=False)

    def pop(self, key: K) -> None:
        """Forget ``key``."""
        self._data.pop(key, None)

    def __len__(self) -> int:
        return len(self._data)
