"""Speech recognition in dialoghub's voice streams: ``python -m benchmarks.voice [--json]``.

What it measures (issue 13), with the engines the streams use (pocketsphinx + the endpointer,
espeak-ng speaking the sentences through SoX at 16 kHz):

* **WER** on held-out sentences (and **OOV**: the share of their words that the model's
  corpus does not have at all, which no domain LM can recognise): the held-out half (odd
  lines) of benchmarks/data/nlu_labelled.jsonl, the hand-written user requests of the
  weather and pizza models, keeping those with an intent whose spoken form is *not* a
  sentence of the model's corpus and whose words are all in the pronouncing dictionary (so
  espeak says English, not typos), spoken by two voices (en-us, en-us+f3). Each is
  recognised through an ASR stream with the model's automatic domain LM (all its intents:
  the hardest state) and with the engine's general model. WER = word edits / reference
  words, digits compared as words. It is also given for the **in-vocabulary** sentences
  alone (every word in the domain's corpus, the sentence itself not): what a domain LM can
  be asked for. ``--dev`` runs the even lines instead, to tune on sentences the reported
  figures do not use.
* **End of speech to final**: for each stream, the audio time between the true end of speech
  (the last sample above -40 dBFS) and the end of the chunk whose processing produced the
  final, plus that chunk's processing time: what a client streaming 100 ms chunks in real
  time waits (p50, p99), and the same with that chunk's CPU time for its wall time
  (``latency_cpu``: the machine is shared). Its parts, separately: the endpointer's
  **hangover** (the true end to the frame where it decided the speech ended), the **chunk
  wait** (the rest of that chunk), the **CPU** of processing the final chunk and of ending
  the utterance.
* **Cut-offs**: streams whose final came before the voice ended (the user cut off), on the
  sentences as spoken, and with a pause (0.3 s and 0.6 s of silence added) between the two
  halves of each sentence of three words or more: a user who hesitates mid-sentence.
* **RTF**: processing time / audio time per stream (domain and general).
* **Concurrent real-time streams**: N streams of different sessions fed in 100 ms chunks at
  real-time pace from one process (the Voice's worker threads); a stream keeps up when its
  final arrives within 1 s of its audio ending; the largest N where all keep up; the time
  the final chunk waited in the worker threads' queue.

Targets: WER <= 5% with the domain model, final within 300 ms of the end of speech at p99,
at least 8 concurrent real-time streams on the 2-CPU machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from dialoghub.model.loader import load_model
from dialoghub.voice.audio import AudioFormat
from dialoghub.voice.domain import Domain, spoken, whole_model
from dialoghub.voice.engines import _Dictionary
from dialoghub.voice.service import Voice
from dialoghub.voice.streams import AsrStream, Final

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "benchmarks" / "data" / "nlu_labelled.jsonl"
VOICES = ("en-us", "en-us+f3")
CHUNK = 3200  # 100 ms
PAUSES = (0.3, 0.6)
MODELS = ("weather", "pizza")


def say(text: str, voice: str, *, rate: int = 16000, before: float = 0.3,
        after: float = 1.0) -> bytes:
    """``text`` spoken by espeak-ng as 16-bit mono PCM at ``rate``, with ``before`` and
    ``after`` seconds of silence (as a microphone hears a turn); tests/voice speaks with it."""
    wav = subprocess.run(
        ["espeak-ng", "-v", voice, "--stdout", "--", text], capture_output=True, check=True
    ).stdout
    pcm = subprocess.run(
        ["sox", "-q", "-D", "-t", "wav", "-", "-t", "raw", "-r", str(rate), "-c", "1",
         "-b", "16", "-e", "signed-integer", "-L", "-"],
        input=wav,
        capture_output=True,
        check=True,
    ).stdout
    return bytes(2 * int(rate * before)) + pcm + bytes(2 * int(rate * after))


def _loud(pcm: bytes) -> np.ndarray[Any, Any]:
    return np.nonzero(np.abs(np.frombuffer(pcm, "<i2").astype(float)) > 327)[0]


def speech_end(pcm: bytes) -> float:
    """Audio time (s) of the last sample above -40 dBFS."""
    loud = _loud(pcm)
    return float(loud[-1]) / 16000 if len(loud) else 0.0


def speech_start(pcm: bytes) -> float:
    """Audio time (s) of the first sample above -40 dBFS."""
    loud = _loud(pcm)
    return float(loud[0]) / 16000 if len(loud) else 0.0


def wer_counts(ref: str, hyp: str) -> tuple[int, int]:
    """(edits, reference words)."""
    r, h = ref.split(), hyp.split()
    d = list(range(len(h) + 1))
    for i, rw in enumerate(r, 1):
        prev, d[0] = d[0], i
        for j, hw in enumerate(h, 1):
            prev, d[j] = d[j], min(d[j] + 1, d[j - 1] + 1, prev + (rw != hw))
    return d[len(h)], len(r)


def held_out(*, dev: bool = False) -> dict[str, list[str]]:
    """Per model: held-out sentences (odd lines; even ones with ``dev``) not in its corpus,
    in the dictionary."""
    models = {m: load_model(ROOT / "examples" / m / f"{m}.yaml") for m in MODELS}
    corpora = {m: set(whole_model(models[m]).sentences) for m in MODELS}
    words = _Dictionary.entries()
    out: dict[str, list[str]] = {m: [] for m in models}
    for i, line in enumerate(DATA.read_text().splitlines()):
        row = json.loads(line)
        if i % 2 == (1 if dev else 0) or row["intent"] is None:
            continue
        text = spoken(row["text"])
        if text and text not in corpora[row["model"]] and all(w in words for w in text.split()):
            out[row["model"]].append(text)
    return out


class _Timed:
    """The engine, with the CPU time of each utterance's end (``finish``) recorded."""

    def __init__(self, engine: Any) -> None:
        self.engine, self.finish_cpu = engine, [0.0]
        self.name, self.partials = engine.name, engine.partials

    def prepare(self, domain: Domain) -> None:
        self.engine.prepare(domain)

    def open(self, domain: Domain, *, calibration: str | None = None) -> Any:
        utt = self.engine.open(domain, calibration=calibration)
        timed = self

        class Utt:
            def feed(self, pcm: bytes) -> str | None:
                return utt.feed(pcm)

            def finish(self) -> Any:
                t = time.thread_time()
                try:
                    return utt.finish()
                finally:
                    timed.finish_cpu[0] = time.thread_time() - t

            @property
            def calibration(self) -> str | None:
                return utt.calibration

        return Utt()


