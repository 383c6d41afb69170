"""The README's worked example runs and prints what the README says it prints."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

from .conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", README, flags=re.S)


def test_worked_example_prints_what_the_readme_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code = next(b for b in _blocks("python") if "asyncio.run(main())" in b)
    after = README.split(code, 1)[1]
    match = re.search(r"prints\n\n```\n(.*?)```", after, flags=re.S)
    assert match, "the README shows what the example prints right after it"
    expected = match.group(1)
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md", "exec"), {"__name__": "readme"})
    assert out.getvalue() == expected


def test_sync_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code = next(b for b in _blocks("python") if "SyncHub(" in b)
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md", "exec"), {"__name__": "readme"})
    assert "Hello! Ask me about the weather in any city." in out.getvalue()


def test_the_quickstart_commands_exist() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "make run" in README and "make test" in README
    assert re.search(r"^run:", makefile, flags=re.M) and re.search(r"^test:", makefile, flags=re.M)


def test_every_cli_command_the_readme_shows_exists() -> None:
    import click
    from click.testing import CliRunner

    from dialoghub.cli import main

    block = README.split("## The command line", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].split() for line in block.splitlines()]
    shown = [words[1:] for words in commands if words[:1] == ["dialoghub"]]
    assert len(shown) >= 10
    for words in shown:
        path: list[str] = []
        group: click.Command = main
        for word in words:  # walk the group names; the rest are arguments and options
            if isinstance(group, click.Group) and word in group.commands:
                group = group.commands[word]
                path.append(word)
            else:
                break
        assert path, f"README shows an unknown command: dialoghub {' '.join(words)}"
        result = CliRunner().invoke(main, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)
        options = {o for p in group.params for o in getattr(p, "opts", [])}
        for word in words:
            if word.startswith("--"):
                assert word.split("=")[0] in options, f"dialoghub {' '.join(path)} has no {word}"
