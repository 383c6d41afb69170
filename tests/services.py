"""Reachability of the real services tests use.

Locally a missing service skips its tests with the reason; with ``CI=true`` it fails them, so
CI can never go green without the services.
"""

from __future__ import annotations

import os
import socket

import pytest


def require(name: str, host: str, port: int) -> None:
    """Skip (or, under CI, fail) the calling test when ``host:port`` does not answer."""
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return
    except OSError as exc:
        reason = f"{name} is not reachable at {host}:{port} ({exc})"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{reason}; CI requires it")
    pytest.skip(reason)


POSTGRES = ("PostgreSQL", "127.0.0.1", 5432)
REDIS = ("Redis", "127.0.0.1", 6379)
