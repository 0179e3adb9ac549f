// Kiosk support for admins: queue a command for one kiosk, wait for its answer, show it (no PHI:
// device states, filtered log lines, a picture of the attract screen). Every action is audited.
// Loaded after desk.js, whose `api`, `text` (the desk catalogue in the page's language), `fill` and `$` it uses.
"use strict";
(() => {
  const actionName = (action) => text[`support.action.${action}`] || action;
  const reasonText = (reason) => text[`support.reason.${reason}`] || reason; // else a code (an exception's name)

  async function loadKiosks() {
    const data = await api("/api/v1/devices", { background: true });
    $("support-kiosk").replaceChildren(...data.kiosks.map((kiosk) =>
      Object.assign(document.createElement("option"), { value: kiosk.kiosk_id, textContent: kiosk.kiosk_id })));
  }

  function show(state) {
    const output = $("support-output"), image = $("support-screenshot");
    const outcome = text[`support.outcome.${state.outcome || "pending"}`] || state.outcome;
    const reason = state.reason ? ` (${reasonText(state.reason)})` : "";
    $("support-status").textContent =
      fill(text["support.result"], { action: actionName(state.action), kiosk: state.kiosk_id, outcome }) + reason;
    const lines = [
      ...state.devices.map((d) => `${d.name} (${d.kind}): ${text[`devices.${d.state}`] || d.state}${d.reason ? " - " + d.reason : ""}`),
      ...state.log_lines.map((l) => `${l.ts} ${l.level} ${l.logger}: ${l.msg} ${JSON.stringify(l.fields)}`),
    ];
    output.textContent = lines.join("\n");
    output.hidden = lines.length === 0;
    image.hidden = !state.has_screenshot;
    if (state.has_screenshot) image.src = `/api/v1/support/commands/${state.id}/screenshot.png`;
  }

  async function run(action) {
    const kiosk = $("support-kiosk").value;
    if (!kiosk) return;
    $("support-status").textContent = fill(text["support.sent"], { action: actionName(action), kiosk });
    try {
      const queued = await api(`/api/v1/support/kiosks/${encodeURIComponent(kiosk)}/${action}`, { method: "POST" });
      let state;
      do {
        state = await api(`/api/v1/support/commands/${queued.id}?wait=20`, { background: true });
      } while (!state.finished);
      show(state);
    } catch (error) {
      $("support-status").textContent = `${actionName(action)}: ${text["action.failed"]} ${error.message}`;
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    for (const button of document.querySelectorAll("[data-support-action]")) {
      button.addEventListener("click", () => run(button.dataset.supportAction));
    }
    loadKiosks().catch(() => { $("support-status").textContent = text["support.kiosks_unavailable"]; });
  });
})();
