"""Every Python example of docs/agent.md runs as it is (the client one against a server)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dialoghub.agent import EventType
from tests.server.conftest import Keys

DOC = Path(__file__).resolve().parents[2] / "docs" / "agent.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)


def test_the_doc_has_its_examples() -> None:
    assert len(BLOCKS) >= 4


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_an_example_runs(
    index: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server: tuple[str, Keys]
) -> None:
    url, keys = server
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DIALOGHUB_URL", url)
    monkeypatch.setenv("DIALOGHUB_KEY", keys.write)
    exec(compile(BLOCKS[index], f"{DOC}:block{index}", "exec"), {"__name__": "__main__"})


def test_the_event_table_names_every_event_type() -> None:
    text = DOC.read_text()
    for kind in EventType:
        assert f"| `{kind.value}` |" in text, kind
