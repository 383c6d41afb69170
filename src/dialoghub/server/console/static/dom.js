// Building the page from data without ever parsing data as HTML: every text goes through
// textContent, so a session id, a variable or a reply cannot inject markup or script.

/** h("tr", {class: "x", onclick: f}, "text", child) -> an element. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      el.addEventListener(name.slice(2), value);
    } else if (name === "dataset") {
      Object.assign(el.dataset, value);
    } else if (value === true) {
      el.setAttribute(name, "");
    } else {
      el.setAttribute(name, String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replace everything inside `el`. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

// One formatter for every date: toLocaleString(undefined, options) builds a new one per call
// (locale data looked up each time), which was most of the sessions list's first render
// (100 dates: ~180 ms on a loaded machine, against ~7 ms with this one; benchmarks/README.md).
let dates = null;

/** A date and time a person reads, from seconds since the epoch. */
export function when(seconds) {
  if (!seconds) return "";
  if (dates === null) {
    dates = new Intl.DateTimeFormat(undefined, {
      year: "numeric", month: "short", day: "2-digit",
      hour: "2-digit", minute: "2-digit", second: "2-digit",
    });
  }
  return dates.format(new Date(seconds * 1000));
}

/** JSON for people: indented, bounded. */
export function pretty(value, limit = 20000) {
  const text = JSON.stringify(value, null, 2);
  return text.length > limit ? text.slice(0, limit) + "\n…" : text;
}

let toastTimer = 0;
/** A short message in the status line (read out by screen readers). */
export function toast(message, kind = "info") {
  const el = document.getElementById("toast");
  el.textContent = message;
  el.className = kind;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { el.textContent = ""; el.className = ""; }, 6000);
}

/** A labelled form control: <label>text <input ...></label>. */
export function field(label, control) {
  return h("label", { class: "field" }, h("span", {}, label), control);
}
