"""``dialoghub decisions evaluate / weights``: score a candidate specialist by replaying the
recorded rounds of a store, and recompute the specialists' weights from agreement with the
humans. Nothing is run again but the candidate; nothing is written to the store.

A candidate is a Python callable (``--callable package.module:function``, sync or async,
the contract of :class:`dialoghub.decision.specialists.CallableSpecialist`), an LLM behind an
OpenAI-compatible endpoint (``--llm URL --llm-model NAME``), or a webhook (``--webhook
URL``).
"""

from __future__ import annotations

import importlib
import json
import time
from typing import Any

import click

from dialoghub.cli.common import STORE_HELP, async_command, existing_store
from dialoghub.hub import DEFAULT_STORE, Hub

__all__ = ["decisions"]


@click.group()
def decisions() -> None:
    """Measure specialists against the recorded decisions (evaluate, weights)."""


def _candidate(
    callable_ref: str | None,
    llm: str | None,
    llm_model: str,
    webhook: str | None,
    api_key_env: str | None,
) -> Any:
    chosen = [x for x in (callable_ref, llm, webhook) if x]
    if len(chosen) != 1:
        raise click.UsageError("name one candidate: --callable, --llm or --webhook")
    if callable_ref:
        module, _, name = callable_ref.partition(":")
        if not name:
            raise click.UsageError("--callable takes package.module:function")
        try:
            fn = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError) as exc:
            raise click.ClickException(f"cannot load {callable_ref}: {exc}") from None
        from dialoghub.decision.specialists import CallableSpecialist

        return CallableSpecialist(f"candidate:{name}", fn)
    from dialoghub.decision.llm import LLMSpecialist, WebhookSpecialist

    if llm:
        options = {"url": llm, "model": llm_model, "api_key_env": api_key_env}
        return LLMSpecialist.from_options(f"candidate:{llm_model}", options)
    assert webhook is not None
    return WebhookSpecialist.from_options("candidate:webhook", {"url": webhook})


def _filters(fn: Any) -> Any:
    for option in (
        click.option("--store", default=DEFAULT_STORE, show_default=True, help=STORE_HELP),
        click.option("--tenant", default="default", show_default=True),
        click.option("--model", "model_id", help="Only rounds of this model."),
        click.option("--state", help="Only rounds of this state."),
        click.option("--since", type=float, help="Only rounds opened at or after (epoch s)."),
        click.option("--until", type=float, help="Only rounds opened before (epoch s)."),
        click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table."),
    ):
        fn = option(fn)
    return fn


@decisions.command("evaluate")
@_filters
@click.option("--callable", "callable_ref", help="The candidate: package.module:function.")
@click.option("--llm", help="The candidate: an OpenAI-compatible base URL (…/v1).")
@click.option("--llm-model", default="gpt-4o-mini", show_default=True)
@click.option("--api-key-env", help="The environment variable holding the LLM's API key.")
@click.option("--webhook", help="The candidate: a URL answering solicitations.")
@async_command
async def evaluate_command(
    store: str,
    tenant: str,
    model_id: str | None,
    state: str | None,
    since: float | None,
    until: float | None,
    as_json: bool,
    callable_ref: str | None,
    llm: str | None,
    llm_model: str,
    api_key_env: str | None,
    webhook: str | None,
) -> None:
    """Replay a candidate over the recorded rounds: per-state agreement with the decided
    transition and with the humans, invalid answers, latency, cost."""
    from dialoghub.decision.evaluate import evaluate, recorded_rounds

    existing_store(store)
    candidate = _candidate(callable_ref, llm, llm_model, webhook, api_key_env)
    started = time.perf_counter()
    async with Hub(store) as hub:
        rounds = recorded_rounds(
            hub, tenant=tenant, model=model_id, state=state, since=since, until=until
        )
        report = await evaluate(candidate, rounds)
    if as_json:
        click.echo(
            json.dumps(
                {**report.as_dict(), "seconds": round(time.perf_counter() - started, 3)}, indent=2
            )
        )
        return
    for line in report.table():
        click.echo(line)


@decisions.command("weights")
@_filters
@click.option(
    "--scale",
    type=float,
    default=2.0,
    show_default=True,
    help="The weight of a specialist that always agrees with the humans.",
)
@async_command
async def weights_command(
    store: str,
    tenant: str,
    model_id: str | None,
    state: str | None,
    since: float | None,
    until: float | None,
    as_json: bool,
    scale: float,
) -> None:
    """Weights recomputed from each specialist's agreement with the human decisions."""
    from dialoghub.decision.evaluate import recompute_weights, recorded_rounds

    existing_store(store)
    async with Hub(store) as hub:
        rounds = [
            rd
            async for rd in recorded_rounds(
                hub, tenant=tenant, model=model_id, state=state, since=since, until=until
            )
        ]
    weights = recompute_weights(rounds, scale=scale)
    if as_json:
        click.echo(json.dumps({"rounds": len(rounds), "specialists": weights}, indent=2))
        return
    click.echo(f"{'specialist':<24} {'answers':>7} {'agree':>6} {'rate':>7} {'weight':>7}")
    for sid, w in weights.items():
        rate = "-" if w["agreement"] is None else f"{100 * w['agreement']:.1f}%"
        click.echo(f"{sid[:24]:<24} {w['answers']:>7} {w['agree']:>6} {rate:>7} {w['weight']:>7}")
