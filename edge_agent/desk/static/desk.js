// Front-desk dashboard: the live arrivals queue over server-sent events (no polling for the queue),
// one-click actions, devices, sync, statistics and (for admins) the audit log.
"use strict";

const config = JSON.parse(document.getElementById("desk-config").textContent);
const text = config.text;
const $ = (id) => document.getElementById(id);
const STATUS_ORDER = { waiting: 0, called: 1, roomed: 2, done: 3, no_show: 4 };
const STATUS_TIMESTAMP = { called: "called_at", roomed: "roomed_at", done: "finished_at", no_show: "finished_at" };
const PANEL_REFRESH_MS = 10000;
const entries = new Map();
const roomDrafts = new Map(); // room numbers being typed survive a re-render
const renderedRows = new Map(); // checkin_id -> { entry, row }
let source = null;
let lastActivity = Date.now();
// The row control a keyboard or pointer user last used: kept (or moved on) when its row is rebuilt.
let focusIntent = null; // { checkinId, control, index }

// --- talking to the agent -----------------------------------------------------------------------

async function api(path, { method = "GET", body, background = false } = {}) {
  const headers = { "X-CSRF-Token": config.csrf_token };
  if (background) headers["X-Desk-Background"] = "1";
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin", cache: "no-store",
  });
  if (response.status === 401) {
    window.location.assign("/desk/login?notice=login.idle");
    throw new Error("signed out");
  }
  const data = response.headers.get("content-type")?.includes("json") ? await response.json() : null;
  if (!response.ok) throw new Error((data && (data.detail || data.message)) || response.statusText);
  return data;
}

function showError(error) {
  const box = $("error");
  box.textContent = `${text["action.failed"]} ${error.message}`;
  box.hidden = false;
  setTimeout(() => { box.hidden = true; }, 8000);
}

// --- the queue ----------------------------------------------------------------------------------

async function loadQueue() {
  const snapshot = await api("/api/v1/queue");
  entries.clear();
  renderedRows.clear();
  snapshot.entries.forEach((entry) => entries.set(entry.checkin_id, entry));
  renderQueue();
  connect(snapshot.last_event_id);
}

function connect(since) {
  if (source) source.close();
  source = new EventSource(`/api/v1/queue/events?since=${encodeURIComponent(since)}`);
  source.onopen = () => setLive(true);
  source.onerror = () => {
    setLive(false);
    if (source.readyState === EventSource.CLOSED) setTimeout(() => loadQueue().catch(() => {}), 2000);
  };
  source.addEventListener("reset", () => loadQueue().catch(showError));
  source.addEventListener("signed_out", () => window.location.assign("/desk/login?notice=login.idle"));
  source.addEventListener("arrival", (m) => applyArrival(JSON.parse(m.data)));
  source.addEventListener("transition", (m) => applyTransition(JSON.parse(m.data)));
  ["kiosk", "help"].forEach((type) => source.addEventListener(type, () => refreshDevices().catch(() => {})));
  source.addEventListener("sync", () => refreshSync().catch(() => {}));
  source.addEventListener("ping", (m) => { document.body.dataset.lastPing = JSON.parse(m.data).nonce; });
}

function setLive(live) {
  const badge = $("live");
  badge.dataset.state = live ? "live" : "reconnecting";
  badge.textContent = live ? text["desk.live"] : text["desk.reconnecting"];
}

function applyArrival(entry) {
  entries.set(entry.checkin_id, entry);
  renderQueue();
  refreshStats().catch(() => {});
}

function applyTransition(change) {
  const known = entries.get(change.checkin_id);
  if (!known) return; // not on this page: the snapshot it resumed from was newer
  const entry = { ...known, status: change.to_status, room: change.room };
  const stamp = STATUS_TIMESTAMP[change.to_status];
  if (stamp && change.action !== "undo") entry[stamp] = change.at;
  entries.set(change.checkin_id, entry);
  renderQueue();
}

