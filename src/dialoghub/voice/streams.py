"""The ASR and transcribe streams: audio chunks in, partial and final transcripts out.

Each chunk goes through the stream's :class:`~dialoghub.voice.audio.AudioDecoder` (to 16 kHz
mono), the endpointer (pocketsphinx's voice-activity detector on 30 ms frames), and, while
there is speech, the engine's utterance, frame by frame as the audio comes, so that when the
speech ends only the end of the utterance is left to compute. The speech ends after a
silence that depends on what was heard: short after words that end a sentence of the domain,
long after words that cannot ("i'd like a ..."). All of that is CPU work and runs on the
:class:`Voice`'s worker threads (``await stream.feed(chunk)``), so the event loop only moves
bytes; the calls of one stream run one at a time, in order, and streams of different sessions
run side by side.

Time in a stream is audio time (samples received), never the wall clock, so a test or a
client sending faster than real time gets the same results as a microphone:

- an ASR stream ends with one :class:`Final` when the endpointer hears the end of speech,
  when the client ends the audio, or, if no speech started within ``silence_timeout``
  seconds, timed out (``timed_out=True``, empty text);
- a transcribe stream goes on over several utterances, each adding to its text, until the
  client ends it, ``silence_timeout`` seconds pass after the last speech, or an utterance ends
  with the end phrase (which is left out of the text);
- a stream longer than ``max_seconds`` of audio or ``max_bytes`` as sent is refused with
  :class:`~dialoghub.errors.AudioTooLong` (an hour of silence or a 1 GB stream stop there).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from dialoghub.errors import AudioTooLong
from dialoghub.voice.audio import SAMPLE_RATE, AudioDecoder, AudioFormat
from dialoghub.voice.domain import Domain, digits, endings
from dialoghub.voice.engines import Engine, Utterance

__all__ = ["AsrStream", "Final", "Limits", "Partial", "Result", "TranscribeStream"]


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds of one stream."""

    max_seconds: float = 60.0  # of audio, at 16 kHz
    max_bytes: int = 16 * 1024 * 1024  # as sent (a minute of 48 kHz stereo is 11 MB)
    silence_timeout: float = 5.0  # seconds of audio without speech that end a stream
    end_phrase: str = "stop dictation"  # ends a transcribe stream (said last)
    #: A fixed silence (seconds) that ends an utterance, whatever was heard; None: the
    #: endpointer's own, by what was heard (``HANGOVER_*``).
    end_silence: float | None = None


@dataclass(frozen=True, slots=True)
class Partial:
    """What has been recognised so far (it grows as the user speaks)."""

    text: str


@dataclass(frozen=True, slots=True)
class Final:
    """The stream's result: text, confidence in [0, 1], and whether it timed out."""

    text: str
    confidence: float = 0.0
    timed_out: bool = False
    audio_seconds: float = 0.0
    speech_end: float | None = None  # audio time (s) the last voiced frame ended
    endpoint: float | None = None  # audio time (s) the endpointer decided the speech ended


Result = Partial | Final


def _vad() -> Any:
    from pocketsphinx import Vad

    return Vad(mode=VAD_MODE, sample_rate=SAMPLE_RATE)


