// A session's events as a virtualized list: only the rows in view exist in the page, and
// only the pages of events they need are fetched (200 events each, by sequence number), so
// a session with 100,000 events opens as fast as one with 10. Sequence numbers are
// contiguous (1, 2, 3, ...), so row i is event i + 1 and needs no index.
import { api, query } from "./api.js";
import { h, when } from "./dom.js";

const ROW = 28;  // px; must match .timeline .row in console.css
const PAGE = 200;

export class Timeline {
  constructor(sessionId, total, onPick, signal) {
    this.sid = sessionId;
    this.total = total;
    this.onPick = onPick;
    this.signal = signal;
    this.pages = new Map();  // page index -> events
    this.loading = new Set();
    this.picked = null;
    this.spacer = h("div", { class: "spacer" });
    this.el = h("div", { class: "timeline", tabindex: "0", role: "list",
                         "aria-label": "Events, newest at the bottom" }, this.spacer);
    this.el.addEventListener("scroll", () => this.draw());
    this.el.addEventListener("keydown", (ev) => this.key(ev));
    this.rows = new Map();  // seq -> element
    this.onLoad = () => {};  // called after each page of events arrives
  }

  /** Show the latest events (called once the element is in the page). */
  start() {
    this.resize();
    this.el.scrollTop = this.el.scrollHeight;
    this.draw();
  }

  resize() { this.spacer.style.height = `${this.total * ROW}px`; }

  /** New events arrived (live): grow, and follow the end if the reader was at the end. */
  grow(events) {
    const atEnd = this.el.scrollTop + this.el.clientHeight >= this.el.scrollHeight - ROW;
    for (const e of events) {
      const page = Math.floor((e.seq - 1) / PAGE);
      const got = this.pages.get(page);
      if (got && got.length === (e.seq - 1) % PAGE) got.push(e);
      this.total = Math.max(this.total, e.seq);
    }
    this.resize();
    if (atEnd) this.el.scrollTop = this.el.scrollHeight;
    this.draw();
  }

  event(seq) {
    const got = this.pages.get(Math.floor((seq - 1) / PAGE));
    return got ? got[(seq - 1) % PAGE] : undefined;
  }

  async fetch(page) {
    if (this.loading.has(page)) return;
    this.loading.add(page);
    try {
      const res = await api(`/v1/sessions/${encodeURIComponent(this.sid)}/events` +
        query({ after: page * PAGE, limit: PAGE }), { signal: this.signal });
      this.pages.set(page, res.events);
      this.draw();
      this.onLoad();
      if (!this.marked && this.rows.get(this.total)?.dataset.ready === "1") {
        this.marked = true;  // the newest events are drawn: for benchmarks.console
        performance.mark("dialoghub:timeline");
      }
    } finally {
      this.loading.delete(page);
    }
  }

  /** Every event fetched so far, in order (for the diagram's path). */
  loaded() {
    return [...this.pages.keys()].sort((a, b) => a - b).flatMap((k) => this.pages.get(k));
  }

  draw() {
    const first = Math.max(1, Math.floor(this.el.scrollTop / ROW) + 1 - 5);
    const last = Math.min(this.total, Math.ceil((this.el.scrollTop + this.el.clientHeight)
                                                 / ROW) + 5);
    for (const [seq, el] of this.rows) {
      if (seq < first || seq > last) { el.remove(); this.rows.delete(seq); }
    }
    for (let seq = first; seq <= last; seq++) {
      const e = this.event(seq);
      if (e === undefined) { this.fetch(Math.floor((seq - 1) / PAGE)); }
      const old = this.rows.get(seq);
      if (old && (old.dataset.ready === "1" || e === undefined)) {
        old.classList.toggle("picked", seq === this.picked);
        continue;
      }
      const el = this.row(seq, e);
      el.style.top = `${(seq - 1) * ROW}px`;
      if (old) old.replaceWith(el); else this.spacer.append(el);
      this.rows.set(seq, el);
    }
  }

  row(seq, e) {
    if (e === undefined) {
      return h("div", { class: "row loading", role: "listitem" }, `#${seq} …`);
    }
    const data = JSON.stringify(e.data);
    const el = h("div", { class: "row" + (seq === this.picked ? " picked" : ""),
                          role: "listitem", tabindex: "-1", dataset: { seq, ready: "1" },
                          "aria-label": `event ${seq}: ${e.type}` },
      h("span", { class: "seq" }, seq), h("span", { class: "time" }, when(e.time)),
      h("span", { class: "type" }, e.type),
      h("span", { class: "data" }, data.length > 160 ? data.slice(0, 160) + "…" : data));
    el.addEventListener("click", () => this.pick(seq));
    return el;
  }

  pick(seq) {
    this.picked = seq;
    for (const [s, el] of this.rows) el.classList.toggle("picked", s === seq);
    const el = this.rows.get(seq);
    if (el) el.focus({ preventScroll: true });
    this.onPick(seq, this.event(seq));
  }

  key(ev) {
    const step = { ArrowDown: 1, ArrowUp: -1, PageDown: 20, PageUp: -20 }[ev.key];
    if (ev.key === "Home" || ev.key === "End" || step) {
      ev.preventDefault();
      const base = this.picked ?? this.total;
      const seq = ev.key === "Home" ? 1 : ev.key === "End" ? this.total
        : Math.min(this.total, Math.max(1, base + step));
      const top = (seq - 1) * ROW;
      if (top < this.el.scrollTop || top + ROW > this.el.scrollTop + this.el.clientHeight) {
        this.el.scrollTop = top - this.el.clientHeight / 2;
      }
      this.draw();
      this.pick(seq);
    }
  }
}
