"""The server runs the timer service (prompt timeouts, lifetimes) unless told not to."""

from __future__ import annotations

import dataclasses

from starlette.testclient import TestClient

from dialoghub.server.app import create_app
from dialoghub.server.keystore import MemoryKeyStore
from dialoghub.server.settings import Settings, load_settings


def test_timer_service_runs_by_default(settings: Settings, keystore: MemoryKeyStore) -> None:
    with TestClient(create_app(settings, keystore=keystore)) as client:
        hub = client.app.state.service.hub  # type: ignore[attr-defined]
        assert hub.timers is True
        assert hub._timer_service is not None


def test_timer_service_can_be_turned_off(settings: Settings, keystore: MemoryKeyStore) -> None:
    off = dataclasses.replace(settings, timers=False)
    with TestClient(create_app(off, keystore=keystore)) as client:
        assert client.app.state.service.hub._timer_service is None  # type: ignore[attr-defined]


def test_timers_setting_from_the_environment() -> None:
    assert load_settings(env={"DIALOGHUB_TIMERS": "off"}).timers is False
    assert load_settings(env={}).timers is True