#: The voice-activity detector's aggressiveness (pocketsphinx's ``Vad``, derived from
#: WebRTC's): 2, "medium strict". Its own hangover (frames it still calls speech after the
#: voice stopped) is what the end of speech waits for first: on the benchmark's 120 held-out
#: utterances (espeak-ng, two voices) the last frame it called speech ended p50 163 ms /
#: max 326 ms after the last sample above -40 dBFS with mode 0 (the old ``Endpointer``'s),
#: 85 / 124 ms with mode 2, 75 / 124 ms with mode 3; modes 2 and 3 still start on "yes",
#: "no", "hi" (11-15 speech frames of 30 ms each).
VAD_MODE = 2
#: Speech starts when ``START_FRAMES`` of the last ``START_WINDOW`` frames (30 ms each) are
#: speech: 180 ms of voice within 240 ms, so a click or a breath does not open an utterance.
START_WINDOW, START_FRAMES = 8, 6
#: Audio before the start of speech given to the recogniser too (seconds), besides the start
#: window: the soft start of a word can be earlier: streamed "goodbye" (espeak) came back
#: "bye" without pre-roll, and right with 0.3 s of it.
PREROLL = 0.3
#: How much silence (frames the VAD calls non-speech, after its own hangover) ends an
#: utterance, by what has been recognised so far (:meth:`~dialoghub.voice.domain.Endings.
#: probability`: how often the domain's sentences end after its last words):
#:
#: - ``COMPLETE``: the last two words heard so far are a pair of the domain's sentences,
#:   which end there at least ``COMPLETE_AT`` of the time ("... in paris", "yes please"): a
#:   short wait (a pair never seen is often a stray word the recogniser put in the pause:
#:   "will it rain in" came back "... you");
#: - ``OPEN``: a sentence of the domain never ends there ("i'd like a", "what is the"): the
#:   user is still speaking, whatever the pause;
#: - ``UNSURE``: in between, nothing heard, or no domain to ask (the general model, Whisper).
#:
#: A fixed silence would have to choose between cutting users off at a pause and answering
#: late: the old endpointer (a 0.3 s window, 90% of it silent, after mode 0's hangover)
#: answered p50 652 / p99 986 ms after the end of speech.
HANGOVER_COMPLETE = 0.09
HANGOVER_UNSURE = 0.36
HANGOVER_OPEN = 0.6
COMPLETE_AT = 0.3
OPEN_BELOW = 0.02


@dataclass
class _Segmenter:
    """The voice-activity detector over a byte stream: frames in, the speech's frames out.

    Speech starts on the start window; from then on every frame goes to the recogniser as it
    comes (so decoding keeps up with the audio and the final is only the end of the
    utterance), and ``trailing`` counts the frames of silence since the last voiced one: the
    stream ends the utterance (:meth:`close`) when that silence is long enough for what it
    has recognised.
    """

    vad: Any = field(default_factory=_vad)
    buf: bytes = b""
    frames: int = 0  # frames seen
    in_speech: bool = False
    trailing: int = 0  # frames of silence since the last speech frame (in speech)
    last_voiced: int = 0  # frames seen when the last speech frame ended
    recent: deque[bool] = field(default_factory=lambda: deque(maxlen=START_WINDOW))
    history: deque[bytes] = field(default_factory=deque)  # the last frames seen

    @property
    def frame_bytes(self) -> int:
        return int(self.vad.frame_bytes)

    @property
    def frame_seconds(self) -> float:
        return self.frame_bytes / (2 * SAMPLE_RATE)

    def speech(self, pcm: bytes) -> Iterator[tuple[bytes, bool]]:
        """For each whole frame while in speech: (audio for the recogniser, speech started).

        A generator: the caller may :meth:`close` the speech between two frames."""
        self.buf += pcm
        fb = self.frame_bytes
        keep = round(PREROLL / self.frame_seconds) + START_WINDOW
        while len(self.buf) >= fb:
            frame, self.buf = self.buf[:fb], self.buf[fb:]
            voiced = bool(self.vad.is_speech(frame))
            self.frames += 1
            if self.in_speech:
                if voiced:
                    self.trailing, self.last_voiced = 0, self.frames
                else:
                    self.trailing += 1
                yield frame, False
                continue
            self.history.append(frame)
            if len(self.history) > keep:
                self.history.popleft()
            self.recent.append(voiced)
            if sum(self.recent) >= START_FRAMES:
                self.in_speech, self.trailing, self.last_voiced = True, 0, self.frames
                audio = b"".join(self.history)
                self.history.clear()
                self.recent.clear()
                yield audio, True

    def close(self) -> None:
        """The utterance ended: look for the start of the next one."""
        self.in_speech, self.trailing = False, 0

    def end(self) -> bytes | None:
        """The rest of the speech when the audio ends inside it (None: not in speech)."""
        if not self.in_speech:
            return None
        rest, self.buf = self.buf, b""
        self.close()
        return rest

    @property
    def silence(self) -> float:
        """Seconds of silence since the last voiced frame (in speech)."""
        return self.trailing * self.frame_seconds

    @property
    def speech_end(self) -> float:
        """Audio time (s) the last voiced frame ended."""
        return self.last_voiced * self.frame_seconds

    @property
    def seconds(self) -> float:
        return self.frames * self.frame_seconds


