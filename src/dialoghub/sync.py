"""The synchronous face of :class:`~dialoghub.hub.Hub`, for scripts and embedded use.

``SyncHub`` runs a Hub on an event loop in a background thread and forwards every call to
it, so it has exactly the Hub's methods without a second implementation: a coroutine method
of the Hub becomes a blocking method here; anything else is passed through.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from dialoghub.hub import DEFAULT_STORE, Hub
from dialoghub.stores import Store

__all__ = ["SyncHub"]

T = TypeVar("T")


class SyncHub:
    """A blocking Hub: ``with SyncHub("sqlite:///app.db") as hub: hub.process_text(...)``."""

    def __init__(self, store: str | Store = DEFAULT_STORE, **options: Any) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="dialoghub-sync", daemon=True
        )
        self._thread.start()
        # The Hub is built on its loop's thread so everything it creates belongs to that loop.
        self.hub: Hub = self._call(self._make(store, options))

    @staticmethod
    async def _make(store: str | Store, options: dict[str, Any]) -> Hub:
        return Hub(store, **options)

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.hub, name)
        if inspect.iscoroutinefunction(attr):

            @functools.wraps(attr)
            def blocking(*args: Any, **kwargs: Any) -> Any:
                return self._call(attr(*args, **kwargs))

            return blocking
        return attr

    def __dir__(self) -> list[str]:
        return sorted({*super().__dir__(), *dir(self.hub)})

    def open(self) -> SyncHub:
        """Open the store."""
        self._call(self.hub.open())
        return self

    def close(self) -> None:
        """Close the store and stop the loop thread."""
        if self._thread.is_alive():
            try:
                self._call(self.hub.close())
            finally:
                self._loop.call_soon_threadsafe(self._loop.stop)
                self._thread.join()
                self._loop.close()

    def __enter__(self) -> SyncHub:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()
