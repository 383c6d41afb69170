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

import math
import time
from bisect import bisect_left
from collections.abc import Iterator
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily

__all__ = ["ACTIVE_WINDOW", "CONTENT_TYPE_LATEST", "Metrics"]

#: A session counts as active this many seconds after its last update here.
ACTIVE_WINDOW = 300.0
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class _Histogram:
    """Bucket counts and a sum, kept in plain Python (observing is a bisect and two adds)."""

    __slots__ = ("counts", "sum")

    def __init__(self) -> None:
        self.counts = [0] * (len(_BUCKETS) + 1)  # the last one is +Inf
        self.sum = 0.0

    def observe(self, seconds: float) -> None:
        self.counts[bisect_left(_BUCKETS, seconds)] += 1
        self.sum += seconds

    def buckets(self) -> list[tuple[str, float]]:
        total, out = 0, []
        for bound, count in zip((*_BUCKETS, math.inf), self.counts, strict=True):
            total += count
            out.append(("+Inf" if bound == math.inf else repr(bound), float(total)))
        return out


class _HotPath:
    """The per-request and per-turn metrics as plain counters, rendered on scrape.

    prometheus_client's labelled metrics take a lock and look their child up on every
    call; at thousands of requests per second that was a visible share of a request, so the
    hot counters live here and a collector turns them into the same metric families."""

    def __init__(self) -> None:
        self.requests: dict[tuple[str, str, int], int] = {}
        self.latency: dict[str, _Histogram] = {}
        self.turns: dict[str, int] = {}
        self.turn_seconds = _Histogram()

    def describe(self) -> list[Any]:
        return []

    def collect(self) -> Iterator[Any]:
        requests = CounterMetricFamily(
            "dialoghub_http_requests", "HTTP requests.", labels=["route", "method", "status"]
        )
        for (route, method, status), count in sorted(self.requests.items()):
            requests.add_metric([route, method, str(status)], count)
        yield requests
        latency = HistogramMetricFamily(
            "dialoghub_http_request_seconds", "HTTP request latency.", labels=["route"]
        )
        for route, hist in sorted(self.latency.items()):
            latency.add_metric([route], hist.buckets(), hist.sum)
        yield latency
        turns = CounterMetricFamily(
            "dialoghub_turns", "Session updates (creates and inputs).", labels=["model"]
        )
        for model, count in sorted(self.turns.items()):
            turns.add_metric([model], count)
        yield turns
        turn_seconds = HistogramMetricFamily(
            "dialoghub_turn_seconds", "Time the Hub took for one update."
        )
        turn_seconds.add_metric([], self.turn_seconds.buckets(), self.turn_seconds.sum)
        yield turn_seconds


class Metrics:
    """The metrics of one app, in their own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._hot = _HotPath()
        self.registry.register(self._hot)
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

    def _count_active(self) -> float:
        cutoff = time.monotonic() - ACTIVE_WINDOW
        self._touched = {k: t for k, t in self._touched.items() if t >= cutoff}
        return float(len(self._touched))

    def request(self, route: str, method: str, status: int, seconds: float) -> None:
        """Count one HTTP request."""
        hot = self._hot
        key = (route, method, status)
        hot.requests[key] = hot.requests.get(key, 0) + 1
        hist = hot.latency.get(route)
        if hist is None:
            hist = hot.latency[route] = _Histogram()
        hist.observe(seconds)

    def turn(self, tenant: str, session_id: str, model: str, seconds: float) -> None:
        """Count one session update."""
        hot = self._hot
        hot.turns[model] = hot.turns.get(model, 0) + 1
        hot.turn_seconds.observe(seconds)
        self._touched[(tenant, session_id)] = time.monotonic()
        if len(self._touched) > 200_000:
            self._count_active()

    def render(self) -> bytes:
        """The text exposition format."""
        return generate_latest(self.registry)
