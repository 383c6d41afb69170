// The sessions list: filters, pages through the store's cursors, live through /v1/feed.
import { api, follow, models as loadModels, query } from "./api.js";
import { fill, h, field, when } from "./dom.js";

const PAGE = 50;

export async function render(main, _args, signal) {
  const models = await loadModels();
  const model = h("select", { id: "f-model" }, h("option", { value: "" }, "any"),
    models.map((m) => h("option", { value: m.id }, m.id)));
  const state = h("input", { id: "f-state", type: "text", placeholder: "e.g. ask_city" });
  const status = h("select", { id: "f-status" }, ["", "active", "ended", "expired"].map(
    (s) => h("option", { value: s }, s || "any")));
  const search = h("input", { id: "f-search", type: "search",
                              placeholder: "id or metadata (this page)" });
  const count = h("span", { class: "muted", "aria-live": "polite" });
  const body = h("tbody");
  const more = h("button", { type: "button", hidden: true }, "Load more");
  const table = h("table", { class: "grid", "aria-label": "Sessions" },
    h("thead", {}, h("tr", {}, ["Session", "Model", "State", "Status", "Version", "Created",
      "Updated"].map((t) => h("th", { scope: "col" }, t)))), body);
  fill(main,
    h("h1", {}, "Sessions"),
    h("form", { class: "filters", role: "search", "aria-label": "Filter sessions" },
      field("Model", model), field("State", state), field("Status", status),
      field("Search", search), count),
    table, more);

  const rows = new Map();  // id -> {session, tr}
  let cursor = null;

  function matches(s) {
    if (model.value && s.model_id !== model.value) return false;
    if (state.value && s.state !== state.value) return false;
    if (status.value && s.status !== status.value) return false;
    const q = search.value.trim().toLowerCase();
    if (q && !s.id.toLowerCase().includes(q)
        && !JSON.stringify(s.metadata || {}).toLowerCase().includes(q)) return false;
    return true;
  }

  function row(s) {
    const link = h("a", { href: "#/session/" + encodeURIComponent(s.id) }, s.id);
    return h("tr", { dataset: { id: s.id } }, h("td", {}, link), h("td", {}, s.model_id),
      h("td", {}, s.state), h("td", {}, h("span", { class: "status " + s.status }, s.status)),
      h("td", { class: "num" }, s.version), h("td", {}, when(s.created_at)),
      h("td", {}, when(s.updated_at)));
  }

  function upsert(s, live) {
    const seen = rows.get(s.id);
    if (seen && seen.session.version > s.version) return;  // an older summary: keep ours
    const merged = seen ? { ...seen.session, ...s } : s;
    if (!matches(merged)) {
      if (seen) { seen.tr.remove(); rows.delete(s.id); }
      return;
    }
    const tr = row(merged);
    if (live) tr.classList.add("flash");
    if (seen) seen.tr.replaceWith(tr); else if (live) body.prepend(tr); else body.append(tr);
    rows.set(s.id, { session: merged, tr });
    count.textContent = `${rows.size} shown`;
  }

  async function load(reset) {
    if (reset) { rows.clear(); body.replaceChildren(); cursor = null; }
    const page = await api("/v1/sessions" + query({
      model: model.value, state: state.value, status: status.value, limit: PAGE, cursor,
    }), { signal });
    for (const s of page.sessions) upsert(s, false);
    cursor = page.next_cursor;
    more.hidden = !cursor;
    count.textContent = `${rows.size} shown`;
  }

  more.addEventListener("click", () => load(false));
  for (const el of [model, status]) el.addEventListener("change", () => load(true));
  state.addEventListener("change", () => load(true));
  search.addEventListener("input", () => {
    for (const [id, r] of rows) r.tr.hidden = !matches(r.session);
  });

  // The feed first, then the page: an update between the two is not lost (upsert keeps
  // the newer version of each session).
  let opened;
  const first = new Promise((resolve) => { opened = resolve; });
  follow("/v1/feed", (name, data) => {
    if (name === "open") opened();
    else if (name === "session") upsert(data, true);
  }, signal).catch(() => opened());
  await first;
  await load(true);
  // When the first page was in the page, for benchmarks.console (performance timeline).
  performance.mark("dialoghub:sessions");
}
