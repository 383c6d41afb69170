"""The weather dialog on dialoghub, with the embedded SQLite store (or any store, ``--store``).

The dialog is the model of ``examples/weather`` loaded into a :class:`dialoghub.Hub`, with its
city slot's ``carry`` turned off (:func:`w1_model_text`): the W1 script every peer plays asks
"Which city?" when a request names none, where the example (since issue 16) would reuse the
previous request's city. A turn is
what an application does for one user message: ``process_text``, then, while the last action is
a command, answer it with ``process_command_result`` from the local weather table. A turn that
looks the weather up is therefore two durable updates; it counts, and is timed, as one turn.

Run: ``python -m benchmarks.systems.dialoghub_runner --workload W1``.

``--store URL`` plays it on another store (``benchmarks.stores`` uses it): ``{dir}`` in the URL
is replaced by the run's temporary directory (``json:///{dir}/sessions.json``). A
``postgresql://`` or ``redis://`` URL names the server only: the run works in a schema or key
prefix of its own (``bench_<pid>_<random>``), whatever the URL says, measures what it stored
(:meth:`DialoghubDriver.stored_bytes`), then drops the schema or deletes the keys.

``--namespace NAME`` instead works in the schema or key prefix ``NAME`` (``NAME:`` for Redis),
which someone else created and will measure and drop: several runner processes given the same
``NAME`` share one store (``benchmarks.stores --processes N`` starts them with the harness's
``--session-range``, ``--barrier`` and ``--latencies``). The run neither measures nor drops it.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from benchmarks.systems.harness import main
from benchmarks.workload import lookup_weather
from dialoghub import Hub
from dialoghub.engine.records import CommandAction
from dialoghub.model.loader import load_model_text

__all__ = [
    "MODELS",
    "MODEL_ID",
    "DialoghubDriver",
    "answer_command",
    "scratch_url",
    "stored_bytes",
    "w1_model_text",
]

#: Where the weather model lives, relative to the repository root.
MODELS = Path(__file__).resolve().parents[2] / "examples" / "weather"
MODEL_ID = "weather"


def w1_model_text() -> str:
    """The weather example's YAML as W1 plays it: the city does not carry over.

    W1's fourth message (``what is the weather like``) must be answered ``Which city?`` by
    every system; with ``carry: true`` the example answers with the previous city instead.
    Nothing else of the model changes (globals, open entity, templates stay as shipped).
    """
    text = (MODELS / "weather.yaml").read_text(encoding="utf-8")
    carried = "prompt: \"Which city?\", carry: true}"
    if carried not in text:
        raise RuntimeError("examples/weather changed: update w1_model_text")
    return text.replace(carried, "prompt: \"Which city?\"}")


def answer_command(action: CommandAction) -> dict[str, Any]:
    """The application's side of a command: the weather lookup from the local table."""
    if action.id != "lookup_weather":
        raise ValueError(f"the weather dialog has no command {action.id!r}")
    found = lookup_weather(str(action.params["city"]))
    return {"forecast": found.forecast, "temperature": found.temperature}


def scratch_url(url: str, name: str) -> str:
    """``url`` with its namespace option (PostgreSQL ``schema``, Redis ``prefix``) set to ``name``.

    Other URLs are returned unchanged.
    """
    parts = urlsplit(url)
    option = {"postgresql": "schema", "postgres": "schema", "redis": "prefix"}.get(parts.scheme)
    if option is None:
        return url
    value = name + ":" if option == "prefix" else name
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != option]
    return urlunsplit(parts._replace(query=urlencode([*query, (option, value)])))


