// Test chat: talk to a loaded model (or continue a session), seeing what each turn does.
import { api, models as loadModels } from "./api.js";
import { fill, h, field, pretty, toast } from "./dom.js";
import { supported as voiceSupported, VoiceLink } from "./voice.js";

export async function render(main, [sid], signal) {
  const models = await loadModels();
  const log = h("ol", { class: "chatlog", "aria-live": "polite", "aria-label": "Conversation" });
  const turn = h("div", { class: "turn", "aria-label": "What the last turn did" });
  const pending = h("div", { class: "pending" });
  const modelSel = h("select", { id: "chat-model" },
    models.map((m) => h("option", { value: m.id }, `${m.id} (${m.language})`)));
  const startBtn = h("button", { type: "submit", id: "chat-start" }, "Start a session");
  const text = h("input", { id: "chat-text", type: "text", autocomplete: "off",
                            placeholder: "Say something", disabled: true });
  const send = h("button", { type: "submit", disabled: true }, "Send");
  // Voice: a record button (press to talk, press again or pause to stop), what the
  // recognizer hears as it hears it, and replies spoken back when asked.
  const mic = h("button", { type: "button", id: "chat-mic", disabled: true, "aria-pressed": "false",
                            hidden: !voiceSupported() }, "Talk");
  const speak = h("input", { type: "checkbox", id: "chat-speak" });
  const heard = h("p", { id: "chat-partial", class: "muted", "aria-live": "polite" });
  const header = h("p", { class: "muted" });
  const events = h("div", { class: "eventform" });
  fill(main, h("h1", {}, "Test chat"),
    h("form", { class: "filters", id: "chat-new" }, field("Model", modelSel), startBtn),
    header, log, pending,
    h("form", { class: "say", id: "chat-say" }, field("Message", text), send, mic,
      voiceSupported() ? h("label", { class: "check" }, speak, " Speak replies") : null),
    heard,
    events, h("h2", {}, "Last turn"), turn);

  let session = null;
  let voice = null;  // the session's voice socket, opened on first use

  function link() {
    if (voice && voice.sid !== session.id) { voice.close(); voice = null; }
    if (!voice) {
      voice = new VoiceLink(session.id, {
        partial: (words) => { heard.textContent = words; },
        final: (msg) => {
          heard.textContent = "";
          mic.dataset.sentBytes = String(voice.sent);
          if (msg.timed_out || !msg.text) say("system", "Nothing was heard.");
          else say("user", "(spoken) " + msg.text);
        },
        update: (view) => showTurn(view),
        error: (msg) => { toast(msg.message, "error"); say("system", msg.message); },
        recording: (on) => {
          mic.setAttribute("aria-pressed", on ? "true" : "false");
          mic.textContent = on ? "Stop" : "Talk";
          if (on) heard.textContent = "Listening…";
          else if (heard.textContent === "Listening…") heard.textContent = "";
        },
        capturing: (kind) => { mic.dataset.capture = kind; },
        spoken: (done) => { mic.dataset.spokenBytes = String(done.received); },
      });
    }
    return voice;
  }
  signal.addEventListener("abort", () => { if (voice) voice.close(); });
  speak.addEventListener("change", () => { if (session && speak.checked) link().unlock(); });

  function say(who, words) {
    log.append(h("li", { class: who }, h("span", { class: "who" }, who), " ", words));
    log.lastElementChild.scrollIntoView({ block: "nearest" });
  }

  function showTurn(view) {
    session = view.session;
    fill(header, "Session ", h("a", { href: "#/session/" + encodeURIComponent(session.id) },
      session.id), ` · ${session.unit} / ${session.state} · ${session.status}`);
    const replies = view.actions.filter((a) => a.type === "reply").map((a) => a.text);
    for (const words of replies) say("bot", words);
    if (speak.checked && replies.length) {
      link().speak(replies.join(" ")).catch((err) => toast(err.message, "error"));
    }
    fill(turn, h("h3", {}, "Actions"), h("pre", {}, pretty(view.actions)),
      h("h3", {}, "Events"), h("pre", {}, pretty(view.events.map((e) => [e.seq, e.type, e.data]))));
    const last = view.actions[view.actions.length - 1] || {};
    fill(pending);
    const open = !session.status || session.status === "active";
    text.disabled = send.disabled = mic.disabled = !open || last.type === "command";
    if (last.type === "command") commandForm(last);
    else if (last.type === "end" || !open) say("system", "The session is over.");
    eventForm();
    if (!text.disabled) text.focus();
  }

  function commandForm(cmd) {
    const outputs = h("textarea", { id: "cmd-outputs", rows: 4 }, "{}");
    const error = h("input", { id: "cmd-error", type: "text", placeholder: "(none)" });
    const form = h("form", { class: "card", id: "cmd-form",
                             "aria-label": `Answer command ${cmd.id}` },
      h("h3", {}, "Command ", h("code", {}, cmd.id)), h("pre", {}, pretty(cmd.params)),
      field("Outputs (JSON)", outputs), field("Or an error", error),
      h("button", { type: "submit" }, "Send the result"));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      let parsed;
      try { parsed = JSON.parse(outputs.value || "{}"); } catch (err) {
        toast("Outputs are not JSON: " + err.message, "error"); return;
      }
      const input = { type: "command_result", id: cmd.id, outputs: parsed };
      if (error.value.trim()) input.error = error.value.trim();
      await update(input);
    });
    fill(pending, form);
  }

  function eventForm() {
    const model = models.find((m) => m.id === (session && session.model_id));
    if (!model || !model.events.length) { fill(events); return; }
    const name = h("select", { id: "event-name" }, model.events.map((e) =>
      h("option", { value: e }, e)));
    const params = h("input", { id: "event-params", type: "text", placeholder: "{}" });
    const form = h("form", { class: "filters", id: "event-form" },
      field("Event", name), field("Params (JSON)", params),
      h("button", { type: "submit" }, "Send event"));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const input = { type: "event", name: name.value };
      if (params.value.trim()) {
        try { input.params = JSON.parse(params.value); } catch (err) {
          toast("Params are not JSON: " + err.message, "error"); return;
        }
      }
      say("user", `[event ${name.value}]`);
      await update(input);
    });
    fill(events, form);
  }

  async function update(input) {
    try {
      const view = await api(`/v1/sessions/${encodeURIComponent(session.id)}/inputs`,
        { method: "POST", json: { input, expected_version: session.version } });
      showTurn(view);
    } catch (err) { toast(err.message, "error"); say("system", err.message); }
  }

  main.querySelector("#chat-new").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    fill(log);
    try {
      showTurn(await api("/v1/sessions", { method: "POST", json: { model_id: modelSel.value } }));
    } catch (err) { toast(err.message, "error"); }
  });
  mic.addEventListener("click", async () => {
    if (!session) return;
    const v = link();
    v.unlock();
    if (mic.getAttribute("aria-pressed") === "true") { v.stop(); return; }
    try { await v.record(session.version); } catch (err) {
      toast("The microphone: " + err.message, "error");
      say("system", "The microphone could not be opened: " + err.message);
    }
  });
  main.querySelector("#chat-say").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const words = text.value.trim();
    if (!words || !session) return;
    text.value = "";
    if (voice) voice.unlock();
    say("user", words);
    await update({ type: "text", text: words });
  });

  if (sid) {  // continue an existing session
    const s = await api(`/v1/sessions/${encodeURIComponent(sid)}`, { signal });
    modelSel.value = s.model_id;
    showTurn({ session: s, actions: s.awaiting && s.awaiting.kind === "command"
      ? [{ type: "command", id: s.awaiting.command, params: s.awaiting.params || {} }]
      : [{ type: "wait_for_user" }], events: [] });
  }
}