def _timed_feed(stream: AsrStream, chunk: bytes) -> tuple[list[Any], float, float]:
    """``stream.feed(chunk)`` in the worker: its results, CPU time and start time."""
    started = time.perf_counter()
    t = time.thread_time()
    results = stream.feed(chunk)
    return results, time.thread_time() - t, started


async def recognise(voice: Voice, engine: _Timed, domain: Domain, pcm: bytes) -> dict[str, Any]:
    """One stream, fed as fast as it goes; its final and timings."""
    # As a session's next turn would: the calibration the last stream ended with.
    stream = AsrStream(
        engine, domain, AudioFormat(), limits=voice.limits, calibration=voice.calibration_of(None)
    )
    busy = last = cpu = 0.0
    final: Final | None = None
    fed = 0
    engine.finish_cpu[0] = 0.0
    for i in range(0, len(pcm), CHUNK):
        t = time.perf_counter()
        results, cpu, _ = await voice.run(_timed_feed, stream, pcm[i : i + CHUNK])
        last = time.perf_counter() - t
        busy += last
        fed = i + len(pcm[i : i + CHUNK])
        done = [r for r in results if isinstance(r, Final)]
        if done:
            final = done[0]
            break
    by_endpointer = final is not None
    if final is None:
        t, c = time.perf_counter(), time.thread_time()
        final = await voice.end(stream, None)
        last, cpu = time.perf_counter() - t, time.thread_time() - c
        busy += last
    else:
        await voice.end(stream, None)  # keeps its calibration for the next stream
    audio = fed / 32000
    end = speech_end(pcm)
    # The old streams' Final had no endpoint: its speech_end was the decision's time.
    endpoint = getattr(final, "endpoint", None) or final.speech_end or audio
    return {
        "text": final.text,
        "busy": busy,
        "audio": audio,
        "latency": max(0.0, audio - end) + last,
        # the same with the final chunk's CPU time for its wall time: what an idle machine
        # gives (the wall time here is shared with whatever else runs on the two CPUs)
        "latency_cpu": max(0.0, audio - end) + cpu,
        "hangover": endpoint - end,
        "chunk_wait": audio - endpoint,
        "final_wall": last,
        "final_cpu": cpu,
        "finish_cpu": engine.finish_cpu[0],
        "by_endpointer": by_endpointer,
        "endpoint": endpoint,
    }