function sortKey(entry) {
  return [STATUS_ORDER[entry.status] ?? 9, entry.appointment_start || "~", entry.arrived_at];
}

function compare(a, b) {
  const ka = sortKey(a), kb = sortKey(b);
  for (let i = 0; i < ka.length; i++) {
    if (ka[i] < kb[i]) return -1;
    if (ka[i] > kb[i]) return 1;
  }
  return 0;
}

function renderQueue() {
  const filter = $("clinician-filter").value;
  const clinicians = [...new Set([...entries.values()].map((e) => e.clinician).filter(Boolean))].sort();
  syncClinicianOptions(clinicians);
  const shown = [...entries.values()].filter((e) => !filter || e.clinician === filter).sort(compare);
  placeRows($("queue-body"), shown.map(rowFor));
  $("queue-empty").hidden = shown.length > 0;
  tickWaiting();
  restoreFocus();
}

// --- focus across re-renders ------------------------------------------------------------------------
// A rebuilt row drops the focused control (focus falls to <body>). Put it back on the same control of the
// arrival's new row; if that control is gone, on the row's next action (room -> complete); if the arrival
// has nothing left to do, on the next action of the arrival now at its old place in the list.

const STATUS_ACTIONS = "button.call, button.room, button.complete, button.no-show";

function rememberFocus(event) {
  const control = event.target.closest("[data-control]");
  const row = event.target.closest("tr[data-checkin-id]");
  if (!control || !row) return;
  const index = [...$("queue-body").children].indexOf(row);
  focusIntent = { checkinId: row.dataset.checkinId, control: control.dataset.control, index };
}

function forgetFocus(event) {
  // Focus left on purpose (the control is still there): forget. A removed control keeps the intent.
  const target = event.target;
  setTimeout(() => {
    if (target.isConnected && document.activeElement !== target && focusIntent
        && !document.activeElement.closest?.("tr[data-checkin-id]")) focusIntent = null;
  }, 0);
}

function restoreFocus() {
  if (!focusIntent || (document.activeElement && document.activeElement !== document.body)) return;
  const body = $("queue-body");
  const row = body.querySelector(`tr[data-checkin-id="${CSS.escape(focusIntent.checkinId)}"]`);
  const target = row && (row.querySelector(`[data-control="${focusIntent.control}"]`) || row.querySelector(STATUS_ACTIONS))
    || nextAction(body, focusIntent.index)
    || (row && row.querySelector("td.actions [data-control]"));
  if (target) target.focus();
}

function nextAction(body, index) {
  const rows = [...body.children];
  for (const row of [...rows.slice(index), ...rows.slice(0, index)]) {
    const action = row.querySelector(STATUS_ACTIONS);
    if (action) return action;
  }
  return null;
}

// Rows are rebuilt only when their arrival changed, and only misplaced rows move: a room number
// being typed keeps its focus while other arrivals come and go.
function rowFor(entry) {
  const cached = renderedRows.get(entry.checkin_id);
  if (cached && cached.entry === entry) return cached.row;
  const row = renderRow(entry);
  renderedRows.set(entry.checkin_id, { entry, row });
  return row;
}

function placeRows(body, rows) {
  rows.forEach((row, index) => {
    if (body.children[index] !== row) body.insertBefore(row, body.children[index] || null);
  });
  while (body.children.length > rows.length) body.lastElementChild.remove();
}

function syncClinicianOptions(clinicians) {
  const select = $("clinician-filter");
  const have = [...select.options].slice(1).map((o) => o.value);
  if (have.join("\n") === clinicians.join("\n")) return;
  const current = select.value;
  select.replaceChildren(select.options[0], ...clinicians.map((name) => new Option(name, name)));
  select.value = clinicians.includes(current) ? current : "";
}

function cell(content, className) {
  const td = document.createElement("td");
  if (className) td.className = className;
  if (content instanceof Node) td.append(content); else td.textContent = content ?? "";
  return td;
}

