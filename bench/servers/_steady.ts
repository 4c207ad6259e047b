// The steadysocket endpoint every steadysocket benchmark server uses: limits
// raised to the benchmark's scale (connection caps, rate) but every mechanism
// on — guards, rate bucket, heartbeat, slow-consumer bound.
import { createEndpoint } from "../../server/mod.ts";
import type { Endpoint } from "../../server/mod.ts";
import { collectGarbage, createControl, maxOf } from "./_control.js";

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

/** The endpoint and its `/ctl/*` handler. */
export function steadyEndpoint(): {
  endpoint: Endpoint<{ stall: boolean }>;
  control: (url: URL) => Promise<unknown>;
} {
  const endpoint = createEndpoint<{ stall: boolean }>({
    origins: "any",
    maxConnections: 1_000_000,
    maxConnectionsPerAddress: 1_000_000,
    // On, but never the limiting factor of a throughput run.
    rateLimit: { perSecond: 1e9, burst: 1e9 },
    logger: quiet,
    authenticate: (req) => ({
      stall: new URL(req.url).searchParams.has("stall"),
    }),
    open(conn) {
      conn.join("r");
    },
    message(conn, message) {
      conn.sendJson(message);
    },
  });
  const control = createControl({
    sendAll(frame: string) {
      endpoint.hub.broadcast(frame, { room: "r" });
    },
    // The hub is the registry: a set of our own beside it would cost every
    // connection an entry that an application of ours does not need.
    maxBacklog: () => maxOf(endpoint.hub.connections(), (conn) => conn.data.stall ? 0 : conn.bufferedAmount),
    stats: () => endpoint.stats(),
    gc: collectGarbage,
  });
  return { endpoint, control };
}
