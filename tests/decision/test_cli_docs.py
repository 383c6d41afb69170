"""``dialoghub review`` and ``dialoghub decisions`` on a recorded store, and the runnable
example of docs/decisions.md."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from dialoghub.cli import main
from dialoghub.hub import Hub
from tests.decision.test_hub import _record_store

ROOT = Path(__file__).resolve().parents[2]
MODELS = str(ROOT / "examples" / "decisions")


def candidate(s):  # used by --callable tests.decision.test_cli_docs:candidate
    if s.kind == "proposal":
        return "APPROVE"
    return {"votes": [{"a": a, "b": b, "vote": "B"} for a, b in s.pairs]}


@pytest.fixture
def store(tmp_path: Path) -> tuple[str, list[str]]:
    url = f"sqlite:///{tmp_path / 'rec.db'}"

    async def make() -> list[str]:
        async with Hub(url) as hub:
            ids = await _record_store(hub)
            hub.load_models(ROOT / "examples" / "decisions" / "review.json")
            ids.append((await hub.create_session("decided-review", session_id="open")).session.id)
            from dialoghub.engine.records import Answers, Propose

            await hub.update(
                "open",
                Answers(
                    items=[
                        Propose(
                            round="r1", specialist="ai.strict", transition="REJECT", reasoning="x"
                        ),
                        Propose(round="r1", specialist="ai.lenient", transition="APPROVE"),
                    ]
                ),
            )
            return ids

    return url, asyncio.run(make())


def test_evaluate_and_weights(store: tuple[str, list[str]]) -> None:
    url, _ = store
    runner = CliRunner()
    r = runner.invoke(
        main,
        [
            "decisions",
            "evaluate",
            "--store",
            url,
            "--callable",
            "tests.decision.test_cli_docs:candidate",
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert data["total"]["rounds"] == 4 and data["total"]["agree_decided"] == 2
    (state,) = data["states"]
    assert state["state"] == "pending" and state["agreement_humans"] == pytest.approx(1 / 3, 1e-3)
    r = runner.invoke(
        main,
        [
            "decisions",
            "evaluate",
            "--store",
            url,
            "--callable",
            "tests.decision.test_cli_docs:candidate",
        ],
    )
    assert r.exit_code == 0 and "pending" in r.output and "50.0%" in r.output
    r = runner.invoke(main, ["decisions", "weights", "--store", url, "--json"])
    assert r.exit_code == 0 and set(json.loads(r.output)["specialists"]) == {
        "ai.strict",
        "ai.lenient",
    }
    r = runner.invoke(main, ["decisions", "evaluate", "--store", url])
    assert r.exit_code != 0 and "one candidate" in r.output
    r = runner.invoke(main, ["decisions", "evaluate", "--store", url, "--callable", "nope:x"])
    assert r.exit_code != 0 and "cannot load" in r.output


def test_review_list_show_vote(store: tuple[str, list[str]]) -> None:
    url, _ = store
    runner = CliRunner()
    base = ["review", "--store", url, "--models", MODELS]
    r = runner.invoke(main, [*base, "list", "--specialist", "jane"])
    assert r.exit_code == 0, r.output
    assert re.search(r"^open\tdecided-review\tpending\tr1\tvote\tjane$", r.output, re.M)
    r = runner.invoke(main, [*base, "show", "open"])
    assert r.exit_code == 0 and "prompt: Review the document" in r.output
    assert "A  REJECT" in r.output and "by ai.strict: x" in r.output
    r = runner.invoke(main, [*base, "vote", "open", "A/B=maybe", "--as", "jane"])
    assert r.exit_code != 0  # refused, nothing written
    r = runner.invoke(main, [*base, "vote", "open", "A/B=B", "--as", "jane"])
    # the AIs have not voted: jane's vote settles the human-policy round at once
    assert r.exit_code == 0 and "[approved" in r.output, r.output
    r = runner.invoke(main, [*base, "list"])
    assert "nothing waits for a human" in r.output
    r = runner.invoke(main, [*base, "show", "open", "--json"])
    assert json.loads(r.output)["round"] is None


def test_the_guide_runs(tmp_path: Path) -> None:
    text = (ROOT / "docs" / "decisions.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert blocks
    script = tmp_path / "guide.py"
    script.write_text(blocks[0])
    out = subprocess.run(
        [sys.executable, str(script)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "approved"
