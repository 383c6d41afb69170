"""Versioned schema migrations of the SQL stores, applied in place.

Each SQL backend has a module here (:mod:`.sqlite`, :mod:`.postgres`) holding ``STEPS``: an
ordered tuple of :class:`Step`, version 1 being the first schema ever released. A database
records the last step applied (SQLite: ``PRAGMA user_version``; PostgreSQL: one row per step in
``dialoghub_schema``). Migrating applies each missing step in its own transaction, recorded in
that same transaction, so a migration interrupted at any point leaves the database at the last
whole step, and running it again carries on from there.

Rules for whoever adds a step (new tables, columns, indexes, a new write function):

* **Append, never edit.** A released step is frozen: databases in the field already ran it.
  Change the schema by adding step N+1, and bump nothing else (``LATEST`` follows).
* **Idempotent.** ``CREATE ... IF NOT EXISTS``, ``ADD COLUMN IF NOT EXISTS`` (PostgreSQL), or
  check first: a step may meet a database where someone already created the object by hand.
* **Fast or batched.** A step runs while the store is closed to traffic; rewriting millions
  of rows belongs in a background job, not here.

How a store treats the version it finds on open: 0 (a new, empty database) gets every step;
``LATEST`` opens; an older version is refused with :class:`SchemaTooOld` (run
``dialoghub store migrate --store URL``, or open with ``migrate=True`` / ``?migrate=true``);
a newer one is refused with :class:`SchemaTooNew` (upgrade dialoghub). Nothing is written in
either refusal.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from dialoghub.errors import SchemaTooNew, SchemaTooOld

__all__ = ["Migratable", "SchemaTooNew", "SchemaTooOld", "Step", "check_steps"]


@dataclass(frozen=True, slots=True)
class Step:
    """One schema change: the version it brings the database to, and its statements.

    ``backfill``: what SQL alone cannot do for the rows already there (decoding snapshots),
    run after the statements in the same transaction, given the backend's connection."""

    version: int
    description: str
    statements: tuple[str, ...]
    backfill: Callable[[Any], Any] | None = None


@runtime_checkable
class Migratable(Protocol):
    """A store with a versioned schema: SQLite and PostgreSQL."""

    async def migrate(self) -> list[Step]:
        """Bring the schema to this code's version in place (store not open); steps run."""
        ...


def check_steps(steps: tuple[Step, ...]) -> int:
    """Assert steps are numbered 1, 2, 3, ...; return the latest version."""
    for i, step in enumerate(steps, start=1):
        if step.version != i:
            raise AssertionError(f"migration step {i} is numbered {step.version}")
    return len(steps)


def too_old(where: str, found: int, latest: int, url: str) -> SchemaTooOld:
    """The refusal of a database at an older schema version, saying what to run."""
    return SchemaTooOld(
        f"{where} has schema version {found}; this dialoghub needs version {latest}. "
        f"Back it up, then run: dialoghub store migrate --store '{url}' "
        "(or open it with Hub(..., migrate=True) or the URL option ?migrate=true)",
        schema_version=found,
        needed=latest,
    )


def too_new(where: str, found: int, latest: int, hint: str = "") -> SchemaTooNew:
    """The refusal of a database written by a newer dialoghub."""
    return SchemaTooNew(
        f"{where} has schema version {found}, written by a newer dialoghub (this one knows "
        f"version {latest}); upgrade dialoghub{hint}",
        schema_version=found,
        needed=latest,
    )
