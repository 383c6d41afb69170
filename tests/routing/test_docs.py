"""docs/routing.md's example runs as written, against a server of the relay model."""

from __future__ import annotations

import re
from pathlib import Path

from tests.routing.conftest import serving

DOC = Path(__file__).resolve().parents[2] / "docs" / "routing.md"


def _blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)


async def test_the_guides_example_runs() -> None:
    blocks = _blocks()
    assert blocks, "docs/routing.md has no python example"
    namespace: dict[str, object] = {}
    exec(compile(blocks[0], str(DOC), "exec"), namespace)
    async with serving() as served:
        await namespace["example"](served.url)  # type: ignore[operator]
        session = await served.router.hub.get_session("alice")
        assert session.memory == {"answered": 1}
        assert session.locks["gui-1"]["read"]
