// What other parts of dialoghub add to a session, shown on its page when it has them: the
// agent rounds (with a running round's events live) and the clients that serve it.
import { api, follow, query } from "./api.js";
import { fill, h, pretty, when } from "./dom.js";

/** The session's agent rounds, newest last; a running one streams its events here. */
export async function rounds(box, sid, signal) {
  const path = `/v1/sessions/${encodeURIComponent(sid)}`;
  let list;
  try { list = await api(path + "/rounds", { signal }); } catch { return; }
  if (!Array.isArray(list) || list.length === 0) return;
  const live = h("ol", { class: "live", "aria-live": "polite", "aria-label": "Round events" });
  const show = (rs) => fill(box, h("h2", {}, "Agent rounds"),
    h("ol", { class: "rounds" }, rs.map((r) => h("li", { dataset: { round: r.id } },
      h("strong", {}, r.status), ` ${when(r.started_at)} — “${r.user_message}”`,
      r.reply ? h("p", {}, "Reply: ", r.reply) : null,
      r.error ? h("p", { class: "error" }, r.error) : null,
      r.posts && r.posts.length ? h("details", {}, h("summary", {}, `${r.posts.length} posts`),
        h("ol", {}, r.posts.map((p) => h("li", {}, `${p.send_from} → ${p.send_to}: `,
          p.message || (p.args ? pretty(p.args, 400) : ""),
          p.error ? h("span", { class: "error" }, ` (${p.error})`) : null)))) : null))),
    h("h3", {}, "Live"), live);
  show(list);
  const last = Math.max(0, ...list.map((r) => r.last_seq || 0));
  follow(path + "/messages/stream" + query({ after: last }), async (name, event) => {
    const text = event.message ? `: ${event.message}` : "";
    live.append(h("li", {}, `#${event.seq} ${name}${text}`));
    while (live.children.length > 200) live.firstElementChild.remove();  // bounded
    if (name === "round_end" || name === "round_error" || name === "round_start") {
      show(await api(path + "/rounds", { signal }));
    }
  }, signal).catch(() => {});
}

/** The tenant's connected clients that hold a lock on this session, and the others. */
export async function clients(box, session, signal) {
  let res;
  try { res = await api("/v1/clients", { signal }); } catch { return; }
  const all = (res && res.clients) || [];
  const locks = session.locks || {};
  if (!all.length && !Object.keys(locks).length) return;
  const flags = (name) => Object.entries(locks[name] || {})
    .filter(([k, v]) => v === true).map(([k]) => k).join(", ");
  fill(box, h("h2", {}, "Clients"),
    h("table", { class: "grid", "aria-label": "Connected clients" },
      h("thead", {}, h("tr", {}, ["Client", "Role", "Commands", "Locks on this session"]
        .map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, all.map((c) => h("tr", {}, h("td", {}, c.name), h("td", {}, c.role),
        h("td", {}, (c.commands || []).join(", ")), h("td", {}, flags(c.name)))))),
    Object.keys(locks).filter((n) => !all.some((c) => c.name === n)).map((n) =>
      h("p", { class: "muted" }, `${n} (not connected) holds: ${flags(n)}`)));
}
