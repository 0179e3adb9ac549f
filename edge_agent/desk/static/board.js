// Lobby board: renders the public board state (tickets only) in each of the site's languages in turn,
// chimes and speaks new calls in every language, and reconnects by itself when the agent restarts.
// Every word shown or spoken comes from the board catalogue (config.languages[i].text).
"use strict";

const config = JSON.parse(document.getElementById("board-config").textContent);
const $ = (id) => document.getElementById(id);
let lastCallKey = null;
let audio = null;
let state = { now_calling: [], waiting: [] };
let languageIndex = 0;

const current = () => config.languages[languageIndex];

function fill(template, values) {
  return template.replace(/\{(\w+)\}/g, (whole, name) => (name in values ? values[name] : whole));
}

// A room as the site names it in this language: the site's own `room.<name>` entry if it has one,
// "Room 3" / "3" as this language's "Room {room}", anything else as typed.
function roomName(room, text) {
  if (!room) return "";
  if (text[`room.${room}`]) return text[`room.${room}`];
  const number = /^(?:room\s*)?(\d+[A-Za-z]?)$/i.exec(room.trim());
  return number ? fill(text["board.room"], { room: number[1] }) : room;
}

// The call line as elements: the catalogue's template with the ticket and the room as styled spans.
function callLine(call, text) {
  const template = call.room ? text["board.call_line"] : text["board.call_line_no_room"];
  const parts = { ticket: ["ticket", call.ticket], room: ["room", roomName(call.room, text)] };
  return template.split(/(\{ticket\}|\{room\})/).filter(Boolean).map((piece) => {
    const part = parts[piece.slice(1, -1)];
    const span = document.createElement("span");
    if (part) { span.className = part[0]; span.textContent = part[1]; } else { span.className = "sep"; span.textContent = piece; }
    return span;
  });
}

function render() {
  const { lang, text } = current();
  const calls = state.now_calling || [];
  const call = calls[0];
  for (const id of ["board-main", "board-footer"]) $(id).lang = lang;
  document.querySelectorAll("[data-text]").forEach((el) => { el.textContent = text[el.dataset.text]; });
  const line = $("call-line");
  if (call) line.replaceChildren(...callLine(call, text));
  else line.replaceChildren(Object.assign(document.createElement("span"), { className: "ticket", textContent: text["board.no_call"] }));
  const [ticket, room] = [line.querySelector(".ticket"), line.querySelector(".room")];
  ticket.id = "now-ticket";
  if (room) room.id = "now-room";
  fitToWidth($("now-calling"));
  const earlier = calls.slice(1, 4);
  $("earlier-title").hidden = earlier.length === 0;
  $("recent-calls").replaceChildren(...earlier.map((c) => {
    const item = document.createElement("li");
    item.append(...callLine(c, text));
    return item;
  }));
  const waiting = (state.waiting || []).slice(0, config.waiting_shown);
  $("waiting").replaceChildren(...waiting.map((ticket) => Object.assign(document.createElement("li"), { textContent: ticket })));
  $("nobody").hidden = waiting.length > 0 || Boolean(call);
}

// The call line stays on one line in every language: shrink its type until it fits the panel.
function fitToWidth(el) {
  el.style.fontSize = "";
  let size = parseFloat(getComputedStyle(el).fontSize);
  while (el.scrollWidth > el.clientWidth + 1 && size > 8) {
    size *= 0.92;
    el.style.fontSize = `${size}px`;
  }
}

function update(next) {
  state = next;
  render();
  const call = (state.now_calling || [])[0];
  const key = call ? `${call.ticket}|${call.room}|${call.called_at}` : null;
  if (key && lastCallKey !== null && key !== lastCallKey) announce(call);
  lastCallKey = key || "";
}

