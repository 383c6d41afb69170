"""Prometheus metrics of one server process, served at ``/metrics``.

Each app has its own registry (tests build many apps). Metrics:

- ``dialoghub_http_requests_total{route,method,status}`` and
  ``dialoghub_http_request_seconds{route}``: every HTTP request, by route template;
- ``dialoghub_turns_total{model}`` and ``dialoghub_turn_seconds``: session updates (HTTP and
  WebSocket), and how long the Hub took;
- ``dialoghub_active_sessions``: sessions this process created or updated in the last
  five minutes (the store is not scanned);
- ``dialoghub_websocket_clients``: WebSocket and SSE clients attached now;
- ``dialoghub_store_errors_total``: requests that failed because the store did.
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

__all__ = ["ACTIVE_WINDOW", "CONTENT_TYPE_LATEST", "Metrics"]

#: A session counts as active this many seconds after its last update here.
ACTIVE_WINDOW = 300.0
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """The metrics of one app, in their own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "dialoghub_http_requests", "HTTP requests.", ["route", "method", "status"],
            registry=self.registry,
        )
        self.request_seconds = Histogram(
            "dialoghub_http_request_seconds", "HTTP request latency.", ["route"],
            buckets=_BUCKETS, registry=self.registry,
        )
        self.turns = Counter(
            "dialoghub_turns", "Session updates (creates and inputs).", ["model"],
            registry=self.registry,
        )
        self.turn_seconds = Histogram(
            "dialoghub_turn_seconds", "Time the Hub took for one update.", buckets=_BUCKETS,
            registry=self.registry,
        )
        self.store_errors = Counter(
            "dialoghub_store_errors", "Requests failed by the store.", registry=self.registry
        )
        self.clients = Gauge(
            "dialoghub_websocket_clients", "WebSocket and SSE clients attached.",
            registry=self.registry,
        )
        active = Gauge(
            "dialoghub_active_sessions",
            "Sessions created or updated by this process in the last five minutes.",
            registry=self.registry,
        )
        active.set_function(self._count_active)
        self._touched: dict[tuple[str, str], float] = {}
        self._children: dict[tuple[str, ...], Any] = {}

    def _count_active(self) -> float:
        cutoff = time.monotonic() - ACTIVE_WINDOW
        self._touched = {k: t for k, t in self._touched.items() if t >= cutoff}
        return float(len(self._touched))

    def request(self, route: str, method: str, status: int, seconds: float) -> None:
        """Count one HTTP request."""
        key = (route, method, str(status))
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = (
                self.requests.labels(route, method, str(status)),
                self.request_seconds.labels(route),
            )
        child[0].inc()
        child[1].observe(seconds)

    def turn(self, tenant: str, session_id: str, model: str, seconds: float) -> None:
        """Count one session update."""
        key = ("turn", model)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = self.turns.labels(model)
        child.inc()
        self.turn_seconds.observe(seconds)
        self._touched[(tenant, session_id)] = time.monotonic()
        if len(self._touched) > 200_000:
            self._count_active()

    def render(self) -> bytes:
        """The text exposition format."""
        return generate_latest(self.registry)
