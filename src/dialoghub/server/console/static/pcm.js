// Microphone samples to what the voice socket takes: 16 kHz, 16-bit, mono PCM.
// Pure code shared by the AudioWorklet (mic-worklet.js) and the ScriptProcessor fallback
// (voice.js): no DOM, no Web Audio objects.

export const RATE = 16000;

/**
 * Float samples at `from` Hz in, 16-bit samples at 16 kHz out, chunk by chunk (the filter's
 * state and the fractional read position carry over between chunks, so chunk boundaries
 * leave no clicks). Above 16 kHz a windowed-sinc low-pass (cut at 7.2 kHz) runs first, so
 * what is above the new Nyquist does not fold back into the speech band.
 */
export class Downsampler {
  constructor(from) {
    this.from = from;
    this.step = from / RATE;  // input samples per output sample
    this.pos = 0;  // where the next output sample is read, in the input kept so far
    const taps = from > RATE ? 31 : 1;
    this.kernel = lowpass(taps, Math.min(0.45, (0.45 * RATE) / from));
    this.history = new Float32Array(taps - 1);  // the previous chunk's last input samples
    this.prev = undefined;  // the previous chunk's last filtered sample
  }

  /** One chunk of float samples (-1..1) -> an Int16Array of 16 kHz samples. */
  push(input) {
    const k = this.kernel, n = k.length, hist = this.history.length;
    const data = new Float32Array(hist + input.length);
    data.set(this.history, 0);
    data.set(input, hist);
    // Filtered samples exist for positions hist .. data.length - 1 (each needs n - 1 before).
    const filtered = new Float32Array(input.length);
    for (let i = 0; i < input.length; i++) {
      let acc = 0;
      for (let j = 0; j < n; j++) acc += k[j] * data[i + j];
      filtered[i] = acc;
    }
    // The last filtered sample of the previous chunk leads, so a read position between
    // two chunks interpolates across the boundary.
    const f = this.prev === undefined ? filtered : new Float32Array(filtered.length + 1);
    if (f !== filtered) { f[0] = this.prev; f.set(filtered, 1); }
    const out = [];
    while (this.pos + 1 < f.length) {
      const i = Math.floor(this.pos), frac = this.pos - i;
      const s = Math.max(-1, Math.min(1, f[i] + (f[i + 1] - f[i]) * frac));
      out.push(s < 0 ? Math.round(s * 32768) : Math.round(s * 32767));
      this.pos += this.step;
    }
    this.pos -= f.length - 1;  // index f.length - 1 is the next chunk's index 0
    this.prev = f[f.length - 1];
    if (hist) this.history = data.slice(data.length - hist);
    return Int16Array.from(out);
  }
}

/** A windowed-sinc (Blackman) low-pass of `taps` taps, `cut` in cycles per sample. */
export function lowpass(taps, cut) {
  if (taps === 1) return Float32Array.of(1);
  const k = new Float32Array(taps), m = taps - 1;
  let sum = 0;
  for (let i = 0; i < taps; i++) {
    const x = i - m / 2;
    const sinc = x === 0 ? 2 * cut : Math.sin(2 * Math.PI * cut * x) / (Math.PI * x);
    const w = 0.42 - 0.5 * Math.cos((2 * Math.PI * i) / m) + 0.08 * Math.cos((4 * Math.PI * i) / m);
    k[i] = sinc * w;
    sum += k[i];
  }
  for (let i = 0; i < taps; i++) k[i] /= sum;  // unity gain at DC
  return k;
}

/** 16-bit little-endian PCM bytes -> float samples, for playing TTS audio. */
export function toFloat(bytes) {
  const view = new DataView(bytes);
  const out = new Float32Array(bytes.byteLength >> 1);
  for (let i = 0; i < out.length; i++) out[i] = view.getInt16(2 * i, true) / 32768;
  return out;
}