async def stored_bytes(url: str, *, drop: bool) -> int | None:
    """What the store at ``url`` holds, in bytes; with ``drop``, then remove it all.

    PostgreSQL: ``VACUUM`` each table of the URL's schema, then the sum of
    ``pg_total_relation_size`` (heap, TOAST and indexes) over them. Redis: the sum of
    ``MEMORY USAGE key SAMPLES 0`` over the keys under the URL's prefix (memory, not disk).
    None for other stores (their files are measured by the harness).
    """
    parts = urlsplit(url)
    options = dict(parse_qsl(parts.query))
    if parts.scheme in {"postgresql", "postgres"}:
        import asyncpg

        schema = options["schema"]
        dsn = urlunsplit(parts._replace(scheme="postgresql", query=""))
        conn = await asyncpg.connect(dsn)
        try:
            tables = await conn.fetch(
                "SELECT c.oid, c.relname FROM pg_class c JOIN pg_namespace n "
                "ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind = 'r'",
                schema,
            )
            for table in tables:
                await conn.execute(f'VACUUM "{schema}"."{table["relname"]}"')
            total: int = await conn.fetchval(
                "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = $1 AND c.relkind = 'r'",
                schema,
            )
            if drop:
                await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await conn.close()
        return total
    if parts.scheme == "redis":
        import redis.asyncio as aioredis

        prefix = options["prefix"]
        client = aioredis.from_url(urlunsplit(parts._replace(query="")))
        try:
            keys = [k async for k in client.scan_iter(match=prefix + "*", count=1000)]
            total = 0
            for i in range(0, len(keys), 500):
                pipe = client.pipeline(transaction=False)
                for key in keys[i : i + 500]:
                    pipe.execute_command("MEMORY", "USAGE", key, "SAMPLES", "0")
                total += sum(int(n or 0) for n in await pipe.execute())
            if drop:
                for i in range(0, len(keys), 500):
                    await client.delete(*keys[i : i + 500])
        finally:
            await client.aclose()
        return total
    return None


class DialoghubDriver:
    """Plays the weather dialog through ``Hub`` on ``sqlite:///DIR/sessions.db`` or ``store``."""

    name = "dialoghub"

    def __init__(self, store: str | None = None, namespace: str | None = None) -> None:
        self._stack = contextlib.AsyncExitStack()
        self._hub: Hub | None = None
        self._store_url = store
        self._namespace = namespace
        self._url = ""
        self._bytes: int | None = None

    async def open(self, directory: Path) -> None:
        """Open the hub on the store (SQLite in ``directory`` by default); load the model."""
        if self._store_url is None:
            self._url = f"sqlite:///{directory / 'sessions.db'}"
        else:
            url = self._store_url.replace("{dir}", str(directory))
            name = self._namespace or f"bench_{os.getpid()}_{secrets.token_hex(3)}"
            self._url = scratch_url(url, name)
        hub = await self._stack.enter_async_context(Hub(store=self._url))
        hub.add_model(load_model_text(w1_model_text(), str(MODELS / "weather.yaml")))
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
        """Close the hub and its store; a server store of our own is then measured and removed."""
        try:
            await self._stack.aclose()
        finally:
            own = self._namespace is None and self._url != scratch_url(self._url, "x")
            if own:  # a schema or prefix of our own (a shared one is the parent's)
                self._bytes = await stored_bytes(self._url, drop=True)

    def stored_bytes(self) -> int | None:
        """Bytes a PostgreSQL or Redis run stored (see :func:`stored_bytes`); else None."""
        return self._bytes

    def store(self) -> str:
        """The store as configured."""
        assert self._hub is not None, "open() first"
        kind = type(self._hub.store).__name__
        scheme = urlsplit(self._url).scheme
        if scheme == "sqlite":
            return f"{kind} WAL sync=full"
        if scheme in {"postgresql", "postgres", "redis"}:
            store: Any = self._hub.store  # the configured sizes, for the table
            writers, pool = store._group._writers, store._pool_size
            return f"{kind} writers={writers} pool={pool}"
        if scheme == "json":
            return f"{kind} log+checkpoint"
        return kind

    def version(self) -> str:
        """Installed dialoghub version."""
        return f"dialoghub {version('dialoghub')}"


def _run(argv: list[str]) -> None:
    """Take ``--store URL`` and ``--namespace NAME`` off the command line; the harness parses
    the rest."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument(
        "--store", default=None, help="store URL (default: SQLite in the run's directory)"
    )
    parser.add_argument(
        "--namespace",
        default=None,
        help="shared PostgreSQL schema / Redis key prefix (the caller creates and drops it)",
    )
    known, rest = parser.parse_known_args(argv)
    main(lambda: DialoghubDriver(known.store, known.namespace), rest)


if __name__ == "__main__":
    _run(sys.argv[1:])
