"""The :class:`Voice` service: engines, worker threads and per-session state for the streams.

Where data enters and where it lands: a transport (the audio WebSocket in
``server/routes_voice.py``, the gRPC face in :mod:`dialoghub.voice.grpc`, ``dialoghub talk``)
reads the session from the Hub, asks :meth:`Voice.asr` (or :meth:`Voice.transcribe`) for a
stream fitted to where the session rests (its :class:`~dialoghub.voice.domain.Domain`, cached
by model version and state), feeds it the client's chunks with :meth:`Voice.feed`, which runs
the decoding on a worker thread, and hands the final transcript to the Hub as an ``ASR``
input (a transcription as a ``set_variables`` input): the session changes only there, through
the one update path, and a refused stream changes nothing. Replies go out through
:meth:`Voice.speak`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from dialoghub.engine.records import Session
from dialoghub.model import spec as m
from dialoghub.voice.audio import AudioFormat
from dialoghub.voice.domain import Domain, domain_for, sentences, whole_model
from dialoghub.voice.engines import Engine, open_engine
from dialoghub.voice.streams import AsrStream, Final, Limits, Result, TranscribeStream
from dialoghub.voice.tts import Synthesizer, open_synthesizer

__all__ = ["Voice", "with_wake_word"]

T = TypeVar("T")


def _wake_word(session: Session) -> str | None:
    """The session's wake word when its wait requires one (its utterances start with it)."""
    wake = session.metadata.get("wake_word")
    if (session.awaiting or {}).get("wake") and isinstance(wake, str) and wake.strip():
        return " ".join(wake.lower().split())
    return None


def with_wake_word(domain: Domain, wake: str) -> Domain:
    """``domain`` where every sentence may start with ``wake`` (and the wake word alone):
    what a user says when the wait requires it."""
    corpus = sorted({*domain.sentences, wake, *(f"{wake} {s}" for s in domain.sentences)})
    return Domain(
        key=f"{domain.key}:wake:{wake}",
        sentences=tuple(corpus),
        general=domain.general,
        digits=domain.digits,
        intents=domain.intents,
    )


