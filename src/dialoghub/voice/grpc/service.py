"""The Diatheke-compatible gRPC face: dialoghub sessions through the SDK's protocol.

:class:`DiathekeService` implements the service of ``diatheke.proto`` (written from the SDK's
public protocol) on a Hub and a :class:`~dialoghub.voice.service.Voice`, on ``grpc.aio``, in
the server's event loop. What maps to what:

- ``CreateSession(model_id, wakeword)`` creates a stored session (the wake word goes into
  its metadata, where the engine looks for it); ``UpdateSession`` takes text, an ASR result,
  a command result (parameters as strings, the SDK's type) or a set-story (a jump) and
  returns the actions: wait-for-user, command, reply, transcribe, and dialoghub's ``end``;
- the token is the session id with a signed version: an update with an older token is
  refused (``ABORTED``: re-read the session), a tampered one too (``UNAUTHENTICATED``), so two
  clients of one session never overwrite each other;
- ``StreamASR`` takes the token, then audio (16 kHz 16-bit mono, the models' ASR sample
  rate), and returns one result, recognised with the LM of the state the session rests in;
  as in the SDK, the application then passes it to ``UpdateSession``;
- ``StreamTTS`` streams a reply's audio; the client cancelling the call stops synthesis;
- ``Transcribe`` takes a transcribe action, then audio, and streams partial and final
  results (general model).

Errors come back as gRPC status codes with the message of dialoghub's error; nothing about
a session changes on a refusal.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib
import secrets
from collections.abc import AsyncIterator
from typing import Any

import grpc
import msgspec

from dialoghub.engine.records import (
    ASR,
    CommandAction,
    CommandResult,
    EndAction,
    Input,
    Jump,
    Reply,
    Text,
    Transcribe,
    WaitForUser,
)
from dialoghub.errors import (
    AudioInvalid,
    ConflictError,
    DialoghubError,
    HTTPError,
    InputError,
    SessionClosed,
    SessionNotFound,
    UnknownModel,
    VoiceUnavailable,
)
from dialoghub.hub import Hub
from dialoghub.voice.audio import AudioFormat
from dialoghub.voice.service import Voice
from dialoghub.voice.streams import Final, Partial

__all__ = ["DiathekeService", "attach", "serve"]

# The generated modules, untyped on purpose (protoc's output is not checked by mypy).
pb: Any = importlib.import_module("dialoghub.voice.grpc.diatheke_pb2")
pb_grpc: Any = importlib.import_module("dialoghub.voice.grpc.diatheke_pb2_grpc")

TENANT = "default"


def _code(exc: BaseException) -> grpc.StatusCode:
    if isinstance(exc, SessionNotFound | UnknownModel):
        return grpc.StatusCode.NOT_FOUND
    if isinstance(exc, ConflictError):
        return grpc.StatusCode.ABORTED
    if isinstance(exc, SessionClosed):
        return grpc.StatusCode.FAILED_PRECONDITION
    if isinstance(exc, VoiceUnavailable):
        return grpc.StatusCode.UNAVAILABLE
    if isinstance(exc, AudioInvalid | InputError):
        return grpc.StatusCode.INVALID_ARGUMENT
    if isinstance(exc, HTTPError) and exc.status == 413:
        return grpc.StatusCode.RESOURCE_EXHAUSTED
    if isinstance(exc, HTTPError) and exc.status == 401:
        return grpc.StatusCode.UNAUTHENTICATED
    return grpc.StatusCode.INVALID_ARGUMENT


def _text(value: Any) -> str:
    return value if isinstance(value, str) else msgspec.json.encode(value).decode()


class DiathekeService(pb_grpc.DiathekeServicer):  # type: ignore[misc]
    """The Diatheke service on a Hub (sessions of tenant ``tenant``)."""

    def __init__(
        self,
        hub: Hub,
        voice: Voice | None = None,
        *,
        secret: bytes | None = None,
        tenant: str = TENANT,
        version: str = "",
    ) -> None:
        self.hub = hub
        self.voice = voice or Voice()
        self.secret = secret or secrets.token_bytes(32)
        self.tenant = tenant
        self.version = version

    # --- tokens ---------------------------------------------------------------------------

    def _token(self, session_id: str, version: int, metadata: str = "") -> Any:
        payload = f"{self.tenant}\0{session_id}\0{version}".encode()
        mac = hmac.new(self.secret, payload, hashlib.sha256).digest()[:16]
        return pb.TokenData(data=version.to_bytes(8, "big") + mac, id=session_id, metadata=metadata)

    def _read(self, token: Any) -> tuple[str, int]:
        """``(session_id, version)`` of a token this service issued."""
        from dialoghub.errors import InvalidToken

        data = bytes(token.data)
        if len(data) != 24 or not token.id:
            raise InvalidToken("invalid session token: not one this server issued")
        version = int.from_bytes(data[:8], "big")
        payload = f"{self.tenant}\0{token.id}\0{version}".encode()
        mac = hmac.new(self.secret, payload, hashlib.sha256).digest()[:16]
        if not hmac.compare_digest(mac, data[8:]):
            raise InvalidToken("invalid session token: not one this server issued")
        return token.id, version

    def _output(self, view: Any, metadata: str = "") -> Any:
        actions = []
        for a in view.actions:
            if isinstance(a, WaitForUser):
                actions.append(
                    pb.ActionData(
                        input=pb.WaitForUserAction(
                            requires_wake_word=a.requires_wake_word, immediate=a.immediate
                        )
                    )
                )
            elif isinstance(a, CommandAction):
                actions.append(
                    pb.ActionData(
                        command=pb.CommandAction(
                            id=a.id,
                            input_parameters={
                                k: _text(v) for k, v in a.params.items() if v is not None
                            },
                        )
                    )
                )
            elif isinstance(a, Reply):
                actions.append(pb.ActionData(reply=pb.ReplyAction(text=a.text)))
            elif isinstance(a, Transcribe):
                actions.append(
                    pb.ActionData(
                        transcribe=pb.TranscribeAction(
                            id=a.variable, diatheke_model_id=view.session.model_id
                        )
                    )
                )
            elif isinstance(a, EndAction):
                actions.append(pb.ActionData(end=pb.EndAction(reason=a.reason)))
        return pb.SessionOutput(
            token=self._token(view.session.id, view.session.version, metadata), action_list=actions
        )

    # --- methods --------------------------------------------------------------------------

    async def Version(self, request: Any, context: Any) -> Any:
        """The versions of dialoghub and its engines."""
        try:
            from importlib.metadata import version

            cubic = f"pocketsphinx {version('pocketsphinx')}"
        except Exception:
            cubic = "pocketsphinx (not installed)"
        return pb.VersionResponse(
            diatheke=f"dialoghub {self.version}".strip(),
            chosun="dialoghub.nlu",
            cubic=cubic,
            luna="espeak-ng",
        )

    async def ListModels(self, request: Any, context: Any) -> Any:
        """Every loaded model, with its language and sample rates."""
        models = [
            pb.ModelInfo(
                id=m.id,
                name=m.description or m.id,
                language=m.language,
                asr_sample_rate=m.sample_rate,
                tts_sample_rate=m.sample_rate,
            )
            for m in self.hub.models.values()
        ]
        return pb.ListModelsResponse(models=models)

    async def _guard(self, context: Any, coro: Any) -> Any:
        try:
            return await coro
        except DialoghubError as exc:
            await context.abort(_code(exc), exc.message)

    async def CreateSession(self, request: Any, context: Any) -> Any:
        """A new session of ``model_id`` (its wake word kept in the metadata)."""

        async def run() -> Any:
            metadata = {"wake_word": request.wakeword} if request.wakeword else {}
            view = await self.hub.create_session(
                request.model_id, metadata=metadata, tenant=self.tenant
            )
            return self._output(view)

        return await self._guard(context, run())

    async def DeleteSession(self, request: Any, context: Any) -> Any:
        """Delete the token's session."""

        async def run() -> Any:
            sid, _ = self._read(request)
            await self.hub.delete_session(sid, tenant=self.tenant)
            return pb.Empty()

        return await self._guard(context, run())

    async def UpdateSession(self, request: Any, context: Any) -> Any:
        """One input; the next actions and a new token."""

        async def run() -> Any:
            sid, version = self._read(request.token)
            kind = request.WhichOneof("input")
            inp: Input
            if kind == "text":
                inp = Text(text=request.text.text)
            elif kind == "asr":
                inp = ASR(text=request.asr.text, confidence=request.asr.confidence)
            elif kind == "cmd":
                inp = CommandResult(
                    id=request.cmd.id,
                    outputs=dict(request.cmd.out_parameters),
                    error=request.cmd.error or None,
                )
            elif kind == "story":
                inp = Jump(
                    state=request.story.story_id, params=dict(request.story.parameters) or None
                )
            else:
                raise AudioInvalid("SessionInput needs one input: text, asr, cmd or story")
            view = await self.hub.update(sid, inp, tenant=self.tenant, expected_version=version)
            return self._output(view, request.token.metadata)

        return await self._guard(context, run())

    async def StreamASR(self, request_iterator: Any, context: Any) -> Any:
        """The token first, then audio: one result for the turn."""

        async def run() -> Any:
            first = await anext(aiter(request_iterator), None)
            if first is None or first.WhichOneof("input_or_token") != "token":
                raise AudioInvalid("StreamASR: the first message must be the session token")
            sid, _ = self._read(first.token)
            session = await self.hub.get_session(sid, tenant=self.tenant)
            model = self.hub.model(session.model_id)
            stream = await self.voice.asr(model, session, AudioFormat("pcm16", 16000))
            async for msg in request_iterator:
                if msg.WhichOneof("input_or_token") != "audio":
                    raise AudioInvalid("StreamASR: after the token, only audio")
                results = await self.voice.feed(stream, bytes(msg.audio))
                if any(isinstance(r, Final) for r in results):
                    break
            final = await self.voice.end(stream, session)
            assert isinstance(final, Final)
            return pb.ASRResult(
                text=final.text, confidence=final.confidence, timedout=final.timed_out
            )

        return await self._guard(context, run())

    async def StreamTTS(self, request: Any, context: Any) -> AsyncIterator[Any]:
        """The reply's audio in chunks (16 kHz); a cancelled call stops synthesis."""
        try:
            chunks = self.voice.speak(request.text, sample_rate=16000)
            try:
                async for chunk in chunks:
                    yield pb.TTSAudio(audio=chunk)
            finally:
                await chunks.aclose()  # type: ignore[attr-defined]
        except DialoghubError as exc:
            await context.abort(_code(exc), exc.message)

    async def Transcribe(self, request_iterator: Any, context: Any) -> AsyncIterator[Any]:
        """The action first, then audio: partial results, then the final one."""
        try:
            first = await anext(aiter(request_iterator), None)
            if first is None or first.WhichOneof("input") != "action":
                raise AudioInvalid("Transcribe: the first message must be the transcribe action")
            model = None
            if first.action.diatheke_model_id:
                model = self.hub.model(first.action.diatheke_model_id)
            stream = await self.voice.transcribe(model, None, AudioFormat("pcm16", 16000))
            done = False
            async for msg in request_iterator:
                if msg.WhichOneof("input") != "audio":
                    raise AudioInvalid("Transcribe: after the action, only audio")
                for r in await self.voice.feed(stream, bytes(msg.audio)):
                    if isinstance(r, Partial):
                        yield pb.TranscribeResult(text=r.text, is_partial=True)
                    else:
                        done = True
                if done:
                    break
            final = await self.voice.end(stream, None)
            yield pb.TranscribeResult(
                text=final.text, confidence=getattr(final, "confidence", 0), is_partial=False
            )
        except DialoghubError as exc:
            await context.abort(_code(exc), exc.message)


