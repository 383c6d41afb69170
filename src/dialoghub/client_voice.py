"""The client's voice methods: a session's audio socket (``/v1/sessions/{id}/audio``).

``await client.audio(session_id)`` opens an :class:`AudioSocket`; on it :meth:`AudioSocket.asr`
streams one user turn (chunks of audio as they come: a file read in pieces, a microphone) and
returns a :class:`VoiceTurn` (the partial transcripts as they grew, the final result, and the
session's update with its next actions); :meth:`AudioSocket.transcribe` does the same for free
dictation; :meth:`AudioSocket.speak` yields a reply's audio as it is synthesised and
:meth:`AudioSocket.cancel` stops it (barge-in). :class:`VoiceMethods` is mixed into
:class:`dialoghub.client.Client`. This module imports no server library; the audio is sent as
given (the server converts rates, WAV and FLAC).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterable, AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import msgspec
from websockets.asyncio.client import ClientConnection, connect

from dialoghub.blocking import BlockingFace, blocking
from dialoghub.errors import APIError

__all__ = ["AudioSocket", "SyncAudioSocket", "SyncVoice", "VoiceMethods", "VoiceTurn", "chunked"]

_encode = msgspec.json.Encoder().encode


@dataclass
class VoiceTurn:
    """What one recognition stream gave: partials, the final result, the session's update."""

    partials: list[str] = field(default_factory=list)
    final: dict[str, Any] = field(default_factory=dict)
    update: dict[str, Any] | None = None  # None: the final timed out or was empty

    @property
    def text(self) -> str:
        """The final transcript."""
        return str(self.final.get("text", ""))

    @property
    def timed_out(self) -> bool:
        """True when no speech came within the silence timeout."""
        return bool(self.final.get("timed_out"))

    @property
    def actions(self) -> list[dict[str, Any]]:
        """The session's next actions (empty if the session was not updated)."""
        return list(self.update["actions"]) if self.update else []


def chunked(data: bytes, size: int = 3200) -> list[bytes]:
    """``data`` in chunks of ``size`` bytes (3200: 0.1 s of 16 kHz 16-bit audio)."""
    return [data[i : i + size] for i in range(0, len(data), size)]


def _refusal(msg: dict[str, Any]) -> APIError:
    return APIError(
        int(msg.get("status") or 400),
        str(msg.get("code")),
        str(msg.get("message")),
        dict(msg.get("details") or {}),
    )