function announce(call) {
  const el = $("now-calling");
  el.classList.remove("flash");
  void el.offsetWidth;
  el.classList.add("flash");
  const { text } = current();
  const template = call.room ? text["board.announcement"] : text["board.announcement_no_room"];
  $("announcement").textContent = fill(template, { ticket: call.ticket, room: roomName(call.room, text) });
  chime();
  speak(call);
}

function audioContext() {
  if (!audio && window.AudioContext) audio = new AudioContext();
  return audio;
}

function chime() {
  const ctx = audioContext();
  if (!ctx || ctx.state !== "running") return;
  [[880, 0], [660, 0.45]].forEach(([frequency, at]) => {
    const tone = ctx.createOscillator();
    const gain = ctx.createGain();
    tone.type = "sine";
    tone.frequency.value = frequency;
    gain.gain.setValueAtTime(0.0001, ctx.currentTime + at);
    gain.gain.exponentialRampToValueAtTime(0.4, ctx.currentTime + at + 0.03);
    gain.gain.exponentialRampToValueAtTime(0.0001, ctx.currentTime + at + 0.9);
    tone.connect(gain).connect(ctx.destination);
    tone.start(ctx.currentTime + at);
    tone.stop(ctx.currentTime + at + 1);
  });
}

// One utterance per site language, each with its own `lang` (and that language's voice when the browser
// has one). A browser that lists voices but none for a language skips it rather than mispronounce it.
function speak(call) {
  if (!window.speechSynthesis) return;
  const voices = speechSynthesis.getVoices();
  const spokenTicket = call.ticket.replace("-", " ").split("").join(" ");
  for (const { lang, text } of config.languages) {
    const tag = text["board.speech_lang"] || lang;
    const voice = voices.find((v) => v.lang.toLowerCase() === tag.toLowerCase())
      || voices.find((v) => v.lang.toLowerCase().startsWith(lang));
    if (voices.length && !voice) continue;
    const template = call.room ? text["board.speech"] : text["board.speech_no_room"];
    const utterance = new SpeechSynthesisUtterance(fill(template, { ticket: spokenTicket, room: roomName(call.room, text) }));
    utterance.lang = tag;
    if (voice) utterance.voice = voice;
    speechSynthesis.speak(utterance);
  }
}

function tickClock() {
  $("clock").textContent = new Date().toLocaleTimeString(current().lang, {
    hour: "2-digit", minute: "2-digit", timeZone: config.timezone,
  });
}

function rotateLanguage() {
  languageIndex = (languageIndex + 1) % config.languages.length;
  render();
  tickClock();
}

async function refresh() {
  const response = await fetch("/api/v1/board", { cache: "no-store" });
  if (response.ok) update(await response.json());
}

function connect() {
  const source = new EventSource("/api/v1/board/events");
  source.onopen = () => { $("connection").hidden = true; refresh().catch(() => {}); };
  source.onmessage = (message) => handle(message);
  source.addEventListener("board", (message) => handle(message));
  source.addEventListener("reset", () => refresh().catch(() => {}));
  source.onerror = () => {
    $("connection").hidden = false;
    if (source.readyState === EventSource.CLOSED) {
      // The browser gave up (e.g. an error page while the agent restarted): start over ourselves.
      setTimeout(connect, 2000);
    }
  };
}

function handle(message) {
  const data = JSON.parse(message.data);
  if (data && Array.isArray(data.now_calling)) update(data);
  else refresh().catch(() => {});
}

document.addEventListener("DOMContentLoaded", () => {
  render();
  tickClock();
  setInterval(tickClock, 1000);
  if (config.languages.length > 1) setInterval(rotateLanguage, config.rotate_s * 1000);
  window.addEventListener("resize", () => fitToWidth($("now-calling")));
  const ctx = audioContext();
  if (ctx && ctx.state !== "running") {
    const button = $("enable-sound");
    button.hidden = false;
    button.addEventListener("click", () => ctx.resume().then(() => { button.hidden = true; }));
  }
  if (window.speechSynthesis) speechSynthesis.getVoices();
  connect();
});
