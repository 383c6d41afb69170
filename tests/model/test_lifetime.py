"""A model's ``lifetime`` key: validated when loading, applied by the timer service."""

from __future__ import annotations

import pytest

from dialoghub import Hub, errors
from dialoghub.engine.records import Status
from dialoghub.hub.timers import TimerService
from dialoghub.model.loader import load_model_text

T0 = 1_700_000_000.0

MODEL = """
id: shortlived
lifetime: {idle: 60, absolute: 3600}
states:
  wait:
    ask: "Yes?"
    wait: true
"""


def test_lifetime_is_compiled() -> None:
    model = load_model_text(MODEL)
    assert model.lifetime == {"idle": 60.0, "absolute": 3600.0}


@pytest.mark.parametrize(
    ("lifetime", "message"),
    [
        ("{idle: -5}", "lifetime idle must be a positive number of seconds"),
        ("{idle: soon}", "lifetime idle must be a positive number of seconds"),
        ("{forever: 10}", "unknown key 'forever' in lifetime"),
        ("{}", "lifetime needs 'idle' and/or 'absolute' seconds"),
        ("60", "lifetime must be a mapping"),
    ],
)
def test_bad_lifetimes_are_reported_at_their_line(lifetime: str, message: str) -> None:
    with pytest.raises(errors.ModelValidationError) as info:
        load_model_text(MODEL.replace("{idle: 60, absolute: 3600}", lifetime), "m.yaml")
    assert any(message in p.message and p.line == 3 for p in info.value.problems), info.value


async def test_an_idle_session_of_the_model_expires() -> None:
    now = [T0]
    async with Hub("memory://", clock=lambda: now[0]) as hub:
        hub.add_model(load_model_text(MODEL))
        await hub.create_session("shortlived", session_id="s")
        service = TimerService(hub)
        assert (await service.run_once(now=T0 + 59)).delivered == 0
        now[0] = T0 + 61
        assert (await service.run_once(now=T0 + 61)).delivered == 1
        session = await hub.get_session("s")
        assert session.status is Status.EXPIRED
        assert (await hub.events("s", limit=100))[-1].type == "session_expired"
