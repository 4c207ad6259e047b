// The demo page: a chat with presence on top of the bundled steadysocket client,
// showing the connection as the client sees it. Plain browser JavaScript, no build step.
import { connect } from "/dist/steadysocket.js";

const $ = (id) => document.getElementById(id);

const CLOSE_NAMES = {
  1000: "normal",
  1001: "going away",
  1002: "protocol error",
  1003: "unsupported data",
  1005: "no status",
  1006: "abnormal (no close frame)",
  1007: "invalid payload",
  1008: "policy violation",
  1009: "message too big",
  1011: "internal error",
  1013: "try again later",
  4000: "heartbeat timeout",
};

// The name stays the same across reconnects: it is part of the WebSocket URL.
const params = new URLSearchParams(location.search);
const name = params.get("name") ||
  `guest-${Math.floor(Math.random() * 0x10000).toString(16).padStart(4, "0")}`;
const url = new URL("/ws", location.href);
url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
url.searchParams.set("name", name);

/**
 * A WebSocket that can be cut silently: after `cut()` nothing it receives
 * reaches the client and nothing the client sends leaves, like a network
 * path that died without a FIN. The client is not told; its watchdog has to
 * notice the silence. When the client gives up and closes it, the real socket
 * closes too, so the server does not keep a ghost.
 */
class CuttableWebSocket extends WebSocket {
  #cut = false;
  #wrapped = new Map();

  constructor(...args) {
    super(...args);
    current = this;
  }

  cut() {
    this.#cut = true;
  }