class _Stream:
    """What both streams share: decoding, bounds, the endpointer, the engine's utterance."""

    def __init__(
        self,
        engine: Engine,
        domain: Domain,
        fmt: AudioFormat,
        *,
        limits: Limits,
        calibration: str | None = None,
    ) -> None:
        self.engine, self.domain, self.limits = engine, domain, limits
        self.audio = AudioDecoder(fmt)
        self.seg = _Segmenter()
        self.endings = endings(domain)
        self.utt: Utterance | None = None
        self.calibration = calibration
        self.samples = 0
        self.last_speech = 0.0  # audio time speech last ended (or the stream began)
        self.partial = ""
        self.done: Final | None = None

    def _bound(self, chunk: bytes) -> None:
        if self.audio.received + len(chunk) > self.limits.max_bytes:
            raise AudioTooLong(
                f"an audio stream is at most {self.limits.max_bytes} bytes; this one is over",
                limit="max_bytes",
                max_bytes=self.limits.max_bytes,
            )

    def _count(self, pcm: bytes) -> None:
        self.samples += len(pcm) // 2
        if self.samples / SAMPLE_RATE > self.limits.max_seconds:
            raise AudioTooLong(
                f"an audio stream is at most {self.limits.max_seconds:g} s long",
                limit="max_seconds",
                max_seconds=self.limits.max_seconds,
            )

    @property
    def seconds(self) -> float:
        return self.samples / SAMPLE_RATE

    def _start(self) -> None:
        self.utt = self.engine.open(self.domain, calibration=self.calibration)
        self.partial = ""

    def hangover(self, partial: str | None) -> float:
        """The silence that ends the utterance after ``partial`` (see ``HANGOVER_*``)."""
        if self.limits.end_silence is not None:
            return self.limits.end_silence
        if self.endings is None or not partial:
            return HANGOVER_UNSURE
        words = partial.split()
        p = self.endings.probability(words)
        if p is None:
            return HANGOVER_UNSURE
        if p >= COMPLETE_AT and self.endings.seen(words):
            return HANGOVER_COMPLETE
        return HANGOVER_OPEN if p < OPEN_BELOW else HANGOVER_UNSURE

    def _utterances(self, pcm: bytes) -> Iterator[tuple[str | None, bool]]:
        """Feed the recogniser the speech of ``pcm``; for each frame in speech, the partial
        (None when the engine has none) and whether the utterance just ended."""
        for audio, started in self.seg.speech(pcm):
            if started:
                self._start()
            assert self.utt is not None
            partial = self.utt.feed(audio)
            if self.seg.trailing and self.seg.silence >= self.hangover(partial):
                self.seg.close()
                yield partial, True
            else:
                yield partial, False

    def _finish_utterance(self) -> tuple[str, float]:
        assert self.utt is not None
        hyp = self.utt.finish()
        self.calibration = self.utt.calibration or self.calibration
        self.utt = None
        text = digits(hyp.text) if self.domain.digits else hyp.text
        return text, hyp.confidence


