"""``dialoghub sessions export|import``: JSON Lines between stores, bad lines, counts."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from dialoghub import Hub
from dialoghub.cli import main
from dialoghub.engine.records import Session

from .conftest import EXAMPLES

WEATHER = EXAMPLES / "weather"


def populate(url: str) -> None:
    """Ten weather sessions (every third ended) and one of tenant ``acme``."""

    async def run() -> None:
        async with Hub(url) as hub:
            hub.load_models(WEATHER)
            for i in range(10):
                await hub.create_session("weather", session_id=f"s{i}")
                await hub.process_text(f"s{i}", "hello")
                if i % 3 == 0:
                    await hub.end_session(f"s{i}")
            await hub.create_session("weather", session_id="t0", tenant="acme")

    asyncio.run(run())


def stored(url: str, tenant: str = "default") -> dict[str, Session]:
    async def run() -> dict[str, Session]:
        async with Hub(url) as hub:
            return {s.id: s async for s, _ in hub.export_sessions(tenant=tenant)}

    return asyncio.run(run())


def invoke(*args: str, input: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["sessions", *args], input=input)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def source(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'source.db'}"
    populate(url)
    return url


def test_export_then_import_into_another_store(source: str, tmp_path: Path) -> None:
    out = tmp_path / "all.jsonl"
    code, _, err = invoke("export", "--store", source, "-o", str(out))
    assert code == 0, err
    assert "exported 10 sessions" in err
    lines = out.read_text().splitlines()
    assert len(lines) == 10
    first = json.loads(lines[0])
    assert set(first) == {"session", "events"} and first["session"]["id"] == "s0"
    assert [e[0] for e in first["events"]] == list(range(1, first["session"]["seq"] + 1))

    target = f"json://{tmp_path / 'target.json'}"
    code, _, err = invoke("import", "--store", target, str(out))
    assert code == 0, err
    assert "imported 10 sessions" in err and "0 lines failed" in err
    assert stored(target) == stored(source)


def test_export_filters_and_stdout(source: str) -> None:
    code, out, _ = invoke("export", "--store", source, "--status", "ended")
    assert code == 0
    assert [json.loads(line)["session"]["id"] for line in out.splitlines()] == [
        "s0",
        "s3",
        "s6",
        "s9",
    ]
    code, out, _ = invoke("export", "--store", source, "--model", "nope")
    assert code == 0 and out == ""
    code, out, _ = invoke("export", "--store", source, "--tenant", "acme")
    assert [json.loads(line)["session"]["tenant"] for line in out.splitlines()] == ["acme"]


def test_import_from_stdin(source: str, tmp_path: Path) -> None:
    _, exported, _ = invoke("export", "--store", source, "--status", "active")
    target = f"sqlite:///{tmp_path / 'target.db'}"
    code, _, err = invoke("import", "--store", target, "-", input=exported)
    assert code == 0, err
    assert sorted(stored(target)) == ["s1", "s2", "s4", "s5", "s7", "s8"]


def test_bad_lines_are_reported_and_the_rest_imported(source: str, tmp_path: Path) -> None:
    _, exported, _ = invoke("export", "--store", source)
    good = exported.splitlines()
    lied = json.loads(good[2])
    lied["session"]["state"] = "nowhere"
    wrong_type = json.loads(good[3])
    wrong_type["session"]["version"] = "three"
    unknown = json.loads(good[4])
    unknown["extra"] = 1
    lines = [
        good[0],
        "this is not json",
        json.dumps(lied),
        json.dumps(wrong_type),
        "",  # blank lines are skipped
        json.dumps(unknown),
        good[0],  # the same id twice
        good[1],
    ]
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n")
    target = f"sqlite:///{tmp_path / 'target.db'}"
    code, _, err = invoke("import", "--store", target, str(path))
    assert code == 1
    reported = [line for line in err.splitlines() if line.startswith(str(path))]
    assert [line.split(":")[1] for line in reported] == ["2", "3", "4", "6", "7"]
    assert "not valid JSON" in reported[0]
    assert "do not reproduce its snapshot" in reported[1] and "state" in reported[1]
    assert "Expected `int`, got `str` - at `$.session.version`" in reported[2]
    assert "unknown field `extra`" in reported[3]
    assert "already exists" in reported[4]
    assert "imported 2 sessions" in err and "5 lines failed" in err
    # Nothing of a refused line was written: only the two good sessions are there.
    assert sorted(stored(target)) == ["s0", "s1"]


def test_skip_existing(source: str, tmp_path: Path) -> None:
    path = tmp_path / "all.jsonl"
    invoke("export", "--store", source, "-o", str(path))
    target = f"sqlite:///{tmp_path / 'target.db'}"
    assert invoke("import", "--store", target, str(path))[0] == 0
    code, _, err = invoke("import", "--store", target, str(path))
    assert code == 1 and "10 lines failed" in err
    code, _, err = invoke("import", "--store", target, "--skip-existing", str(path))
    assert code == 0 and "imported 0 sessions" in err and "skipped 10 already there" in err


def test_a_bad_store_url_is_one_clear_error(tmp_path: Path) -> None:
    code, _, err = invoke("export", "--store", "nope://x")
    assert code == 1 and "unknown store scheme" in err
    path = tmp_path / "x.jsonl"
    path.write_text("")
    code, _, err = invoke("import", "--store", "nope://x", str(path))
    assert code == 1 and "unknown store scheme" in err
