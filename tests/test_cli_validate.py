"""``dialoghub validate`` (with ``--against`` and ``--store``) and ``dialoghub diagram``."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from dialoghub.cli import main
from dialoghub.hub import Hub

ROOT = Path(__file__).resolve().parent.parent
WEATHER = ROOT / "examples" / "weather" / "weather.yaml"
BROKEN = ROOT / "tests" / "model" / "broken"


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def renamed(tmp_path: Path) -> Path:
    """The weather model with its waiting state 'listen' renamed to 'waiting'."""
    text = WEATHER.read_text(encoding="utf-8")
    path = tmp_path / "weather-v2.yaml"
    path.write_text(
        text.replace("  listen:", "  waiting:").replace("next: listen", "next: waiting")
    )
    return path


def test_a_valid_model_is_ok() -> None:
    code, out, err = _run("validate", str(WEATHER))
    assert code == 0
    assert "ok (weather v1, 8 states)" in out
    assert err == ""


def test_every_problem_of_every_file_is_printed_and_fails() -> None:
    a, b = BROKEN / "several_problems.yaml", BROKEN / "json_dangling_next.json"
    code, out, err = _run("validate", str(WEATHER), str(a), str(b))
    assert code == 1
    assert "ok (weather" in out
    lines = err.splitlines()
    assert f"{a}:20:11: no state 'lisen'; did you mean 'listen'? (at states.start.next)" in lines
    assert any(line.startswith(f"{a}:23:14: no state 'strat'") for line in lines)
    assert any(line.startswith(f"{a}:28:26: template") for line in lines)
    assert any(line.startswith(f"{b}:13:38: no state 'lisen'") for line in lines)


def test_a_missing_file_is_a_problem_not_a_traceback(tmp_path: Path) -> None:
    code, _, err = _run("validate", str(tmp_path / "nope.yaml"))
    assert code == 1
    assert "no such file" in err


def test_against_the_same_version_passes() -> None:
    code, out, _ = _run("validate", str(WEATHER), "--against", str(WEATHER))
    assert code == 0
    assert "no changes that matter to sessions" in out


def test_against_reports_a_renamed_waiting_state(renamed: Path) -> None:
    code, out, err = _run("validate", str(renamed), "--against", str(WEATHER))
    assert code == 1
    assert f"{renamed}: ok" in out
    assert "BREAKING: state 'listen' was renamed to 'waiting'" in err


def test_against_with_a_store_counts_waiting_sessions(renamed: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'sessions.db'}"

    async def make_sessions(n: int) -> None:
        async with Hub(url) as hub:
            hub.load_models(WEATHER)
            for _ in range(n):
                await hub.create_session("weather")

    asyncio.run(make_sessions(2))
    code, _, err = _run("validate", str(renamed), "--against", str(WEATHER), "--store", url)
    assert code == 1
    assert "[2 active session(s) there]" in err


def test_against_with_an_empty_store_passes(renamed: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    code, out, err = _run("validate", str(renamed), "--against", str(WEATHER), "--store", url)
    assert code == 0, err
    assert "note: state 'listen' was renamed to 'waiting'" in out
    assert "[0 active session(s) there]" in out


def test_store_needs_against() -> None:
    code, _, err = _run("validate", str(WEATHER), "--store", "memory://")
    assert code == 2
    assert "--store needs --against" in err


def test_a_broken_old_version_is_reported(renamed: Path) -> None:
    code, _, err = _run("validate", str(renamed), "--against", str(BROKEN / "dangling_next.yaml"))
    assert code == 1
    assert "does not load" in err


def test_diagram_writes_mermaid_to_stdout() -> None:
    code, out, _ = _run("diagram", str(WEATHER))
    assert code == 0
    assert out.startswith("stateDiagram-v2\n")
    assert "    listen --> forecast : get_weather" in out


def test_diagram_writes_dot_to_a_file(tmp_path: Path) -> None:
    target = tmp_path / "weather.dot"
    code, _, err = _run("diagram", str(WEATHER), "-o", str(target), "--format", "dot")
    assert code == 0
    assert f"wrote {target}" in err
    assert target.read_text().startswith('digraph "weather" {')


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz 'dot' is not installed")
def test_diagram_svg_from_the_output_name(tmp_path: Path) -> None:
    target = tmp_path / "weather.svg"
    code, _, _ = _run("diagram", str(WEATHER), "-o", str(target))
    assert code == 0
    assert "<svg" in target.read_text()


def test_diagram_of_a_broken_model_fails_with_its_problems() -> None:
    code, _, err = _run("diagram", str(BROKEN / "dangling_next.yaml"))
    assert code == 1
    assert "no state 'lisen'" in err
