// The microphone's AudioWorklet: runs on the audio thread, turns each 128-sample render
// quantum into 16 kHz 16-bit PCM and posts it to the page in chunks of 100 ms (one
// WebSocket frame each), so the page's thread sees ten messages a second, not hundreds.
import { Downsampler, RATE } from "./pcm.js";

const CHUNK = RATE / 10;

class MicProcessor extends AudioWorkletProcessor {
  constructor() {
    super();
    this.down = new Downsampler(sampleRate);  // the context's rate (a worklet global)
    this.buffer = new Int16Array(CHUNK);
    this.filled = 0;
    this.port.onmessage = (ev) => { if (ev.data === "flush") this.flush(); };
  }

  flush() {
    if (this.filled) this.port.postMessage(this.buffer.slice(0, this.filled).buffer);
    this.filled = 0;
  }

  process(inputs) {
    const channel = inputs[0] && inputs[0][0];
    if (!channel) return true;  // no input connected yet
    const pcm = this.down.push(channel);
    for (let i = 0; i < pcm.length; i++) {
      this.buffer[this.filled++] = pcm[i];
      if (this.filled === CHUNK) {
        this.port.postMessage(this.buffer.buffer, [this.buffer.buffer]);
        this.buffer = new Int16Array(CHUNK);
        this.filled = 0;
      }
    }
    return true;
  }
}

registerProcessor("dialoghub-mic", MicProcessor);
