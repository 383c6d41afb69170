"""The terminal chat and the session inspection commands, through click's runner."""

from __future__ import annotations

import json
import re
from pathlib import Path

from click.testing import CliRunner

from dialoghub.cli import main

from .conftest import EXAMPLES

MODEL = str(EXAMPLES / "weather" / "weather.yaml")
PLUGINS = str(EXAMPLES / "weather" / "plugins.py")


def _chat(store: str, text: str, *extra: str) -> str:
    result = CliRunner().invoke(main, ["chat", MODEL, "--store", store, *extra], input=text)
    assert result.exit_code == 0, result.output
    return result.output


def test_chat_with_plugins(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'chat.db'}"
    out = _chat(
        store, "what's the weather in Paris\nbye\n", "--plugins", PLUGINS, "--session", "me"
    )
    assert "bot> Hi! I'm the weather assistant." in out
    assert "bot> In Paris it is sunny and 21 degrees." in out
    assert "bot> Goodbye!" in out
    assert "[session ended" in out

    listing = CliRunner().invoke(main, ["sessions", "list", "--store", store])
    assert listing.exit_code == 0
    header, row, count = listing.output.splitlines()
    assert header.split("\t") == [
        "id",
        "tenant",
        "model",
        "state",
        "status",
        "version",
        "updated (UTC)",
    ]
    assert row.split("\t")[:6] == ["me", "default", "weather", "bye", "ended", "v4"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", row.split("\t")[6])
    assert count == "1 session (tenant 'default')"

    shown = CliRunner().invoke(main, ["sessions", "show", "me", "--store", store])
    session = json.loads(shown.output)
    assert session["state"] == "bye"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", session["created_at"])

    events = CliRunner().invoke(
        main, ["sessions", "events", "me", "--store", store, "--limit", "3"]
    )
    rows = [json.loads(line) for line in events.output.splitlines()]
    assert [r["seq"] for r in rows] == [1, 2, 3]
    assert rows[0]["type"] == "session_started"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", rows[0]["time"])


def test_chat_without_plugins_asks_the_user_for_command_outputs() -> None:
    out = _chat("memory://", 'weather in Rome\n{"forecast": "stormy", "temperature": 12}\nquit\n')
    assert "[command lookup_weather" in out
    assert "bot> In Rome it is stormy and 12 degrees." in out


def test_chat_resumes_a_session(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'resume.db'}"
    _chat(store, "what is the weather like\n", "--plugins", PLUGINS, "--session", "r")
    out = _chat(store, "London\n", "--plugins", PLUGINS, "--session", "r")
    assert "resuming session r" in out
    assert "bot> In London it is rainy and 14 degrees." in out


def test_chat_reports_refused_input_and_goes_on() -> None:
    out = _chat("memory://", "   \nhello\n", "--plugins", PLUGINS)
    assert "bot> Hello! Ask me about the weather in any city." in out


def test_sessions_show_unknown_is_a_clear_error(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'x.db'}"
    _chat(store, "hello\n", "--session", "someone")
    result = CliRunner().invoke(main, ["sessions", "show", "ghost", "--store", store])
    assert result.exit_code == 1
    assert "session 'ghost' not found" in result.output
    assert "Traceback" not in result.output


def test_bad_store_url_is_a_clear_error() -> None:
    result = CliRunner().invoke(main, ["sessions", "list", "--store", "ftp://nowhere"])
    assert result.exit_code == 1
    assert "unknown store scheme 'ftp'" in result.output
