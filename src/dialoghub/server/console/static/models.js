// The loaded models (version, language, states, diagram) and a validator for a pasted or
// uploaded model, showing each problem at its line.
import { api, models as loadModels } from "./api.js";
import { fill, h, field } from "./dom.js";
import { diagram } from "./diagram.js";

export async function render(main, [picked], signal) {
  const models = await loadModels();
  const list = h("ul", { class: "models" }, models.map((m) => h("li", {},
    h("a", { href: "#/models/" + encodeURIComponent(m.id),
             "aria-current": m.id === picked ? "page" : null }, m.id),
    ` v${m.version} · ${m.language} · ${m.states.length} states`)));
  const shown = h("div");
  const source = h("textarea", { id: "model-text", rows: 16, spellcheck: "false",
                                 placeholder: "Paste a model (YAML or JSON)" });
  const file = h("input", { id: "model-file", type: "file", accept: ".yaml,.yml,.json" });
  const result = h("div", { id: "validate-result", "aria-live": "polite" });
  const form = h("form", { class: "card", id: "validate" },
    h("h2", {}, "Validate a model"), field("Model text", source), field("Or a file", file),
    h("button", { type: "submit" }, "Validate"), result);
  fill(main, h("h1", {}, "Models"), h("div", { class: "columns" },
    h("section", { "aria-label": "Loaded models" }, list, shown), form));

  file.addEventListener("change", async () => {
    if (file.files.length) source.value = await file.files[0].text();
  });
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    fill(result, "Checking…");
    try {
      const res = await api("/v1/models/validate", { method: "POST", text: source.value,
                                                      type: "application/yaml" });
      const located = (list, cls) => h("ol", { class: cls }, list.map((p) => h("li", {},
        h("button", { type: "button", class: "link", onclick: () => goto(p.line, p.column) },
          `line ${p.line}, column ${p.column}`), `: ${p.message}`)));
      if (res.valid) {
        const warnings = res.warnings || [];
        fill(result, h("p", { class: "ok" }, `Valid: ${res.model.id} v${res.model.version}, `
          + `${res.model.states.length} states`
          + (warnings.length ? `, ${warnings.length} warning(s):` : ".")),
          warnings.length ? located(warnings, "warnings") : null);
      } else {
        fill(result, h("p", { class: "error" }, `${res.problems.length} problem(s):`),
          located(res.problems, "problems"));
      }
    } catch (err) { fill(result, h("p", { class: "error", role: "alert" }, err.message)); }
  });

  function goto(line, column) {  // put the cursor where the problem is
    const lines = source.value.split("\n");
    let at = 0;
    for (let i = 0; i < Math.min(line - 1, lines.length); i++) at += lines[i].length + 1;
    at += Math.max(0, (column || 1) - 1);
    source.focus();
    source.setSelectionRange(at, at);
  }

  const model = models.find((m) => m.id === picked);
  if (model) {
    fill(shown, h("h2", {}, model.id), model.description ? h("p", {}, model.description) : null,
      h("p", {}, `Starts in ${model.start}. States: ${model.states.join(", ")}.`),
      model.intents.length ? h("p", {}, `Intents: ${model.intents.join(", ")}.`) : null,
      model.commands.length ? h("p", {}, `Commands: ${model.commands.join(", ")}.`) : null,
      model.events.length ? h("p", {}, `Events: ${model.events.join(", ")}.`) : null,
      h("p", {}, h("a", { href: "#/chat", class: "button" }, "Try it in the test chat")));
    diagram(model.id, signal).then((box) => shown.append(box))
      .catch((err) => shown.append(h("p", { class: "muted" }, err.message)));
  }
}
