"""``dialoghub talk --mic``: the turns are the utterances a capture program hears.

The capture program here is ``cat`` of a recording made with espeak-ng (two utterances with
silence between them): the same pipe a real microphone's ``arecord`` writes into, so the
endpointer, not the file boundaries, splits the turns.
"""

from __future__ import annotations

import shlex
from pathlib import Path

from click.testing import CliRunner

from dialoghub.cli import main
from tests.conftest import EXAMPLES
from tests.voice.conftest import say

WEATHER = EXAMPLES / "weather"


def _talk(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["talk", str(WEATHER), *args])
    return result.exit_code, result.output


def test_each_utterance_heard_is_one_turn(tmp_path: Path) -> None:
    recording = tmp_path / "mic.raw"
    silence = bytes(2 * 16000 * 3 // 2)  # 1.5 s between the two utterances
    recording.write_bytes(
        say("what is the weather in paris") + silence + say("goodbye") + silence
    )
    code, out = _talk(
        "--mic-command", f"cat {shlex.quote(str(recording))}",
        "--plugins", str(WEATHER / "plugins.py"),
    )  # fmt: skip
    assert code == 0, out
    heard = [line for line in out.splitlines() if line.startswith("you (microphone): ")]
    said = [h.split(": ", 1)[1].split("  [")[0] for h in heard]
    assert len(said) == 2, out
    assert said[0] == "what is the weather in paris"
    assert said[1].endswith("bye")  # the state's LM hears "goodbye" or "bye": the same intent
    assert out.index("lookup_weather") < out.index(heard[1])
    assert out.index(heard[1]) < out.index("dialoghub: Goodbye!")
    assert out.rstrip().splitlines()[-1].startswith("  [EndAction]")
    assert "input ended" not in out  # the session ended first


def test_silence_until_the_capture_ends_is_nothing_heard(tmp_path: Path) -> None:
    recording = tmp_path / "quiet.raw"
    recording.write_bytes(bytes(2 * 16000 * 12))  # 12 s of silence: past the silence timeout
    code, out = _talk("--mic-command", f"cat {shlex.quote(str(recording))}")
    assert code == 0, out
    assert "you (microphone): (nothing heard)" in out
    assert "(the microphone's input ended)" in out


def test_a_capture_program_that_fails_is_one_clear_error() -> None:
    code, out = _talk("--mic-command", "sh -c 'echo no such audio device >&2; exit 3'")
    assert code != 0
    assert "the microphone could not be read (sh exited with 3: no such audio device)" in out
    assert "Traceback" not in out


def test_a_capture_program_that_does_not_exist_is_one_clear_error() -> None:
    code, out = _talk("--mic-command", "no-such-capture-program-xyz")
    assert code != 0 and "the microphone could not be opened" in out
    assert "Traceback" not in out


def test_files_and_the_microphone_are_not_mixed(tmp_path: Path) -> None:
    wav = tmp_path / "a.wav"
    wav.write_bytes(b"")
    code, out = _talk("--mic", "--in", str(wav))
    assert code != 0 and "--in" in out and "--mic" in out