function button(label, onClick, className = "") {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = label;
  b.className = className;
  if (className) b.dataset.control = className;
  b.addEventListener("click", () => onClick().catch(showError));
  return b;
}

function patientName(patient) {
  return [patient.family, patient.given].filter(Boolean).join(", ");
}

function formatTime(iso) {
  if (!iso) return "";
  return new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", timeZone: config.timezone });
}

function renderRow(entry) {
  const row = document.createElement("tr");
  row.dataset.checkinId = entry.checkin_id;
  row.dataset.ticket = entry.ticket;
  row.dataset.status = entry.status;
  row.className = `status-${entry.status}`;
  const waiting = cell("", "waiting-min");
  waiting.dataset.since = entry.arrived_at;
  waiting.dataset.until = entry.called_at || entry.roomed_at || entry.finished_at || "";
  row.append(
    cell(entry.ticket, "ticket"),
    cell(nameWithDetails(entry), "name"),
    cell(formatTime(entry.appointment_start), "appointment"),
    cell(entry.clinician, "clinician"),
    waiting,
    cell(text[`status.${entry.status}`] || entry.status, "status"),
    cell(renderFlags(entry), "flags"),
    cell(renderActions(entry), "actions"),
  );
  return row;
}

function nameWithDetails(entry) {
  const box = document.createElement("span");
  box.append(patientName(entry.patient || {}), " ",
             button(text["details.open"], () => showDetails(entry.checkin_id), "details"));
  return box;
}

async function showDetails(checkinId) {
  // Every opening is a patient-details view: the agent audits it.
  const [entry, consents] = await Promise.all([
    api(`/api/v1/queue/${checkinId}`),
    api(`/api/v1/checkins/${checkinId}/consents`),
  ]);
  const patient = entry.patient || {};
  const coverage = patient.coverage;
  const demographics = patient.demographics;
  const address = demographics && demographics.address;
  const none = text["details.none"];
  const rows = [
    [text["col.ticket"], entry.ticket],
    [text["col.name"], patientName(patient)],
    [text["details.birth_date"], patient.birth_date],
    [text["details.arrived"], formatTime(entry.arrived_at)],
    [text["details.kiosk"], entry.kiosk_id],
    [text["details.coverage"], coverage ? [coverage.payor, coverage.member_id, coverage.group, coverage.plan].filter(Boolean).join(" · ") : none],
    [text["details.demographics"], demographics ? [address && [address.street, address.city, address.state, address.postal_code].filter(Boolean).join(", "), demographics.phone].filter(Boolean).join(" · ") : none],
    [text["details.answers"], (patient.answers || []).map((a) => `${a.text || a.link_id}: ${a.value ?? "–"}`).join("; ") || none],
  ];
  $("details-body").replaceChildren(...rows.flatMap(([label, value]) => [
    Object.assign(document.createElement("dt"), { textContent: label }),
    Object.assign(document.createElement("dd"), { textContent: value ?? "" }),
  ]));
  $("details-consents").replaceChildren(...(consents.consents.length ? consents.consents.map((consent) => {
    const item = document.createElement("li");
    const link = Object.assign(document.createElement("a"), {
      href: consent.pdf_url, target: "_blank", rel: "noopener",
      textContent: `${consent.document_id} v${consent.version} (${consent.language})`,
    });
    item.append(link, ` — ${text[`details.${consent.decision}`] || consent.decision}`);
    return item;
  }) : [Object.assign(document.createElement("li"), { textContent: none })]));
  await showEligibility(checkinId).catch(() => { $("details-eligibility").hidden = true; });
  await showCard(entry).catch(() => { $("details-card").hidden = true; });
  $("details").showModal();
}

function renderFlags(entry) {
  const list = document.createElement("span");
  const flags = [...(entry.flags || [])];
  if (entry.offline && !flags.includes("offline_spool")) flags.push("offline_spool");
  flags.forEach((flag) => {
    const tag = document.createElement("span");
    tag.className = `flag flag-${flag}`;
    tag.textContent = text[`flag.${flag}`] || flag.replaceAll("_", " ");
    list.append(tag);
  });
  list.append(renderEligibility(entry), renderCardMarker(entry));
  return list;
}

