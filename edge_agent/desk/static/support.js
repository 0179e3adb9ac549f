// Kiosk support for admins: queue a command for one kiosk, wait for its answer, show it (no PHI:
// device states, filtered log lines, a picture of the attract screen). Every action is audited.
"use strict";
(() => {
  const config = JSON.parse(document.getElementById("desk-config").textContent);
  const $ = (id) => document.getElementById(id);

  async function call(path, method = "GET") {
    const response = await fetch(path, {
      method, credentials: "same-origin", cache: "no-store",
      headers: { "X-CSRF-Token": config.csrf_token, "X-Desk-Background": "1" },
    });
    const data = await response.json();
    if (!response.ok) throw new Error(data.message || data.detail || response.statusText);
    return data;
  }

  async function loadKiosks() {
    const data = await call("/api/v1/devices");
    $("support-kiosk").replaceChildren(...data.kiosks.map((kiosk) =>
      Object.assign(document.createElement("option"), { value: kiosk.kiosk_id, textContent: kiosk.kiosk_id })));
  }

  function show(state) {
    const output = $("support-output"), image = $("support-screenshot");
    const reason = state.reason ? ` (${state.reason})` : "";
    $("support-status").textContent = `${state.action} on ${state.kiosk_id}: ${state.outcome || "no answer yet"}${reason}`;
    const lines = [
      ...state.devices.map((d) => `${d.name} (${d.kind}): ${d.state}${d.reason ? " - " + d.reason : ""}`),
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
    $("support-status").textContent = `${action} sent to ${kiosk}…`;
    try {
      const queued = await call(`/api/v1/support/kiosks/${encodeURIComponent(kiosk)}/${action}`, "POST");
      let state;
      do {
        state = await call(`/api/v1/support/commands/${queued.id}?wait=20`);
      } while (!state.finished);
      show(state);
    } catch (error) {
      $("support-status").textContent = `${action} failed: ${error.message}`;
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    for (const button of document.querySelectorAll("[data-support-action]")) {
      button.addEventListener("click", () => run(button.dataset.supportAction));
    }
    loadKiosks().catch(() => { $("support-status").textContent = "kiosk list unavailable"; });
  });
})();
