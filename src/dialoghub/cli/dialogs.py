"""Working with dialog models: ``dialoghub chat``, ``dialoghub validate``, ``dialoghub diagram``.

Every command reports a refused input or an invalid model as one clear message and a
non-zero exit status, never a traceback.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from dialoghub.agent import load_plugins
from dialoghub.cli.chat import ChatLoop
from dialoghub.cli.common import run, server_options, show
from dialoghub.cli.remote import remote_chat
from dialoghub.errors import DialoghubError, ModelValidationError
from dialoghub.hub import Hub
from dialoghub.model.loader import load_models

__all__ = ["chat", "diagram", "validate"]


# --- chat ---------------------------------------------------------------------------------


@click.command()
@click.argument("model")
@click.option("--plugins", help="Python file or module whose functions answer commands.")
@click.option(
    "--store",
    default="memory://",
    show_default=True,
    help="Where sessions live (memory://: gone when the chat ends); "
    "sqlite:///file.db, json:///file.json, postgresql://…, redis://…",
)
@click.option("--session", "session_id", help="Resume (or create) the session with this id.")
@click.option(
    "--tenant", default="default", show_default=True, help="The tenant of the session (on a store)."
)
@server_options
def chat(
    model: str,
    plugins: str | None,
    store: str,
    session_id: str | None,
    tenant: str,
    server: str | None,
    api_key: str | None,
) -> None:
    """Talk to MODEL (a model file or folder; with --server, a model id) in the terminal.

    Slash commands: /event NAME [json], /state, /vars, /events [N], /reset, /help, /quit
    (also at a command's outputs prompt, where /error MESSAGE answers it with an error).
    Prompt timeouts fire while you think, as on a server."""
    if server is not None:
        remote_chat(server, api_key, model, session_id, plugins=plugins)
        return
    if not os.path.exists(model):
        raise click.BadParameter(f"path {model!r} does not exist", param_hint="MODEL")
    run(_chat(model, plugins, store, session_id, tenant))


class _HubBackend:
    """The chat's backend on a store (see :class:`.chat.Backend`)."""

    def __init__(self, hub: Hub, model_id: str, tenant: str) -> None:
        self.hub, self.model_id, self.tenant = hub, model_id, tenant

    async def create(self, session_id: str | None) -> Any:
        return await self.hub.create_session(
            self.model_id, session_id=session_id, tenant=self.tenant
        )

    async def update(self, session_id: str, inp: Any) -> Any:
        return await self.hub.update(session_id, inp, tenant=self.tenant)

    async def session(self, session_id: str) -> Any:
        return await self.hub.get_session(session_id, tenant=self.tenant)

    async def events(self, session_id: str, after: int, limit: int) -> list[Any]:
        return await self.hub.events(session_id, after=after, limit=limit, tenant=self.tenant)


async def _chat(
    model: str, plugins: str | None, store: str, session_id: str | None, tenant: str
) -> None:
    commands = load_plugins(plugins) if plugins else {}
    # The timer service runs while the chat does: a question that times out is asked again.
    async with Hub(store, timers=True) as hub:
        models = hub.load_models(model)
        loop = ChatLoop(_HubBackend(hub, models[0].id, tenant), commands)

        def timed(view: Any) -> None:  # an update the timer service made: print it
            if view.id == loop.sid and any(
                e.type in ("timeout_fired", "session_expired") for e in view.events
            ):
                click.echo()
                show(view, click.echo)
                if not view.ended:  # the person is still at the prompt: show it again
                    click.echo(click.style("you> ", fg="cyan"), nl=False)

        unwatch = hub.watch(timed)
        try:
            await loop.run(session_id, store)
        finally:
            unwatch()


# --- validate -----------------------------------------------------------------------------


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option(
    "--against",
    "old",
    type=click.Path(exists=True),
    help="The deployed version (file or folder): report changes that break its sessions.",
)
@click.option("--store", help="With --against: count the active sessions each change hits.")
def validate(paths: tuple[str, ...], old: str | None, store: str | None) -> None:
    """Check model files or folders; print every problem as file:line:column: message.

    Warnings (a reply that shows an optional slot bare, ...) are printed the same way with
    "[warning]"; they do not fail the check.

    With --against OLD, also compare each model with the model of the same id in OLD, and
    fail when sessions could be waiting in a state that is removed or renamed, or rely on an
    intent, command or output that is gone. With --store, only states where active sessions
    are actually waiting count as breaking.
    """
    failed = False
    loaded = []
    for path in paths:
        try:
            models = load_models(path)
        except ModelValidationError as exc:
            failed = True
            for problem in exc.problems:
                click.echo(str(problem), err=True)
            continue
        for m in models:
            notes = f", {len(m.warnings)} warning{'s' if len(m.warnings) != 1 else ''}"
            click.echo(
                f"{m.source}: ok ({m.id} v{m.version}, {len(m.states)} states"
                f"{notes if m.warnings else ''})"
            )
            for warning in m.warnings:  # the model loads: these only say what may read badly
                click.echo(f"{warning} [warning]", err=True)
        loaded.extend(models)
    if store is not None and old is None:
        raise click.UsageError("--store needs --against")
    if old is not None and _breaks(old, loaded, store):
        failed = True
    if failed:
        sys.exit(1)


def _breaks(old_path: str, models: list[Any], store: str | None) -> bool:
    """Print the changes from the models in OLD to ``models``; True if one breaks sessions."""
    from dialoghub.hub.compat import count_waiting
    from dialoghub.model.compat import compare

    try:
        old = {m.id: m for m in load_models(old_path)}
    except ModelValidationError as exc:
        raise click.ClickException(f"the old version ({old_path}) does not load:\n{exc}") from None

    async def counted(model_id: str, changes: list[Any]) -> list[Any]:
        assert store is not None
        async with Hub(store) as hub:
            return await count_waiting(hub, model_id, changes)

    broken = False
    for model in models:
        before = old.get(model.id)
        if before is None:
            click.echo(f"{model.source}: model {model.id!r} is new (not in {old_path})")
            continue
        changes = compare(before, model)
        if store is not None:
            changes = run(counted(model.id, changes))
        label = f"{model.source}: against {before.source} (v{before.version} -> v{model.version})"
        click.echo(f"{label}: " + ("no changes that matter to sessions" if not changes else ""))
        for change in changes:
            click.echo(f"  {change}", err=change.breaking)
        broken = broken or any(c.breaking for c in changes)
    return broken


# --- diagram ------------------------------------------------------------------------------


@click.command()
@click.argument("model", type=click.Path(exists=True))
@click.option("-o", "--output", type=click.Path(), help="Write to this file (default: stdout).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["mermaid", "svg", "dot"]),
    help="Default: svg for an .svg output file, else mermaid.",
)
def diagram(model: str, output: str | None, fmt: str | None) -> None:
    """Draw MODEL: states, transitions, waits and commands, as Mermaid or SVG (Graphviz)."""
    from dialoghub.model.diagram import to_dot, to_mermaid, to_svg

    try:
        models = load_models(model)
    except ModelValidationError as exc:
        raise click.ClickException(str(exc)) from None
    if fmt is None:
        fmt = "svg" if output and output.endswith(".svg") else "mermaid"
    if fmt != "mermaid" and len(models) > 1:
        raise click.ClickException(f"{model} holds {len(models)} models; draw one file at a time")
    draw = {"mermaid": to_mermaid, "svg": to_svg, "dot": to_dot}[fmt]
    try:
        text = "\n".join(draw(m) for m in models)
    except DialoghubError as exc:
        raise click.ClickException(str(exc)) from None
    if output is None:
        click.echo(text, nl=False)
    else:
        with open(output, "w", encoding="utf-8") as f:
            f.write(text)
        click.echo(f"wrote {output}", err=True)