function renderActions(entry) {
  const box = document.createElement("span");
  const id = entry.checkin_id;
  const post = (path, body) => () => api(`/api/v1/queue/${id}/${path}`, { method: "POST", body });
  if (entry.status === "waiting" || entry.status === "called") {
    const roomInput = document.createElement("input");
    roomInput.className = "room-input";
    roomInput.dataset.control = "room-input";
    roomInput.placeholder = text["action.room_placeholder"];
    roomInput.setAttribute("aria-label", fill(text["action.room_label"], { ticket: entry.ticket }));
    roomInput.value = roomDrafts.get(id) ?? entry.room ?? "";
    roomInput.maxLength = 40;
    roomInput.addEventListener("input", () => roomDrafts.set(id, roomInput.value));
    const room = () => {
      roomDrafts.delete(id);
      return { room: roomInput.value.trim() || null };
    };
    box.append(
      roomInput,
      button(text["action.call"], () => post("call", room())(), "call"),
      button(text["action.room"], () => post("room", room())(), "room"),
      button(text["action.no_show"], post("no-show"), "no-show"),
    );
  }
  if (entry.status === "called" || entry.status === "roomed") {
    box.append(button(text["action.complete"], post("complete"), "complete"));
  }
  for (const kind of ["insurance", "demographics"]) {
    if ((entry.flags || []).includes(`${kind}_changed`)) {
      box.append(
        button(`${text["action.accept"]} (${text[`flag.${kind}_changed`]})`, post(`changes/${kind}/accept`), `accept-${kind}`),
        button(text["action.dismiss"], post(`changes/${kind}/dismiss`), `dismiss-${kind}`),
      );
    }
  }
  box.append(renderReprint(entry));
  return box;
}

// A printer list and a Reprint button: choosing a printer (arrow keys included) sends nothing by itself.
function renderReprint(entry) {
  const box = document.createElement("span");
  box.className = "reprint-box";
  const select = document.createElement("select");
  select.className = "reprint-printer";
  select.dataset.control = "reprint-printer";
  select.setAttribute("aria-label", fill(text["action.reprint_printer"], { ticket: entry.ticket }));
  const send = button(text["action.reprint"], async () => {
    if (!select.value) return;
    await api(`/api/v1/queue/${entry.checkin_id}/reprint`, { method: "POST", body: JSON.parse(select.value) });
  }, "reprint");
  const fillPrinters = () => {
    // The printers as the kiosks last reported them, read again whenever the list gets focus.
    const chosen = select.value;
    const options = kiosks.flatMap((kiosk) => kiosk.devices.filter((d) => /printer/.test(d.kind)).map((device) => {
      const kind = device.kind === "label_printer" ? "label" : "ticket";
      const label = `${text[`action.reprint_${kind}`]}: ${kiosk.kiosk_id} / ${device.name}`;
      return new Option(label, JSON.stringify({ kind, kiosk_id: kiosk.kiosk_id, printer: device.name }));
    }));
    select.replaceChildren(...(options.length ? options : [new Option(text["action.reprint_none"], "")]));
    if (options.some((o) => o.value === chosen)) select.value = chosen;
    send.disabled = !options.length;
  };
  fillPrinters();
  select.addEventListener("focus", fillPrinters);
  box.append(select, send);
  return box;
}

function fill(template, values) {
  return template.replace(/\{(\w+)\}/g, (whole, name) => (name in values ? values[name] : whole));
}

function tickWaiting() {
  const now = Date.now();
  document.querySelectorAll("td.waiting-min").forEach((td) => {
    const end = td.dataset.until ? Date.parse(td.dataset.until) : now;
    const minutes = Math.max(0, Math.floor((end - Date.parse(td.dataset.since)) / 60000));
    td.textContent = `${minutes} ${text.minutes}`;
  });
}

