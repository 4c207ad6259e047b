// crossws on Deno, fan-out through its `publish()`.
import crossws from "crossws/adapters/deno";
import { closeCounter, collectGarbage, createControl, isPong } from "./_control.js";

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
    close(peer: Peer) {
      // crossws on Deno reports no code; it may also report twice.
      if (!peers.delete(peer)) return;
      counter.closed(peer._internal.ws.readyState === 3 ? "closed" : "unknown");
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
      const b = peer._internal.ws.bufferedAmount;
      if (b > max) max = b;
    }
    return max;
  },
  stats: () => counter.counts,
  gc: collectGarbage,
});

const server = Deno.serve(
  { port: 0, hostname: Deno.env.get("HOST") ?? "0.0.0.0", onListen: () => {} },
  async (req, info) => {
    const url = new URL(req.url);
    if (url.pathname.startsWith("/ctl/")) {
      return Response.json(await control(url));
    }
    return ws.handleUpgrade(req, info);
  },
);
console.log(`LISTEN ${server.addr.port}`);
