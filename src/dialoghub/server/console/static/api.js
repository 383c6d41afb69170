// The console's only way to the server: the public HTTP API, with the signed-in key.
// The key lives in this tab's sessionStorage: closing the tab forgets it, and no other
// site can read it (the page is served with a strict Content-Security-Policy).

const KEY = "dialoghub.key";

export function key() { return sessionStorage.getItem(KEY) || ""; }
export function setKey(value) {
  if (value) sessionStorage.setItem(KEY, value); else sessionStorage.removeItem(KEY);
  loadedModels = null;
}

let loadedModels = null;
/** The loaded models, asked once per sign-in (every view needs them; they change only when
 * the server restarts, and a reload asks again). */
export function models() {
  if (loadedModels === null) {
    loadedModels = api("/v1/models").then((r) => r.models);
    loadedModels.catch(() => { loadedModels = null; });
  }
  return loadedModels;
}

/** An error answer of the API, in its one shape: code, message, details. */
export class ApiError extends Error {
  constructor(status, body) {
    const err = body || {};
    super(err.message || `HTTP ${status}`);
    this.status = status;
    this.code = err.code || "http_" + status;
    this.details = err.details || {};
  }
}

function headers(extra = {}) {
  const out = { ...extra };
  const k = key();
  if (k) out.Authorization = "Bearer " + k;
  return out;
}

/** Call the API; JSON in and out (text for non-JSON answers). Throws ApiError. */
export async function api(path, { method = "GET", json, text, type, signal } = {}) {
  const init = { method, headers: headers(), signal };
  if (json !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(json);
  } else if (text !== undefined) {
    init.headers["Content-Type"] = type || "text/plain";
    init.body = text;
  }
  const res = await fetch(path, init);
  const ctype = res.headers.get("content-type") || "";
  const body = res.status === 204 ? null
    : ctype.includes("json") ? await res.json() : await res.text();
  if (!res.ok) throw new ApiError(res.status, typeof body === "object" ? body : null);
  return body;
}

/** Query string from an object, leaving out empty values. */
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  }
  const s = q.toString();
  return s ? "?" + s : "";
}

/**
 * Follow a server-sent event stream with the key in a header (EventSource cannot send
 * one). onEvent(name, data, id) gets each event; the stream reconnects after a drop,
 * sending the last id it saw as Last-Event-ID, until `signal` aborts.
 */
export async function follow(path, onEvent, signal) {
  let lastId = null;
  let delay = 500;
  while (!signal.aborted) {
    try {
      const extra = lastId === null ? {} : { "Last-Event-ID": lastId };
      const res = await fetch(path, { headers: headers(extra), signal });
      if (!res.ok) {
        const body = await res.json().catch(() => null);
        throw new ApiError(res.status, body);
      }
      delay = 500;
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let cut;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          const frame = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          let name = "message", data = "", id = null;
          for (const line of frame.split("\n")) {
            if (line.startsWith("event: ")) name = line.slice(7);
            else if (line.startsWith("data: ")) data += line.slice(6);
            else if (line.startsWith("id: ")) id = line.slice(4);
          }
          if (id !== null) lastId = id;
          if (data) onEvent(name, JSON.parse(data), id);
        }
      }
    } catch (err) {
      if (signal.aborted) return;
      if (err instanceof ApiError && err.status < 500 && err.status !== 429) throw err;
    }
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 10000);
  }
}
