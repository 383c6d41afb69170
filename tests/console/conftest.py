"""A real server and a real browser for the console's tests.

The server is the app of ``dialoghub serve`` under uvicorn in a thread, on a free port, over a
SQLite store that already holds a session of 100,000 events; the browser is Debian's
Chromium (``/usr/bin/chromium``, installed by ``make test``) driven by Playwright's Python
package with ``executable_path``: no browser is ever downloaded. Without Chromium the tests
skip locally and fail under ``CI=true``.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from benchmarks.console import long_session, serving

from dialoghub.server.keystore import MemoryKeyStore
from tests.server.conftest import Keys, make_keys

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
CHROMIUM = os.environ.get("DIALOGHUB_CHROMIUM", "/usr/bin/chromium")
#: The long session's events (besides the few of its start).
LONG_EVENTS = 100_000
LONG_ID = "long-history"


def _require_browser() -> None:
    why = None
    if shutil.which(CHROMIUM) is None:
        why = f"Chromium is not installed at {CHROMIUM} (make test installs Debian's chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            why = "Playwright's Python package is not installed (pip install -e '.[test]')"
    if why is None:
        return
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{why}; CI requires it")
    pytest.skip(why)


@dataclass
class Live:
    """The running console server."""

    url: str
    keys: Keys


@pytest.fixture(scope="package")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    tmp = tmp_path_factory.mktemp("console")
    store = f"sqlite:///{tmp / 'console.db'}"
    asyncio.run(long_session(store, LONG_ID, LONG_EVENTS, tenant="acme"))
    keystore = MemoryKeyStore()
    keys = make_keys(keystore)
    # tenant acme is the operators': its admin key may list the other tenant's sessions
    with serving(store, keystore, operator_tenants=("acme",)) as url:
        yield Live(url, keys)


@pytest.fixture(scope="package")
def playwright(live: Live) -> Iterator[Any]:
    """One Playwright for the package: its sync API holds an event loop on this thread, so
    a second one cannot start while the first runs (every browser is launched from this)."""
    _require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="package")
def browser(playwright: Any) -> Iterator[Any]:
    chromium = playwright.chromium.launch(executable_path=CHROMIUM,
                                          args=["--no-sandbox", "--disable-gpu"])
    try:
        yield chromium
    finally:
        chromium.close()
