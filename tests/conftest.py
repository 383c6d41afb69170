"""Shared fixtures: the weather example, loaded once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from dialoghub.model.loader import load_model
from dialoghub.model.spec import Model

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


@pytest.fixture(scope="session")
def weather() -> Model:
    return load_model(EXAMPLES / "weather" / "weather.yaml")