def _pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))] if s else float("nan")


def _ms(values: list[float]) -> dict[str, float]:
    return {k: round(1000 * _pct(values, q), 1) for k, q in (("p50", 0.5), ("p99", 0.99))} | {
        "max": round(1000 * max(values), 1) if values else float("nan")
    }


async def accuracy(
    voice: Voice, sentences: dict[str, list[str]], limit: int, kinds: tuple[str, ...]
) -> dict[str, Any]:
    models = {m: load_model(ROOT / "examples" / m / f"{m}.yaml") for m in sentences}
    engine = _Timed(voice.engine)
    rows: dict[str, Any] = {}
    timings: dict[str, list[float]] = {}
    cut = 0
    for kind in kinds:
        edits = words = 0
        busy = audio = 0.0
        per_voice: dict[str, list[int]] = {}
        inv = [0, 0, 0]  # edits, words, sentences whose words are all in the corpus
        oov = 0
        for model_id, texts in sentences.items():
            vocabulary = {w for x in whole_model(models[model_id]).sentences for w in x.split()}
            domain = (
                whole_model(models[model_id])
                if kind == "domain"
                else Domain(key="general", general=True)
            )
            await voice.prepare(domain)
            for text in texts[:limit]:
                unknown = sum(w not in vocabulary for w in text.split())
                oov += len(VOICES) * unknown
                for v in VOICES:
                    pcm = say(text, v)
                    r = await recognise(voice, engine, domain, pcm)
                    e, n = wer_counts(text, spoken(r["text"]))
                    edits, words = edits + e, words + n
                    if not unknown:
                        inv = [inv[0] + e, inv[1] + n, inv[2] + 1]
                    pv = per_voice.setdefault(v, [0, 0])
                    pv[0] += e
                    pv[1] += n
                    busy, audio = busy + r["busy"], audio + r["audio"]
                    if kind == "domain":
                        for k in (
                            "latency",
                            "latency_cpu",
                            "hangover",
                            "chunk_wait",
                            "final_cpu",
                            "finish_cpu",
                        ):
                            timings.setdefault(k, []).append(r[k])
                        cut += r["endpoint"] < speech_end(pcm)
        rows[kind] = {
            "wer": edits / max(1, words),
            "words": words,
            "rtf": busy / audio,
            "oov": oov / max(1, words),
            "per_voice": {v: e / max(1, n) for v, (e, n) in per_voice.items()},
            "in_vocabulary": {"wer": inv[0] / max(1, inv[1]), "words": inv[1], "streams": inv[2]},
        }
    if timings:
        rows["latency_p50_ms"] = 1000 * _pct(timings["latency"], 0.5)
        rows["latency_p99_ms"] = 1000 * _pct(timings["latency"], 0.99)
        rows["parts_ms"] = {k: _ms(v) for k, v in timings.items()}
        rows["cut_off"] = {"streams": len(timings["latency"]), "cut": cut}
    rows["sentences"] = {m: min(limit, len(t)) for m, t in sentences.items()}
    return rows