// --- side panels (refreshed on events, and slowly in the background) -----------------------------

let kiosks = [];

async function refreshDevices() {
  const data = await api("/api/v1/devices", { background: true });
  kiosks = data.kiosks;
  renderKiosks();
}

function renderKiosks() {
  const list = $("kiosks");
  if (!kiosks.length) {
    list.replaceChildren(Object.assign(document.createElement("li"), { textContent: text["devices.none"] }));
    return;
  }
  const now = Date.now();
  list.replaceChildren(...kiosks.map((kiosk) => {
    const seen = kiosk.last_heartbeat_at ? Date.parse(kiosk.last_heartbeat_at) : null;
    const silentS = seen === null ? null : Math.max(0, Math.round((now - seen) / 1000));
    const online = silentS !== null && silentS <= 60;
    const item = document.createElement("li");
    item.className = `kiosk ${online ? "online" : "offline"}`;
    item.dataset.kioskId = kiosk.kiosk_id;
    item.dataset.state = online ? "online" : "offline";
    const head = document.createElement("div");
    head.className = "kiosk-head";
    const ago = silentS === null ? text["devices.never"] : `${silentS} ${text["devices.seconds_ago"]}`;
    head.textContent = `${kiosk.kiosk_id} — ${text[online ? "devices.online" : "devices.offline"]} · ${text["devices.last_heartbeat"]}: ${ago}`;
    const devices = document.createElement("ul");
    devices.append(...kiosk.devices.map((device) => {
      const li = document.createElement("li");
      li.className = `device ${device.state}`;
      li.dataset.device = device.name;
      li.dataset.state = device.state;
      li.textContent = `${device.name}: ${text[`devices.${device.state}`] || device.state}${device.reason ? ` (${device.reason})` : ""}`;
      return li;
    }));
    item.append(head, devices);
    if (kiosk.help_requested_at) {
      item.classList.add("help");
      const help = document.createElement("div");
      help.className = "help-request";
      help.textContent = `${text["devices.help"]} ${kiosk.kiosk_id} (${formatTime(kiosk.help_requested_at)}) `;
      help.append(button(text["action.handled"], () =>
        api(`/api/v1/kiosks/${encodeURIComponent(kiosk.kiosk_id)}/help-handled`, { method: "POST" }), "help-handled"));
      item.append(help);
    }
    return item;
  }));
}

function age(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  if (seconds < 120) return `${Math.round(seconds)} s`;
  return `${Math.round(seconds / 60)} ${text.minutes}`;
}

async function refreshSync() {
  const data = await api("/api/v1/sync", { background: true });
  $("sync-depth").textContent = data.outbox_depth;
  $("sync-oldest").textContent = age(data.oldest_pending_age_s);
  $("sync-last").textContent = data.last_success_at ? new Date(data.last_success_at * 1000).toLocaleTimeString() : "–";
  const central = $("sync-central");
  central.textContent = text[`sync.${data.central}`] || data.central;
  central.dataset.state = data.central;
  const list = $("dead-letters");
  if (!data.dead_letters.length) {
    list.replaceChildren(Object.assign(document.createElement("li"), { textContent: text["sync.no_dead_letters"] }));
    return;
  }
  list.replaceChildren(...data.dead_letters.map((letter) => {
    const item = document.createElement("li");
    item.className = "dead-letter";
    item.dataset.outboxId = letter.id;
    const message = document.createElement("pre");
    message.textContent = `${letter.event_type} ${letter.aggregate_id}\n${letter.error}\n${letter.outcome}`;
    message.tabIndex = 0; // it may scroll: keyboard users must reach it (WCAG 2.1.1)
    item.append(message);
    if (config.role === "admin") {
      const retry = () => api(`/api/v1/sync/dead-letters/${letter.id}/retry`, { method: "POST" }).then(refreshSync);
      const discard = async () => {
        const reason = window.prompt(text["sync.discard_reason"]);
        if (!reason) return;
        await api(`/api/v1/sync/dead-letters/${letter.id}/discard`, { method: "POST", body: { reason } });
        await refreshSync();
      };
      item.append(button(text["sync.retry"], retry, "retry"), button(text["sync.discard"], discard, "discard"));
    }
    return item;
  }));
}

