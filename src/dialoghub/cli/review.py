"""``dialoghub review``: the terminal inbox of a human specialist.

``review list`` shows the rounds waiting for human answers (``--specialist`` for one's
own), ``review show SESSION`` the round's prompt, params, proposals and reasoning, and
``review propose`` / ``review vote`` / ``review override`` answer it. With ``--server URL
--api-key KEY`` it goes through the HTTP API (the key is recorded as who answered); without
one it opens the store itself and records the operating-system user.
"""

from __future__ import annotations

import getpass
import json
from typing import Any

import click
import msgspec

from dialoghub.cli.common import STORE_HELP, async_command, footer, server_options
from dialoghub.hub import DEFAULT_STORE

__all__ = ["review"]


def _local_by() -> dict[str, Any]:
    return {"cli_user": getpass.getuser()}


class _Local:
    """The review operations on a store (a Hub with the models of ``--models``)."""

    def __init__(self, store: str, models: tuple[str, ...], tenant: str) -> None:
        from dialoghub.hub import Hub

        self.hub = Hub(store)
        self.models = models
        self.tenant = tenant

    async def __aenter__(self) -> _Local:
        await self.hub.open()
        for path in self.models:
            self.hub.load_models(path)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.hub.close()

    async def inbox(self, **kw: Any) -> Any:
        from dialoghub.decision.inbox import inbox

        return await inbox(self.hub, tenant=self.tenant, **kw)

    async def round(self, session_id: str) -> Any:
        from dialoghub.decision.inbox import round_view

        return await round_view(self.hub, session_id, tenant=self.tenant)

    async def send(self, session_id: str, inp: Any) -> Any:
        return await self.hub.update(session_id, inp, tenant=self.tenant)


class _Remote:
    def __init__(self, server: str, api_key: str | None) -> None:
        from dialoghub.client import Client

        self.client = Client(server, api_key=api_key)

    async def __aenter__(self) -> _Remote:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.client.close()

    async def inbox(self, **kw: Any) -> Any:
        return await self.client.inbox(**kw)

    async def round(self, session_id: str) -> Any:
        return await self.client.round(session_id)

    async def send(self, session_id: str, inp: Any) -> Any:
        from dialoghub.engine.records import Override, Propose

        if isinstance(inp, Propose):
            assert inp.transition is not None
            return await self.client.propose(
                session_id,
                inp.round,
                inp.specialist,
                inp.transition,
                reasoning=inp.reasoning,
                params=inp.params,
            )
        if isinstance(inp, Override):
            return await self.client.override(
                session_id, inp.transition, reason=inp.reason, params=inp.params, round=inp.round
            )
        return await self.client.vote(
            session_id,
            inp.round,
            inp.specialist,
            [(v.a, v.b, v.vote) for v in inp.votes],
            reasoning=inp.reasoning,
        )


def _face(ctx: click.Context) -> Any:
    o = ctx.obj
    if o["server"]:
        return _Remote(o["server"], o["api_key"])
    return _Local(o["store"], o["models"], o["tenant"])


@click.group()
@click.option("--store", default=DEFAULT_STORE, show_default=True, help=STORE_HELP)
@click.option("--models", multiple=True, help="Model files or folders (for a store).")
@click.option("--tenant", default="default", show_default=True)
@server_options
@click.pass_context
def review(
    ctx: click.Context,
    store: str,
    models: tuple[str, ...],
    tenant: str,
    server: str | None,
    api_key: str | None,
) -> None:
    """A human specialist's inbox: list, show, propose, vote, override."""
    ctx.obj = {
        "store": store,
        "models": models,
        "tenant": tenant,
        "server": server,
        "api_key": api_key,
    }


