"""The hub: many durable sessions at once, each updated under its own lock.

:class:`Hub` (in :mod:`dialoghub.hub.core`) owns a store, the loaded models, a per-session
lock table and a cache of snapshots (:mod:`dialoghub.hub.keyed`); every update of a session,
from any face (Python, the HTTP server, the CLI, the timer service), goes through it. Beside it
live the parts it runs on the store: time travel (:mod:`dialoghub.hub.timetravel`), moving
sessions between stores (:mod:`dialoghub.hub.transfer`), due timers
(:mod:`dialoghub.hub.timers`), what an update returns (:mod:`dialoghub.hub.view`), and the
blocking face for scripts (:class:`SyncHub`, :mod:`dialoghub.hub.sync`).
"""

from __future__ import annotations

from dialoghub.hub.core import DEFAULT_STORE, IDEMPOTENCY_RETENTION, Hub
from dialoghub.hub.sync import SyncHub
from dialoghub.hub.view import SessionView

__all__ = ["DEFAULT_STORE", "IDEMPOTENCY_RETENTION", "Hub", "SessionView", "SyncHub"]
