"""A TCP proxy the tests can cut: what a network drop between client and server looks like."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


class Proxy:
    """Forwards 127.0.0.1:``port`` to ``target``.

    ``cut_when(predicate, keep=fraction)`` arms a cut: the first client->server chunk for which
    ``predicate(chunk)`` is true is forwarded only up to ``fraction`` of its bytes, then every
    connection is aborted at once (both sides see a reset, the server a half-sent message).
    """

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self.cuts = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._armed: tuple[Callable[[bytes], bool], float] | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        self.cut_all()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def cut_when(self, predicate: Callable[[bytes], bool], keep: float) -> None:
        self._armed = (predicate, keep)

    def cut_all(self) -> None:
        for w in list(self._writers):
            w.transport.abort()
        self._writers.clear()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        self._writers |= {writer, up_writer}
        await asyncio.gather(
            self._pipe(reader, up_writer, upstream=True),
            self._pipe(up_reader, writer, upstream=False),
            return_exceptions=True,
        )

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, upstream: bool
    ) -> None:
        try:
            while data := await reader.read(65536):
                armed = self._armed
                if upstream and armed is not None and armed[0](data):
                    self._armed = None
                    writer.write(data[: int(len(data) * armed[1])])
                    await writer.drain()
                    self.cuts += 1
                    self.cut_all()
                    return
                writer.write(data)
                await writer.drain()
        finally:
            writer.transport.abort()
