// The sessions list: filters, pages through the store's cursors, live through /v1/feed.
// The search is the server's (?q=: id and metadata, every page of the store, not only the
// rows in view); an operator's key (an admin key of an operator tenant) also gets a tenant
// filter, a read-only listing of other tenants' sessions.
import { api, follow, key, models as loadModels, query } from "./api.js";
import { fill, h, field, when } from "./dom.js";

const PAGE = 50;
// A search page examines a bounded number of sessions, so it may come back short: the list
// asks for more pages by itself until it shows a page's worth or has asked this many.
const SEARCH_PAGES = 10;
let operatorOf = null;  // [key, Promise<boolean>]: whether the signed-in key is an operator's

function isOperator() {
  if (!operatorOf || operatorOf[0] !== key()) {
    operatorOf = [key(), api("/v1/sessions" + query({ tenant: "*", limit: 1 }))
      .then(() => true, () => false)];
  }
  return operatorOf[1];
}

export async function render(main, _args, signal) {
  // Not awaited: the models fill the select when they come, beside the feed and first page.
  const model = h("select", { id: "f-model" }, h("option", { value: "" }, "any"));
  loadModels().then((models) => {
    const chosen = model.value;
    model.append(...models.map((m) => h("option", { value: m.id }, m.id)));
    model.value = chosen;
  }).catch(() => {});
  const state = h("input", { id: "f-state", type: "text", placeholder: "e.g. ask_city" });
  const status = h("select", { id: "f-status" }, ["", "active", "ended", "expired"].map(
    (s) => h("option", { value: s }, s || "any")));
  const search = h("input", { id: "f-search", type: "search", maxlength: 100,
                              placeholder: "id or metadata" });
  const tenant = h("input", { id: "f-tenant", type: "text", placeholder: "* for every tenant",
                              maxlength: 200 });
  const tenantField = field("Tenant", tenant);
  tenantField.hidden = true;
  const count = h("span", { class: "muted", "aria-live": "polite" });
  const body = h("tbody");
  const more = h("button", { type: "button", hidden: true }, "Load more");
  const heads = h("tr");
  const table = h("table", { class: "grid", "aria-label": "Sessions" }, h("thead", {}, heads),
    body);
  function header() {  // the tenant column only when listing another tenant, or every one
    fill(heads, ["Session", own() ? null : "Tenant", "Model", "State", "Status", "Version",
      "Created", "Updated"].filter(Boolean).map((t) => h("th", { scope: "col" }, t)));
  }
  fill(main,
    h("h1", {}, "Sessions"),
    h("form", { class: "filters", role: "search", "aria-label": "Filter sessions",
                onsubmit: (ev) => { ev.preventDefault(); reload(); } },
      field("Model", model), field("State", state), field("Status", status),
      field("Search", search), tenantField, count),
    table, more);

  const rows = new Map();  // id (tenant/id when not the own tenant) -> {session, tr}
  let cursor = null;

  const own = () => !tenant.value.trim();  // the key's own tenant: the feed's

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
    // Another tenant's session is listed, not opened (its page is that tenant's alone).
    const link = own() ? h("a", { href: "#/session/" + encodeURIComponent(s.id) }, s.id) : s.id;
    return h("tr", { dataset: { id: s.id, tenant: own() ? undefined : s.tenant } },
      h("td", {}, link), own() ? null : h("td", {}, s.tenant), h("td", {}, s.model_id),
      h("td", {}, s.state), h("td", {}, h("span", { class: "status " + s.status }, s.status)),
      h("td", { class: "num" }, s.version), h("td", {}, when(s.created_at)),
      h("td", {}, when(s.updated_at)));
  }

  function upsert(s, live) {
    if (live && !own()) return;  // the feed is the key's own tenant
    const id = own() ? s.id : `${s.tenant}/${s.id}`;
    const seen = rows.get(id);
    if (seen && seen.session.version > s.version) return;  // an older summary: keep ours
    const merged = seen ? { ...seen.session, ...s } : s;
    if (!matches(merged)) {
      if (seen) { seen.tr.remove(); rows.delete(id); }
      return;
    }
    const tr = row(merged);
    if (live) tr.classList.add("flash");
    if (seen) seen.tr.replaceWith(tr); else if (live) body.prepend(tr); else body.append(tr);
    rows.set(id, { session: merged, tr });
    count.textContent = `${rows.size} shown`;
  }

  let asked = 0;  // bumps on each new listing: an older listing's pages are dropped
  async function load(reset) {
    const mine = reset ? ++asked : asked;
    if (reset) { rows.clear(); body.replaceChildren(); cursor = null; header(); }
    const q = search.value.trim();
    const before = rows.size;
    for (let i = 0; i < (q ? SEARCH_PAGES : 1); i++) {
      const page = await api("/v1/sessions" + query({
        model: model.value, state: state.value, status: status.value, q,
        tenant: tenant.value.trim(), limit: PAGE, cursor,
      }), { signal });
      if (mine !== asked) return;
      for (const s of page.sessions) upsert(s, false);
      cursor = page.next_cursor;
      if (!cursor || rows.size - before >= PAGE) break;
    }
    more.hidden = !cursor;
    count.textContent = `${rows.size} shown` + (own() ? "" : " (not live)")
      + (q && cursor ? ", more to search" : "");
  }
  const reload = () => load(true).catch((err) => {
    count.textContent = err.message;  // e.g. a refused tenant or search text, in its words
  });

  more.addEventListener("click", () => load(false).catch((err) => {
    count.textContent = err.message;
  }));
  for (const el of [model, status, state, tenant]) el.addEventListener("change", reload);
  let typing = 0;  // the search asks the server once the typing pauses
  search.addEventListener("input", () => { clearTimeout(typing); typing = setTimeout(reload, 250); });

  // The first page at once, beside the feed: the first render waits for neither the other.
  // An update made after the page was read and before the feed was open would fall between
  // them, so when the feed opens after the page was asked for, the first page is read once
  // more and merged (upsert keeps the newer version of each session; a session new since
  // comes in at the top).
  let feedOpen = false;
  let listed = false;
  let refilled = false;
  const refill = () => {
    if (refilled || signal.aborted) return;
    refilled = true;
    const mine = asked;
    api("/v1/sessions" + query({
      model: model.value, state: state.value, status: status.value, q: search.value.trim(),
      tenant: tenant.value.trim(), limit: PAGE,
    }), { signal }).then((page) => {
      if (mine !== asked) return;
      for (const s of page.sessions) upsert(s, !rows.has(s.id));
    }).catch(() => {});
  };
  follow("/v1/feed", (name, data) => {
    if (name === "open") { feedOpen = true; if (listed) refill(); }
    else if (name === "session") upsert(data, true);
  }, signal).catch(() => {});
  const openBeforePage = feedOpen;
  await load(true);
  listed = true;
  if (feedOpen && !openBeforePage) refill();
  // When the first page was in the page, for benchmarks.console (performance timeline).
  performance.mark("dialoghub:sessions");
  isOperator().then((yes) => {
    if (signal.aborted) return;
    table.dataset.operator = yes ? "yes" : "no";
    tenantField.hidden = !yes;
  });
}
