// A model's diagram (SVG drawn by the server with Graphviz), with a session's current
// state and the path it took marked. Graphviz names each node <title>UNIT/STATE</title>.
import { api } from "./api.js";
import { h } from "./dom.js";

const drawings = new Map();  // model id -> SVG text

export async function diagram(modelId, signal) {
  let text = drawings.get(modelId);
  if (text === undefined) {
    text = await api(`/v1/models/${encodeURIComponent(modelId)}/diagram`, { signal });
    drawings.set(modelId, text);
  }
  const doc = new DOMParser().parseFromString(text, "image/svg+xml");
  const svg = doc.documentElement;
  if (svg.nodeName !== "svg") throw new Error("the diagram could not be read");
  for (const bad of svg.querySelectorAll("script, foreignObject")) bad.remove();
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", `Diagram of model ${modelId}`);
  const box = h("div", { class: "diagram" });
  box.append(document.importNode(svg, true));
  return box;
}

/** The node names (UNIT/STATE) a session is in now. */
export function currentNodes(session) {
  if (session.configuration && session.configuration.length) {
    return session.configuration.map((id) => `${session.unit}/${id}`);
  }
  return [`${session.unit}/${session.state}`];
}

/** The node names a list of events entered, in order (an event names its unit only when
 * the session changes unit, so the unit is carried along). */
export function pathNodes(events) {
  const out = [];
  let unit = "main";
  for (const e of events) {
    if (e.data && typeof e.data.unit === "string") unit = e.data.unit;
    if (e.type === "state_entered") out.push(`${unit}/${e.data.state}`);
    else if (e.type === "chart_stepped" && Array.isArray(e.data.microsteps)) {
      for (const step of e.data.microsteps) {
        for (const id of step.entered || []) out.push(`${unit}/${id}`);
      }
    }
  }
  return out;
}

/** Mark `now` (current) and `path` (visited) on a diagram made by diagram(). */
export function mark(box, now, path) {
  const visited = new Set(path);
  const current = new Set(now);
  for (const g of box.querySelectorAll("g.node")) {
    const title = g.querySelector("title");
    const name = title ? title.textContent : "";
    g.classList.toggle("current", current.has(name));
    g.classList.toggle("visited", visited.has(name) && !current.has(name));
    if (current.has(name)) g.setAttribute("aria-current", "step");
    else g.removeAttribute("aria-current");
  }
}
