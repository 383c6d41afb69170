"""JSON-file-specific behaviour: the NaifJs layout, the event log beside it (roll-forward,
torn lines, compaction, constant bytes per update), corrupt files, crash safety, batching."""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
from pathlib import Path
from typing import Any

import msgspec
import pytest

from dialoghub.engine.records import Event, Session
from dialoghub.errors import StoreConfigError, StoreCorrupt, StoreError
from dialoghub.stores import Idempotency, SessionFilter, Store, Write, open_store
from dialoghub.stores.jsonfile import JSONFileStore
from tests.stores.history import check_history
from tests.stores.test_crash import run_and_kill
from tests.stores.test_postgres import bump, contend, new_session
from tests.stores.worker import CRASH_SESSIONS

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


def url(path: Path, **options: object) -> str:
    query = "&".join(f"{k}={v}" for k, v in options.items())
    return f"json://{path}" + (f"?{query}" if query else "")


def log_lines(path: Path) -> list[dict[str, Any]]:
    """The event log beside the session file, parsed."""
    text = path.with_name(path.name + ".events").read_text()
    return [json.loads(line) for line in text.splitlines()]


async def reopen(path: Path, **options: object) -> JSONFileStore:
    store = open_store(url(path, **options))
    assert isinstance(store, JSONFileStore)
    await store.open()
    return store


async def crash(store: Store) -> None:
    """Stop a store as kill -9 would: no final session file, nothing flushed beyond what
    the store already made durable (its writer is idle, so nothing is half-written)."""
    assert isinstance(store, JSONFileStore)
    store._closing = True
    if store._timer is not None:
        store._timer.cancel()
    await store._group.close()
    store._log.close()
    store._open = False


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
    assert s.active is True  # the entry's own flag ("active": true), kept
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
    update, marker = log_lines(path)  # the update, then the first checkpoint's marker
    assert (update["tenant"], update["id"], update["first_seq"], update["version"]) == (
        "default",
        "4711",
        1,
        2,
    )
    assert update["time"] == 5.0 and update["events"] == [["moved", {}]]
    assert update["session"]["state"] == "confirm"
    assert set(marker) == {"checkpoint"}
    await store.close()
    written = json.loads(path.read_text())
    assert written["4711"]["state"] == "confirm" and written["4711"]["unit"] == "booking"
    assert "events" not in written["4711"]["dialoghub"]  # the history is in the log
    assert written["ada"]["time"] == 1690000000000  # untouched entries keep their fields
    # Closing compacted the log (mostly a copy of the snapshot): one line per session.
    whole = {line["id"]: line for line in log_lines(path) if "id" in line}
    assert whole["4711"]["rows"] == [[1, 2, 5.0, [["moved", {}]]]]
    assert whole["ada"]["rows"] == []


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