@review.command("list")
@click.option("--model", help="Only rounds of this model.")
@click.option("--state", help="Only rounds of this state.")
@click.option("--specialist", help="Only rounds asking this specialist.")
@click.option("--limit", type=int, default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@async_command
async def list_command(
    ctx: click.Context,
    model: str | None,
    state: str | None,
    specialist: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """The rounds waiting for a human answer (or parked for an override)."""
    async with _face(ctx) as face:
        page = await face.inbox(model=model, state=state, specialist=specialist, limit=limit)
    if as_json:
        click.echo(msgspec.json.encode(page).decode())
        return
    if not page.items:
        click.echo("nothing waits for a human")
    for item in page.items:
        asked = ", ".join(item.waiting) or "(parked: needs an override)"
        click.echo(
            f"{item.session_id}\t{item.model_id}\t{item.state}\t{item.round}\t"
            f"{item.kind or item.phase}\t{asked}"
        )


@review.command("show")
@click.argument("session_id")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@async_command
async def show_command(ctx: click.Context, session_id: str, as_json: bool) -> None:
    """The open round: prompt, params, proposals with reasoning, who is asked."""
    async with _face(ctx) as face:
        rd = await face.round(session_id)
    if as_json:
        click.echo(msgspec.json.encode(rd).decode())
        return
    if rd.round is None:
        click.echo(f"no round is open ({rd.state})")
        return
    click.echo(f"round {rd.round} of {rd.session_id} ({rd.model_id}) in {rd.state}: {rd.phase}")
    click.echo(f"prompt: {rd.prompt}")
    click.echo(f"transitions: {', '.join(rd.transitions)}")
    click.echo(f"params: {json.dumps(rd.params)}")
    for p in rd.proposals:
        click.echo(f"  {p.id}  {p.transition:<20} by {p.specialist}: {p.reasoning}")
    for sid, w in rd.waiting.items():
        pairs = " ".join(f"{a}/{b}" for a, b in w.get("pairs", []))
        click.echo(f"  asked: {sid} ({w['kind']}{', human' if w['human'] else ''}) {pairs}")


@review.command("propose")
@click.argument("session_id")
@click.argument("transition")
@click.option("--as", "specialist", required=True, help="Your specialist id.")
@click.option("--reasoning", default="")
@click.option("--round", "round_id", help="The round (default: the open one).")
@click.pass_context
@async_command
async def propose_command(
    ctx: click.Context,
    session_id: str,
    transition: str,
    specialist: str,
    reasoning: str,
    round_id: str | None,
) -> None:
    """Propose TRANSITION for the open round."""
    from dialoghub.engine.records import Propose

    async with _face(ctx) as face:
        rid = round_id or (await face.round(session_id)).round or "-"
        view = await face.send(
            session_id,
            Propose(
                round=rid,
                specialist=specialist,
                transition=transition,
                reasoning=reasoning,
                by=_local_by(),
            ),
        )
    click.echo(footer(view))


@review.command("vote")
@click.argument("session_id")
@click.argument("votes", nargs=-1, required=True)
@click.option("--as", "specialist", required=True, help="Your specialist id.")
@click.option("--reasoning", default="")
@click.option("--round", "round_id", help="The round (default: the open one).")
@click.pass_context
@async_command
async def vote_command(
    ctx: click.Context,
    session_id: str,
    votes: tuple[str, ...],
    specialist: str,
    reasoning: str,
    round_id: str | None,
) -> None:
    """Vote on pairs: ``A/B=A``, ``A/C=both``, ``B/C=neither``."""
    from dialoghub.engine.records import PairVote, Vote

    pairs = []
    for item in votes:
        pair, _, choice = item.partition("=")
        a, _, b = pair.partition("/")
        if not (a and b and choice):
            raise click.UsageError(f"a vote is A/B=CHOICE, not {item!r}")
        pairs.append(PairVote(a=a, b=b, vote=choice))
    async with _face(ctx) as face:
        rid = round_id or (await face.round(session_id)).round or "-"
        view = await face.send(
            session_id,
            Vote(
                round=rid, specialist=specialist, votes=pairs, reasoning=reasoning, by=_local_by()
            ),
        )
    click.echo(footer(view))


@review.command("override")
@click.argument("session_id")
@click.argument("transition")
@click.option("--reason", default="")
@click.pass_context
@async_command
async def override_command(
    ctx: click.Context, session_id: str, transition: str, reason: str
) -> None:
    """Decide TRANSITION directly (a parked round, an urgent case)."""
    from dialoghub.engine.records import Override

    async with _face(ctx) as face:
        view = await face.send(
            session_id, Override(transition=transition, reason=reason, by=_local_by())
        )
    click.echo(footer(view))
