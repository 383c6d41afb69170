"""Issue 16's command line: chat's slash commands and timers, ``sessions send``, ``--tenant``
everywhere, listings with a header and a count, dates, and no database made by a reader."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from dialoghub.cli import main

from .conftest import EXAMPLES, ROOT

WEATHER = str(EXAMPLES / "weather" / "weather.yaml")
PLUGINS = str(EXAMPLES / "weather" / "plugins.py")
DATE = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"

EVENTS_MODEL = """\
id: review
events: [approve, reject]
states:
  start:
    say: Waiting for a review.
    on:
      approve: approved
      reject: rejected
  approved: {say: "Approved by {params.by}.", final: true}
  rejected: {say: Rejected., final: true}
"""


def cli(*args: str, input: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), input=input)
    return result.exit_code, result.output


def chat(store: str, text: str, *extra: str, model: str = WEATHER) -> str:
    code, out = cli("chat", model, "--store", store, *extra, input=text)
    assert code == 0, out
    return out


# --- chat -----------------------------------------------------------------------------------


def test_chat_slash_commands(tmp_path: Path) -> None:
    model = tmp_path / "review.yaml"
    model.write_text(EVENTS_MODEL)
    store = f"sqlite:///{tmp_path / 'c.db'}"
    out = chat(store, "/help\n/state\n/event\n/event nope\n/event approve {\"by\": \"Ada\"}\n"
               "/vars\n/events 2\n/bogus\n/quit\nnever read\n", "--session", "r1",
               model=str(model))  # fmt: skip
    assert "/event NAME [json]" in out and "/reset" in out  # /help
    assert "state start" in out and "waiting for user" in out  # /state
    assert "usage: /event NAME" in out
    assert "error: state 'start' takes no event 'nope'" in out
    assert "bot> Approved by Ada." in out and "[session ended" in out
    assert '"params"' not in out  # /vars shows variables only
    assert re.search(rf"\s+\d+ {DATE} session_ended", out)  # /events 2, with dates
    assert "unknown command /bogus" in out
    code, listing = cli("sessions", "list", "--store", store, "--status", "ended")
    assert code == 0 and "\nr1\tdefault\treview\tapproved\tended\t" in listing


def test_chat_drives_the_document_review_with_events() -> None:
    out = chat("memory://", "/event REQUEST_CHANGES\n/event APPROVE\n/state\n",
               model=str(EXAMPLES / "review" / "review.json"))  # fmt: skip
    assert "bot> Review the document and decide" in out
    assert "bot> Review the revised document." in out
    assert "[session ended" in out and "state approved, ended" in out
    assert "\x1b[" not in out  # no colour codes when the output is not a terminal


def test_chat_reset_starts_a_new_session(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'c.db'}"
    out = chat(store, "bye\n/reset\nhello\n", "--plugins", PLUGINS, "--session", "first")
    assert out.count("bot> Hi! I'm the weather assistant.") == 2
    assert "new session" in out and "bot> Hello! Ask me about the weather" in out
    _, listing = cli("sessions", "list", "--store", store)
    assert listing.splitlines()[-1] == "2 sessions (tenant 'default')"


def test_chat_outputs_prompt_takes_slash_commands_an_error_and_quit(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'c.db'}"
    out = chat(store, "weather in Rome\n/state\nnonsense\n/error no data\n"
               "weather in Paris\nquit\n", "--session", "o1")  # fmt: skip
    assert "[command lookup_weather" in out
    assert "waiting for the result of command lookup_weather" in out  # /state at the prompt
    assert "not a JSON object or key=value pairs" in out
    assert "bot> Sorry, I have no forecast for Rome." in out  # answered with an error
    # quit at the prompt leaves the session waiting for the result: it resumes there
    out = chat(store, "forecast=foggy temperature=3\n", "--session", "o1")
    assert "resuming session o1" in out and "[command lookup_weather" in out
    assert "bot> In Paris it is foggy and 3 degrees." in out


def test_chat_help_says_where_sessions_live() -> None:
    code, out = cli("chat", "--help")
    assert code == 0
    text = " ".join(out.split())
    assert "[default: memory://]" in text and "gone when the chat ends" in text
    assert "(default)" not in text


TIMED = """\
id: timed
states:
  start:
    ask: {prompt: ["Name?", "Still there? Name?"], timeout: 0.2, retries: 1}
    wait: true
