// One session: what it is now (or as of a picked event), its timeline, its diagram, live.
import { api, follow, query } from "./api.js";
import { fill, h, pretty, toast, when } from "./dom.js";
import { Timeline } from "./timeline.js";
import { currentNodes, diagram, mark, pathNodes } from "./diagram.js";
import { clients, rounds } from "./extras.js";

function facts(s) {
  const row = (k, v) => [h("dt", {}, k), h("dd", {}, v)];
  return h("dl", { class: "facts" },
    row("Model", `${s.model_id} v${s.model_version}`),
    row("Status", h("span", { class: "status " + s.status }, s.status)),
    row("State", `${s.unit} / ${s.state}`),
    s.configuration && s.configuration.length ? row("Configuration", s.configuration.join(", "))
      : null,
    row("Version", s.version), row("Events", s.seq),
    row("Created", when(s.created_at)), row("Updated", when(s.updated_at)),
    s.expires_at ? row("Expires", when(s.expires_at)) : null,
    s.due_at ? row("Prompt times out", when(s.due_at)) : null,
    row("Tenant", s.tenant));
}

function detail(s) {
  const block = (title, value) => h("section", { class: "block" },
    h("h3", {}, title), h("pre", {}, pretty(value)));
  const units = Object.entries(s.variables || {});
  return [
    block("Waiting on", s.awaiting || "nothing"),
    units.length ? units.map(([unit, vars]) => block(`Variables of ${unit}`, vars))
      : block("Variables", {}),
    block("Params", s.params || {}),
    block("Metadata", s.metadata || {}),
    s.stack && s.stack.length ? block("Call stack", s.stack) : null,
    s.memory && Object.keys(s.memory).length ? block("Session memory", s.memory) : null,
    s.locks && Object.keys(s.locks).length ? block("Locks", s.locks) : null,
  ];
}

export async function render(main, [sid], signal) {
  const path = `/v1/sessions/${encodeURIComponent(sid)}`;
  let session = await api(path, { signal });
  const title = h("h1", {}, "Session ", h("code", {}, sid));
  const asOf = h("div", { class: "asof", role: "status", hidden: true });
  const factsBox = h("div");
  const detailBox = h("div", { class: "details" });
  const roundsBox = h("section", { "aria-label": "Agent rounds" });
  const clientsBox = h("section", { "aria-label": "Clients" });
  const diagramBox = h("div", { class: "diagram-wrap" }, h("p", { class: "muted" }, "Drawing…"));
  let picked = null;  // seq of the event being looked at, null: now
  const timeline = new Timeline(sid, session.seq, pick, signal);
  const actions = h("div", { class: "toolbar" },
    h("button", { type: "button", id: "fork", onclick: () => fork() }, "Fork"),
    h("button", { type: "button", id: "end", onclick: () => end() }, "End"),
    h("a", { href: "#/chat/" + encodeURIComponent(sid), class: "button" }, "Talk to it"));
  fill(main, title, actions, asOf,
    h("div", { class: "columns" },
      h("section", { "aria-label": "Session state" }, factsBox, detailBox, clientsBox,
        roundsBox),
      h("section", { "aria-label": "Diagram and timeline" },
        h("h2", {}, "Diagram"), diagramBox,
        h("h2", {}, "Timeline ", h("span", { class: "muted" }, "(click an event, or ↑ ↓ Home End, to see the session as of it)")),
        timeline.el)));
  timeline.onLoad = () => show(shown);  // a fetched page may extend the path drawn
  timeline.start();

  let shown = session;  // what the page shows: the session now, or as of the picked event
  function show(s) {
    shown = s;
    fill(factsBox, facts(s));
    fill(detailBox, detail(s));
    const box = diagramBox.firstElementChild;
    if (box && box.classList.contains("diagram")) {
      mark(box, currentNodes(s), pathNodes(timeline.loaded().filter(
        (e) => picked === null || e.seq <= picked)));
    }
  }

  async function pick(seq) {
    picked = seq;
    const past = await api(path + query({ at: seq }), { signal });
    asOf.hidden = false;
    fill(asOf, `As of event ${seq} (version ${past.version}). `,
      h("button", { type: "button", id: "fork-here", onclick: () => fork(seq) },
        `Fork from event ${seq}`), " (the fork starts at rest, after this event's update) ",
      h("button", { type: "button", onclick: () => back() }, "Back to now"));
    show(past);
  }

  function back() { picked = null; asOf.hidden = true; show(session); }

  async function fork(at) {
    const res = await api(path + "/fork", { method: "POST", json: at ? { at } : {} });
    toast(`Forked into ${res.session.id}`);
    location.hash = "#/session/" + encodeURIComponent(res.session.id);
  }

  async function end() {
    try {
      await api(path + "/end", { method: "POST", json: {} });
    } catch (err) { toast(err.message, "error"); }
  }

  show(session);
  rounds(roundsBox, sid, signal);
  clients(clientsBox, session, signal);
  diagram(session.model_id, signal).then((box) => {
    fill(diagramBox, box);
    show(shown);
  }).catch((err) => fill(diagramBox, h("p", { class: "muted" }, err.message)));

  // Live: every update of the session, whoever makes it.
  follow(path + "/stream" + query({ after: session.seq }), (name, data) => {
    if (name === "update" || name === "events") {
      timeline.grow(data.events || []);
      if (data.session) session = data.session;
    } else if (name === "attached") {
      session = data.session;
    }
    if (picked === null) show(session);
  }, signal).catch((err) => toast(err.message, "error"));
}
