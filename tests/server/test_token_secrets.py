"""Token secrets shared by server processes: created once however many servers start together
(on a fresh PostgreSQL schema, a fresh Redis prefix, a new SQLite file), rotated in phases
(verify -> active -> verify -> retired), retired from the CLI, configured ones of 32+ bytes;
and reference tokens that name their session's incarnation."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from dialoghub.engine.records import Session
from dialoghub.server.app import keyring_for
from dialoghub.server.keystore import KeyStore, open_keystore
from dialoghub.server.settings import Settings, SettingsError, load_settings
from dialoghub.server.tokens import InvalidToken, Keyring, keyring_from_store, parse_keys
from tests.server.conftest import Keys
from tests.stores.conftest import BACKENDS

ROOT = Path(__file__).resolve().parents[2]
S = Session(id="s", tenant="t", model_id="m", model_version="1", unit="main", state="a",
            version=3, created_at=100.0)

# One server's start, as far as its token secrets go: open the key store of the URL read
# from stdin (after a line "go", so the two processes start together) and print the kid
# of the secret it signs with.
_STARTER = textwrap.dedent("""
    import asyncio, sys
    from dialoghub.server.app import keyring_for
    from dialoghub.server.keystore import open_keystore
    from dialoghub.server.settings import Settings

    async def start(url):
        ks = await open_keystore(url)
        try:
            ring = await keyring_for(Settings(store=url), ks)
            return ring.current
        finally:
            await ks.close()

    for line in sys.stdin:
        url = line.strip()
        try:
            print(asyncio.run(start(url)), flush=True)
        except Exception as exc:
            print("error", type(exc).__name__, str(exc).replace(chr(10), " "), flush=True)
