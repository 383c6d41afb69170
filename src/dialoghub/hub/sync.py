"""The synchronous face of :class:`~dialoghub.hub.Hub`, for scripts and embedded use.

``SyncHub`` runs a Hub on an event loop in a background thread (a :mod:`dialoghub.blocking`
portal) and forwards every call to it, so it has exactly the Hub's methods without a second
implementation: each coroutine method of the Hub has a blocking twin here with the same
signature (what editors and mypy show), ``export_sessions`` yields blocking, and the plain
methods and attributes are reached on the Hub's thread. ``tests/test_blocking.py`` fails
when the Hub gains a public name this face does not declare.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable

from dialoghub.blocking import BlockingFace, attribute, blocking, blocking_iter, on_loop, readonly
from dialoghub.hub.core import DEFAULT_STORE, IDEMPOTENCY_RETENTION, Hub
from dialoghub.model.spec import Model
from dialoghub.stores import Store

__all__ = ["SyncHub"]


class SyncHub(BlockingFace[Hub]):
    """A blocking Hub: ``with SyncHub("sqlite:///app.db") as hub: hub.process_text(...)``."""

    def __init__(
        self,
        store: str | Store = DEFAULT_STORE,
        *,
        default_model: str | None = None,
        clock: Callable[[], float] = time.time,
        cache_size: int = 10_000,
        migrate: bool = False,
        lifetime: dict[str, float] | None = None,
        timers: bool = False,
        idempotency_retention: float = IDEMPOTENCY_RETENTION,
    ) -> None:
        # The Hub is built on its loop's thread so everything it creates belongs to that loop.
        build = functools.partial(
            Hub,
            store,
            default_model=default_model,
            clock=clock,
            cache_size=cache_size,
            migrate=migrate,
            lifetime=lifetime,
            timers=timers,
            idempotency_retention=idempotency_retention,
        )
        super().__init__(build, name="dialoghub-sync")

    @property
    def hub(self) -> Hub:
        """The async Hub itself (use it only on its own loop, e.g. from its callbacks)."""
        return self._target

    # --- lifecycle ------------------------------------------------------------------------

    def open(self) -> SyncHub:
        """Open the store."""
        self._portal.call(self._target.open)
        return self

    def close(self) -> None:
        """Close the store and stop the loop thread."""
        super().close()

    # --- attributes and plain methods (run on the Hub's thread) ---------------------------

    store: attribute[Store] = attribute()
    migrate: attribute[bool] = attribute()
    default_model: attribute[str | None] = attribute()
    lifetime: attribute[dict[str, float]] = attribute()
    timers: attribute[bool] = attribute()
    idempotency_retention: attribute[float] = attribute()
    models: readonly[dict[str, Model]] = readonly()

    load_models = on_loop(Hub.load_models)
    add_model = on_loop(Hub.add_model)
    add_code_unit = on_loop(Hub.add_code_unit)
    model = on_loop(Hub.model)
    now = on_loop(Hub.now)
    start_detached = on_loop(Hub.start_detached)
    step_detached = on_loop(Hub.step_detached)
    watch = on_loop(Hub.watch)  # the watcher is then called on the Hub's thread

    # --- blocking twins of the coroutine methods ------------------------------------------

    create_session = blocking(Hub.create_session)
    update = blocking(Hub.update)
    process_text = blocking(Hub.process_text)
    process_asr_result = blocking(Hub.process_asr_result)
    process_command_result = blocking(Hub.process_command_result)
    process_event = blocking(Hub.process_event)
    jump = blocking(Hub.jump)
    set_variables = blocking(Hub.set_variables)
    timeout = blocking(Hub.timeout)
    end_session = blocking(Hub.end_session)
    request = blocking(Hub.request)
    get_session = blocking(Hub.get_session)
    fork_session = blocking(Hub.fork_session)
    import_session = blocking(Hub.import_session)
    purge = blocking(Hub.purge)
    purge_idempotency = blocking(Hub.purge_idempotency)
    list_sessions = blocking(Hub.list_sessions)
    events = blocking(Hub.events)
    delete_session = blocking(Hub.delete_session)
    incarnation = blocking(Hub.incarnation)

    export_sessions = blocking_iter(Hub.export_sessions)