async function refreshStats() {
  const data = await api("/api/v1/stats", { background: true });
  const rows = [
    [text["stats.checkins"], data.checkins],
    [text["stats.median_wait"], data.median_wait_min === null ? "–" : `${data.median_wait_min} ${text.minutes}`],
    [text["stats.kiosk_share"], data.kiosk],
    [text["stats.desk_share"], data.desk],
    [text["stats.by_hour"], Object.entries(data.by_hour).map(([h, n]) => `${h}: ${n}`).join(", ") || "–"],
    [text["stats.by_source"], Object.entries(data.by_identity_source).map(([s, n]) => `${s}: ${n}`).join(", ") || "–"],
  ];
  $("stats").replaceChildren(...rows.flatMap(([label, value]) => [
    Object.assign(document.createElement("dt"), { textContent: label }),
    Object.assign(document.createElement("dd"), { textContent: value }),
  ]));
}

async function refreshAudit() {
  if (config.role !== "admin") return;
  const data = await api("/api/v1/audit?limit=30", { background: true });
  $("audit-body").replaceChildren(...data.entries.map((entry) => {
    const row = document.createElement("tr");
    row.append(cell(formatTime(entry.at)), cell(entry.actor), cell(entry.action), cell(entry.subject));
    return row;
  }));
}

function refreshPanels() {
  refreshDevices().catch(() => {});
  refreshSync().catch(() => {});
  refreshStats().catch(() => {});
  refreshAudit().catch(() => {});
}

// --- insurance eligibility (edge_agent/eligibility/): the row's badge and the details' full answer ------

function money(amount) {
  const value = Number(amount);
  return `$${Number.isInteger(value) ? value : value.toFixed(2)}`;
}

function eligibilityText(view) {
  const label = text[`eligibility.${view.state}`] || view.state;
  if (view.state === "verified") return view.copay ? `${label} — ${text["eligibility.copay"]} ${money(view.copay)}` : label;
  return view.reason ? `${label} — ${view.reason}` : label;
}

function renderEligibility(entry) {
  const view = entry.eligibility || {};
  const badge = document.createElement("span");
  if (!view.state) return badge;
  badge.className = `eligibility eligibility-${view.state}`;
  badge.dataset.state = view.state;
  badge.textContent = eligibilityText(view);
  badge.title = `${text["eligibility.label"]}${view.checked_at ? ` · ${text["eligibility.checked"]} ${formatTime(view.checked_at)}` : ""}`;
  return badge;
}

async function showEligibility(checkinId) {
  const box = $("details-eligibility");
  const answer = await api(`/api/v1/queue/${checkinId}/eligibility`); // audited by the agent
  box.hidden = answer.state === "not_configured";
  const summary = answer.summary;
  const rows = [[text["eligibility.label"], text[`eligibility.${answer.state}`] || text["eligibility.none"]]];
  if (answer.payer) rows.push([text["eligibility.payer"], answer.payer]);
  if (summary) {
    const dates = [summary.plan_begin, summary.plan_end].filter(Boolean).join(" – ");
    rows.push(
      [text["eligibility.plan"], [summary.plan_name, summary.group_number].filter(Boolean).join(" · ") || "–"],
      [text["eligibility.dates"], dates || "–"],
      [text["eligibility.copay_label"], summary.copay === null ? "–" : `${money(summary.copay)} (${summary.visit_service_type})`],
      [text["eligibility.coinsurance"], summary.coinsurance_percent === null ? "–" : `${Number(summary.coinsurance_percent)} %`],
      [text["eligibility.deductible_remaining"], summary.deductible_remaining === null ? "–" : money(summary.deductible_remaining)],
      [text["eligibility.network"], summary.network || "–"],
    );
    if (summary.reason) rows.push([text["eligibility.reason"], summary.reason]);
    rows.push([text["eligibility.benefits"], summary.benefits.map((b) =>
      [b.kind, b.service_types.join(","), b.amount !== null ? money(b.amount) : "", b.percent !== null ? `${Number(b.percent) * 100} %` : "",
       b.time_period, b.network].filter(Boolean).join(" ")).join("; ") || "–"]);
  } else if (answer.error) {
    rows.push([text["eligibility.reason"], answer.error]);
  }
  if (answer.checked_at) rows.push([text["eligibility.checked"], formatTime(answer.checked_at)]);
  if (answer.attempts) rows.push([text["eligibility.attempts"], String(answer.attempts)]);
  $("details-eligibility-body").replaceChildren(...rows.flatMap(([label, value]) => [
    Object.assign(document.createElement("dt"), { textContent: label }),
    Object.assign(document.createElement("dd"), { textContent: value ?? "" }),
  ]));
}

