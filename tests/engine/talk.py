"""A session of a model driven through the pure step function, replayed after every update:
the harness of the engine's unit tests (test_step_units, test_dialog_units)."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from dialoghub import errors
from dialoghub.engine.fold import replay
from dialoghub.engine.records import Event, Input, Reply, Session, Text
from dialoghub.engine.step import start, step
from dialoghub.model.loader import load_model_text
from dialoghub.model.spec import Model

T0 = 1_700_000_000.0


class Talk:
    """A session of a model driven through :func:`step`, replayed after every update."""

    def __init__(self, text: str, session_id: str = "u1") -> None:
        self.model: Model = load_model_text(text)
        r = start(self.model, session_id, now=T0)
        self.session: Session = r.session
        self.log: list[Event] = list(r.events)
        self.actions: tuple[Any, ...] = r.actions
        self.new: list[Event] = list(r.events)

    def send(self, inp: Input | str, model: Model | None = None) -> list[str]:
        """Step with ``inp`` (text for a string), by ``model`` if given; the replies."""
        inp = Text(text=inp) if isinstance(inp, str) else inp
        r = step(model or self.model, self.session, inp, T0 + len(self.log))
        self.session, self.actions, self.new = r.session, r.actions, list(r.events)
        self.log.extend(r.events)
        assert replay(self.log) == self.session
        return [a.text for a in r.actions if isinstance(a, Reply)]

    def data(self, type: str) -> list[dict[str, Any]]:
        """The data of the last update's events of ``type``."""
        return [e.data for e in self.new if e.type == type]

    def refused(self, inp: Input) -> errors.DialoghubError:
        """The error ``inp`` is refused with; the session is left as it was."""
        before = msgspec.to_builtins(self.session)
        with pytest.raises(errors.DialoghubError) as info:
            step(self.model, self.session, inp, T0 + 99)
        assert msgspec.to_builtins(self.session) == before
        return info.value
