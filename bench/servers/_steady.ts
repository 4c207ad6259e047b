// The steadysocket endpoint every steadysocket benchmark server uses: limits
// raised to the benchmark's scale (connection caps, rate) but every mechanism
// on — guards, rate bucket, heartbeat, slow-consumer bound.
import { createEndpoint } from "../../server/mod.ts";
import type { Connection, Endpoint } from "../../server/mod.ts";
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
    maxBacklog: () => worstBacklog(endpoint),
    stats: () => endpoint.stats(),
    gc: collectGarbage,
  });
  return { endpoint, control };
}

/** A connection of the benchmark endpoint, with the socket its adapter attached. */
export type SteadyConnection = Connection<{ stall: boolean }> & { socket?: WebSocket };

/**
 * The hub's open connections, read from its cached list (an internal of the hub) rather than from
 * `hub.connections()`, which copies it: the flow control reads it before every batch of broadcasts.
 */
export function openConnections(endpoint: Endpoint<{ stall: boolean }>): readonly SteadyConnection[] {
  return (endpoint.hub as unknown as { list(): SteadyConnection[] }).list();
}

/**
 * The worst send backlog of the endpoint's readers (stalled peers left out). The hub is the registry: a set of
 * our own beside it would cost every connection an entry that an application of ours does not need.
 */
export function worstBacklog(endpoint: Endpoint<{ stall: boolean }>): number {
  return maxOf(openConnections(endpoint), (conn) => conn.data.stall ? 0 : conn.bufferedAmount);
}
