"""The timer service: delivers prompt timeouts and expiries when they are due.

Every store indexes each session's next timer in the same write as its snapshot (see
:attr:`dialoghub.engine.records.Session.timer`), so timers survive restarts: they are data.
:meth:`TimerService.run_once` claims the timers due at ``now`` from the store (atomically:
PostgreSQL ``FOR UPDATE SKIP LOCKED``, a Redis Lua script, SQLite's single writer, a lock in
memory) and delivers each as an input through the Hub: ``Timeout(name)``, or ``Expire()``
for the ``expire`` timer.

Exactly once, across any number of processes: a claim hides the timer for a *lease*, so no
other claimer gets it meanwhile; delivery is an update pinned to the version the timer was
set for (``expected_version``), so a timer whose session moved on is *stale* and is dropped,
never applied; and a delivered timer is replaced by the update's own write. If a claimer dies
between claim and delivery, the timer is due again after the lease and another one delivers
it; if it was in fact delivered, the version check drops the repeat.

The service has no clock of its own: :meth:`run_once` takes ``now`` (tests call it directly,
with any time, and never sleep); :meth:`start` runs it every ``interval`` seconds with the
Hub's clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Any, Protocol

from dialoghub.engine.records import EXPIRE, Expire, Input, Timeout
from dialoghub.errors import (
    InputError,
    ModelError,
    SessionClosed,
    SessionNotFound,
    VersionConflict,
)
from dialoghub.stores.base import DueTimer, Store

__all__ = ["Delivery", "TimerHost", "TimerService"]

log = logging.getLogger(__name__)


class TimerHost(Protocol):
    """What the timer service needs of a :class:`~dialoghub.hub.Hub` (the Hub is one)."""

    @property
    def store(self) -> Store: ...

    def now(self) -> float: ...

    async def update(self, session_id: str, inp: Input, *, tenant: str = ...,
                     expected_version: int | None = ...,
                     idempotency_key: str | None = ...) -> Any: ...

    async def purge_idempotency(self, *, now: float | None = ...) -> int: ...


@dataclass(frozen=True, slots=True)
class Delivery:
    """What one :meth:`TimerService.run_once` did."""

    delivered: int  # timers applied to their session
    stale: int  # timers dropped: their session moved on, ended or is gone
    failed: int  # timers left to come back after their lease (a store or engine error)


class TimerService:
    """Claims due timers from ``hub``'s store and delivers them through ``hub``.

    ``batch`` timers are claimed per round; ``lease`` is how long a claimed timer stays
    hidden from other claimers; ``interval`` is the pause between rounds of :meth:`start`.
    Every ``housekeeping`` seconds the loop also purges expired idempotency records
    (:meth:`Hub.purge_idempotency`), so a long-running server keeps them bounded.
    """

    def __init__(
        self,
        hub: TimerHost,
        *,
        batch: int = 100,
        lease: float = 60.0,
        interval: float = 1.0,
        housekeeping: float = 300.0,
    ) -> None:
        self.hub = hub
        self.housekeeping = housekeeping
        self.batch = batch
        self.lease = lease
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    async def run_once(self, now: float | None = None) -> Delivery:
        """Claim and deliver every timer due at ``now`` (the Hub's clock if None)."""
        at = self.hub.now() if now is None else now
        delivered = stale = failed = 0
        while True:
            claimed = await self.hub.store.claim_timers(at, limit=self.batch, lease=self.lease)
            for timer in claimed:
                outcome = await self._deliver(timer)
                delivered += outcome == "delivered"
                stale += outcome == "stale"
                failed += outcome == "failed"
            if len(claimed) < self.batch:
                return Delivery(delivered, stale, failed)

    async def _deliver(self, timer: DueTimer) -> str:
        inp: Input = Expire() if timer.name == EXPIRE else Timeout(name=timer.name)
        try:
            await self.hub.update(
                timer.session_id, inp, tenant=timer.tenant, expected_version=timer.version
            )
        except (VersionConflict, SessionNotFound):
            return "stale"  # the session moved on (its write replaced the timer) or is gone
        except (InputError, SessionClosed, ModelError) as exc:  # it can never apply
            log.info("dropping timer %s of session %r: %s", timer.name, timer.session_id, exc)
            await self.hub.store.drop_timer(timer)
            return "stale"
        except Exception:
            log.exception("timer %s of session %r failed", timer.name, timer.session_id)
            return "failed"
        return "delivered"

    def start(self) -> None:
        """Run :meth:`run_once` every ``interval`` seconds on the running loop."""
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="dialoghub-timers")

    async def stop(self) -> None:
        """Stop the loop started by :meth:`start` (a round in progress is cancelled; its
        claimed timers come back after their lease)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _loop(self) -> None:
        next_housekeeping = 0.0  # at once on start, then every `housekeeping` seconds
        while True:
            try:
                await self.run_once()
                if self.hub.now() >= next_housekeeping:
                    next_housekeeping = self.hub.now() + self.housekeeping
                    await self.hub.purge_idempotency()
            except Exception:  # a store outage must not end the service
                log.exception("timer round failed")
            await asyncio.sleep(self.interval)
