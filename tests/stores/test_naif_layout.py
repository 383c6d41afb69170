"""A hand-written session file in the NaifJs layout (tests/stores/fixtures/naif_sessions.json)
keeps every field in its own shape through a load, a listing, an update and a save."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from dialoghub import Hub
from dialoghub.errors import StoreConfigError
from dialoghub.stores import SessionFilter, open_store
from dialoghub.stores.jsonfile import JSONFileStore

FIXTURE = Path(__file__).parent / "fixtures" / "naif_sessions.json"

MODEL = """\
id: {id}
version: "1"
intents:
  hello: [ciao, hello, hi there]
states:
  ask_name:
    ask: "Come ti chiami?"
    on:
      hello: greeted
  greeted:
    say: "Piacere!"
    next: ask_name
"""


def copy_fixture(tmp_path: Path, mode: int = 0o640) -> Path:
    path = tmp_path / "sessions.json"
    shutil.copyfile(FIXTURE, path)
    path.chmod(mode)
    return path


def write_models(tmp_path: Path, *ids: str) -> Path:
    folder = tmp_path / "models"
    folder.mkdir()
    for model_id in ids:
        (folder / f"{model_id}.yaml").write_text(MODEL.format(id=model_id))
    return folder


async def test_a_listing_writes_nothing_and_keeps_the_mode(tmp_path: Path) -> None:
    path = copy_fixture(tmp_path)
    before = path.read_bytes()
    store = open_store(f"json://{path}")
    await store.open()
    page = await store.list_sessions(SessionFilter())
    assert [s.id for s in page.sessions] == ["34824744", "103034393"]
    await store.close()
    assert path.read_bytes() == before
    assert path.stat().st_mode & 0o777 == 0o640
    assert not path.with_name("sessions.json.events").exists()


async def test_hand_written_fields_load_as_written(tmp_path: Path) -> None:
    path = copy_fixture(tmp_path)
    store = open_store(f"json://{path}?models=firstUnit:model_a,secondUnit:model_b")
    await store.open()
    first, second = await store.load("34824744"), await store.load("103034393")
    assert first is not None and second is not None
    assert first.active is True and second.active is False
    assert (first.model_id, second.model_id) == ("model_a", "model_b")  # per entry, by unit
    assert first.awaiting == {"kind": "user", "immediate": False}  # takes text as it is
    assert first.last_request == {"text": "ciao", "speech": True, "time": 1602775251565}
    await store.close()


async def test_unit_name_is_the_model_by_default(tmp_path: Path) -> None:
    path = copy_fixture(tmp_path)
    store = open_store(f"json://{path}?models=secondUnit:model_b")
    await store.open()
    first, second = await store.load("34824744"), await store.load("103034393")
    assert first is not None and second is not None
    assert (first.model_id, second.model_id) == ("firstUnit", "model_b")
    await store.close()


@pytest.mark.parametrize("bad", ["firstUnit", "firstUnit:", ":model_a", "a:b,,c"])
def test_a_bad_models_map_is_refused(tmp_path: Path, bad: str) -> None:
    with pytest.raises(StoreConfigError, match="unit:model"):
        open_store(f"json://{tmp_path / 's.json'}?models={bad}")


async def test_update_and_save_keep_every_field_in_its_shape(tmp_path: Path) -> None:
    path = copy_fixture(tmp_path, mode=0o664)
    folder = write_models(tmp_path, "model_a", "model_b")
    # the units of the fixture are the models' main unit here: rename them to "main"
    text = path.read_text().replace('"firstUnit"', '"main"').replace('"secondUnit"', '"main"')
    text = text.replace("firstUnit.", "main.").replace("secondUnit.", "main.")
    path.write_text(text)
    original = json.loads(text)
    url = f"json://{path}?models=main:model_a&checkpoint=0"
    async with Hub(url) as hub:
        hub.load_models(folder)
        # an entry takes text straight away, without a jump first
        view = await hub.process_text("34824744", "ciao")
        assert view.replies == ["Piacere!", "Come ti chiami?"]
    saved = json.loads(path.read_text())
    assert list(saved) == ["34824744", "103034393"]
    entry = saved["34824744"]
    assert entry["unit"] == "main" and entry["state"] == "ask_name"
    assert entry["active"] is True
    assert entry["variables"] == {"main": {"firstName": "Giorgio"}}
    assert isinstance(entry["time"], int) and entry["time"] > 1_000_000_000_000  # ms
    assert set(entry["request"]) == {"text", "speech", "time"}
    assert entry["request"]["text"] == "ciao" and entry["request"]["speech"] is False
    assert isinstance(entry["request"]["time"], int) and entry["request"]["time"] > 10**12
    assert set(entry["response"]) == {"text", "speech", "time", "stateid"}
    assert entry["response"]["stateid"] == "main.ask_name"
    assert entry["response"]["speech"] is False
    assert isinstance(entry["response"]["time"], int) and entry["response"]["time"] > 10**12
    # the entry nobody wrote to is saved exactly as it was written, "active": false included
    untouched = {k: v for k, v in saved["103034393"].items() if k != "dialoghub"}
    assert untouched == original["103034393"]
    assert path.stat().st_mode & 0o777 == 0o664
    # and the saved file loads back to the same sessions
    async with Hub(url) as hub:
        hub.load_models(folder)
        again = await hub.get_session("34824744")
        assert again.active is True and again.last_request is not None
        assert again.last_request["type"] == "text"  # the engine's own record, exact
        view = await hub.process_text("34824744", "hi there")
        assert view.replies == ["Piacere!", "Come ti chiami?"]


def test_the_session_file_of_a_new_store_is_0644(tmp_path: Path) -> None:
    path = tmp_path / "new.json"
    store = JSONFileStore(f"json://{path}", path=path)
    store._save(b"{}\n")
    assert path.stat().st_mode & 0o777 == 0o644
    assert os.path.getsize(path) == 3