async def pauses(voice: Voice, sentences: dict[str, list[str]], limit: int) -> dict[str, Any]:
    """Sentences of 3+ words said in two halves with a pause (from the last loud sample of the
    first half to the first of the second): how often the final comes before the second half
    starts (the user cut off mid-sentence), apart for the halves that are a whole sentence of
    the model's corpus ("good evening | to you"), where an answer is not wrong."""
    models = {m: load_model(ROOT / "examples" / m / f"{m}.yaml") for m in sentences}
    engine = _Timed(voice.engine)
    out: dict[str, Any] = {}
    for pause in PAUSES:
        cut = total = whole = whole_cut = 0
        examples: list[str] = []
        for model_id, texts in sentences.items():
            domain = whole_model(models[model_id])
            corpus = set(domain.sentences)
            for text in texts[:limit]:
                words = text.split()
                if len(words) < 3:
                    continue
                half = len(words) // 2
                first, second = " ".join(words[:half]), " ".join(words[half:])
                for v in VOICES:
                    a = say(first, v, before=0.3, after=0.0)
                    b = say(second, v, before=0.0, after=1.0)
                    a = a[: 2 * (int(speech_end(a) * 16000) + 1)]
                    b = b[2 * int(speech_start(b) * 16000) :]
                    pcm = a + bytes(2 * int(16000 * pause)) + b
                    resume = len(a) / 32000 + pause
                    r = await recognise(voice, engine, domain, pcm)
                    total += 1
                    whole += first in corpus
                    if r["endpoint"] < resume:
                        cut += 1
                        whole_cut += first in corpus
                        if len(examples) < 6 and first not in corpus:
                            examples.append(f"{first} | {second} -> {r['text']!r}")
        out[f"{pause:g}s"] = {
            "streams": total,
            "cut": cut,
            "rate": cut / max(1, total),
            "first_half_a_sentence": {"streams": whole, "cut": whole_cut},
            "cut_mid_sentence": {
                "streams": total - whole,
                "cut": cut - whole_cut,
                "rate": (cut - whole_cut) / max(1, total - whole),
            },
            "examples": examples,
        }
    return out


