// The console's shell: sign-in, the router (#/view/arg), one view at a time. Leaving a view
// aborts its AbortController, which closes its live streams.
import { key, models as loadModels, setKey } from "./api.js";
import { fill, h, field, toast } from "./dom.js";
import * as sessions from "./sessions.js";
import * as session from "./session.js";
import * as chat from "./chat.js";
import * as models from "./models.js";
import * as keys from "./keys.js";
import * as inbox from "./inbox.js";

const VIEWS = { sessions, session, chat, models, keys, inbox };
let current = null;
let ready = false;  // signed in (or no key needed): the router may run

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

async function start() {
  const main = document.getElementById("main");
  try {
    // Any read route tells whether the key works; models are needed by most views anyway.
    await loadModels();
  } catch (err) {
    if (err.status === 401 || err.status === 403) {
      const tried = key() !== "";  // no key yet: just ask; a refused key: say why
      setKey("");
      ready = false;
      document.getElementById("signout").hidden = true;
      document.getElementById("who").textContent = "";
      signIn(main, tried ? err.message : "");
      return;
    }
    fill(main, h("p", { class: "error", role: "alert" }, err.message));
    return;
  }
  ready = true;
  document.getElementById("signout").hidden = !key();
  document.getElementById("who").textContent = key() ? "signed in" : "no key needed";
  route();
}

function route() {
  const main = document.getElementById("main");
  const [name, ...rest] = (location.hash.replace(/^#\/?/, "") || "sessions").split("/");
  const view = VIEWS[name] || sessions;
  if (current) current.abort();
  current = new AbortController();
  for (const a of document.querySelectorAll("nav a")) {
    const on = a.dataset.view === name || (name === "session" && a.dataset.view === "sessions");
    if (on) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  }
  fill(main);
  const mine = current;  // a view left meanwhile must not write over the next one
  view.render(main, rest.map(decodeURIComponent), mine.signal).catch((err) => {
    if (mine.signal.aborted) return;
    if (err.status === 401) { setKey(""); start(); return; }
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
