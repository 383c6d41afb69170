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
  words, digits compared as words.
* **End of speech to final**: for each stream, the audio time between the true end of speech
  (the last sample above -40 dBFS) and the chunk whose processing produced the final, plus
  that chunk's processing time: what a client streaming in real time waits (p50, p99).
* **RTF**: processing time / audio time per stream (domain and general).
* **Concurrent real-time streams**: N streams of different sessions fed in 100 ms chunks at
  real-time pace from one process (the Voice's worker threads); a stream keeps up when its
  final arrives within 1 s of its audio ending; the largest N where all keep up.

Targets: WER <= 5% with the domain model, final within 300 ms of the end of speech at p99,
at least 8 concurrent real-time streams on the 2-CPU machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
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
from dialoghub.voice.streams import Final

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "benchmarks" / "data" / "nlu_labelled.jsonl"
VOICES = ("en-us", "en-us+f3")
CHUNK = 3200  # 100 ms


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


def speech_end(pcm: bytes) -> float:
    """Audio time (s) of the last sample above -40 dBFS."""
    x = np.abs(np.frombuffer(pcm, "<i2").astype(float))
    loud = np.nonzero(x > 327)[0]
    return float(loud[-1]) / 16000 if len(loud) else 0.0


def wer_counts(ref: str, hyp: str) -> tuple[int, int]:
    """(edits, reference words)."""
    r, h = ref.split(), hyp.split()
    d = list(range(len(h) + 1))
    for i, rw in enumerate(r, 1):
        prev, d[0] = d[0], i
        for j, hw in enumerate(h, 1):
            prev, d[j] = d[j], min(d[j] + 1, d[j - 1] + 1, prev + (rw != hw))
    return d[len(h)], len(r)


def held_out() -> dict[str, list[str]]:
    """Per model: held-out sentences not in its corpus, in the dictionary."""
    models = {m: load_model(ROOT / "examples" / m / f"{m}.yaml") for m in ("weather", "pizza")}
    words = _Dictionary.entries()
    out: dict[str, list[str]] = {m: [] for m in models}
    for i, line in enumerate(DATA.read_text().splitlines()):
        row = json.loads(line)
        if i % 2 == 0 or row["intent"] is None:
            continue
        text = spoken(row["text"])
        corpus = set(whole_model(models[row["model"]]).sentences)
        if text and text not in corpus and all(w in words for w in text.split()):
            out[row["model"]].append(text)
    return out


async def recognise(voice: Voice, domain: Domain, pcm: bytes) -> dict[str, Any]:
    """One stream, fed as fast as it goes; its final and timings."""
    from dialoghub.voice.streams import AsrStream

    # As a session's next turn would: the calibration the last stream ended with.
    stream = AsrStream(
        voice.engine,
        domain,
        AudioFormat(),
        limits=voice.limits,
        calibration=voice.calibration_of(None),
    )
    busy = 0.0
    last = 0.0
    final: Final | None = None
    fed = 0
    for i in range(0, len(pcm), CHUNK):
        t = time.perf_counter()
        results = await voice.feed(stream, pcm[i : i + CHUNK])
        last = time.perf_counter() - t
        busy += last
        fed = i + len(pcm[i : i + CHUNK])
        done = [r for r in results if isinstance(r, Final)]
        if done:
            final = done[0]
            break
    if final is None:
        t = time.perf_counter()
        final = await voice.end(stream, None)
        last = time.perf_counter() - t
        busy += last
    else:
        await voice.end(stream, None)  # keeps its calibration for the next stream
    audio = fed / 32000
    return {
        "text": final.text,
        "busy": busy,
        "audio": audio,
        "latency": max(0.0, audio - speech_end(pcm)) + last,
    }


def _pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))] if s else float("nan")


