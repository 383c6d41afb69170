"""The Python client against a real server on a socket (uvicorn in a thread)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dialoghub.client import APIError, Client, SyncClient
from tests.server.conftest import Keys


async def test_the_async_client_runs_a_round_and_follows_it(
    server: tuple[str, Keys], tmp_path: Path
) -> None:
    url, keys = server
    upload = tmp_path / "data.csv"
    upload.write_text("1,2")
    async with Client(url, api_key=keys.write) as client:
        rnd = await client.run_message("c1", "weather in Paris")
        assert rnd["status"] == "finished" and rnd["reply"] == "Paris: sunny (lookup 1)"
        assert rnd["events"][0]["type"] == "round_start"
        assert rnd["events"][-1]["type"] == "round_end"
        files = await client.run_message(
            "c1",
            "files?",
            files=[
                {"name": "data.csv", "path": str(upload)},
                {"name": "b.bin", "content": b"\x00"},
            ],
        )
        assert files["reply"] == "files: data.csv, b.bin"
        assert [r["id"] for r in await client.list_rounds("c1")] == [rnd["id"], files["id"]]
        # resuming the stream from a seq gets exactly what came after it
        cut = rnd["events"][3]["seq"]
        again = []
        async for event in client.round_events("c1", after=cut, until_round_end=rnd["id"]):
            again.append(event)
        assert again == rnd["events"][4:]
        assert await client.cancel_round("c1", rnd["id"]) is False
        with pytest.raises(APIError) as err:
            await client.send_message("c1", "")
        assert err.value.status == 400
        with pytest.raises(APIError) as err:
            await client.get_round("c1", "nope")
        assert err.value.code == "round_not_found"
        with pytest.raises(APIError):
            async for _ in client.round_events("nobody"):
                pass


def test_the_sync_client(server: tuple[str, Keys]) -> None:
    url, keys = server
    with SyncClient(url, api_key=keys.write) as client:
        accepted = client.send_message("c2", "weather in Rome")
        assert accepted["created"] is True
        rnd: Any = client.run_message("c2", "last")
        assert rnd["reply"] == "last city: Rome"
        assert len(client.list_rounds("c2")) == 2
        events = list(client.round_events("c2", until_round_end=rnd["id"]))
        assert (
            events[-1]["type"] == "round_end" and events[-1]["data"]["reply"] == "last city: Rome"
        )
