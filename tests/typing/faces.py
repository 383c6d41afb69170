"""Checked by mypy from tests/test_blocking.py: the blocking faces have the real signatures.

Each line marked ``# E: code`` must get exactly that mypy error, and no other line any; the
note of a ``reveal_type`` line marked ``# R: text`` must begin with that text.
"""

from __future__ import annotations

from typing import reveal_type

from dialoghub import Session, SessionView, SyncHub, Text
from dialoghub.client import SyncAttachment, SyncClient
from dialoghub.wire import ViewOut


def hub_calls(hub: SyncHub) -> list[object]:
    view: SessionView = hub.create_session("weather", session_id="s")
    hub.create_session("weather", sesion_id="s")  # E: call-arg
    hub.process_text("s")  # E: call-arg
    hub.process_text("s", "hi", tenant="t", expected_version=2)  # **kw reach update
    purged: int = hub.purge(older_than=1.0)
    wrong: str = hub.purge(older_than=1.0)  # E: assignment
    sessions = [s for s, _events in hub.export_sessions(model="m", page_size=10)]
    first: Session = sessions[0]
    hub.export_sessions(modle="m")  # E: call-arg
    hub.default_model = "weather"
    hub.default_model = 3  # E: assignment
    hub.models = {}  # E: assignment
    hub.load_models(3)  # E: arg-type
    SyncHub("memory://", cache_siz=1)  # E: call-arg
    reveal_type(hub.create_session)  # R: def (model_id: str | None =, *, session_id: str | None =
    return [view, purged, wrong, first, hub.store]


def client_calls(client: SyncClient) -> list[object]:
    view: ViewOut = client.create_session("weather", idempotency_key="k")
    client.get_session("s", att=3)  # E: call-arg
    attachment: SyncAttachment = client.attach("s", after=2)
    pushed: dict[str, object] = attachment.request(Text(text="x"), token="t")
    attachment.send("not an input")  # E: arg-type
    SyncClient("http://x", timeout="slow")  # E: arg-type
    return [view, pushed]
