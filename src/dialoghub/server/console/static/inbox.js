// The reviewer inbox of the decision cycle: the rounds waiting for a person's answer, and a
// round as a reviewer sees it (the state's prompt, the params, the proposals so far), with
// forms to propose, vote and override. Each answer is recorded with the signed-in key.
import { api, follow, query } from "./api.js";
import { fill, h, field, pretty, toast, when } from "./dom.js";

export async function render(main, [sid], signal) {
  if (sid) return round(main, sid, signal);
  const body = h("tbody");
  const more = h("button", { type: "button", hidden: true }, "Load more");
  const count = h("p", { class: "muted", "aria-live": "polite" });
  fill(main, h("h1", {}, "Reviewer inbox"), count,
    h("table", { class: "grid", "aria-label": "Rounds waiting for an answer" },
      h("thead", {}, h("tr", {}, ["Session", "Model", "State", "Phase", "Asks", "Due"].map(
        (t) => h("th", { scope: "col" }, t)))), body), more);
  let cursor = null;
  let shown = 0;
  async function load() {
    const page = await api("/v1/decisions/inbox" + query({ cursor }), { signal });
    for (const item of page.items) {
      body.append(h("tr", { dataset: { id: item.session_id } },
        h("td", {}, h("a", { href: "#/inbox/" + encodeURIComponent(item.session_id) },
          item.session_id)),
        h("td", {}, item.model_id), h("td", {}, item.state),
        h("td", {}, item.phase === "attention" ? "needs attention" : item.phase),
        h("td", {}, item.waiting.length ? `${item.kind} from ${item.waiting.join(", ")}`
          : "an override"),
        h("td", {}, item.due_at ? when(item.due_at) : "")));
    }
    shown += page.items.length;
    count.textContent = shown ? `${shown} round(s) waiting` : "Nothing waits for an answer.";
    cursor = page.next_cursor;
    more.hidden = !cursor;
  }
  more.addEventListener("click", load);
  await load();
}

/** "rule.known prefers RESOLVE to ESCALATE" */
function voteText(rd, v) {
  const t = (id) => (rd.proposals.find((p) => p.id === id) || {}).transition || id;
  const [a, b] = [t(v.a), t(v.b)];
  const said = { A: `prefers ${a} to ${b}`, B: `prefers ${b} to ${a}`,
                 both: `accepts both ${a} and ${b}`, neither: `accepts neither ${a} nor ${b}` };
  return `${v.specialist} ${said[v.vote] || v.vote}`;
}

async function round(main, sid, signal) {
  const path = `/v1/sessions/${encodeURIComponent(sid)}`;
  const box = h("div");
  fill(main, h("h1", {}, "Round of ", h("a", { href: "#/session/" + encodeURIComponent(sid) },
    h("code", {}, sid))), box);

  async function show() {
    const rd = await api(path + "/round", { signal });
    if (!rd.round) {
      const last = rd.history[rd.history.length - 1];
      fill(box, h("p", { id: "round-closed" }, `No round is open; the session is in ${rd.state}.`),
        last ? h("section", { class: "block" }, h("h3", {}, "The last round"),
          h("pre", { id: "round-last" }, pretty(last))) : null);
      return;
    }
    const mine = Object.entries(rd.waiting).filter(([, w]) => w.human);
    fill(box,
      h("dl", { class: "facts" }, h("dt", {}, "State"), h("dd", {}, rd.state),
        h("dt", {}, "Phase"), h("dd", {}, rd.phase), h("dt", {}, "Round"),
        h("dd", {}, h("code", {}, rd.round)), h("dt", {}, "Attempt"), h("dd", {}, rd.attempt)),
      h("section", { class: "block" }, h("h3", {}, "Prompt"),
        h("p", { id: "round-prompt" }, rd.prompt || "(none)")),
      h("section", { class: "block" }, h("h3", {}, "Params"), h("pre", {}, pretty(rd.params))),
      h("section", { class: "block" }, h("h3", {}, "Proposals so far"),
        rd.proposals.length ? h("ol", { id: "round-proposals" }, rd.proposals.map((p) =>
          h("li", {}, h("strong", {}, p.transition), ` by ${p.specialist}`,
            p.reasoning ? ` — ${p.reasoning}` : "", ` (${p.id})`))) : h("p", {}, "None yet.")),
      rd.votes.length ? h("section", { class: "block" }, h("h3", {}, "Votes"),
        h("ul", { id: "round-votes" }, rd.votes.map((v) => h("li", {}, voteText(rd, v))))) : null,
      mine.map(([specialist, w]) => w.kind === "proposal"
        ? proposeForm(rd, specialist) : voteForm(rd, specialist, w.pairs)),
      overrideForm(rd));
  }

  async function send(route, json) {
    try {
      await api(path + route, { method: "POST", json });
      toast("Recorded");
      await show();
    } catch (err) { toast(err.message, "error"); }
  }

  function proposeForm(rd, specialist) {
    const transition = h("select", { id: "propose-transition" },
      rd.transitions.map((t) => h("option", { value: t }, t)));
    const reasoning = h("textarea", { id: "propose-reasoning", rows: 3 });
    const form = h("form", { class: "card", id: "propose-form",
                             "aria-label": `Propose as ${specialist}` },
      h("h3", {}, `Propose as ${specialist}`), field("Transition", transition),
      field("Reasoning", reasoning), h("button", { type: "submit" }, "Propose"));
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      send("/round/proposals", { round: rd.round, specialist, transition: transition.value,
        reasoning: reasoning.value, expected_version: rd.version });
    });
    return form;
  }

  function voteForm(rd, specialist, pairs) {
    const byId = Object.fromEntries(rd.proposals.map((p) => [p.id, p]));
    const choices = pairs.map(([a, b], i) => {
      const sel = h("select", { id: `vote-${i}` }, ["A", "B", "both", "neither"].map(
        (v) => h("option", { value: v }, v)));
      const label = `A: ${byId[a]?.transition ?? a} · B: ${byId[b]?.transition ?? b}`;
      return { a, b, sel, el: field(label, sel) };
    });
    const form = h("form", { class: "card", id: "vote-form",
                             "aria-label": `Vote as ${specialist}` },
      h("h3", {}, `Vote as ${specialist}`), choices.map((c) => c.el),
      h("button", { type: "submit" }, "Vote"));
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      send("/round/votes", { round: rd.round, specialist, expected_version: rd.version,
        votes: choices.map((c) => ({ a: c.a, b: c.b, vote: c.sel.value })) });
    });
    return form;
  }

  function overrideForm(rd) {
    const transition = h("select", { id: "override-transition" },
      rd.transitions.map((t) => h("option", { value: t }, t)));
    const reason = h("input", { id: "override-reason", type: "text" });
    const form = h("form", { class: "card", id: "override-form",
                             "aria-label": "Decide the transition yourself" },
      h("h3", {}, "Override: decide it yourself"), field("Transition", transition),
      field("Reason", reason), h("button", { type: "submit" }, "Decide"));
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      send("/round/override", { round: rd.round, transition: transition.value,
        reason: reason.value, expected_version: rd.version });
    });
    return form;
  }

  await show();
  // Live: another reviewer's answer, a specialist's proposal, a deadline.
  follow(path + "/stream" + query({ after: (await api(path, { signal })).seq }), (name) => {
    if (name === "update") show().catch(() => {});
  }, signal).catch(() => {});
}
