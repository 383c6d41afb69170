"""Store maintenance from the command line: ``dialoghub store migrate`` and
``dialoghub sessions export|import`` (the package attaches the latter two to the ``sessions``
group).

The work itself is in :mod:`dialoghub.stores.migrations` and :mod:`dialoghub.hub.transfer`;
this module only parses options, shows progress on stderr and turns errors into one clear
line and exit status 1.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import Iterator
from typing import IO, Any

import click

from dialoghub.cli.common import existing_store
from dialoghub.errors import DialoghubError, SessionExists
from dialoghub.hub.transfer import Line
from dialoghub.stores import open_store
from dialoghub.stores.migrations import Migratable

__all__ = ["export_sessions", "import_sessions", "store"]

#: Sessions an import keeps in flight at once (lets group commit batch them).
IMPORT_WINDOW = 32

STORE_URL_HELP = "The store: sqlite:///file.db, postgresql://…, redis://…, json:///…, memory://"


@click.group()
def store() -> None:
    """Maintain a store: upgrade its schema."""


@store.command()
@click.option("--store", "url", required=True, help=STORE_URL_HELP)
def migrate(url: str) -> None:
    """Upgrade the store's schema in place to this dialoghub's version.

    Each step runs in its own transaction and is recorded with it, so an interrupted
    migration can simply be run again. Back the database up first.
    """
    existing_store(url)  # migrating nothing would create an empty database
    try:
        target = open_store(url)
        if not isinstance(target, Migratable):
            click.echo(f"{url}: this kind of store has no schema to migrate; nothing to do")
            return
        steps = asyncio.run(target.migrate())
    except DialoghubError as exc:
        raise click.ClickException(str(exc)) from None
    if not steps:
        click.echo(f"{url}: schema is up to date; nothing to do")
        return
    for step in steps:
        click.echo(f"applied step {step.version}: {step.description}")
    click.echo(f"{url}: schema is now at version {steps[-1].version}")


# --- sessions export / import -------------------------------------------------------------


class _Unsized:
    """An iterable without a length: a progress bar that counts instead of measuring."""

    def __iter__(self) -> Iterator[None]:
        return iter(())


@click.command("export")
@click.option("--store", "url", required=True, help=STORE_URL_HELP)
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, writable=True),
    help="Default (or -): stdout."
)
@click.option("--model", help="Only sessions of this model.")
@click.option("--status", type=click.Choice(["active", "ended", "expired"]))
@click.option("--tenant", default="default", show_default=True, help="The tenant to export.")
def export_sessions(
    url: str, output: str | None, model: str | None, status: str | None, tenant: str
) -> None:
    """Write sessions with their whole histories as JSON Lines, one session per line.

    Reads the store page by page, so any number of sessions fits in memory. Load the file
    into any store with 'dialoghub sessions import'.
    """
    existing_store(url)
    try:
        if output is None or output == "-":  # "-o -": stdout, as usual
            count = asyncio.run(_export(url, sys.stdout.buffer, model, status, tenant))
        else:
            with open(output, "wb") as out:
                count = asyncio.run(_export(url, out, model, status, tenant))
    except DialoghubError as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(f"cannot write {output}: {exc}") from None
    click.echo(f"exported {count} sessions from {url}", err=True)


async def _export(
    url: str, out: IO[bytes], model: str | None, status: str | None, tenant: str
) -> int:
    from dialoghub.hub import Hub
    from dialoghub.hub.transfer import encode_line

    count = 0
    async with Hub(url) as hub:
        with click.progressbar(_Unsized(), label="exporting", file=sys.stderr) as bar:
            async for session, events in hub.export_sessions(
                tenant=tenant, model=model, status=status
            ):
                out.write(encode_line(session, events))
                count += 1
                bar.update(1)
    out.flush()
    return count


@click.command("import")
@click.option("--store", "url", required=True, help=STORE_URL_HELP)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, allow_dash=True))
@click.option(
    "--skip-existing", is_flag=True, help="Skip sessions whose id is taken instead of failing."
)
def import_sessions(url: str, file: str, skip_existing: bool) -> None:
    """Load sessions written by 'dialoghub sessions export' (FILE, or - for stdin).

    Each line is checked on its own: it must parse, and its events must reproduce its
    snapshot. A bad line is reported with its number and left out whole; the others are
    imported, and the exit status is 1 if any line failed.
    """
    try:
        with contextlib.ExitStack() as stack:
            if file == "-":
                source: IO[bytes] = sys.stdin.buffer
                size = None
            else:
                source = stack.enter_context(open(file, "rb"))
                size = os.fstat(source.fileno()).st_size
            counts, errors = asyncio.run(_import(url, source, size, file, skip_existing))
    except DialoghubError as exc:
        raise click.ClickException(str(exc)) from None
    for error in errors:
        click.echo(error, err=True)
    click.echo(
        f"imported {counts['imported']} sessions into {url}, skipped {counts['skipped']} "
        f"already there, {counts['failed']} lines failed",
        err=True,
    )
    if counts["failed"]:
        sys.exit(1)


async def _import(
    url: str, source: IO[bytes], size: int | None, name: str, skip_existing: bool
) -> tuple[dict[str, int], list[str]]:
    from dialoghub.hub import Hub
    from dialoghub.hub.transfer import decode_line

    counts = {"imported": 0, "skipped": 0, "failed": 0}
    errors: list[tuple[int, str]] = []

    def failed(lineno: int, why: str) -> None:
        counts["failed"] += 1
        errors.append((lineno, f"{name}:{lineno}: {why}"))

    async with Hub(url) as hub:

        async def one(lineno: int, line: Line) -> None:
            try:
                await hub.import_session(line.session, line.events)
            except SessionExists as exc:
                if skip_existing:
                    counts["skipped"] += 1
                else:
                    failed(lineno, f"{exc}; nothing imported from this line (--skip-existing "
                           "skips such lines)")  # fmt: skip
            except DialoghubError as exc:
                failed(lineno, f"{exc}; nothing imported from this line")
            else:
                counts["imported"] += 1

        pending: set[asyncio.Task[None]] = set()
        bar_args: dict[str, Any] = {"length": size} if size else {"iterable": _Unsized()}
        with click.progressbar(label="importing", file=sys.stderr, **bar_args) as bar:
            for lineno, raw in enumerate(source, start=1):
                bar.update(len(raw) if size else 1)
                if not raw.strip():
                    continue
                try:
                    line = decode_line(raw)
                except DialoghubError as exc:
                    failed(lineno, str(exc))
                    continue
                pending.add(asyncio.create_task(one(lineno, line)))
                if len(pending) >= IMPORT_WINDOW:
                    _, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            if pending:
                await asyncio.wait(pending)
    # Lines finish out of order (several are in flight): report them in file order.
    return counts, [message for _, message in sorted(errors)]
