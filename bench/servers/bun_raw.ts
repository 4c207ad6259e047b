// Raw `Bun.serve`: the baseline. MODE=loop broadcasts with a JS `send()` loop,
// MODE=publish with Bun's native `server.publish()` (the ceiling).
// UPGRADE_WORK_US=N spins N µs before each upgrade: a server that is strictly
// slower per connection, to calibrate what the churn rate can tell apart.
import { closeCounter, collectGarbage, createControl, isPong } from "./_control.js";

// deno-lint-ignore no-explicit-any
const Bun = (globalThis as any).Bun;
// deno-lint-ignore no-explicit-any
type WS = any;

const mode = process.env.MODE ?? "loop";
const upgradeWorkMs = Number(process.env.UPGRADE_WORK_US ?? 0) / 1000;
const sockets = new Set<WS>();
const counter = closeCounter();

const control = createControl({
  sendAll(frame: string) {
    if (mode === "publish") server.publish("r", frame);
    else for (const ws of sockets) ws.send(frame);
  },
  maxBacklog() {
    let max = 0;
    for (const ws of sockets) {
      if (ws.data.stall) continue;
      const b = ws.getBufferedAmount();
      if (b > max) max = b;
    }
    return max;
  },
  stats: () => counter.counts,
  gc: collectGarbage,
});

const server = Bun.serve({
  port: 0,
  hostname: process.env.HOST ?? "0.0.0.0",
  async fetch(req: Request, srv: WS) {
    const url = new URL(req.url);
    if (url.pathname.startsWith("/ctl/")) {
      return Response.json(await control(url));
    }
    if (upgradeWorkMs > 0) {
      const until = performance.now() + upgradeWorkMs;
      while (performance.now() < until) {
        // spinning on purpose: work the server does per connection
      }
    }
    if (srv.upgrade(req, { data: { stall: url.searchParams.has("stall") } })) {
      return;
    }
    return new Response("expected a WebSocket upgrade", { status: 400 });
  },
  websocket: {
    open(ws: WS) {
      sockets.add(ws);
      counter.opened();
      if (mode === "publish") ws.subscribe("r");
    },
    message(ws: WS, data: string) {
      if (isPong(data)) return;
      ws.send(JSON.stringify(JSON.parse(data)));
    },
    close(ws: WS, code: number) {
      sockets.delete(ws);
      counter.closed(code);
    },
  },
});
console.log(`LISTEN ${server.port}`);
