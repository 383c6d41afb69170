"""``dialoghub talk``: a voice conversation from WAV files, replies written as WAV files."""

from __future__ import annotations

import wave
from pathlib import Path

from click.testing import CliRunner

from dialoghub.cli import main
from dialoghub.voice.audio import pcm_to_wav
from tests.conftest import EXAMPLES
from tests.voice.conftest import say


def test_talk_runs_the_weather_dialog_from_wav_files(tmp_path: Path) -> None:
    turns = []
    for i, text in enumerate(["what is the weather in paris", "goodbye"]):
        path = tmp_path / f"turn{i}.wav"
        path.write_bytes(pcm_to_wav(say(text, rate=22050), 22050))  # converted on the way in
        turns += ["--in", str(path)]
    out = tmp_path / "replies"
    result = CliRunner().invoke(
        main,
        [
            "talk",
            str(EXAMPLES / "weather"),
            *turns,
            "--out",
            str(out),
            "--plugins",
            str(EXAMPLES / "weather" / "plugins.py"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "you (turn0.wav): what is the weather in paris" in result.output
    assert "lookup_weather" in result.output
    assert "dialoghub: Goodbye!" in result.output
    replies = sorted(out.glob("reply-*.wav"))
    assert len(replies) == result.output.count("dialoghub: ")
    with wave.open(str(replies[0])) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (16000, 1, 2)
        assert w.getnframes() > 16000  # the greeting lasts more than a second


def test_talk_needs_input_files_and_says_so() -> None:
    result = CliRunner().invoke(main, ["talk", str(EXAMPLES / "weather")])
    assert result.exit_code != 0 and "--in FILE" in result.output


def test_talk_reports_an_unreadable_file_as_one_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not audio at all")
    result = CliRunner().invoke(main, ["talk", str(EXAMPLES / "weather"), "--in", str(bad)])
    assert result.exit_code != 0
    assert "does not decode" in result.output and "Traceback" not in result.output