  send(data) {
    if (!this.#cut) super.send(data);
  }

  close(code, reason) {
    // From here on the client expects this socket's close event again.
    this.#cut = false;
    super.close(code, reason);
  }

  addEventListener(type, listener, options) {
    if (typeof listener !== "function") return super.addEventListener(type, listener, options);
    const wrapped = (event) => {
      if (!this.#cut) listener.call(this, event);
    };
    this.#wrapped.set(listener, wrapped);
    super.addEventListener(type, wrapped, options);
  }

  removeEventListener(type, listener, options) {
    super.removeEventListener(type, this.#wrapped.get(listener) ?? listener, options);
    this.#wrapped.delete(listener);
  }
}

let current = null;

// What the end-to-end test reads besides the page.
const demo = { client: null, state: "connecting", attempt: 0, connects: 0, lastClose: null };
globalThis.demo = demo;

/** Connects a new client and wires it to the page (again after a final close). */
function start() {
  // Short client timings so that a silent drop shows within seconds (the defaults are gentler).
  const client = connect(url.href, {
    WebSocket: CuttableWebSocket,
    pingIntervalMs: 2_000,
    serverTimeoutMs: 6_000,
  });
  demo.client = client;
  client.addEventListener("state", (event) => showState(event.detail));
  client.addEventListener("rtt", (event) => {
    $("rtt").textContent = `${Math.round(event.detail)} ms`;
  });
  client.addEventListener("drop", (event) => {
    addLine("error", `not sent (${event.detail.reason}): ${event.detail.data}`);
    showQueued();
  });
  client.addEventListener("error", (event) => {
    addLine("error", `server: ${event.detail.message}${event.detail.code ? ` (${event.detail.code})` : ""}`);
  });
  client.on("welcome", onWelcome);
  client.on("roster", onRoster);
  client.on("join", onJoin);
  client.on("leave", onLeave);
  client.on("chat", onChat);
  showState(client.state);
}

// ------------------------------------------------------------ connection panel

let countdownTimer = 0;

function showCountdown(state) {
  clearInterval(countdownTimer);
  const el = $("countdown");
  if (state.status !== "reconnecting") {
    el.textContent = "–";
    return;
  }
  if (state.offline) {
    el.textContent = "when the network is back";
    return;
  }
  const tick = () => {
    const left = Math.max(0, state.nextAttemptAt - Date.now());
    el.textContent = `${(left / 1000).toFixed(1)} s`;
    if (left === 0) clearInterval(countdownTimer);
  };
  tick();
  countdownTimer = setInterval(tick, 100);
}

function describeClose(code, reason) {
  const label = CLOSE_NAMES[code] ?? (code >= 4000 ? "application" : "unknown");
  return `${code} ${label}${reason ? ` — “${reason}”` : ""}`;
}

function showState(state) {
  // Say it in the chat too, where the reader is looking.
  if (state.status === "reconnecting" && demo.state === "open") {
    addLine("system", `connection lost (${describeClose(state.code, state.reason)}), reconnecting`);
  } else if (state.status === "open" && demo.connects > 0) {
    addLine("system", "reconnected");
  } else if (state.status === "closed" && demo.state !== "closed") {
    addLine("system", `connection closed for good (${describeClose(state.code, state.reason)})`);
  }
  demo.state = state.status;
  document.body.dataset.state = state.status;
  if (state.status === "open") demo.connects += 1;
  if ("attempt" in state) demo.attempt = state.attempt;
  if ("code" in state) {
    demo.lastClose = { code: state.code, reason: state.reason };
    $("last-close").textContent = describeClose(state.code, state.reason);
  }
  const offline = state.status === "reconnecting" && state.offline;
  $("state").textContent = offline ? "reconnecting (offline)" : state.status;
  $("attempt").textContent = String(demo.attempt);
  showCountdown(state);
  showQueued();
  $("online").classList.toggle("stale", state.status !== "open");
  logEvent(state);
}

function showQueued() {
  $("queued").textContent = String(demo.client?.queued ?? 0);
}

function logEvent(state) {
  const parts = [new Date().toISOString().slice(11, 23), state.status];
  if ("attempt" in state) parts.push(`attempt ${state.attempt}`);
  if (state.status === "reconnecting") parts.push(state.offline ? "offline" : `in ${state.delayMs} ms`);
  if ("code" in state) parts.push(describeClose(state.code, state.reason));
  const li = document.createElement("li");
  li.textContent = parts.join("  ");
  const log = $("event-log");
  log.prepend(li);
  while (log.children.length > 50) log.lastElementChild.remove();
}

function showNetwork() {
  $("network").textContent = navigator.onLine ? "online" : "offline";
}
addEventListener("online", showNetwork);
addEventListener("offline", showNetwork);
showNetwork();

// ------------------------------------------------------------------ presence

const online = new Map();
let me = null;

function showOnline() {
  const list = $("online");
  list.replaceChildren(
    ...[...online.values()].sort((a, b) => a.name.localeCompare(b.name)).map((member) => {
      const li = document.createElement("li");
      li.dataset.name = member.name;
      li.textContent = member.name;
      if (member.id === me?.id) li.classList.add("me");
      return li;
    }),
  );
  $("online-count").textContent = String(online.size);
}

function onWelcome(member) {
  me = member;
  $("me").textContent = member.name;
}

function onRoster({ online: members }) {
  online.clear();
  for (const member of members) online.set(member.id, member);
  showOnline();
}

function onJoin(member) {
  online.set(member.id, member);
  showOnline();
  addLine("system", `${member.name} joined`);
}

function onLeave(member) {
  online.delete(member.id);
  showOnline();
  addLine("system", `${member.name} left`);
}

// ---------------------------------------------------------------------- chat

function addLine(kind, text, from) {
  const li = document.createElement("li");
  li.className = kind;
  if (from !== undefined) {
    const who = document.createElement("span");
    who.className = "from";
    who.textContent = from;
    li.append(who);
  }
  const body = document.createElement("span");
  body.className = "text";
  body.textContent = text;
  li.append(body);
  const list = $("messages");
  list.append(li);
  while (list.children.length > 200) list.firstElementChild.remove();
  list.scrollTop = list.scrollHeight;
}

function onChat({ from, fromId, text }) {
  addLine(fromId === me?.id ? "chat mine" : "chat", text, from);
}

$("chat-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const input = $("chat-text");
  if (!input.value.trim()) return;
  demo.client.send("chat", { text: input.value });
  input.value = "";
  showQueued();
});

// ------------------------------------------------------------------ buttons

$("drop").addEventListener("click", () => {
  current?.cut();
  addLine("system", "connection cut silently: the client's watchdog has to notice");
});

$("ask-close").addEventListener("click", () => {
  demo.client.send("close-me", { code: Number($("close-code").value) });
});

// After a final close (1008) the client is done: a new one starts over.
$("reconnect").addEventListener("click", () => {
  if (demo.client.state.status === "closed") start();
  else demo.client.reconnect();
});

start();