async def accuracy(voice: Voice, sentences: dict[str, list[str]], limit: int) -> dict[str, Any]:
    models = {m: load_model(ROOT / "examples" / m / f"{m}.yaml") for m in sentences}
    rows: dict[str, Any] = {}
    latencies: list[float] = []
    for kind in ("domain", "general"):
        edits = words = 0
        busy = audio = 0.0
        per_voice: dict[str, list[int]] = {}
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
                oov += len(VOICES) * sum(w not in vocabulary for w in text.split())
                for v in VOICES:
                    r = await recognise(voice, domain, say(text, v))
                    e, n = wer_counts(text, spoken(r["text"]))
                    edits, words = edits + e, words + n
                    pv = per_voice.setdefault(v, [0, 0])
                    pv[0] += e
                    pv[1] += n
                    busy, audio = busy + r["busy"], audio + r["audio"]
                    if kind == "domain":
                        latencies.append(r["latency"])
        rows[kind] = {
            "wer": edits / max(1, words),
            "words": words,
            "rtf": busy / audio,
            "oov": oov / max(1, words),
            "per_voice": {v: e / max(1, n) for v, (e, n) in per_voice.items()},
        }
    rows["latency_p50_ms"] = 1000 * _pct(latencies, 0.5)
    rows["latency_p99_ms"] = 1000 * _pct(latencies, 0.99)
    rows["sentences"] = {m: min(limit, len(t)) for m, t in sentences.items()}
    return rows


async def concurrent(voice: Voice, n: int, pcm: bytes, domain: Domain) -> dict[str, Any]:
    """``n`` streams at real-time pace; how late each final is after its audio ended."""
    from dialoghub.voice.streams import AsrStream

    async def one(k: int) -> float:
        await asyncio.sleep(k * 0.1 / max(1, n))  # stagger the chunk boundaries
        stream = AsrStream(voice.engine, domain, AudioFormat(), limits=voice.limits)
        start = time.perf_counter()
        for i in range(0, len(pcm), CHUNK):
            due = start + i / 32000
            wait = due - time.perf_counter()
            if wait > 0:
                await asyncio.sleep(wait)
            results = await voice.feed(stream, pcm[i : i + CHUNK])
            if any(isinstance(r, Final) for r in results):
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
        "real_time": max(lags) < 1.0,
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    voice = Voice(workers=args.workers)
    try:
        sentences = held_out()
        result: dict[str, Any] = {"accuracy": await accuracy(voice, sentences, args.sentences)}
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


def main() -> None:
    """``python -m benchmarks.voice [--json] [--sentences N] [--streams 4 8 16]``"""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.voice")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--sentences", type=int, default=30, help="held-out sentences per model")
    parser.add_argument("--streams", type=int, nargs="+", default=[4, 8, 12, 16])
    parser.add_argument("--workers", type=int, default=None, help="recognition threads")
    args = parser.parse_args()
    result = asyncio.run(run(args))
    import os

    result["load_average"] = os.getloadavg()[0]
    if args.json:
        print(json.dumps(result, indent=2))
        return
    acc = result["accuracy"]
    print(f"held-out sentences: {acc['sentences']} x voices {', '.join(VOICES)}")
    print(f"{'model':10} {'words':>6} {'WER':>7} {'RTF':>6} {'OOV':>6}  per voice")
    for kind in ("domain", "general"):
        r = acc[kind]
        pv = "  ".join(f"{v} {w:.1%}" for v, w in r["per_voice"].items())
        print(f"{kind:10} {r['words']:>6} {r['wer']:>7.1%} {r['rtf']:>6.3f} {r['oov']:>6.1%}  {pv}")
    print(
        f"end of speech -> final (domain): p50 {acc['latency_p50_ms']:.0f} ms, "
        f"p99 {acc['latency_p99_ms']:.0f} ms"
    )
    print(f"{'streams':>8} {'p50 lag ms':>11} {'max lag ms':>11} real time")
    for r in result["concurrent"]:
        print(
            f"{r['streams']:>8} {r['p50_lag_ms']:>11.0f} {r['max_lag_ms']:>11.0f} {r['real_time']}"
        )
    print(f"concurrent real-time streams: {result['max_real_time_streams']}")
    print(f"load average during the run: {result['load_average']:.1f} (2 CPUs)")
    print("targets: WER <= 5% (domain), p99 <= 300 ms, >= 8 streams", file=sys.stderr)


if __name__ == "__main__":
    main()