async def test_session_file_failure_loses_nothing_and_rolls_forward(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A crash between the log append and the session file's rename: the update was
    acknowledged (it is in the fsynced log), and the next open rolls it forward."""
    path = tmp_path / "sessions.json"
    store = await reopen(path, checkpoint=0)  # the session file on every commit
    await store.write(new_session("a"))
    old = path.read_bytes()

    def no_rename(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", no_rename)
    await bump(store, "a", "w", 2)  # acknowledged: durable in the log
    await store.write(new_session("b"))  # a session the file has never seen
    assert path.read_bytes() == old  # the file is untouched, and no temporary file is left
    assert sorted(os.listdir(tmp_path)) == ["sessions.json", "sessions.json.events"]
    events = await store.events("a")
    await crash(store)
    monkeypatch.undo()

    again = await reopen(path)
    try:
        a = await again.load("a")
        assert a is not None and (a.version, a.seq, a.state) == (3, 5, "s3")
        assert await again.events("a") == events
        assert await again.load("b") is not None
        # Rolled forward, the session file was written at once.
        assert json.loads(path.read_text())["a"]["dialoghub"]["version"] == 3
        await bump(again, "a", "w", 1)
    finally:
        await again.close()


async def test_failed_log_append_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "sessions.json"
    store = await reopen(path)
    await store.write(new_session("a"))
    log = path.with_name("sessions.json.events")
    size = log.stat().st_size
    real_write = os.write
    calls = 0

    def half_then_full(fd: int, data: Any) -> int:  # a disk that fills up mid-append
        nonlocal calls
        calls += 1
        if calls == 1:
            return real_write(fd, bytes(data)[: len(data) // 2])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "write", half_then_full)
    with pytest.raises(StoreError, match=r"nothing was changed.*free disk space") as info:
        await bump(store, "a", "w", 1)
    assert isinstance(info.value.__cause__, OSError)
    monkeypatch.undo()
    assert log.stat().st_size == size  # the half-written line was cut off again
    loaded = await store.load("a")
    assert loaded is not None and loaded.version == 1  # memory not changed either
    await bump(store, "a", "w", 1)
    await store.close()
    again = await reopen(path)
    try:
        loaded = await again.load("a")
        assert loaded is not None and loaded.version == 2
        assert [e.seq for e in await again.events("a")] == [1, 2, 3]
    finally:
        await again.close()


async def test_kill_after_coalesced_checkpoints_loses_nothing(tmp_path: Path) -> None:
    """With the default interval the session file lags behind; every acknowledged update,
    create and delete is in the log and comes back after a crash."""
    path = tmp_path / "sessions.json"
    store = await reopen(path, checkpoint=3600)
    for sid in ("a", "b", "gone"):
        await store.write(new_session(sid))  # the first commit writes the file, not the rest
    await bump(store, "a", "w", 3)
    assert await store.delete("gone")
    a_events = await store.events("a")
    assert list(json.loads(path.read_text())) == ["a"]  # the file only knows the first one
    await crash(store)

    again = await reopen(path)
    try:
        a = await again.load("a")
        assert a is not None and a.version == 4
        assert await again.events("a") == a_events
        assert await again.load("b") is not None
        assert await again.load("gone") is None
        page = await again.list_sessions(SessionFilter())
        assert [s.id for s in page.sessions] == ["a", "b"]
        await again.write(new_session("c"))  # creation order continues after the log's
        page = await again.list_sessions(SessionFilter())
        assert [s.id for s in page.sessions] == ["a", "b", "c"]
    finally:
        await again.close()
    assert list(json.loads(path.read_text())) == ["a", "b", "c"]


async def test_idle_store_writes_the_session_file_after_the_interval(tmp_path: Path) -> None:
    path = tmp_path / "sessions.json"
    store = await reopen(path, checkpoint=0.05)
    try:
        await store.write(new_session("a"))
        await bump(store, "a", "w", 2)  # within the interval: only in the log
        for _ in range(100):
            await asyncio.sleep(0.02)
            if json.loads(path.read_text())["a"]["dialoghub"]["version"] == 3:
                break
        assert json.loads(path.read_text())["a"]["dialoghub"]["version"] == 3
    finally:
        await store.close()


async def test_torn_last_log_line_is_ignored_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "sessions.json"
    store = await reopen(path)
    await store.write(new_session("a"))
    await bump(store, "a", "w", 2)
    events = await store.events("a")
    await crash(store)
    log = path.with_name("sessions.json.events")
    good = log.read_bytes()
    # A crash mid-append: part of a line, no newline (or the zeros a file system may show).
    for tail in (b'{"tenant":"default","id":"a","first_seq":6,"ver', b"\0" * 300):
        log.write_bytes(good + tail)
        caplog.clear()
        again = await reopen(path)
        try:
            assert "torn" in caplog.text and "ignored" in caplog.text
            loaded = await again.load("a")
            assert loaded is not None and loaded.version == 3
            assert await again.events("a") == events
            text = log.read_bytes()  # cut off, so the next append starts clean
            assert text.startswith(good) and all(json.loads(x) for x in text.splitlines())
            await bump(again, "a", "w", 1)
        finally:
            await crash(again)
        log.write_bytes(good)
    final = await reopen(path)
    await final.close()


async def test_damaged_log_line_before_the_end_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "sessions.json"
    store = await reopen(path)
    await store.write(new_session("a"))
    await bump(store, "a", "w", 1)
    await store.close()
    log = path.with_name("sessions.json.events")
    lines = log.read_bytes().split(b"\n")
    lines[0] = lines[0][:20]
    damaged = b"\n".join(lines)
    log.write_bytes(damaged)
    before = path.read_bytes()
    with pytest.raises(StoreCorrupt, match=r"sessions.json.events:1: .*left as they are"):
        await open_store(url(path)).open()
    assert log.read_bytes() == damaged and path.read_bytes() == before


async def test_deletes_and_purges_compact_the_log(tmp_path: Path) -> None:
    path = tmp_path / "sessions.json"
    log = path.with_name("sessions.json.events")
    store = await reopen(path)
    bulky = {"text": "x" * 7000}
    for i in range(60):
        s = new_session(f"s{i}")
        await store.write(
            Write(s.session, [Event(seq=1, version=1, time=1.0, type="big", data=bulky)], 0)
        )
    before = log.stat().st_size
    assert before > 420_000
    for i in range(50):
        assert await store.delete(f"s{i}")
    after = log.stat().st_size
    assert after < before / 2  # compacted: the deleted sessions' lines are gone
    text = log.read_text()
    assert '"s3"' not in text and '"s55"' in text
    survivors = {f"s{i}": await store.events(f"s{i}") for i in range(50, 60)}
    await crash(store)  # the compacted log stands on its own
    again = await reopen(path)
    try:
        for sid, events in survivors.items():
            assert await again.events(sid) == events
        assert await again.load("s3") is None
        page = await again.list_sessions(SessionFilter(), limit=100)
        assert [s.id for s in page.sessions] == [f"s{i}" for i in range(50, 60)]
        # retention purge: one log line, then compaction once the garbage dominates
        for i in range(50, 60):
            current = await again.load(f"s{i}")
            assert current is not None
            ended = Session(
                **{
                    **{f: getattr(current, f) for f in current.__struct_fields__},
                    "status": "ended",
                    "version": 2,
                    "updated_at": 5.0,
                }
            )
            await again.write(Write(ended, [], 1))
        assert await again.purge(10.0, limit=100) == 10
        assert log.stat().st_size < 200  # compacted again: nothing left
        assert (await again.list_sessions(SessionFilter())).sessions == []
    finally:
        await again.close()
    assert json.loads(path.read_text()) == {}


async def test_session_removed_from_the_file_by_hand_stays_removed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "sessions.json"
    store = await reopen(path)
    await store.write(new_session("a"))
    await store.write(new_session("b"))
    await store.close()
    document = json.loads(path.read_text())
    del document["b"]
    path.write_text(json.dumps(document, indent=2))
    again = await reopen(path)
    try:
        assert "removed from sessions.json by hand" in caplog.text
        assert await again.load("b") is None and await again.load("a") is not None
        assert all(line.get("id") != "b" for line in log_lines(path))  # repaired
    finally:
        await again.close()


async def test_file_of_an_earlier_version_moves_its_events_to_the_log(tmp_path: Path) -> None:
    path = tmp_path / "sessions.json"
    kept = Session(
        id="old", model_id="m", model_version="1", unit="u", state="s", version=100, seq=100
    )
    path.write_text(
        json.dumps(
            {
                "old": {
                    "unit": "u",
                    "state": "s",
                    "time": 2000,
                    "active": True,
                    "variables": {},
                    "dialoghub": {
                        "id": "old",
                        "model_id": "m",
                        "model_version": "1",
                        "version": 101,
                        "seq": 101,
                        "order": 1,
                        "events": [[i, i, float(i), [["step", {"i": i}]]] for i in range(1, 102)],
                        "snapshots": [json.loads(msgspec.json.encode(kept))],
                    },
                }
            }
        )
    )
    store = await reopen(path)
    try:
        events = await store.events("old", after=98)
        assert [(e.seq, e.data) for e in events] == [
            (99, {"i": 99}),
            (100, {"i": 100}),
            (101, {"i": 101}),
        ]
        rewind = await store.rewind("old", at=100)
        assert rewind.snapshot == kept
    finally:
        await store.close()
    assert "events" not in json.loads(path.read_text())["old"]["dialoghub"]
    again = await reopen(path)
    try:
        assert len(await again.events("old", limit=1000)) == 101
        assert (await again.rewind("old", at=100)).snapshot == kept
    finally:
        await again.close()


async def test_bytes_written_per_update_do_not_grow_with_the_history(tmp_path: Path) -> None:
    """W2's shape: one session, many turns. Every update writes its own log line and (here,
    on every commit) the one-session file: the same bytes at turn 10 as at turn 1,500."""
    store = await reopen(tmp_path / "sessions.json", checkpoint=0)
    try:
        await store.write(new_session("w2"))
        current = await store.load("w2")
        assert current is not None
        per_update: list[int] = []
        for v in range(2, 1502):
            nxt = Session(
                **{
                    **{f: getattr(current, f) for f in current.__struct_fields__},
                    "version": v,
                    "seq": current.seq + 2,
                    "state": "asking" if v % 2 else "answer",
                }
            )
            turn = [
                Event(
                    seq=current.seq + 1, version=v, time=10.0, type="said", data={"text": "hello"}
                ),
                Event(seq=current.seq + 2, version=v, time=10.0, type="moved"),
            ]
            before = store.bytes_written
            await store.write(Write(nxt, turn, current.version))
            per_update.append(store.bytes_written - before)
            current = nxt
        early, late = per_update[10:100], per_update[-90:]
        # Versions gain a digit (and every 100th update keeps a snapshot): a few bytes.
        assert max(late) <= max(early) + 16, (max(early), max(late))
        assert sum(late) / len(late) <= sum(early) / len(early) * 1.02
    finally:
        await store.close()


async def test_acknowledged_updates_survive_sigkill(tmp_path: Path) -> None:
    """The crash test of SQLite and PostgreSQL (tests/stores/test_crash.py), on the JSON
    store: a child updates sessions through the Hub and is killed at a random moment."""
    target = f"json://{tmp_path / 'sessions.json'}"
    rng = random.Random(os.environ.get("CRASH_SEED", str(time.time_ns())))
    total = 0
    for run in range(5):
        acked = await asyncio.to_thread(run_and_kill, target, run, rng)
        total += len(acked)
        store = open_store(target)
        await store.open()
        try:
            for sid in CRASH_SESSIONS:
                snapshot, events = await check_history(store, sid)
                stored_versions = {e.version for e in events}
                for acked_sid, version in acked:
                    if acked_sid == sid:
                        assert version <= snapshot.version, (run, sid, version)
                        assert version in stored_versions, (run, sid, version)
        finally:
            await store.close()
    assert total > 5 * 5


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
