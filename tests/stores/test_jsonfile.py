"""JSON-file-specific behaviour: the NaifJs layout, corrupt files, crash safety, batching."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest

from dialoghub.engine.records import Event, Session
from dialoghub.errors import StoreConfigError, StoreCorrupt, StoreError
from dialoghub.stores import Idempotency, SessionFilter, Write, open_store
from dialoghub.stores.jsonfile import JSONFileStore
from tests.stores.test_postgres import bump, contend, new_session

# Two users in the NaifJs layout, as a person (or NaifJs) would write the file.
HAND_WRITTEN = """{
  "4711": {
    "unit": "booking",
    "state": "ask_date",
    "time": 1700000000500,
    "active": true,
    "variables": {"booking": {"guests": 2}},
    "request": {"text": "a table for two", "speech": false, "time": 1700000000400},
    "response": {"text": "For which day?", "speech": true, "time": 1700000000500,
                 "stateid": "booking.ask_date"}
  },
  "ada": {
    "unit": "greeting",
    "state": "bye",
    "time": 1690000000000,
    "active": false
  }
}
"""


def url(path: Path) -> str:
    return f"json://{path}"


async def test_hand_written_naif_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "sessions.json"
    path.write_text(HAND_WRITTEN)
    store = open_store(url(path) + "?model=restaurant")
    await store.open()
    s = await store.load("4711")
    assert s is not None
    assert (s.unit, s.state, s.model_id, s.version, s.seq) == (
        "booking",
        "ask_date",
        "restaurant",
        1,
        0,
    )
    assert s.active is False  # loaded sessions are inactive, as NaifJs marks them
    assert s.variables == {"booking": {"guests": 2}}
    assert s.updated_at == 1700000000.5
    assert s.last_request == {"text": "a table for two", "speech": False, "time": 1700000000400}
    assert s.last_response is not None and s.last_response["stateid"] == "booking.ask_date"
    page = await store.list_sessions(SessionFilter())
    assert [x.id for x in page.sessions] == ["4711", "ada"]  # file order is creation order
    # it can be continued: version 1 is there to compare-and-set against
    nxt = Session(
        id="4711",
        model_id="restaurant",
        model_version="",
        unit="booking",
        state="confirm",
        version=2,
        seq=1,
    )
    await store.write(Write(nxt, [Event(seq=1, version=2, time=5.0, type="moved")], 1))
    await store.close()
    written = json.loads(path.read_text())
    assert written["4711"]["state"] == "confirm" and written["4711"]["unit"] == "booking"
    assert written["4711"]["dialoghub"]["events"] == [[1, 2, 5.0, [["moved", {}]]]]
    assert written["ada"]["time"] == 1690000000000  # untouched entries keep their fields


async def test_reopen_keeps_everything_and_does_not_deactivate(tmp_path: Path) -> None:
    path = tmp_path / "sessions.json"
    store = open_store(url(path))
    await store.open()
    await store.write(new_session("a"))
    await bump(store, "a", "w", 3)
    other = new_session("x")
    await store.write(
        Write(
            Session(
                **{
                    **{f: getattr(other.session, f) for f in other.session.__struct_fields__},
                    "tenant": "acme",
                }
            ),
            other.events,
            0,
        )
    )
    await store.write(new_session("acme/x"))  # same file key as tenant acme's "x"
    s = await store.load("a")
    assert s is not None
    nxt = Session(
        id="a",
        model_id="m",
        model_version="1",
        unit="u",
        state="k",
        version=s.version + 1,
        seq=s.seq,
    )
    await store.write(Write(nxt, [], s.version, Idempotency("key", "fp", b"\x00\xff")))
    before = (await store.load("a"), await store.events("a", after=2, limit=3))
    await store.close()

    again = open_store(url(path))
    await again.open()
    try:
        assert (await again.load("a"), await again.events("a", after=2, limit=3)) == before
        assert before[0] is not None and before[0].active is True
        assert await again.idempotent("a", "key") == Idempotency("key", "fp", b"\x00\xff")
        assert (await again.load("x", tenant="acme")) is not None
        assert (await again.load("acme/x")) is not None
        page = await again.list_sessions(SessionFilter(), limit=1)
        assert [x.id for x in page.sessions] == ["a"] and page.next_cursor is not None
        page = await again.list_sessions(SessionFilter(), limit=1, cursor=page.next_cursor)
        assert [x.id for x in page.sessions] == ["acme/x"]
    finally:
        await again.close()


async def test_corrupt_file_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "sessions.json"
    broken = '{\n  "a": {"unit": "u",\n        "state": oops}\n}\n'
    path.write_text(broken)
    store = open_store(url(path))
    with pytest.raises(StoreCorrupt, match=rf"{path}:3:18: not valid JSON"):
        await store.open()
    await store.close()
    assert path.read_text() == broken


async def test_wrong_shape_names_the_session(tmp_path: Path) -> None:
    path = tmp_path / "sessions.json"
    path.write_text('{"a": {"unit": "u", "state": "s"}, "b": {"unit": 3, "state": "s"}}')
    with pytest.raises(StoreCorrupt, match="session 'b'"):
        await open_store(url(path)).open()
    path.write_text("[1, 2]")
    with pytest.raises(StoreCorrupt, match="top level must be an object"):
        await open_store(url(path)).open()


async def test_crash_mid_write_leaves_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "sessions.json"
    store = open_store(url(path))
    await store.open()
    await store.write(new_session("a"))
    old = path.read_bytes()

    def crash(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(StoreError, match="nothing was changed") as info:
        await bump(store, "a", "w", 1)
    assert isinstance(info.value.__cause__, OSError)
    assert path.read_bytes() == old
    assert await asyncio.to_thread(os.listdir, tmp_path) == ["sessions.json"]  # no temp left
    loaded = await store.load("a")
    assert loaded is not None and loaded.version == 1  # memory not changed either
    monkeypatch.undo()
    await bump(store, "a", "w", 1)
    await store.close()
    assert json.loads(path.read_text())["a"]["dialoghub"]["version"] == 2


async def test_concurrent_writes_share_one_file_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = open_store(url(tmp_path / "sessions.json"))
    assert isinstance(store, JSONFileStore)
    await store.open()
    saves = 0
    real = store._save

    def counting(data: bytes) -> None:
        nonlocal saves
        saves += 1
        real(data)

    monkeypatch.setattr(store, "_save", counting)
    await asyncio.gather(*(store.write(new_session(f"s{i}")) for i in range(50)))
    assert saves <= 2
    assert len((await store.list_sessions(SessionFilter(), limit=100)).sessions) == 50
    await store.close()


async def test_fifty_writers_on_one_session(tmp_path: Path) -> None:
    store = open_store(url(tmp_path / "sessions.json"))
    await store.open()
    try:
        await contend(store)
    finally:
        await store.close()


async def test_bad_urls(tmp_path: Path) -> None:
    with pytest.raises(StoreConfigError, match="does not exist"):
        await open_store(url(tmp_path / "nowhere" / "sessions.json")).open()
    with pytest.raises(StoreConfigError, match="unknown option 'modle'"):
        open_store(url(tmp_path / "s.json") + "?modle=x")
    with pytest.raises(StoreConfigError, match="unknown store scheme 'jsn'"):
        open_store(f"jsn://{tmp_path}/s.json")
