"""``/v1/sessions/{id}/audio``: a session's voice over one WebSocket (ASR, transcribe, TTS).

Protocol (JSON text frames for control, binary frames for audio; docs/voice.md has examples):

- connect with ``Authorization: Bearer KEY`` (or ``?access_token=KEY``); the key needs
  ``write``;
- ``{"type": "asr", "encoding": "pcm16"|"wav"|"flac", "sample_rate": 16000,
  "request_id": ..., "token": ..., "expected_version": n}`` opens one user turn; audio follows
  as binary frames (whole 16-bit samples each); the server answers ``{"type": "partial",
  "text"}`` as the user speaks and one ``{"type": "final", "text", "confidence",
  "timed_out"}`` when the endpointer hears the end of speech, the client sends
  ``{"type": "end"}``, or no speech came within the silence timeout. A final with text
  updates the session as an ``asr`` input and the update comes back on this socket
  (``{"type": "update", "session", "actions", "events", "token"}``); a timed-out final
  changes nothing. Audio the client sends after the final is dropped until its ``end``;
- ``{"type": "transcribe", "variable": "transcript", "language": "general"|"model",
  "end_phrase": ...}`` opens free dictation: partials carry the whole text so far, the final
  comes when the client ends it, after the silence timeout, or on the end phrase, and its
  text is set into ``variable`` (a ``set_variables`` update, which does not move the flow);
- ``{"type": "tts", "text": ..., "sample_rate": 16000, "voice": ...}`` streams the reply's
  audio: ``{"type": "tts_start", "sample_rate"}``, binary chunks, then ``{"type": "tts_end",
  "bytes": n, "cancelled": false}``; ``{"type": "cancel"}`` stops it at once (barge-in), and
  the socket can open an ASR stream right away;
- ``{"type": "ping"}`` gets ``{"type": "pong"}``.

Every refusal (bad audio, a frame out of place, a stream over its bounds, an input the
session refuses) is ``{"type": "error", "request_id", "code", "message", "details"}`` in the
one error shape; the stream it belongs to is over, the socket stays open, and the session is
unchanged. Close codes as on the session socket: 4401, 4403, 4404.

Recognition and synthesis run on the :class:`~dialoghub.voice.service.Voice`'s worker
threads and subprocesses: this module only moves frames, so sockets of many sessions stream
at once without holding up the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from typing import Any

import msgspec
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from dialoghub.engine.records import ASR, Session, SetVariables
from dialoghub.errors import AudioInvalid, DialoghubError
from dialoghub.server.auth import Principal
from dialoghub.server.endpoint import service_of
from dialoghub.server.errors import error_body, status_of
from dialoghub.server.service import Service
from dialoghub.voice.audio import AudioFormat
from dialoghub.voice.service import Voice
from dialoghub.voice.streams import AsrStream, Final, Partial, TranscribeStream

__all__ = ["PATH", "Control", "routes", "voice_of"]

PATH = "/v1/sessions/{session_id}/audio"

_encode = msgspec.json.Encoder().encode
_VOICES: weakref.WeakKeyDictionary[Service, Voice] = weakref.WeakKeyDictionary()


def voice_of(service: Service) -> Voice:
    """The app's :class:`Voice` (made on first use: a server never streaming audio needs no
    speech engine)."""
    voice = _VOICES.get(service)
    if voice is None:
        voice = _VOICES[service] = Voice()
    return voice


class Control(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A text frame from the client."""

    type: str
    request_id: str | None = None
    encoding: str = "pcm16"
    sample_rate: int = 16000
    token: str | None = None
    expected_version: int | None = None
    variable: str = "transcript"
    language: str = "general"
    end_phrase: str | None = None
    text: str | None = None
    voice: str | None = None


_control = msgspec.json.Decoder(Control)


async def _send_json(ws: WebSocket, body: dict[str, Any]) -> None:
    await ws.send_text(_encode(body).decode())


