// API keys of the signed-in tenant (admin scope): list, create (the secret is shown once),
// revoke. Each scope implies the weaker ones (admin > write > read).
import { api } from "./api.js";
import { fill, h, field, toast, when } from "./dom.js";

export async function render(main, _args, signal) {
  const body = h("tbody");
  const name = h("input", { id: "key-name", type: "text", placeholder: "who uses it" });
  const scopes = h("select", { id: "key-scopes" },
    ["read", "write", "admin"].map((s) => h("option", { value: s }, s)));
  const secret = h("div", { "aria-live": "polite" });
  const form = h("form", { class: "filters", id: "key-new" }, field("Name", name),
    field("Scope", scopes),
    h("button", { type: "submit" }, "Create key"));
  fill(main, h("h1", {}, "API keys"), form, secret,
    h("table", { class: "grid", "aria-label": "API keys" },
      h("thead", {}, h("tr", {}, ["Id", "Name", "Tenant", "Scopes", "Created", ""].map(
        (t) => h("th", { scope: "col" }, t)))), body));

  async function load() {
    const res = await api("/v1/keys", { signal });
    fill(body, res.keys.map((k) => h("tr", {}, h("td", {}, h("code", {}, k.key_id)),
      h("td", {}, k.name || ""), h("td", {}, k.tenant), h("td", {}, k.scopes.join(" ")),
      h("td", {}, when(k.created_at)),
      h("td", {}, k.revoked_at ? `revoked ${when(k.revoked_at)}` : h("button", {
        type: "button", "aria-label": `Revoke key ${k.key_id}`,
        onclick: () => revoke(k.key_id) }, "Revoke")))));
  }

  async function revoke(id) {
    try { await api(`/v1/keys/${encodeURIComponent(id)}`, { method: "DELETE" }); await load(); }
    catch (err) { toast(err.message, "error"); }
  }

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      const res = await api("/v1/keys", { method: "POST", json: {
        name: name.value, scopes: [scopes.value] } });
      fill(secret, h("p", { class: "card", id: "key-secret" },
        "New key (shown once, copy it now): ", h("code", {}, res.key)));
      await load();
    } catch (err) { toast(err.message, "error"); }
  });
  await load();
}
