"""The XState document-review machine of the reference documents, run unchanged."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dialoghub import Hub, errors
from dialoghub.model.loader import load_model, load_model_text
from tests.conftest import EXAMPLES
from tests.examples.helpers import clock, last, replayed

REVIEW = EXAMPLES / "review" / "review.json"


@pytest.fixture
async def hub() -> Any:
    async with Hub("memory://", clock=clock()) as hub:
        hub.load_models(EXAMPLES / "review")
        yield hub


async def test_revision_round_then_approval(hub: Hub) -> None:
    v = await hub.create_session(
        "document-review",
        session_id="doc-123",
        metadata={"documentId": "doc-123", "requestedBy": "user@example.com"},
        params={"status": "pending"},
    )
    assert v.state == "pending"
    assert v.replies == ["Review the document and decide: approve, request changes, or reject."]
    assert last(v) == "WaitForUser"

    v = await hub.process_event("doc-123", "REQUEST_CHANGES", {"revisionNumber": 1})
    assert v.state == "needs_revision" and v.session.params == {"revisionNumber": 1}
    assert v.replies == ["Review the revised document. Has the author addressed the feedback?"]
    v = await hub.process_event("doc-123", "REQUEST_MORE_CHANGES", {"revisionNumber": 2})
    assert v.state == "needs_revision" and v.session.params == {"revisionNumber": 2}

    # not a transition of this state: XState ignores it, and the log records that it did
    before = await hub.get_session("doc-123")
    v = await hub.process_event("doc-123", "REQUEST_CHANGES")
    assert v.state == "needs_revision" and v.session.params == before.params
    assert v.session.version == before.version + 1
    assert "chart_event_ignored" in [e.type for e in v.events]

    v = await hub.process_event("doc-123", "APPROVE")
    assert v.state == "approved" and v.ended and last(v) == "EndAction"
    assert v.session.metadata["documentId"] == "doc-123"  # fixed at creation
    with pytest.raises(errors.SessionClosed):
        await hub.process_event("doc-123", "REJECT")
    await replayed(hub, "doc-123")
    page = await hub.list_sessions(model="document-review", state="approved")
    assert [s.id for s in page.sessions] == ["doc-123"]


async def test_reject_at_once(hub: Hub) -> None:
    await hub.create_session("document-review", session_id="d2")
    v = await hub.process_event("d2", "REJECT")
    assert v.state == "rejected" and v.ended
    await replayed(hub, "d2")


def test_the_same_machine_in_yaml_compiles_to_the_same_model() -> None:
    import yaml

    from_json = load_model(REVIEW)
    text = yaml.safe_dump(json.loads(REVIEW.read_text()), sort_keys=False)
    from_yaml = load_model_text(text, "review.yaml")
    assert from_yaml.id == from_json.id == "document-review"
    assert from_yaml.start == "pending" and from_yaml.events == from_json.events
    assert {n: (s.on, s.final, s.ask) for n, s in from_yaml.states.items()} == {
        n: (s.on, s.final, s.ask) for n, s in from_json.states.items()
    }


async def test_a_strict_machine_refuses_an_event_no_state_takes(tmp_path: Path) -> None:
    # XState v4's strict mode refuses an event that no transition of the machine names; one
    # that another (inactive) state names is ignored, as without strict.
    machine = {**json.loads(REVIEW.read_text()), "strict": True}
    (tmp_path / "strict.json").write_text(json.dumps(machine))
    async with Hub("memory://") as hub:
        hub.load_models(tmp_path / "strict.json")
        await hub.create_session("document-review", session_id="s")
        before = await hub.get_session("s")
        with pytest.raises(errors.UnexpectedInput, match=r"does not accept event.*NOT_AN_EVENT"):
            await hub.process_event("s", "NOT_AN_EVENT")
        assert await hub.get_session("s") == before
        ignored = await hub.process_event("s", "REQUEST_MORE_CHANGES")  # named elsewhere
        assert ignored.session.state == before.state
        assert [e.type for e in ignored.events].count("chart_event_ignored") == 1
