"""Store maintenance from the command line: ``dialoghub store migrate`` and
``dialoghub sessions export|import`` (the latter attached to the ``sessions`` group).

:mod:`dialoghub.cli` registers these commands. The work itself is in
:mod:`dialoghub.stores.migrations` and :mod:`dialoghub.transfer`; this module only parses
options, shows progress on stderr and turns errors into one clear line and exit status 1.
"""

from __future__ import annotations

import asyncio

import click

from dialoghub.errors import DialoghubError
from dialoghub.stores import open_store
from dialoghub.stores.migrations import Migratable

__all__ = ["store"]

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