"""


def test_chat_runs_the_timers(tmp_path: Path) -> None:
    """A question that times out is asked again in the terminal, with nobody typing."""
    model = tmp_path / "timed.yaml"
    model.write_text(TIMED)
    proc = subprocess.Popen(
        [sys.executable, "-m", "dialoghub.cli", "chat", str(model)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    assert proc.stdin is not None and proc.stdout is not None
    seen: list[str] = []
    reprompted = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            seen.append(line)
            if "Still there? Name?" in line:
                reprompted.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert reprompted.wait(15), "".join(seen)
    finally:
        proc.stdin.write("quit\n")
        proc.stdin.flush()
        assert proc.wait(15) == 0
        reader.join(5)
    out = "".join(seen)
    assert out.index("bot> Name?") < out.index("bot> Still there? Name?")


# --- sessions -------------------------------------------------------------------------------


def test_sessions_list_never_creates_a_database(tmp_path: Path) -> None:
    db = tmp_path / "app.db"
    for args in (
        ["list"],
        ["show", "ada"],
        ["events", "ada"],
        ["send", "ada", "hi", "--models", WEATHER],
    ):
        code, out = cli("sessions", *args, "--store", f"sqlite:///{db}")
        assert code == 1, out
        assert f"no database at {db}" in out and "Traceback" not in out
        assert not db.exists()
    code, out = cli("sessions", "list", "--store", f"json:///{tmp_path / 'none.json'}")
    assert code == 1 and "no database at" in out
    for args in (["sessions", "export", "-o", str(tmp_path / "x.jsonl")], ["store", "migrate"]):
        code, out = cli(*args, "--store", f"sqlite:///{db}")
        assert code == 1 and f"no database at {db}" in out and not db.exists(), out


def test_sessions_list_prints_a_header_and_a_count(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'app.db'}"
    chat(store, "quit\n", "--session", "x")  # creates the file
    cli("sessions", "send", "x", "bye", "--store", store, "--models", WEATHER)
    code, out = cli("sessions", "list", "--store", store, "--status", "active")
    assert code == 0
    assert out.splitlines() == ["id\ttenant\tmodel\tstate\tstatus\tversion\tupdated (UTC)",
                                "0 sessions (tenant 'default')"]  # fmt: skip


def test_sessions_send_text_event_and_input(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'app.db'}"
    chat(store, "quit\n", "--session", "ada")
    code, out = cli("sessions", "send", "ada", "weather in Paris", "--store", store,
                    "--models", WEATHER, "--plugins", PLUGINS)  # fmt: skip
    assert code == 0, out
    assert "bot> In Paris it is sunny and 21 degrees." in out and "[listen v3 active]" in out
    # without plugins the command waits for its result
    code, out = cli("sessions", "send", "ada", "weather in Tokyo", "--store", store,
                    "--models", WEATHER)  # fmt: skip
    assert "[waiting for command lookup_weather" in out
    raw = '{"type": "command_result", "id": "lookup_weather", "outputs": {"forecast": "dry", "temperature": 5}}'
    code, out = cli("sessions", "send", "ada", "--input", raw, "--store", store,
                    "--models", WEATHER)  # fmt: skip
    assert code == 0 and "bot> In Tokyo it is dry and 5 degrees." in out
    code, out = cli("sessions", "send", "ada", "--input", '{"type": "jump", "state": "bye"}',
                    "--store", store, "--models", WEATHER)  # fmt: skip
    assert "bot> Goodbye!" in out and "ended" in out
    # the refusals: one message each, no traceback
    for args, message in [
        (["ada", "hi", "--event", "x"], "exactly one of TEXT, --event NAME or --input JSON"),
        (["ada"], "exactly one of TEXT"),
        (["ada", "--input", "{nope"], "not JSON"),
        (["ada", "--input", '{"type": "dance"}'], "not an input"),
        (["ada", "--event", "approve", "--params", "[1]"], "--params must be a JSON object"),
        (["ada", "hello"], "session 'ada' is ended"),
    ]:
        code, out = cli("sessions", "send", *args, "--store", store, "--models", WEATHER)
        assert code != 0 and message in out and "Traceback" not in out, (args, out)


def test_sessions_send_needs_the_model_without_a_server(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'app.db'}"
    chat(store, "quit\n", "--session", "m")
    code, out = cli("sessions", "send", "m", "hello", "--store", store)
    assert code == 2 and "--models" in out


def test_sessions_send_an_event(tmp_path: Path) -> None:
    model = tmp_path / "review.yaml"
    model.write_text(EVENTS_MODEL)
    store = f"sqlite:///{tmp_path / 'app.db'}"
    chat(store, "quit\n", "--session", "r", model=str(model))
    code, out = cli("sessions", "send", "r", "--event", "approve", "--params", '{"by": "Bo"}',
                    "--store", store, "--models", str(model))  # fmt: skip
    assert code == 0 and "bot> Approved by Bo." in out


def test_every_sessions_command_takes_a_tenant(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'app.db'}"
    chat(store, "quit\n", "--session", "d1", "--tenant", "demo")
    chat(store, "quit\n", "--session", "a1")
    code, out = cli("sessions", "list", "--store", store)
    assert out.splitlines()[1].startswith("a1\tdefault\t") and "1 session" in out
    code, out = cli("sessions", "list", "--store", store, "--tenant", "demo")
    assert out.splitlines()[1].startswith("d1\tdemo\t")
    code, out = cli("sessions", "list", "--store", store, "--tenant", "demo", "--tenant",
                    "default")  # fmt: skip
    assert [r.split("\t")[0] for r in out.splitlines()[1:-1]] == ["d1", "a1"]
    assert out.splitlines()[-1] == "2 sessions (tenant 'demo', 'default')"
    code, out = cli("sessions", "show", "d1", "--store", store)
    assert code == 1 and "not found" in out
    code, out = cli("sessions", "show", "d1", "--store", store, "--tenant", "demo")
    shown = json.loads(out)
    assert shown["tenant"] == "demo" and re.fullmatch(DATE, shown["updated_at"])
    code, out = cli("sessions", "events", "d1", "--store", store, "--tenant", "demo")
    assert code == 0 and json.loads(out.splitlines()[0])["type"] == "session_started"
    code, out = cli("sessions", "send", "d1", "hello", "--store", store, "--tenant", "demo",
                    "--models", WEATHER)  # fmt: skip
    assert code == 0 and "bot> Hello! Ask me about the weather" in out
    result = CliRunner().invoke(
        main, ["sessions", "export", "--store", store, "--tenant", "demo", "-o", "-"]
    )
    assert result.exit_code == 0 and not Path("-").exists()  # "-o -" is stdout, not a file
    dump = tmp_path / "demo.jsonl"
    code, out = cli("sessions", "export", "--store", store, "--tenant", "demo", "-o", str(dump))
    assert code == 0 and '"d1"' in dump.read_text() and '"a1"' not in dump.read_text()


def test_chat_and_sessions_through_a_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--server``: the same slash commands, listings with a header and a count, send."""
    from .test_readme import _server

    (tmp_path / "examples").symlink_to(EXAMPLES)
    monkeypatch.chdir(tmp_path)
    with _server(tmp_path) as port:
        url = f"http://127.0.0.1:{port}"
        key = (tmp_path / ".dialoghub" / "demo-key").read_text().strip()
        remote = ["--server", url, "--api-key", key]
        code, out = cli("chat", "weather", *remote, "--session", "rc", "--plugins", PLUGINS,
                        input="weather in Paris\n/state\n/vars\n/events 2\n/event nope\n/quit\n")  # fmt: skip
        assert code == 0, out
        assert "bot> In Paris it is sunny and 21 degrees." in out
        assert "state listen, active" in out and '"city": "Paris"' in out
        assert re.search(rf"\s+\d+ {DATE} action_emitted", out)
        assert "error: " in out and "nope" in out
        code, out = cli("sessions", "list", *remote)
        lines = out.splitlines()
        assert code == 0 and lines[0].startswith("id\ttenant\tmodel")
        assert any(line.startswith("rc\tdemo\tweather\tlisten\tactive\t") for line in lines)
        assert re.fullmatch(r"\d+ sessions?", lines[-1])
        code, out = cli("sessions", "list", *remote, "-q", "RC")  # case-insensitive
        assert [r.split("\t")[0] for r in out.splitlines()[1:-1]] == ["rc"]
        code, out = cli("sessions", "list", *remote, "--search", "no such session")
        assert code == 0 and out.splitlines()[-1] == "0 sessions"
        code, out = cli("sessions", "list", *remote, "--tenant", "zeta")
        assert code == 1 and "operator tenant" in out  # the demo key is no operator's
        code, out = cli("sessions", "list", *remote, "--tenant", "a", "--tenant", "b")
        assert code == 2 and "one --tenant" in out
        code, out = cli("sessions", "send", "rc", "how about Tokyo", *remote)
        assert code == 0 and "[waiting for command lookup_weather" in out
        code, out = cli("sessions", "show", "rc", *remote)
        assert json.loads(out)["awaiting"]["kind"] == "command"
        assert re.fullmatch(DATE, json.loads(out)["updated_at"])


