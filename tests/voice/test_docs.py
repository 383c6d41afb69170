"""docs/voice.md's example runs as written, against a real server."""

from __future__ import annotations

import re
from pathlib import Path

from tests.voice.conftest import Live

DOC = Path(__file__).resolve().parents[2] / "docs" / "voice.md"


async def test_the_guides_example_runs(live: Live) -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
    assert blocks, "docs/voice.md has no python example"
    namespace: dict[str, object] = {}
    exec(compile(blocks[0], str(DOC), "exec"), namespace)
    heard, reply = await namespace["example"](live.url, live.key)  # type: ignore[operator]
    assert heard == "what is the weather in paris"
    assert reply == "In Paris it is sunny and 21 degrees."


def test_the_guide_names_every_frame_type_the_socket_takes() -> None:
    text = DOC.read_text()
    for kind in ("asr", "transcribe", "end", "tts", "cancel", "ping"):
        assert f'"type": "{kind}"' in text, kind
