"""``dialoghub keys …``: create, list and revoke API keys; rotate the session-token secrets.

The key store (and the server modules it lives in) is imported only when a command runs.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import click

from dialoghub.cli.common import fail

__all__ = ["keys"]


@click.group()
def keys() -> None:
    """Create, list and revoke API keys (stored hashed next to the sessions)."""


def _keys_store_option(fn: Any) -> Any:
    return click.option(
        "--store",
        default=None,
        help="Session store URL (default: DIALOGHUB_STORE or the serve default).",
    )(fn)


def _store_url(store: str | None) -> str:
    from dialoghub.server.settings import load_settings

    settings = load_settings({"store": store})
    return settings.keys_store or settings.store


@keys.command("create")
@_keys_store_option
@click.option("--tenant", required=True, help="The tenant the key acts for.")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    default=("write",),
    show_default=True,
    type=click.Choice(["read", "write", "admin"]),
    help="Scope; repeatable. write implies read, admin implies write.",
)
@click.option("--name", default="", help="A note to recognise the key by.")
def keys_create(store: str | None, tenant: str, scopes: tuple[str, ...], name: str) -> None:
    """Create a key; the key itself is printed alone on the last line, once."""
    from dialoghub.server.auth import create_key
    from dialoghub.server.keystore import open_keystore

    async def run() -> tuple[str, Any]:
        ks = await open_keystore(_store_url(store))
        try:
            return await create_key(ks, tenant, scopes=scopes, name=name)
        finally:
            await ks.close()

    try:
        key, record = asyncio.run(run())
    except Exception as exc:
        raise fail(exc) from None
    click.echo(
        f"key {record.key_id} for tenant {record.tenant} "
        f"(scopes: {','.join(record.scopes)}); keep it secret, it is not shown again:",
        err=True,
    )
    click.echo(key)


@keys.command("list")
@_keys_store_option
@click.option("--tenant", help="Only keys of this tenant.")
def keys_list(store: str | None, tenant: str | None) -> None:
    """List keys (never their secrets)."""
    from dialoghub.server.keystore import open_keystore

    async def run() -> list[Any]:
        ks = await open_keystore(_store_url(store))
        try:
            return await ks.list_keys(tenant)
        finally:
            await ks.close()

    try:
        records = asyncio.run(run())
    except Exception as exc:
        raise fail(exc) from None
    for r in records:
        state = "revoked" if r.revoked else "live"
        created = time.strftime("%Y-%m-%d %H:%M", time.localtime(r.created_at))
        click.echo(f"{r.key_id}\t{r.tenant}\t{','.join(r.scopes)}\t{state}\t{created}\t{r.name}")


@keys.command("revoke")
@_keys_store_option
@click.argument("key_id")
def keys_revoke(store: str | None, key_id: str) -> None:
    """Revoke a key by its id; running servers refuse it within seconds."""
    from dialoghub.server.keystore import open_keystore

    async def run() -> bool:
        ks = await open_keystore(_store_url(store))
        try:
            return await ks.revoke_key(key_id, time.time())
        finally:
            await ks.close()

    try:
        done = asyncio.run(run())
    except Exception as exc:
        raise fail(exc) from None
    if not done:
        raise click.ClickException(f"no live key {key_id!r}")
    click.echo(f"revoked {key_id}")


@keys.command("rotate-token-key")
@_keys_store_option
def keys_rotate(store: str | None) -> None:
    """Add a new session-token secret in the verify state (accepted, not yet signing).

    Servers read the secrets when they start. Restart every server so all of them accept
    the new secret, then make it sign with 'activate-token-key KID'.
    """
    from dialoghub.server.keystore import open_keystore
    from dialoghub.server.tokens import Keyring

    async def run() -> str:
        ks = await open_keystore(_store_url(store))
        try:
            kid, secret = Keyring.new_secret()
            await ks.add_token_secret(kid, secret, time.time())
            return kid
        finally:
            await ks.close()

    try:
        kid = asyncio.run(run())
    except Exception as exc:
        raise fail(exc) from None
    click.echo(
        f"new token key {kid} (verify only); restart every server, then run "
        f"'dialoghub keys activate-token-key {kid}'"
    )


def _token_key_change(store: str | None, kid: str, change: str) -> bool:
    from dialoghub.server.keystore import open_keystore

    async def run() -> bool:
        ks = await open_keystore(_store_url(store))
        try:
            done: bool = await getattr(ks, f"{change}_token_secret")(kid)
            return done
        finally:
            await ks.close()

    try:
        return asyncio.run(run())
    except Exception as exc:
        raise fail(exc) from None


@keys.command("activate-token-key")
@_keys_store_option
@click.argument("kid")
def keys_activate(store: str | None, kid: str) -> None:
    """Make a verify-state token secret sign; the one signing now goes back to verify.

    Restart the servers to sign with it (they all accept it already).
    """
    if not _token_key_change(store, kid, "activate"):
        raise click.ClickException(f"no token key {kid!r} in the verify state")
    click.echo(f"token key {kid} is active; restart the servers to sign with it")


@keys.command("retire-token-key")
@_keys_store_option
@click.argument("kid")
def keys_retire(store: str | None, kid: str) -> None:
    """Retire an old (verify-state) token secret: the tokens it signed stop working.

    The active secret cannot be retired: activate another one first.
    """
    if not _token_key_change(store, kid, "retire"):
        raise click.ClickException(
            f"no token key {kid!r} in the verify state (the active one cannot be retired)"
        )
    click.echo(f"token key {kid} is retired; restart the servers to refuse its tokens")


@keys.command("token-keys")
@_keys_store_option
def keys_token_keys(store: str | None) -> None:
    """List the session-token secrets (never the secrets themselves): kid, state, created."""
    from dialoghub.server.keystore import open_keystore

    async def run() -> list[Any]:
        ks = await open_keystore(_store_url(store))
        try:
            return list(await ks.token_secrets())
        finally:
            await ks.close()

    try:
        records = asyncio.run(run())
    except Exception as exc:
        raise fail(exc) from None
    for r in records:
        created = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(r.created_at))
        click.echo(f"{r.kid}  {r.state:<8}  {created}")