""")


@pytest.mark.parametrize("backend", ["sqlite", "postgres", "redis"])
async def test_servers_starting_together_share_one_secret(
    backend: str, tmp_path: Path
) -> None:
    """Two processes race to create the secret of a fresh store, eight times: every time
    both sign with the same secret and the store holds exactly one."""
    rounds = []
    for i in range(8):
        (tmp_path / str(i)).mkdir()
        rounds.append(BACKENDS[backend](tmp_path / str(i)))
    procs = [subprocess.Popen([sys.executable, "-c", _STARTER], cwd=ROOT, text=True,  # noqa: ASYNC220
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE)
             for _ in range(2)]
    try:
        for url, cleanup in rounds:
            for p in procs:  # both read the line at once: the starts overlap
                assert p.stdin is not None
                p.stdin.write(url + "\n")
                p.stdin.flush()
            kids = []
            for p in procs:
                assert p.stdout is not None
                kids.append(await asyncio.to_thread(p.stdout.readline))
            assert not any(k.startswith("error") for k in kids), kids
            assert kids[0] == kids[1], f"{backend}: two secrets {kids}"
            ks = await open_keystore(url)
            try:
                stored = await ks.token_secrets()
            finally:
                await ks.close()
            assert [(s.kid, s.state) for s in stored] == [(kids[0].strip(), "active")]
            await cleanup()
    finally:
        for p in procs:
            assert p.stdin is not None
            p.stdin.close()
            p.wait(timeout=60)


@pytest.mark.parametrize("backend", ["memory", "sqlite", "postgres", "redis"])
async def test_concurrent_creation_in_one_process(backend: str, tmp_path: Path) -> None:
    """Many key stores (separate connections) of one store creating at once: one secret."""
    url, cleanup = BACKENDS[backend](tmp_path)
    try:
        stores = [await open_keystore(url) for _ in range(1 if backend == "memory" else 4)]
        try:
            rings = await asyncio.gather(
                *(keyring_from_store(ks) for ks in stores for _ in range(3))
            )
            assert len({r.current for r in rings}) == 1
            assert len(await stores[0].token_secrets()) == 1
        finally:
            for ks in stores:
                await ks.close()
    finally:
        await cleanup()


@pytest.fixture(params=["memory", "sqlite", "postgres", "redis"])
async def secret_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[KeyStore]:
    url, cleanup = BACKENDS[request.param](tmp_path)
    store = await open_keystore(url)
    try:
        yield store
    finally:
        await store.close()
        await cleanup()


async def test_rotation_phases(secret_store: KeyStore) -> None:
    """A new secret verifies before it signs; the old one verifies until it is retired."""
    first = await keyring_from_store(secret_store)
    a = first.current
    old_token = first.reference(S)

    await secret_store.add_token_secret("b", b"\x01" * 32, 1e10)  # phase 1: verify only
    states = {s.kid: s.state for s in await secret_store.token_secrets()}
    assert states == {a: "active", "b": "verify"}
    verifying = await keyring_from_store(secret_store)
    assert verifying.current == a  # still signs with the old secret
    assert verifying.reference(S).split(".")[1] == a

    assert not await secret_store.activate_token_secret("missing")
    assert await secret_store.activate_token_secret("b")  # phase 2: b signs
    assert not await secret_store.activate_token_secret("b")  # already active
    assert {s.kid: s.state for s in await secret_store.token_secrets()} == {
        a: "verify", "b": "active"}
    active = await keyring_from_store(secret_store)
    assert active.current == "b"
    new_token = active.reference(S)
    assert new_token.split(".")[1] == "b"
    # A server still on the verify-phase ring accepts the new secret's tokens, and the
    # new ring accepts the old secret's.
    assert verifying.read_reference(new_token).version == 3
    assert active.read_reference(old_token).version == 3
    assert first.current == a  # (a server that never reloaded still signs with a: valid)


async def test_retirement(secret_store: KeyStore) -> None:
    """Retiring the old secret refuses its tokens; the active one cannot be retired."""
    first = await keyring_from_store(secret_store)
    a = first.current
    old_token = first.reference(S)
    await secret_store.add_token_secret("b", b"\x02" * 32, 1e10)
    assert not await secret_store.retire_token_secret(a)  # the active one
    assert await secret_store.activate_token_secret("b")
    assert await secret_store.retire_token_secret(a)
    assert not await secret_store.retire_token_secret(a)  # already retired
    assert not await secret_store.activate_token_secret(a)  # a retired secret stays retired
    ring = await keyring_from_store(secret_store)
    assert ring.kids == ["b"]
    with pytest.raises(InvalidToken):
        ring.read_reference(old_token)
    assert ring.read_reference(ring.reference(S)).session_id == "s"
    assert {s.kid: s.state for s in await secret_store.token_secrets()} == {
        a: "retired", "b": "active"}


def test_rotation_from_the_command_line(tmp_path: Path) -> None:
    """dialoghub keys rotate-token-key / activate-token-key / retire-token-key."""
    from dialoghub.cli.keys import keys

    url = f"sqlite:///{tmp_path / 'k.db'}"

    async def states() -> dict[str, str]:
        ks = await open_keystore(url)
        try:
            if not await ks.token_secrets():
                await keyring_from_store(ks)
            return {s.kid: s.state for s in await ks.token_secrets()}
        finally:
            await ks.close()

    [old] = asyncio.run(states())
    runner = CliRunner()
    out = runner.invoke(keys, ["rotate-token-key", "--store", url])
    assert out.exit_code == 0, out.output
    new = next(k for k in asyncio.run(states()) if k != old)
    assert asyncio.run(states()) == {old: "active", new: "verify"}
    refused = runner.invoke(keys, ["retire-token-key", "--store", url, old])
    assert refused.exit_code != 0 and "active one cannot be retired" in refused.output
    assert runner.invoke(keys, ["activate-token-key", "--store", url, new]).exit_code == 0
    done = runner.invoke(keys, ["retire-token-key", "--store", url, old])
    assert done.exit_code == 0, done.output
    assert asyncio.run(states()) == {old: "retired", new: "active"}
    listed = runner.invoke(keys, ["token-keys", "--store", url])
    assert f"{new}  active" in listed.output and f"{old}  retired" in listed.output
    missing = runner.invoke(keys, ["activate-token-key", "--store", url, "nope"])
    assert missing.exit_code != 0 and "no token key 'nope'" in missing.output


def test_short_configured_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="31 bytes, shorter than the 32 bytes required"):
        parse_keys(("k1:" + "x" * 31,))
    assert parse_keys(("k1:" + "x" * 32,)) == [("k1", b"x" * 32)]
    with pytest.raises(SettingsError, match="shorter than the 32 bytes"):
        load_settings({"token_keys": "k1:short-secret-of-24-chars"}, env={})
    with pytest.raises(SettingsError, match="shorter than the 32 bytes"):
        load_settings(env={"DIALOGHUB_TOKEN_KEYS": "k1:" + "é" * 15})  # 30 bytes
    settings = Settings(token_keys=("k1:" + "x" * 20,))  # built without load_settings

    async def build() -> Keyring:
        return await keyring_for(settings, None)

    with pytest.raises(ValueError, match="shorter than the 32 bytes"):
        asyncio.run(build())


def test_token_names_the_incarnation() -> None:
    ring = Keyring([("k", b"z" * 32)])
    token = ring.reference(S)
    assert ring.read_reference(token).created_at == 100.0
    reborn = Session(id="s", tenant="t", model_id="m", model_version="1", unit="main",
                     state="a", version=3, created_at=200.0)
    with pytest.raises(InvalidToken, match="deleted session"):
        ring.check_reference(token, tenant="t", session=reborn)
    ring.check_reference(token, tenant="t", session=S)
    r1 = "r1." + token.split(".", 1)[1]
    with pytest.raises(InvalidToken):
        ring.read_reference(r1)


def test_token_of_a_deleted_session_fails_on_its_successor(
    client: TestClient, keys: Keys
) -> None:
    """Delete s1, create s1 again: the old incarnation's token is 401 and changes nothing,
    the new one's token works."""
    def create() -> str:
        r = client.post("/v1/sessions", json={"model_id": "weather", "session_id": "s1"},
                        headers=keys.h())
        assert r.status_code == 201, r.text
        token: str = r.json()["token"]
        return token

    old = create()
    assert client.delete("/v1/sessions/s1", headers=keys.h()).status_code == 204
    new = create()
    before = client.get("/v1/sessions/s1", headers=keys.h()).json()
    text = {"type": "text", "text": "what's the weather in Paris"}
    r = client.post("/v1/sessions/s1/inputs", json={"input": text, "token": old},
                    headers=keys.h())
    assert r.status_code == 401, r.text
    assert r.json()["code"] == "invalid_token" and "deleted session" in r.json()["message"]
    assert client.get("/v1/sessions/s1", headers=keys.h()).json() == before
    ok = client.post("/v1/sessions/s1/inputs", json={"input": text, "token": new},
                     headers=keys.h())
    assert ok.status_code == 200, ok.text