async def concurrent(voice: Voice, n: int, pcm: bytes, domain: Domain) -> dict[str, Any]:
    """``n`` streams at real-time pace; how late each final is after its audio ended."""
    queued: list[float] = []

    async def one(k: int) -> float:
        await asyncio.sleep(k * 0.1 / max(1, n))  # stagger the chunk boundaries
        stream = AsrStream(voice.engine, domain, AudioFormat(), limits=voice.limits)
        start = time.perf_counter()
        for i in range(0, len(pcm), CHUNK):
            due = start + i / 32000
            wait = due - time.perf_counter()
            if wait > 0:
                await asyncio.sleep(wait)
            sent = time.perf_counter()
            results, _, began = await voice.run(_timed_feed, stream, pcm[i : i + CHUNK])
            if any(isinstance(r, Final) for r in results):
                queued.append(began - sent)
                await voice.end(stream, None)
                break
        else:
            await voice.end(stream, None)
        ended = start + speech_end(pcm)
        return time.perf_counter() - ended

    lags = await asyncio.gather(*(one(k) for k in range(n)))
    return {
        "streams": n,
        "max_lag_ms": 1000 * max(lags),
        "p50_lag_ms": 1000 * statistics.median(lags),
        "final_queue_ms": _ms(queued),
        "real_time": max(lags) < 1.0,
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    if args.end_silence is None:
        voice = Voice(workers=args.workers)
    else:  # a fixed silence ends every utterance, for comparison
        from dialoghub.voice.streams import Limits

        voice = Voice(workers=args.workers, limits=Limits(end_silence=args.end_silence))
    try:
        sentences = held_out(dev=args.dev)
        kinds = ("domain",) if args.no_general else ("domain", "general")
        result: dict[str, Any] = {
            "accuracy": await accuracy(voice, sentences, args.sentences, kinds)
        }
        if not args.no_pauses:
            result["pauses"] = await pauses(voice, sentences, args.sentences)
        weather = load_model(ROOT / "examples" / "weather" / "weather.yaml")
        domain = whole_model(weather)
        pcm = say("will it be sunny in san francisco tomorrow", "en-us")
        runs = []
        for n in args.streams:
            runs.append(await concurrent(voice, n, pcm, domain))
        result["concurrent"] = runs
        ok = [r["streams"] for r in runs if r["real_time"]]
        result["max_real_time_streams"] = max(ok) if ok else 0
        return result
    finally:
        voice.close()


def report(result: dict[str, Any]) -> None:
    """The figures as text."""
    acc = result["accuracy"]
    print(f"held-out sentences: {acc['sentences']} x voices {', '.join(VOICES)}")
    print(f"{'model':10} {'words':>6} {'WER':>7} {'RTF':>6} {'OOV':>6}  in-vocabulary  per voice")
    for kind in ("domain", "general"):
        if kind not in acc:
            continue
        r = acc[kind]
        pv = "  ".join(f"{v} {w:.1%}" for v, w in r["per_voice"].items())
        iv = r["in_vocabulary"]
        print(
            f"{kind:10} {r['words']:>6} {r['wer']:>7.1%} {r['rtf']:>6.3f} {r['oov']:>6.1%}  "
            f"{iv['wer']:>5.1%} ({iv['streams']} streams, {iv['words']} words)  {pv}"
        )
    print(
        f"end of speech -> final (domain, 100 ms chunks): p50 {acc['latency_p50_ms']:.0f} ms, "
        f"p99 {acc['latency_p99_ms']:.0f} ms"
    )
    for k, v in acc["parts_ms"].items():
        print(f"  {k:11} p50 {v['p50']:7.1f}  p99 {v['p99']:7.1f}  max {v['max']:7.1f} ms")
    c = acc["cut_off"]
    print(f"cut off as spoken: {c['cut']} of {c['streams']} streams")
    for name, p in result.get("pauses", {}).items():
        w, m = p["first_half_a_sentence"], p["cut_mid_sentence"]
        print(
            f"cut off with a {name} pause mid-sentence: {p['cut']} of {p['streams']} "
            f"({p['rate']:.1%}); where the first half is no sentence of the corpus "
            f"{m['cut']} of {m['streams']} ({m['rate']:.1%}), where it is {w['cut']} of "
            f"{w['streams']}"
        )
        for e in p["examples"]:
            print(f"    {e}")
    print(f"{'streams':>8} {'p50 lag ms':>11} {'max lag ms':>11} {'final queued ms':>16} real time")
    for r in result["concurrent"]:
        q = r["final_queue_ms"]
        print(
            f"{r['streams']:>8} {r['p50_lag_ms']:>11.0f} {r['max_lag_ms']:>11.0f} "
            f"{q['p50']:>7.1f}/{q['max']:<7.1f}  {r['real_time']}"
        )
    print(f"concurrent real-time streams: {result['max_real_time_streams']}")
    print(f"load average during the run: {result['load_average']:.1f} (2 CPUs)")
    print("targets: WER <= 5% (domain), p99 <= 300 ms, >= 8 streams", file=sys.stderr)


def main() -> None:
    """``python -m benchmarks.voice [--json] [--sentences N] [--streams 4 8 16] [--dev]``"""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.voice")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--sentences", type=int, default=30, help="held-out sentences per model")
    parser.add_argument("--streams", type=int, nargs="*", default=[4, 8, 12, 16])
    parser.add_argument("--workers", type=int, default=None, help="recognition threads")
    parser.add_argument("--dev", action="store_true", help="the even lines (for tuning)")
    parser.add_argument("--no-general", action="store_true", help="skip the general model")
    parser.add_argument("--no-pauses", action="store_true", help="skip the pause test")
    parser.add_argument(
        "--end-silence", type=float, default=None, help="a fixed silence that ends speech (s)"
    )
    args = parser.parse_args()
    result = asyncio.run(run(args))
    result["load_average"] = os.getloadavg()[0]
    if args.json:
        print(json.dumps(result, indent=2))
        return
    report(result)


if __name__ == "__main__":
    main()
