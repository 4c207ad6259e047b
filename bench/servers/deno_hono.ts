// Hono's WebSocket helper on Deno (`hono/deno`), the way its documentation shows it.
import { Hono } from "hono";
import { upgradeWebSocket } from "hono/deno";
import type { WSContext } from "hono/ws";
import { closeCounter, collectGarbage, createControl, isPong } from "./_control.js";

const clients = new Map<WebSocket, { ctx: WSContext; stall: boolean }>();
const counter = closeCounter();

const control = createControl({
  sendAll(frame: string) {
    for (const c of clients.values()) c.ctx.send(frame);
  },
  maxBacklog() {
    let max = 0;
    for (const [raw, c] of clients) {
      if (c.stall) continue;
      if (raw.bufferedAmount > max) max = raw.bufferedAmount;
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
    let closed = false;
    return {
      onOpen(_e, ws) {
        clients.set(ws.raw as WebSocket, { ctx: ws, stall });
        counter.opened();
      },
      onMessage(e, ws) {
        if (isPong(e.data as string)) return;
        ws.send(JSON.stringify(JSON.parse(e.data as string)));
      },
      onClose(e, ws) {
        if (closed) return;
        closed = true;
        clients.delete(ws.raw as WebSocket);
        counter.closed(e.code);
      },
    };
  }),
);

const server = Deno.serve({
  port: 0,
  hostname: Deno.env.get("HOST") ?? "0.0.0.0",
  onListen: () => {},
}, app.fetch);
console.log(`LISTEN ${server.addr.port}`);