class AsrStream(_Stream):
    """One user turn: audio until the end of speech, then one :class:`Final`."""

    def feed(self, chunk: bytes) -> list[Result]:
        """Take one chunk as sent; the results it produced (CPU work: call off the loop)."""
        if self.done is not None:
            return []  # audio after the final result (the client is still sending): dropped
        self._bound(chunk)
        pcm = self.audio.feed(chunk)
        self._count(pcm)
        return self._frames(pcm)

    def _frames(self, pcm: bytes) -> list[Result]:
        out: list[Result] = []
        for partial, ended in self._utterances(pcm):
            if ended:
                text, conf = self._finish_utterance()
                self.done = Final(
                    text,
                    conf,
                    audio_seconds=self.seconds,
                    speech_end=self.seg.speech_end,
                    endpoint=self.seg.seconds,
                )
                out.append(self.done)
                return out
            if partial and partial != self.partial:
                self.partial = partial
                out.append(Partial(partial))
        if self.utt is None and self.seconds >= self.limits.silence_timeout:
            self.done = Final("", 0.0, timed_out=True, audio_seconds=self.seconds)
            out.append(self.done)
        return out

    def end(self) -> Final:
        """The client ended the audio: the final result (if not given already)."""
        if self.done is not None:
            return self.done
        pcm = self.audio.end()
        results = self._frames(pcm) if pcm else []
        if self.done is not None:
            del results
            return self.done
        rest = self.seg.end()
        if self.utt is not None:
            if rest:
                self.utt.feed(rest)
            text, conf = self._finish_utterance()
            self.done = Final(
                text,
                conf,
                audio_seconds=self.seconds,
                speech_end=self.seconds,
                endpoint=self.seconds,
            )
        else:
            # no speech at all: the stream "timed out" the way a silent turn does
            self.done = Final("", 0.0, timed_out=True, audio_seconds=self.seconds)
        return self.done


class TranscribeStream(_Stream):
    """Free dictation: utterances add up until the client, silence or the end phrase ends it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.parts: list[str] = []
        self.confidences: list[float] = []
        phrase = self.limits.end_phrase.lower().split()
        self.end_words = phrase

    @property
    def text(self) -> str:
        return " ".join(p for p in self.parts if p)

    def feed(self, chunk: bytes) -> list[Result]:
        """Take one chunk; partials (the whole text so far) and, at the end, the final."""
        if self.done is not None:
            return []
        self._bound(chunk)
        pcm = self.audio.feed(chunk)
        self._count(pcm)
        return self._frames(pcm)

    def _frames(self, pcm: bytes) -> list[Result]:
        out: list[Result] = []
        for partial, ended in self._utterances(pcm):
            if ended:
                if self._utterance_done():
                    out.append(self._final())
                    return out
                out.append(Partial(self.text))
                continue
            if partial and partial != self.partial:
                self.partial = partial
                out.append(Partial(" ".join(p for p in (self.text, partial) if p)))
        if self.utt is None and self.seconds - self.last_speech >= self.limits.silence_timeout:
            out.append(self._final(timed_out=not self.parts))
        return out

    def _utterance_done(self) -> bool:
        """Add the utterance that just ended; True if it ended with the end phrase."""
        text, conf = self._finish_utterance()
        self.last_speech = self.seg.speech_end
        words = text.split()
        n = len(self.end_words)
        stop = bool(n) and words[-n:] == self.end_words
        if stop:
            words = words[:-n]
        if words:
            self.parts.append(" ".join(words))
            self.confidences.append(conf)
        return stop

    def _final(self, *, timed_out: bool = False) -> Final:
        conf = sum(self.confidences) / len(self.confidences) if self.confidences else 0.0
        self.done = Final(
            self.text,
            round(conf, 4),
            timed_out=timed_out,
            audio_seconds=self.seconds,
            speech_end=self.last_speech or None,
            endpoint=self.seg.seconds if self.last_speech else None,
        )
        return self.done

    def end(self) -> Final:
        """The client ended the dictation: everything said, as the final result."""
        if self.done is not None:
            return self.done
        pcm = self.audio.end()
        if pcm:
            self._frames(pcm)
            if self.done is not None:
                return self.done
        rest = self.seg.end()
        if self.utt is not None:
            if rest:
                self.utt.feed(rest)
            self._utterance_done()
        return self._final(timed_out=not self.parts)
