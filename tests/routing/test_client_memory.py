"""Session memory and the connected clients through dialoghub.client (HTTP)."""

from __future__ import annotations

import pytest

from dialoghub.client import Client
from dialoghub.errors import APIError
from dialoghub.provider import RoutedClient
from tests.routing.conftest import serving


async def test_the_client_reads_and_changes_session_memory() -> None:
    async with serving() as served, Client(served.http) as client:
        await client.create_session(session_id="M")
        assert (await client.get_memory("M"))["memory"] == {}
        assert (await client.change_memory("M", "increment", "n", 2))["value"] == 2
        assert (await client.change_memory("M", "set", "lang", "fr"))["value"] == "fr"
        with pytest.raises(APIError) as refused:
            await client.change_memory("M", "set", "lang", "de", expected="en", check=True)
        assert refused.value.status == 422
        await client.change_memory("M", "delete", "lang")
        assert (await client.get_memory("M"))["memory"] == {"n": 2}
        with pytest.raises(APIError) as missing:
            await client.get_memory("nobody")
        assert missing.value.status == 404
        ui = await RoutedClient(served.url, name="gui", role="ui").connect()
        assert [c["name"] for c in await client.list_clients()] == ["gui"]
        await ui.close()