async def _send_error(ws: WebSocket, exc: BaseException, request_id: str | None) -> None:
    body = msgspec.to_builtins(error_body(exc))
    await _send_json(
        ws, {"type": "error", "request_id": request_id, "status": status_of(exc), **body}
    )


class _Socket:
    """One audio socket: at most one recognition stream and one TTS stream at a time."""

    def __init__(self, ws: WebSocket, service: Service, principal: Principal, sid: str):
        self.ws, self.service, self.principal, self.sid = ws, service, principal, sid
        self.voice = voice_of(service)
        self.stream: AsrStream | TranscribeStream | None = None
        self.control: Control | None = None
        self.finished = False  # the stream gave its final; audio is dropped until "end"
        self.tts: asyncio.Task[None] | None = None
        self.send_lock = asyncio.Lock()
        self.session: Session | None = None

    async def send(self, body: dict[str, Any]) -> None:
        async with self.send_lock:
            await _send_json(self.ws, body)

    async def error(self, exc: BaseException, request_id: str | None) -> None:
        async with self.send_lock:
            await _send_error(self.ws, exc, request_id)

    # --- frames ---------------------------------------------------------------------------

    async def text_frame(self, data: str) -> None:
        request_id = None
        try:
            try:
                msg = _control.decode(data)
            except msgspec.DecodeError as exc:
                raise AudioInvalid(
                    f"a control frame is a JSON object of the voice protocol: {exc}"
                ) from None
            request_id = msg.request_id
            await self.dispatch(msg)
        except Exception as exc:
            # A refused frame ends the stream it belongs to; audio the client had already
            # sent for it is dropped until its next control frame.
            self.stream, self.finished = None, True
            await self.error(exc, request_id)

    async def dispatch(self, msg: Control) -> None:
        kind = msg.type
        if kind == "ping":
            await self.send({"type": "pong", "request_id": msg.request_id})
        elif kind in ("asr", "transcribe"):
            await self.open(msg)
        elif kind == "end":
            await self.end()
        elif kind == "tts":
            await self.speak(msg)
        elif kind == "cancel":
            await self.cancel_tts()
        else:
            raise AudioInvalid(
                f"unknown frame type {kind!r}; the voice protocol has asr, "
                "transcribe, end, tts, cancel, ping",
                type=kind,
            )

    async def open(self, msg: Control) -> None:
        self.principal.require("write")
        await self.service.limiter.take(self.principal.key_id)
        fmt = AudioFormat(msg.encoding, msg.sample_rate).check()
        session = await self.service.hub.get_session(self.sid, tenant=self.principal.tenant)
        model = self.service.hub.model(session.model_id)
        self.stream, self.finished, self.control = None, False, msg
        if msg.type == "asr":
            self.stream = await self.voice.asr(model, session, fmt)
        else:
            if not msg.variable or "." in msg.variable:
                raise AudioInvalid(
                    f"{msg.variable!r} is not a variable name", variable=msg.variable
                )
            if msg.language not in ("general", "model"):
                raise AudioInvalid("language is 'general' or 'model'", language=msg.language)
            self.stream = await self.voice.transcribe(
                model, session, fmt, language=msg.language, end_phrase=msg.end_phrase
            )
        self.session = session
        await self.send({"type": "started", "stream": msg.type, "request_id": msg.request_id})

    async def audio_frame(self, data: bytes) -> None:
        stream = self.stream
        if stream is None:
            if self.finished:
                return  # the tail of a turn already recognised
            await self.error(
                AudioInvalid(
                    "audio before a stream: send {'type': 'asr'} or {'type': 'transcribe'} first"
                ),
                None,
            )
            return
        request_id = self.control.request_id if self.control else None
        try:
            results = await self.voice.feed(stream, data)
        except Exception as exc:
            # The stream is over: the rest of its audio (still in flight) is dropped until
            # the client's next control frame, with this one error, not one per frame.
            self.stream, self.finished = None, True
            await self.error(exc, request_id)
            return
        for r in results:
            if isinstance(r, Partial):
                await self.send({"type": "partial", "text": r.text, "request_id": request_id})
            elif isinstance(r, Final):
                await self.conclude()
                return

    async def end(self) -> None:
        if self.stream is not None:
            await self.conclude()
        self.finished = False

    async def conclude(self) -> None:
        """Send the stream's final result and give it to the session."""
        stream, msg = self.stream, self.control
        assert stream is not None and msg is not None
        self.stream, self.finished = None, True
        request_id = msg.request_id
        try:
            final = await self.voice.end(stream, self.session)
            assert isinstance(final, Final)
            await self.send(
                {
                    "type": "final",
                    "text": final.text,
                    "confidence": final.confidence,
                    "timed_out": final.timed_out,
                    "request_id": request_id,
                }
            )
            if final.timed_out or not final.text:
                return
            if msg.type == "asr":
                inp: ASR | SetVariables = ASR(text=final.text, confidence=final.confidence)
            else:
                inp = SetVariables(variables={msg.variable: final.text})
            out = await self.service.update(
                self.principal,
                self.sid,
                inp,
                expected_version=msg.expected_version,
                token=msg.token,
                request_id=request_id or "",
            )
            await self.send(
                {"type": "update", "request_id": request_id, **msgspec.to_builtins(out)}
            )
        except Exception as exc:
            await self.error(exc, request_id)

    # --- speech out -----------------------------------------------------------------------

    async def speak(self, msg: Control) -> None:
        self.principal.require("write")
        await self.service.limiter.take(self.principal.key_id)
        if not msg.text:
            raise AudioInvalid("a tts frame needs the reply's text")
        await self.cancel_tts()
        chunks = self.voice.speak(msg.text, sample_rate=msg.sample_rate, voice=msg.voice)
        # Checks (rate, text length) run before the first chunk: refuse before tts_start.
        first = await anext(aiter(chunks), None)

        async def run() -> None:
            sent, cancelled = 0, False
            try:
                await self.send(
                    {
                        "type": "tts_start",
                        "sample_rate": msg.sample_rate,
                        "request_id": msg.request_id,
                    }
                )
                chunk = first
                while chunk is not None:
                    async with self.send_lock:
                        await self.ws.send_bytes(chunk)
                    sent += len(chunk)
                    chunk = await anext(chunks, None)
            except asyncio.CancelledError:
                cancelled = True
            finally:
                with contextlib.suppress(Exception):
                    await chunks.aclose()  # type: ignore[attr-defined]
            with contextlib.suppress(Exception):
                await self.send(
                    {
                        "type": "tts_end",
                        "bytes": sent,
                        "cancelled": cancelled,
                        "request_id": msg.request_id,
                    }
                )

        self.tts = asyncio.create_task(run())

    async def cancel_tts(self) -> None:
        task, self.tts = self.tts, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def close(self) -> None:
        await self.cancel_tts()


async def audio_socket(ws: WebSocket) -> None:
    """Serve one client's voice streams for a session until it disconnects."""
    service = service_of(ws)
    header = ws.headers.get("authorization") or ws.query_params.get("access_token")
    sid: str = ws.path_params["session_id"]
    try:
        principal = await service.limiter.admit(
            service.auth, header, ws.scope.get("client"), "write"
        )
        await service.hub.get_session(sid, tenant=principal.tenant)
    except DialoghubError as exc:
        status = status_of(exc)
        await ws.accept()
        await _send_error(ws, exc, None)
        await ws.close(code=4000 + status if 400 <= status < 500 else 1011)
        return
    await ws.accept()
    sock = _Socket(ws, service, principal, sid)
    limit = service.settings.max_body_bytes
    try:
        while True:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                break
            text, data = message.get("text"), message.get("bytes")
            size = len(text) if text is not None else len(data or b"")
            if size > limit:
                # Only reached without ws_max_size (the protocol refuses it first otherwise).
                await ws.close(code=1009, reason="frame too large")
                break
            if text is not None:
                await sock.text_frame(text)
            elif data is not None:
                await sock.audio_frame(data)
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        await sock.close()


routes = [WebSocketRoute(PATH, audio_socket, name="session_audio")]
