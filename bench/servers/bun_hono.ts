// Hono's WebSocket helper on Bun (`hono/bun`), the way its documentation shows it.
import { Hono } from "hono";
import { upgradeWebSocket, websocket } from "hono/bun";
import type { WSContext } from "hono/ws";
import { closeCounter, collectGarbage, createControl, isPong } from "./_control.js";

// deno-lint-ignore no-explicit-any
const Bun = (globalThis as any).Bun;

// Hono builds a new context per event on Bun, so the raw socket is the key.
const clients = new Map<unknown, { ctx: WSContext; stall: boolean }>();
const counter = closeCounter();

const control = createControl({
  sendAll(frame: string) {
    for (const c of clients.values()) c.ctx.send(frame);
  },
  maxBacklog() {
    let max = 0;
    for (const [raw, c] of clients) {
      if (c.stall) continue;
      // deno-lint-ignore no-explicit-any
      const b = (raw as any).getBufferedAmount();
      if (b > max) max = b;
    }
    return max;
  },
  stats: () => counter.counts,
  gc: collectGarbage,
});

const app = new Hono();
app.get("/ctl/*", async (c) => c.json(await control(new URL(c.req.url))));
app.get(
  "/ws",
  upgradeWebSocket((c) => {
    const stall = c.req.query("stall") !== undefined;
    return {
      onOpen(_e, ws) {
        clients.set(ws.raw, { ctx: ws, stall });
        counter.opened();
      },
      onMessage(e, ws) {
        if (isPong(e.data as string)) return;
        ws.send(JSON.stringify(JSON.parse(e.data as string)));
      },
      onClose(e, ws) {
        clients.delete(ws.raw);
        counter.closed(e.code);
      },
    };
  }),
);

const server = Bun.serve({
  port: 0,
  hostname: process.env.HOST ?? "0.0.0.0",
  fetch: app.fetch,
  websocket,
});
console.log(`LISTEN ${server.port}`);
