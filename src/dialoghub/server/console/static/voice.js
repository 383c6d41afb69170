// The test chat's voice: the microphone through the session's voice socket
// (/v1/sessions/{id}/audio), and replies spoken back through it. The protocol is the
// server's (routes_voice.py): JSON control frames, binary frames of 16 kHz 16-bit mono PCM.
//
// A WebSocket cannot carry an Authorization header, so the key travels as ?access_token=
// on this same-origin socket (the Content-Security-Policy's connect-src 'self' allows it,
// and nothing else).
import { key } from "./api.js";
import { Downsampler, RATE, toFloat } from "./pcm.js";

/** Whether this browser can record at all (a microphone API and secure context). */
export function supported() {
  return !!(navigator.mediaDevices && navigator.mediaDevices.getUserMedia && window.WebSocket
            && (window.AudioContext || window.webkitAudioContext));
}

/** The microphone as 16 kHz PCM chunks: an AudioWorklet, else a ScriptProcessor. */
class Mic {
  async start(onPcm) {
    // Echo cancellation lets the user talk over a spoken reply (barge-in); the rest of the
    // browser's processing is left off: the recognizer wants the voice as it is.
    this.stream = await navigator.mediaDevices.getUserMedia({ audio: {
      channelCount: 1, echoCancellation: true, noiseSuppression: false, autoGainControl: false,
    } });
    const Ctx = window.AudioContext || window.webkitAudioContext;
    this.ctx = new Ctx();
    const source = this.ctx.createMediaStreamSource(this.stream);
    const mute = this.ctx.createGain();  // keeps the node pulled by the graph, silently
    mute.gain.value = 0;
    mute.connect(this.ctx.destination);
    if (this.ctx.audioWorklet && window.AudioWorkletNode) {
      await this.ctx.audioWorklet.addModule(new URL("./mic-worklet.js", import.meta.url));
      this.node = new AudioWorkletNode(this.ctx, "dialoghub-mic");
      this.node.port.onmessage = (ev) => onPcm(ev.data);
      this.kind = "worklet";
    } else {
      // The fallback runs on the page's thread: bigger buffers, the same downsampling.
      const down = new Downsampler(this.ctx.sampleRate);
      this.node = this.ctx.createScriptProcessor(4096, 1, 1);
      this.node.onaudioprocess = (ev) => {
        const pcm = down.push(ev.inputBuffer.getChannelData(0));
        if (pcm.length) onPcm(pcm.buffer);
      };
      this.kind = "script";
    }
    source.connect(this.node);
    this.node.connect(mute);
  }

  async stop() {
    if (this.node && this.node.port) this.node.port.postMessage("flush");
    if (this.stream) for (const t of this.stream.getTracks()) t.stop();
    if (this.ctx) await this.ctx.close().catch(() => {});
    this.stream = this.ctx = this.node = null;
  }
}

/** Speech from the socket: PCM chunks scheduled back to back on one AudioContext. */
class Player {
  constructor() { this.ctx = null; this.sources = new Set(); this.next = 0; this.rate = RATE; }

  /** Called from a user gesture, so the browser lets the page play sound later. */
  unlock() {
    if (!this.ctx) {
      const Ctx = window.AudioContext || window.webkitAudioContext;
      this.ctx = new Ctx();
    }
    if (this.ctx.state === "suspended") this.ctx.resume().catch(() => {});
  }

  begin(rate) {
    this.unlock();
    this.rate = rate;
    this.next = this.ctx.currentTime + 0.05;
  }

  chunk(bytes) {
    if (!this.ctx || bytes.byteLength < 2) return;
    const samples = toFloat(bytes);
    const buffer = this.ctx.createBuffer(1, samples.length, this.rate);
    buffer.copyToChannel(samples, 0);
    const src = this.ctx.createBufferSource();
    src.buffer = buffer;
    src.connect(this.ctx.destination);
    const at = Math.max(this.next, this.ctx.currentTime);
    src.start(at);
    this.next = at + buffer.duration;
    this.sources.add(src);
    src.onended = () => this.sources.delete(src);
  }

  stop() {
    for (const src of this.sources) { try { src.stop(); } catch { /* already over */ } }
    this.sources.clear();
  }

  close() { this.stop(); if (this.ctx) this.ctx.close().catch(() => {}); this.ctx = null; }
}

/**
 * One session's voice socket. `on` receives: partial(text), final(msg), update(view),
 * error(msg), recording(bool), capturing(kind: "worklet" | "script"),
 * spoken({bytes, received, cancelled}).
 */
