"""Shared helpers of the decision tests: machines built from a policy, the pure engine driven
by hand, and the rounds read back."""

from __future__ import annotations

import json
from typing import Any

import pytest

from dialoghub.engine.fold import replay
from dialoghub.engine.records import Event, Input, Session
from dialoghub.engine.step import Step, start, step
from dialoghub.model.loader import load_model_text
from dialoghub.model.spec import Model

T0 = 1_800_000_000.0


def machine(
    policy: dict[str, Any] | None = None,
    specialists: list[dict[str, Any]] | None = None,
    **decision: Any,
) -> dict[str, Any]:
    """The document-review machine with a decision block (three AI callables by default)."""
    return {
        "id": "review",
        "initial": "pending",
        "default": "approved",
        "states": {
            "pending": {
                "meta": {"prompt": "Review the document."},
                "on": {
                    "APPROVE": "approved",
                    "REQUEST_CHANGES": "needs_revision",
                    "REJECT": "rejected",
                },
            },
            "needs_revision": {
                "meta": {"prompt": "Review the revision."},
                "on": {"APPROVE": "approved", "REJECT": "rejected"},
            },
            "approved": {"on": {"REOPEN": "pending"}},
            "rejected": {"type": "final"},
        },
        "decision": {
            "deadline": 60,
            "specialists": specialists
            if specialists is not None
            else [
                {"id": "a", "kind": "callable"},
                {"id": "b", "kind": "callable"},
                {"id": "c", "kind": "callable"},
            ],
            "policy": policy or {},
            **decision,
        },
    }


def compile_machine(data: dict[str, Any]) -> Model:
    return load_model_text(json.dumps(data), "review.json")


class Run:
    """A session of ``model`` stepped by hand on the pure engine, every event kept."""

    def __init__(self, model: Model, now: float = T0) -> None:
        self.model = model
        self.now = now
        first = start(model, "s", now=now)
        self.session: Session = first.session
        self.events: list[Event] = list(first.events)
        self.last: Step = first

    def send(self, inp: Input, *, at: float | None = None) -> Step:
        self.now = at if at is not None else self.now + 1
        result = step(self.model, self.session, inp, self.now)
        self.session = result.session
        self.events.extend(result.events)
        self.last = result
        return result

    @property
    def round(self) -> dict[str, Any] | None:
        return (self.session.decision or {}).get("round")

    def types(self, since: int = 0) -> list[str]:
        return [e.type for e in self.events if e.seq > since]

    def of(self, type: str) -> list[dict[str, Any]]:
        return [e.data for e in self.events if e.type == type]

    def check_replay(self) -> None:
        assert replay(self.events) == self.session


@pytest.fixture
def run_of():
    def make(**kw: Any) -> Run:
        return Run(compile_machine(machine(**kw)))

    return make
