// crossws on Bun, fan-out through its `publish()` (native pub/sub on Bun).
import crossws from "crossws/adapters/bun";
import { closeCounter, collectGarbage, createControl, isPong } from "./_control.js";

// deno-lint-ignore no-explicit-any
const Bun = (globalThis as any).Bun;
// deno-lint-ignore no-explicit-any
type Peer = any;

const peers = new Map<Peer, boolean>();
const counter = closeCounter();

const ws = crossws({
  hooks: {
    open(peer: Peer) {
      peers.set(peer, new URL(peer.request.url).searchParams.has("stall"));
      peer.subscribe("r");
      counter.opened();
    },
    message(peer: Peer, message: Peer) {
      if (isPong(message.text())) return;
      peer.send(JSON.stringify(message.json()));
    },
    close(peer: Peer, details: { code?: number }) {
      peers.delete(peer);
      counter.closed(details.code ?? 1005);
    },
  },
});

const control = createControl({
  sendAll(frame: string) {
    ws.publish("r", frame);
  },
  maxBacklog() {
    let max = 0;
    for (const [peer, stall] of peers) {
      if (stall) continue;
      const b = peer.bufferedAmount;
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
  async fetch(req: Request, srv: unknown) {
    const url = new URL(req.url);
    if (url.pathname.startsWith("/ctl/")) {
      return Response.json(await control(url));
    }
    return ws.handleUpgrade(req, srv);
  },
  websocket: ws.websocket,
});
console.log(`LISTEN ${server.port}`);