export class VoiceLink {
  constructor(sessionId, on) {
    this.sid = sessionId;
    this.on = on;
    this.mic = null;
    this.player = new Player();
    this.turn = null;  // the request id of the open recognition stream
    this.ended = false;  // its end was sent
    this.ttsBytes = 0;
    this.sent = 0;  // microphone bytes sent on this socket
    this.seq = 0;
  }

  connect() {
    if (this.opened) return this.opened;
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const path = `/v1/sessions/${encodeURIComponent(this.sid)}/audio`;
    const q = key() ? "?access_token=" + encodeURIComponent(key()) : "";
    const ws = new WebSocket(`${scheme}//${location.host}${path}${q}`);
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    this.waiting = new Map();  // request id -> resolve, for "started" and refusals
    ws.onmessage = (ev) => this.message(ev.data);
    ws.onclose = () => {
      this.opened = null;
      if (this.turn) this.finishMic();
      for (const done of this.waiting.values()) done({ type: "error", message: "socket closed" });
      this.waiting.clear();
    };
    this.opened = new Promise((resolve, reject) => {
      ws.onopen = () => resolve(ws);
      ws.onerror = () => reject(new Error("the voice socket could not be opened"));
    });
    return this.opened;
  }

  send(body) { this.ws.send(JSON.stringify(body)); }

  message(data) {
    if (typeof data !== "string") {  // TTS audio
      this.ttsBytes += data.byteLength;
      this.player.chunk(data);
      return;
    }
    const msg = JSON.parse(data);
    const waiter = msg.request_id && this.waiting.get(msg.request_id);
    if (waiter && (msg.type === "started" || msg.type === "error")) {
      this.waiting.delete(msg.request_id);
      waiter(msg);
      if (msg.type === "started") return;
    }
    switch (msg.type) {
      case "partial": if (msg.request_id === this.turn) this.on.partial(msg.text); break;
      case "final":
        if (msg.request_id === this.turn) {
          // The endpointer heard the end (or the user stopped): the mic is done for this turn.
          if (!this.ended) { this.ended = true; this.send({ type: "end" }); }
          this.finishMic();
        }
        this.on.final(msg);
        break;
      case "update": this.on.update(msg); break;
      case "tts_start": this.ttsBytes = 0; this.player.begin(msg.sample_rate); break;
      case "tts_end": this.on.spoken({ bytes: msg.bytes, received: this.ttsBytes,
                                      cancelled: msg.cancelled }); break;
      case "error":
        if (msg.request_id === this.turn || msg.request_id === null) this.finishMic();
        this.on.error(msg);
        break;
      default: break;
    }
  }

  /** Open a recognition stream of one user turn and start the microphone. */
  async record(expectedVersion) {
    this.player.stop();  // barge-in: the user speaks over the reply
    await this.connect();
    this.send({ type: "cancel" });
    const id = `mic-${Date.now()}-${++this.seq}`;
    const started = new Promise((resolve) => this.waiting.set(id, resolve));
    this.send({ type: "asr", encoding: "pcm16", sample_rate: RATE, request_id: id,
                expected_version: expectedVersion });
    const answer = await started;
    if (answer.type !== "started") return false;  // on.error has told the user
    this.turn = id;
    this.ended = false;
    this.mic = new Mic();
    this.on.recording(true);
    try {
      await this.mic.start((chunk) => {
        if (this.turn === id && this.ws.readyState === WebSocket.OPEN) {
          this.ws.send(chunk);
          this.sent += chunk.byteLength;
        }
      });
      this.on.capturing(this.mic.kind);
    } catch (err) {
      this.finishMic();
      if (!this.ended) { this.ended = true; this.send({ type: "end" }); }
      throw err;
    }
    return true;
  }

  /** The user is done speaking: the server gives its final now. */
  stop() {
    if (!this.turn) return;
    if (this.mic) this.mic.node?.port?.postMessage("flush");
    if (!this.ended) { this.ended = true; this.send({ type: "end" }); }
    this.finishMic();
  }

  finishMic() {
    const mic = this.mic;
    this.mic = null;
    if (mic) mic.stop();
    if (this.turn) { this.turn = null; this.on.recording(false); }
  }

  /** Speak `text` through the server's TTS. */
  async speak(text) {
    this.player.unlock();
    await this.connect();
    this.send({ type: "tts", text, sample_rate: RATE, request_id: `tts-${++this.seq}` });
  }

  /** Called from a click, so later replies may be played. */
  unlock() { this.player.unlock(); }

  close() {
    this.finishMic();
    this.player.close();
    if (this.ws) this.ws.close();
    this.ws = null;
    this.opened = null;
  }
}