// --- inactivity: sign out after the site's idle time (the server enforces it too) -----------------

function watchIdle() {
  ["click", "keydown", "mousemove", "touchstart"].forEach((type) =>
    document.addEventListener(type, () => { lastActivity = Date.now(); }, { passive: true }));
  setInterval(() => {
    if (Date.now() - lastActivity > config.idle_minutes * 60000) document.querySelector("form.logout").submit();
  }, 5000);
}

document.addEventListener("DOMContentLoaded", () => {
  $("clinician-filter").addEventListener("change", renderQueue);
  $("queue-body").addEventListener("focusin", rememberFocus);
  $("queue-body").addEventListener("focusout", forgetFocus);
  $("undo").addEventListener("click", () => api("/api/v1/queue/undo", { method: "POST" }).catch(showError));
  loadQueue().catch(showError);
  refreshPanels();
  setInterval(refreshPanels, PANEL_REFRESH_MS);
  setInterval(() => { tickWaiting(); renderKiosks(); }, 5000);
  watchIdle();
});

// --- a scanned insurance card (edge_agent/insurance_cards.py): the row's marker and the details' fields ----

function renderCardMarker(entry) {
  const marker = document.createElement("span");
  const count = entry.card_fields_to_check;
  if (count === null || count === undefined) return marker;
  marker.className = count ? "card-marker card-marker-check" : "card-marker";
  marker.dataset.fieldsToCheck = String(count);
  marker.textContent = count ? text["card.fields_to_check"].replace("{n}", String(count)) : text["card.scanned"];
  return marker;
}

async function showCard(entry) {
  const box = $("details-card");
  box.hidden = entry.card_fields_to_check === null || entry.card_fields_to_check === undefined;
  if (box.hidden) return;
  const card = await api(`/api/v1/queue/${entry.checkin_id}/insurance-card`); // audited by the agent
  const rows = Object.entries(card.fields).map(([name, reading]) => {
    const marks = [reading.needs_review && text["card.needs_review"], reading.corrected && text["card.corrected"]].filter(Boolean);
    return [text[`card.field.${name}`] || name, reading.value || "–", marks, reading.needs_review];
  });
  $("details-card-body").replaceChildren(...rows.flatMap(([label, value, marks, review]) => {
    const dd = document.createElement("dd");
    dd.append(value);
    if (review) dd.className = "card-needs-review";
    marks.forEach((mark) => dd.append(" ", Object.assign(document.createElement("span"), { className: "card-mark", textContent: `(${mark})` })));
    return [Object.assign(document.createElement("dt"), { textContent: label }), dd];
  }));
  $("details-card-images").replaceChildren(...Object.entries(card.images).map(([side, url]) => {
    const figure = document.createElement("figure");
    const image = Object.assign(document.createElement("img"), { src: url, alt: text[`card.${side}`] }); // each view audited
    figure.append(image, Object.assign(document.createElement("figcaption"), { textContent: text[`card.${side}`] }));
    return figure;
  }));
}