class Voice:
    """Speech in and out of sessions, on worker threads.

    ``engine`` (default: pocketsphinx) and ``synthesizer`` (default: espeak-ng) are made on
    first use, so a server whose clients never stream audio needs neither installed.
    ``workers`` bounds the threads that recognise (default: twice the CPUs, at most 8).
    """

    def __init__(
        self,
        *,
        engine: Engine | None = None,
        synthesizer: Synthesizer | None = None,
        limits: Limits | None = None,
        workers: int | None = None,
        max_sessions: int = 10_000,
    ) -> None:
        self._engine = engine
        self._synth = synthesizer
        self.limits = limits or Limits()
        self.executor = ThreadPoolExecutor(
            max_workers=workers or min(8, 2 * (os.cpu_count() or 1)),
            thread_name_prefix="dialoghub-voice",
        )
        self._domains: OrderedDict[tuple[Any, ...], Domain] = OrderedDict()
        self._calibration: OrderedDict[tuple[str, str], str] = OrderedDict()
        self._last_calibration: str | None = None
        self.max_sessions = max_sessions

    @property
    def engine(self) -> Engine:
        """The recognition engine (made on first use)."""
        if self._engine is None:
            self._engine = open_engine()
        return self._engine

    @property
    def synthesizer(self) -> Synthesizer:
        """The speech synthesizer (made on first use)."""
        if self._synth is None:
            self._synth = open_synthesizer()
        return self._synth

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` on a worker thread."""
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)

    def close(self) -> None:
        """Stop the worker threads (streams in flight finish their current chunk)."""
        self.executor.shutdown(wait=False, cancel_futures=True)

    # --- domains ---------------------------------------------------------------------------

    def domain(self, model: m.Model, session: Session | None) -> Domain:
        """What ``session`` can be told now (its state's domain; a model's whole domain when
        there is no session)."""
        if session is None:
            key: tuple[Any, ...] = (model.id, model.version, "*")
        else:
            aw = session.awaiting or {}
            fill = aw.get("fill") or {}
            key = (
                model.id,
                model.version,
                session.unit,
                session.state,
                fill.get("intent"),
                fill.get("slot"),
                "confirm" in aw,
                "listen" in aw,
                _wake_word(session),
            )
        found = self._domains.get(key)
        if found is None:
            found = (
                whole_model(model)
                if session is None
                else domain_for(model, session.unit, session.state, session.awaiting)
            )
            wake = key[-1] if session is not None else None
            if wake:
                found = with_wake_word(found, wake)
            self._domains[key] = found
            while len(self._domains) > 1024:
                self._domains.popitem(last=False)
        return found

    def dictation(
        self, model: m.Model | None, *, language: str = "general", end_phrase: str | None = None
    ) -> Domain:
        """The domain of a transcription: the general model, or (``language="model"``) the
        model's own sentences with the end phrase."""
        if language == "general" or model is None:
            return Domain(key="general", general=True)
        base = whole_model(model)
        phrase = end_phrase if end_phrase is not None else self.limits.end_phrase
        extra = sentences(model, [], yes_no=False)
        corpus = sorted(
            {*base.sentences, *extra, phrase, *(f"{s} {phrase}" for s in base.sentences)}
        )
        return Domain(
            key=f"{base.key}:dictation:{phrase}",
            sentences=tuple(corpus),
            digits=base.digits,
            intents=base.intents,
        )

    async def prepare(self, domain: Domain) -> None:
        """Build ``domain``'s LM now, off the loop."""
        await self.run(self.engine.prepare, domain)

    # --- streams ---------------------------------------------------------------------------

    def calibration_of(self, session: Session | None) -> str | None:
        """The calibration a stream of ``session`` starts from (its own last, else the
        process's last)."""
        if session is not None:
            found = self._calibration.get((session.tenant, session.id))
            if found is not None:
                return found
        return self._last_calibration

    def remember(self, session: Session | None, calibration: str | None) -> None:
        """Keep a session's audio calibration for its next utterance."""
        if not calibration:
            return
        self._last_calibration = calibration
        if session is None:
            return
        key = (session.tenant, session.id)
        self._calibration[key] = calibration
        self._calibration.move_to_end(key)
        while len(self._calibration) > self.max_sessions:
            self._calibration.popitem(last=False)

    async def asr(
        self,
        model: m.Model,
        session: Session | None,
        fmt: AudioFormat,
        *,
        limits: Limits | None = None,
    ) -> AsrStream:
        """An ASR stream for ``session``'s next turn, its LM ready."""
        domain = self.domain(model, session)
        await self.prepare(domain)
        return AsrStream(
            self.engine,
            domain,
            fmt,
            limits=limits or self.limits,
            calibration=self.calibration_of(session),
        )

    async def transcribe(
        self,
        model: m.Model | None,
        session: Session | None,
        fmt: AudioFormat,
        *,
        language: str = "general",
        end_phrase: str | None = None,
    ) -> TranscribeStream:
        """A transcribe stream (dictation), ended by the client, silence or the end phrase."""
        limits = self.limits
        if end_phrase is not None:
            limits = dataclasses.replace(limits, end_phrase=end_phrase)
        domain = self.dictation(model, language=language, end_phrase=limits.end_phrase)
        await self.prepare(domain)
        return TranscribeStream(
            self.engine, domain, fmt, limits=limits, calibration=self.calibration_of(session)
        )

    async def feed(self, stream: AsrStream | TranscribeStream, chunk: bytes) -> list[Result]:
        """One chunk through ``stream``, on a worker thread."""
        return await self.run(stream.feed, chunk)

    async def end(self, stream: AsrStream | TranscribeStream, session: Session | None) -> Final:
        """End ``stream``'s audio; its final result (the calibration kept for next time).

        A stream whose endpointer already gave its final has nothing left to compute: it is
        answered here, not behind other streams' chunks in the worker threads' queue."""
        final = stream.done if stream.done is not None else await self.run(stream.end)
        self.remember(session, stream.calibration)
        return final

    # --- speech out ------------------------------------------------------------------------

    def speak(
        self, text: str, *, sample_rate: int = 16000, voice: str | None = None
    ) -> AsyncIterator[bytes]:
        """The audio of a reply in chunks; closing the iterator stops synthesis."""
        return self.synthesizer.stream(text, sample_rate=sample_rate, voice=voice)
