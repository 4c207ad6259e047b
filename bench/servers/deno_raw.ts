// Raw `Deno.serve` + `Deno.upgradeWebSocket`: the baseline. IDLE unset keeps
// Deno's default `idleTimeout`; IDLE=0 turns its per-message timer off.
import { closeCounter, collectGarbage, createControl, isPong } from "./_control.js";

const idle = Deno.env.get("IDLE");
const sockets = new Set<WebSocket>();
const stalled = new WeakSet<WebSocket>();
const counter = closeCounter();

const control = createControl({
  sendAll(frame: string) {
    for (const ws of sockets) ws.send(frame);
  },
  maxBacklog() {
    let max = 0;
    for (const ws of sockets) {
      if (stalled.has(ws)) continue;
      if (ws.bufferedAmount > max) max = ws.bufferedAmount;
    }
    return max;
  },
  stats: () => counter.counts,
  gc: collectGarbage,
});

const server = Deno.serve({
  port: 0,
  hostname: Deno.env.get("HOST") ?? "0.0.0.0",
  onListen: () => {},
}, async (req) => {
  const url = new URL(req.url);
  if (url.pathname.startsWith("/ctl/")) {
    return Response.json(await control(url));
  }
  const { socket, response } = Deno.upgradeWebSocket(
    req,
    idle === undefined ? {} : { idleTimeout: Number(idle) },
  );
  if (url.searchParams.has("stall")) stalled.add(socket);
  let closed = false;
  socket.onopen = () => {
    sockets.add(socket);
    counter.opened();
  };
  socket.onmessage = (e) => {
    if (isPong(e.data)) return;
    socket.send(JSON.stringify(JSON.parse(e.data)));
  };
  // Deno may fire close twice: count once.
  socket.onclose = (e) => {
    if (closed) return;
    closed = true;
    sockets.delete(socket);
    counter.closed(e.code);
  };
  socket.onerror = () => {};
  return response;
});
console.log(`LISTEN ${server.addr.port}`);
