// Lobby board: renders the public board state (tickets only), chimes and speaks new calls,
// and reconnects by itself when the agent restarts.
"use strict";

const config = JSON.parse(document.getElementById("board-config").textContent);
const $ = (id) => document.getElementById(id);
let lastCallKey = null;
let audio = null;

function roomLabel(room, text) {
  if (!room) return "";
  return /^\d+[A-Za-z]?$/.test(room) ? `${text["board.room"]} ${room}` : room;
}

function render(state) {
  const calls = state.now_calling || [];
  const current = calls[0];
  $("now-ticket").textContent = current ? current.ticket : "—";
  $("now-room").textContent = current ? roomLabel(current.room, config.text) : "";
  $("recent-calls").replaceChildren(...calls.slice(1, 4).map((call) => {
    const item = document.createElement("li");
    item.textContent = `${call.ticket} ${roomLabel(call.room, config.text)}`.trim();
    return item;
  }));
  const waiting = (state.waiting || []).slice(0, config.waiting_shown);
  $("waiting").replaceChildren(...waiting.map((ticket) => {
    const item = document.createElement("li");
    item.textContent = ticket;
    return item;
  }));
  $("nobody").hidden = waiting.length > 0 || Boolean(current);
  const key = current ? `${current.ticket}|${current.room}|${current.called_at}` : null;
  if (key && lastCallKey !== null && key !== lastCallKey) announce(current);
  lastCallKey = key || "";
}

function announce(call) {
  const el = $("now-calling");
  el.classList.remove("flash");
  void el.offsetWidth;
  el.classList.add("flash");
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

function speak(call) {
  if (!window.speechSynthesis) return;
  const voices = speechSynthesis.getVoices();
  const spokenTicket = call.ticket.replace("-", " ").split("").join(" ");
  for (const [lang, text] of Object.entries(config.speech)) {
    const voice = voices.find((v) => v.lang.toLowerCase().startsWith(lang));
    if (!voice) continue;
    const template = call.room ? text["board.speech"] : text["board.speech_no_room"];
    const utterance = new SpeechSynthesisUtterance(
      template.replace("{ticket}", spokenTicket).replace("{room}", roomLabel(call.room, text)));
    utterance.voice = voice;
    utterance.lang = voice.lang;
    speechSynthesis.speak(utterance);
  }
}

function tickClock() {
  $("clock").textContent = new Date().toLocaleTimeString(config.lang, {
    hour: "2-digit", minute: "2-digit", timeZone: config.timezone,
  });
}

async function refresh() {
  const response = await fetch("/api/v1/board", { cache: "no-store" });
  if (response.ok) render(await response.json());
}

function connect() {
  const source = new EventSource("/api/v1/board/events");
  source.onopen = () => { $("connection").hidden = true; refresh().catch(() => {}); };
  source.onmessage = (message) => handle("message", message);
  source.addEventListener("board", (message) => handle("board", message));
  source.addEventListener("reset", () => refresh().catch(() => {}));
  source.onerror = () => {
    $("connection").hidden = false;
    if (source.readyState === EventSource.CLOSED) {
      // The browser gave up (e.g. an error page while the agent restarted): start over ourselves.
      setTimeout(connect, 2000);
    }
  };
}

function handle(_type, message) {
  const data = JSON.parse(message.data);
  if (data && Array.isArray(data.now_calling)) render(data);
  else refresh().catch(() => {});
}

document.addEventListener("DOMContentLoaded", () => {
  tickClock();
  setInterval(tickClock, 1000);
  const ctx = audioContext();
  if (ctx && ctx.state !== "running") {
    const button = $("enable-sound");
    button.hidden = false;
    button.addEventListener("click", () => ctx.resume().then(() => { button.hidden = true; }));
  }
  if (window.speechSynthesis) speechSynthesis.getVoices();
  connect();
});