def test_sessions_list_all_tenants(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'app.db'}"
    for sid, tenant in (("z1", "zeta"), ("a1", "default"), ("d1", "demo"), ("z2", "zeta")):
        chat(store, "quit\n", "--session", sid, "--tenant", tenant)
    code, out = cli("sessions", "list", "--store", store, "--all-tenants")
    rows = [r.split("\t")[:2] for r in out.splitlines()[1:-1]]
    assert code == 0 and out.splitlines()[0].startswith("id\ttenant\t")
    assert rows == [["a1", "default"], ["d1", "demo"], ["z1", "zeta"], ["z2", "zeta"]]
    assert out.splitlines()[-1] == "4 sessions (all tenants)"
    result = CliRunner().invoke(
        main, ["sessions", "list", "--store", store, "--all-tenants", "--limit", "3"]
    )
    assert result.stdout.splitlines()[-1] == "3 sessions (all tenants)"
    cursor = re.search(r"--cursor (\S+) --all-tenants", result.stderr)
    assert cursor is not None
    code, out = cli("sessions", "list", "--store", store, "--all-tenants", "--cursor",
                    cursor.group(1))  # fmt: skip
    assert [r.split("\t")[0] for r in out.splitlines()[1:-1]] == ["z2"]
    code, out = cli("sessions", "list", "--store", store, "--all-tenants", "--cursor", "junk")
    assert code == 1 and "invalid listing cursor" in out
    code, out = cli("sessions", "list", "--store", store, "--all-tenants", "--tenant", "demo")
    assert code == 2 and "--all-tenants" in out
    code, out = cli("sessions", "list", "--store", store, "--all-tenants", "-q", "Z")
    assert [r.split("\t")[0] for r in out.splitlines()[1:-1]] == ["z1", "z2"]
    code, out = cli("sessions", "list", "--store", store, "--tenant", "zeta", "--search", "2")
    assert [r.split("\t")[0] for r in out.splitlines()[1:-1]] == ["z2"]
    code, out = cli("sessions", "list", "--store", store, "-q", "x" * 101)
    assert code == 1 and "100" in out and "Traceback" not in out
