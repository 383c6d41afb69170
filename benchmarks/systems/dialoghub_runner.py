"""The weather dialog on dialoghub, with the embedded SQLite store.

The dialog is the model of ``examples/weather`` loaded into a :class:`dialoghub.Hub`. A turn is
what an application does for one user message: ``process_text``, then, while the last action is
a command, answer it with ``process_command_result`` from the local weather table. A turn that
looks the weather up is therefore two durable updates; it counts, and is timed, as one turn.

Run: ``python -m benchmarks.systems.dialoghub_runner --workload W1``.
"""

from __future__ import annotations

import contextlib
from importlib.metadata import version
from pathlib import Path
from typing import Any

from benchmarks.systems.harness import main
from benchmarks.workload import lookup_weather
from dialoghub import Hub
from dialoghub.engine.records import CommandAction

__all__ = ["MODELS", "MODEL_ID", "DialoghubDriver", "answer_command"]

#: Where the weather model lives, relative to the repository root.
MODELS = Path(__file__).resolve().parents[2] / "examples" / "weather"
MODEL_ID = "weather"


def answer_command(action: CommandAction) -> dict[str, Any]:
    """The application's side of a command: the weather lookup from the local table."""
    if action.id != "lookup_weather":
        raise ValueError(f"the weather dialog has no command {action.id!r}")
    found = lookup_weather(str(action.params["city"]))
    return {"forecast": found.forecast, "temperature": found.temperature}


class DialoghubDriver:
    """Plays the weather dialog through ``Hub`` on ``sqlite:///DIR/sessions.db``."""

    name = "dialoghub"

    def __init__(self) -> None:
        self._stack = contextlib.AsyncExitStack()
        self._hub: Hub | None = None

    async def open(self, directory: Path) -> None:
        """Open the hub on a SQLite file in ``directory`` and load the weather model."""
        hub = await self._stack.enter_async_context(
            Hub(store=f"sqlite:///{directory / 'sessions.db'}")
        )
        hub.load_models(str(MODELS))
        self._hub = hub

    async def create(self, session_id: str) -> None:
        """Create the session on the weather model."""
        assert self._hub is not None, "open() first"
        await self._hub.create_session(MODEL_ID, session_id=session_id)

    async def turn(self, session_id: str, text: str) -> str:
        """``process_text``, then answer commands until the dialog waits; return the replies."""
        assert self._hub is not None, "open() first"
        view = await self._hub.process_text(session_id, text)
        replies = list(view.replies)
        while view.actions and isinstance(view.actions[-1], CommandAction):
            command = view.actions[-1]
            view = await self._hub.process_command_result(
                session_id, command.id, answer_command(command)
            )
            replies.extend(view.replies)
        return " ".join(replies)

    async def close(self) -> None:
        """Close the hub and its store."""
        await self._stack.aclose()

    def store(self) -> str:
        """The store as configured."""
        return "SQLiteStore WAL sync=full"

    def version(self) -> str:
        """Installed dialoghub version."""
        return f"dialoghub {version('dialoghub')}"


if __name__ == "__main__":
    main(DialoghubDriver)