class AudioSocket:
    """A session's open audio socket: one stream at a time."""

    def __init__(self, connection: ClientConnection) -> None:
        self._ws = connection
        self._ids = 0
        self.speaking = False

    async def _send(self, body: dict[str, Any]) -> None:
        await self._ws.send(_encode(body).decode())

    async def _next(self) -> dict[str, Any] | bytes:
        message = await self._ws.recv()
        if isinstance(message, bytes):
            return message
        decoded: dict[str, Any] = msgspec.json.decode(message)
        return decoded

    def _request_id(self) -> str:
        self._ids += 1
        return f"v{self._ids}"

    async def _stream(
        self, start: dict[str, Any], chunks: Iterable[bytes] | AsyncIterable[bytes], realtime: float
    ) -> VoiceTurn:
        request_id = self._request_id()
        await self._send({**start, "request_id": request_id})
        msg = await self._next()
        if isinstance(msg, dict) and msg.get("type") == "error":
            raise _refusal(msg)
        final_seen = asyncio.Event()

        async def sender() -> None:
            rate = float(start.get("sample_rate") or 16000)
            if isinstance(chunks, AsyncIterable):
                async for chunk in chunks:
                    if final_seen.is_set():
                        break
                    await self._ws.send(chunk)
                    await asyncio.sleep(0)
            else:
                for chunk in chunks:
                    if final_seen.is_set():
                        break
                    await self._ws.send(chunk)
                    # pace like a microphone (realtime=1.0: as fast as speech); else let the
                    # reader run between chunks: a send that does not block never yields,
                    # and the final or an error would wait behind the whole input
                    await asyncio.sleep(len(chunk) / (2 * rate) / realtime if realtime else 0)
            await self._send({"type": "end", "request_id": request_id})

        task = asyncio.create_task(sender())
        turn = VoiceTurn()
        try:
            while True:
                msg = await self._next()
                if isinstance(msg, bytes):
                    continue  # the tail of a cancelled reply
                kind = msg.get("type")
                if msg.get("request_id") not in (None, request_id):
                    continue
                if kind == "partial":
                    turn.partials.append(str(msg["text"]))
                elif kind == "final":
                    final_seen.set()
                    turn.final = msg
                    if msg.get("timed_out") or not msg.get("text"):
                        break
                elif kind == "update":
                    turn.update = msg
                    break
                elif kind == "error":
                    raise _refusal(msg)
            await task
        finally:
            if not task.done():
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
        return turn

    async def asr(
        self,
        chunks: Iterable[bytes] | AsyncIterable[bytes],
        *,
        encoding: str = "pcm16",
        sample_rate: int = 16000,
        token: str | None = None,
        expected_version: int | None = None,
        realtime: float = 0.0,
    ) -> VoiceTurn:
        """Stream one user turn; its final transcript updates the session (an ASR result)."""
        start: dict[str, Any] = {"type": "asr", "encoding": encoding, "sample_rate": sample_rate}
        if token is not None:
            start["token"] = token
        if expected_version is not None:
            start["expected_version"] = expected_version
        return await self._stream(start, chunks, realtime)

    async def transcribe(
        self,
        chunks: Iterable[bytes] | AsyncIterable[bytes],
        *,
        variable: str = "transcript",
        language: str = "general",
        end_phrase: str | None = None,
        encoding: str = "pcm16",
        sample_rate: int = 16000,
        realtime: float = 0.0,
    ) -> VoiceTurn:
        """Stream free dictation; its text is set into ``variable`` (the flow stays put)."""
        start: dict[str, Any] = {
            "type": "transcribe",
            "variable": variable,
            "language": language,
            "encoding": encoding,
            "sample_rate": sample_rate,
        }
        if end_phrase is not None:
            start["end_phrase"] = end_phrase
        return await self._stream(start, chunks, realtime)

    async def speak(
        self, text: str, *, sample_rate: int = 16000, voice: str | None = None
    ) -> AsyncIterator[bytes]:
        """The reply's audio (16-bit mono PCM at ``sample_rate``) as it is synthesised."""
        request_id = self._request_id()
        body: dict[str, Any] = {
            "type": "tts",
            "text": text,
            "sample_rate": sample_rate,
            "request_id": request_id,
        }
        if voice is not None:
            body["voice"] = voice
        await self._send(body)
        self.speaking = True
        try:
            while True:
                msg = await self._next()
                if isinstance(msg, bytes):
                    if self.speaking:
                        yield msg
                    continue
                kind = msg.get("type")
                if kind == "error":
                    raise _refusal(msg)
                if kind == "tts_end":
                    self.last_tts = msg
                    return
        finally:
            self.speaking = False

    async def speak_all(
        self, text: str, *, sample_rate: int = 16000, voice: str | None = None
    ) -> bytes:
        """The reply's whole audio."""
        out = bytearray()
        async for chunk in self.speak(text, sample_rate=sample_rate, voice=voice):
            out += chunk
        return bytes(out)

    async def cancel(self) -> None:
        """Stop the reply being spoken (the server stops synthesising and sending)."""
        self.speaking = False
        await self._send({"type": "cancel"})

    async def ping(self) -> dict[str, Any]:
        """A round trip: ``{"type": "pong"}``."""
        await self._send({"type": "ping"})
        while True:
            msg = await self._next()
            if isinstance(msg, dict) and msg.get("type") == "pong":
                return msg

    async def close(self) -> None:
        """Close the socket (the session goes on)."""
        await self._ws.close()

    async def __aenter__(self) -> AudioSocket:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class VoiceMethods:
    """The voice methods of :class:`dialoghub.client.Client` (a mixin: it needs the client's
    ``base_url`` and ``api_key``)."""

    base_url: str
    api_key: str | None

    async def audio(self, session_id: str) -> AudioSocket:
        """Open the session's audio socket."""
        url = self.base_url.replace("http", "ws", 1)
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        ws = await connect(
            f"{url}/v1/sessions/{quote(session_id, safe='')}/audio",
            additional_headers=headers,
            max_size=2**22,
        )
        return AudioSocket(ws)


class SyncAudioSocket(BlockingFace[AudioSocket]):
    """The blocking face of an :class:`AudioSocket`, on its client's loop thread."""

    def __init__(self, client: Any, socket: AudioSocket) -> None:
        super().__init__(lambda: socket, portal=client._portal)
        self._client = client

    asr = blocking(AudioSocket.asr)
    transcribe = blocking(AudioSocket.transcribe)
    speak_all = blocking(AudioSocket.speak_all)
    ping = blocking(AudioSocket.ping)

    def close(self) -> None:
        """Close the socket (the session goes on)."""
        super().close()


class SyncVoice(BlockingFace[Any]):
    """The blocking voice methods of :class:`dialoghub.client.SyncClient`."""

    audio = blocking(VoiceMethods.audio, wrap=SyncAudioSocket)
