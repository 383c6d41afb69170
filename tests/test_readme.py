"""The README as a newcomer follows it: the worked example (twice), the Runner snippet, the
command lines, and the curl walk-through against a server started as ``make run`` starts it.
"""

from __future__ import annotations

import contextlib
import glob
import io
import json
import os
import re
import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from .conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")
MAKEFILE = (ROOT / "Makefile").read_text(encoding="utf-8")


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", README, flags=re.S)


def _section(title: str) -> str:
    return README.split(f"## {title}", 1)[1].split("\n## ", 1)[0]


def _run(code: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md", "exec"), {"__name__": "readme"})
    return out.getvalue()


@pytest.fixture
def clone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory that looks like the root of a fresh clone."""
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    monkeypatch.chdir(tmp_path)
    return tmp_path


WORKED = next(b for b in _blocks("python") if "process_command_result" in b)
RUNNER = next(b for b in _blocks("python") if "Runner(" in b)


def test_worked_example_prints_what_the_readme_says_every_time(clone: Path) -> None:
    match = re.search(r"prints\n\n```\n(.*?)```", README.split(WORKED, 1)[1], flags=re.S)
    assert match, "the README shows what the example prints right after it"
    assert _run(WORKED) == match.group(1)
    assert _run(WORKED) == match.group(1)  # run again: no SessionExists
    assert (clone / "weather.db").exists()


def test_the_runner_snippet_runs_and_prints_its_comments(clone: Path) -> None:
    _run(WORKED)
    expected = [eval(c) for c in re.findall(r"# (\[.*\])$", RUNNER, flags=re.M)]
    assert len(expected) == 2
    printed = [eval(line) for line in _run(RUNNER).splitlines()]
    assert printed == expected


def test_sync_example_runs(clone: Path) -> None:
    code = next(b for b in _blocks("python") if "SyncHub(" in b)
    assert "Hello! Ask me about the weather in any city." in _run(code)


def test_the_quickstart_commands_exist_and_say_where_dialoghub_is() -> None:
    quick = _section("Quickstart")
    for target in ("run", "chat", "test"):
        assert f"make {target}" in quick
        assert re.search(rf"^{target}:", MAKEFILE, flags=re.M), target
    assert ".venv/bin/dialoghub" in quick and "source .venv/bin/activate" in quick
    printed = subprocess.run(["make", "-n", "-s", "-C", str(ROOT), "chat"], capture_output=True,
                             text=True, check=True, timeout=60).stdout  # fmt: skip
    assert (".venv/bin/dialoghub chat examples/weather/weather.yaml --plugins "
            "examples/weather/plugins.py") in printed  # fmt: skip


def _cli_lines() -> list[list[str]]:
    block = _section("The command line").split("```sh\n", 1)[1].split("```", 1)[0]
    lines = [line.split("  #")[0].strip() for line in block.splitlines()]
    return [shlex.split(line)[1:] for line in lines if line.startswith("dialoghub ")]


def test_every_cli_command_the_readme_shows_exists() -> None:
    import click

    from dialoghub.cli import main

    shown = _cli_lines()
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


def test_the_cli_lines_on_the_worked_examples_store_work(clone: Path) -> None:
    """After the worked example, its lines on weather.db run as shown (no "not found")."""
    from dialoghub.cli import main

    _run(WORKED)
    ran = 0
    for words in _cli_lines():
        if "sqlite:///weather.db" not in words or words[0] in ("chat", "serve"):
            continue
        if words[:2] == ["validate", "--against"]:
            continue  # needs an old version of the model
        args = [a for w in words for a in (sorted(glob.glob(w)) if "*" in w else [w])]
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0, (words, result.output)
        ran += 1
    assert ran >= 6
    listing = CliRunner().invoke(main, ["sessions", "list", "--store", "sqlite:///weather.db"])
    assert "\nada\tdefault\tweather\t" in listing.output


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _make_run(port: int, plugins: str | None = None) -> list[str]:
    """The command ``make run`` runs (``make -n`` prints it, variables expanded), on a free
    port."""
    args = ["make", "-n", "-s", "-C", str(ROOT), "run"] + (
        [f"PLUGINS={plugins}"] if plugins else []
    )
    printed = subprocess.run(args, capture_output=True, text=True, check=True, timeout=60).stdout
    recipe = printed[printed.index("dialoghub serve") :].replace("\\\n", " ")
    command = recipe.splitlines()[0].split("dialoghub serve", 1)[1]
    assert "--port 8000" in command and "--demo-key-file .dialoghub/demo-key" in command
    words = shlex.split(command.replace("--port 8000", f"--port {port}"))
    return [sys.executable, "-c", "from dialoghub.cli import main; main()", "serve", *words]


@contextlib.contextmanager
def _server(clone: Path, plugins: str | None = None) -> Iterator[int]:
    (clone / ".dialoghub").mkdir(exist_ok=True)
    port = _free_port()
    proc = subprocess.Popen(_make_run(port, plugins), cwd=clone, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "server did not start"
            time.sleep(0.1)  # polling a starting process: nothing to wait on but the socket
        yield port
    finally:
        proc.terminate()
        proc.wait(15)


def _curl(port: int, lines: list[str]) -> list[dict[str, object]]:
    """Run the walk-through's shell lines; the JSON answer of each curl that posts."""
    script = "\n".join(lines).replace("localhost:8000", f"127.0.0.1:{port}")
    script = script.replace("curl -s", "echo; curl -s")
    out = subprocess.run(["bash", "-e", "-c", script], capture_output=True, text=True,
                         timeout=60, check=True).stdout  # fmt: skip
    return [json.loads(line) for line in out.splitlines() if line.strip().startswith("{")]


def _walkthrough() -> list[str]:
    block = _section("The HTTP API").split("```sh\n", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines()]


def _replies(answer: dict[str, object]) -> list[str]:
    actions = answer["actions"]
    assert isinstance(actions, list)
    return [a["text"] for a in actions if a["type"] == "reply"]


@pytest.mark.skipif(not os.path.exists("/usr/bin/curl") and not os.path.exists("/bin/curl"),
                    reason="curl is not installed")  # fmt: skip
def test_the_curl_walkthrough_reaches_the_weather_reply(clone: Path) -> None:
    lines = _walkthrough()
    with _server(clone) as port:
        deleted, created, text, result = _curl(port, lines)
        assert deleted["code"] == "session_not_found"
        assert created["session"]["id"] == "ada"  # type: ignore[index]
        assert text["actions"][-1]["type"] == "command"  # type: ignore[index]
        assert _replies(result) == ["In Paris it is sunny and 21 degrees."]
        assert "In Paris it is sunny and 21 degrees." in _section("The HTTP API")
        again = _curl(port, lines)  # rerunnable: the DELETE line starts afresh
        assert len(again) == 3  # (a DELETE that deleted answers without a body)
        assert again[0]["session"]["version"] == 1  # type: ignore[index]
        assert _replies(again[2]) == ["In Paris it is sunny and 21 degrees."]
    # the sessions of make run's server, from the store CLI, in the demo tenant
    from dialoghub.cli import main

    listing = CliRunner().invoke(
        main, ["sessions", "list", "--store", "sqlite:///.dialoghub/server.db", "--tenant", "demo"]
    )
    assert listing.exit_code == 0 and "\nada\tdemo\tweather\tlisten\tactive\t" in listing.output


@pytest.mark.skipif(not os.path.exists("/usr/bin/curl") and not os.path.exists("/bin/curl"),
                    reason="curl is not installed")  # fmt: skip
def test_serve_with_plugins_answers_the_text_with_the_reply(clone: Path) -> None:
    plugins = str(ROOT / "examples" / "weather" / "plugins.py")
    assert "PLUGINS=examples/weather/plugins.py" in " ".join(_section("The HTTP API").split())
    lines = [line for line in _walkthrough() if "command_result" not in line]
    lines = lines[: next(i for i, line in enumerate(lines) if "the answer's last" in line)]
    with _server(clone, plugins) as port:
        _, _, text = _curl(port, lines)
        assert _replies(text) == ["In Paris it is sunny and 21 degrees."]
        assert text["actions"][-1]["type"] == "wait_for_user"  # type: ignore[index]


def test_the_http_guide_first_lines_run(clone: Path) -> None:
    """docs/http.md's first lines: a server, a key in the store it reads, a session."""
    guide = (ROOT / "docs" / "http.md").read_text(encoding="utf-8")
    serve, *rest = guide.split("```sh\n", 1)[1].split("```", 1)[0].strip().splitlines()
    assert serve.startswith("dialoghub serve ") and serve.endswith(" &")
    port = _free_port()
    args = shlex.split(serve[: -len("&")].replace("--port 8001", f"--port {port}"))[1:]
    cli = [sys.executable, "-c", "from dialoghub.cli import main; main()"]
    proc = subprocess.Popen([*cli, *args], cwd=clone, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "server did not start"
            time.sleep(0.1)  # polling a starting process: nothing to wait on but the socket
        script = "\n".join(rest).replace("localhost:8001", f"127.0.0.1:{port}")
        script = script.replace("dialoghub keys", " ".join(map(shlex.quote, cli)) + " keys")
        out = subprocess.run(["bash", "-e", "-c", script], cwd=clone, capture_output=True,
                             text=True, timeout=60, check=True).stdout  # fmt: skip
        answer = json.loads(out)
        assert "session" in answer, answer
        assert answer["session"]["tenant"] == "acme"
        assert answer["actions"][0]["text"].startswith("Hi! I'm the weather assistant.")
    finally:
        proc.terminate()
        proc.wait(15)