async def serve(
    hub: Hub, port: int, *, host: str = "127.0.0.1", voice: Voice | None = None, version: str = ""
) -> Any:
    """Start the gRPC server on ``host:port`` (0: a free port); returns ``(server, port)``."""
    server = grpc.aio.server(options=[("grpc.max_receive_message_length", 4 * 1024 * 1024)])
    pb_grpc.add_DiathekeServicer_to_server(DiathekeService(hub, voice, version=version), server)
    bound = server.add_insecure_port(f"{host}:{port}")
    await server.start()
    return server, bound


def attach(
    app: Any, port: int, *, host: str = "127.0.0.1", version: str = "", on_start: Any = None
) -> None:
    """Run the gRPC service beside an ASGI app (``dialoghub serve --grpc PORT``): it starts
    once the app's lifespan has opened its Hub (``app.state.service.hub``) and stops before
    the Hub closes. ``on_start(port)`` is called with the bound port."""
    import contextlib

    inner = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(a: Any) -> AsyncIterator[Any]:
        async with inner(a) as state:
            server, bound = await serve(a.state.service.hub, port, host=host, version=version)
            if on_start is not None:
                on_start(bound)
            try:
                yield state
            finally:
                await server.stop(grace=1.0)

    app.router.lifespan_context = lifespan
