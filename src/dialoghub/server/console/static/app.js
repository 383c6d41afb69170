// The console's shell: sign-in, the router (#/view/arg), one view at a time. Leaving a view
// aborts its AbortController, which closes its live streams.
//
// Views are modules loaded when first shown: the page preloads this shell and the landing
// view (the sessions list) only, so a cold visit fetches five small files in one round trip
// (a browser opens six connections to a host; more files queue behind them). A view's own
// imports are fetched in parallel with it (IMPORTS), not one import level at a time.
import { key, models as loadModels, setKey } from "./api.js";
import { fill, h, field, toast } from "./dom.js";

const VIEWS = {
  sessions: () => import("./sessions.js"),
  session: () => import("./session.js"),
  chat: () => import("./chat.js"),
  models: () => import("./models.js"),
  keys: () => import("./keys.js"),
  inbox: () => import("./inbox.js"),
};
const IMPORTS = {
  session: ["./timeline.js", "./diagram.js", "./extras.js"],
  chat: ["./voice.js", "./pcm.js"],
  models: ["./diagram.js"],
};
let current = null;
let ready = false;  // signed in (or no key needed): the router may run

function load(name) {
  for (const dep of IMPORTS[name] || []) import(dep).catch(() => {});  // fetched alongside
  return VIEWS[name]();
}

function signIn(main, message) {
  const input = h("input", { type: "password", id: "apikey", autocomplete: "off",
                             required: true, "aria-describedby": "signin-help" });
  const form = h("form", { class: "card signin", "aria-labelledby": "signin-title" },
    h("h1", { id: "signin-title" }, "Sign in"),
    h("p", { id: "signin-help" },
      "Paste an API key (dialoghub keys create). It is kept in this tab only."),
    field("API key", input),
    message ? h("p", { class: "error", role: "alert" }, message) : null,
    h("button", { type: "submit" }, "Sign in"));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    setKey(input.value.trim());
    await start();
  });
  fill(main, form);
  input.focus();
}

function refused(message) {
  setKey("");
  ready = false;
  if (current) current.abort();
  document.getElementById("signout").hidden = true;
  document.getElementById("who").textContent = "";
  signIn(document.getElementById("main"), message);
}

async function start() {
  const main = document.getElementById("main");
  if (key()) {
    // A key is there: show the view at once; the sign-in check (the models, which most views
    // need anyway) runs beside the view's own requests, and a refused key ends both.
    ready = true;
    document.getElementById("signout").hidden = false;
    document.getElementById("who").textContent = "signed in";
    route();
    loadModels().catch((err) => {
      if (err.status === 401 || err.status === 403) refused(err.message);
    });
    return;
  }
  try {
    await loadModels();  // no key: does the server need one?
  } catch (err) {
    if (err.status === 401 || err.status === 403) { refused(""); return; }
    fill(main, h("p", { class: "error", role: "alert" }, err.message));
    return;
  }
  ready = true;
  document.getElementById("signout").hidden = true;
  document.getElementById("who").textContent = "no key needed";
  route();
}

function route() {
  const main = document.getElementById("main");
  let [name, ...rest] = (location.hash.replace(/^#\/?/, "") || "sessions").split("/");
  if (!VIEWS[name]) name = "sessions";
  if (current) current.abort();
  current = new AbortController();
  for (const a of document.querySelectorAll("nav a")) {
    const on = a.dataset.view === name || (name === "session" && a.dataset.view === "sessions");
    if (on) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  }
  fill(main);
  const mine = current;  // a view left meanwhile must not write over the next one
  load(name).then((view) => {
    if (mine.signal.aborted) return undefined;
    return view.render(main, rest.map(decodeURIComponent), mine.signal);
  }).catch((err) => {
    if (mine.signal.aborted) return;
    if (err.status === 401) { refused(err.message); return; }
    fill(main, h("p", { class: "error", role: "alert" }, err.message));
  });
}

window.addEventListener("hashchange", () => { if (ready) route(); });
window.addEventListener("DOMContentLoaded", () => {
  document.getElementById("signout").addEventListener("click", () => {
    setKey("");
    toast("Signed out");
    start();
  });
  start();
});
