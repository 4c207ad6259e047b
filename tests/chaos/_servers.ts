/**
 * Starts an endpoint on a real server, on either runtime, through either the
 * runtime's own adapter or Hono: the suites run each scenario on every
 * adapter the current runtime has.
 *
 * @module
 */

import { createEndpoint } from "../../server/mod.ts";
import type { Endpoint, EndpointOptions } from "../../server/types.ts";
import { denoHandler } from "../../server/adapters/deno.ts";
import { bunHandlers, bunWebSocketSettings } from "../../server/adapters/bun.ts";
import { honoWebSocket } from "../../server/adapters/hono.ts";
import { runtime } from "../_harness.ts";

// deno-lint-ignore no-explicit-any
const g = globalThis as any;

/** `native` is `denoHandler` on Deno and `bunHandlers` on Bun; `hono` is `honoWebSocket` with the runtime's helper. */
export type AdapterKind = "native" | "hono";

/** Both adapters of the current runtime. */
export const ADAPTERS: readonly AdapterKind[] = ["native", "hono"];

/** The adapter's label in reports: `deno`, `bun`, `hono/deno`, `hono/bun`. */
export function adapterLabel(kind: AdapterKind): string {
  return kind === "native" ? runtime : `hono/${runtime}`;
}

/** A running server. */
export interface TestServer<T> {
  endpoint: Endpoint<T>;
  port: number;
  url: string;
  adapter: AdapterKind;
  /** Shuts the endpoint down (1001 to everyone), then the HTTP server. */
  close(deadlineMs?: number): Promise<void>;
}

/** Options of {@linkcode startServer}. */
export interface StartOptions {
  adapter?: AdapterKind;
  /** A fixed port (for restarts); default ephemeral. */
  port?: number;
}

/**
 * Creates an endpoint and serves it on 127.0.0.1 at `/ws`.
 *
 * @example
 * ```ts
 * const server = await startServer({ message: (c, m) => c.sendJson(m) }, { adapter: "hono" });
 * await server.close();
 * ```
 */
export async function startServer<T>(
  options: EndpointOptions<T>,
  start: StartOptions = {},
): Promise<TestServer<T>> {
  const endpoint = createEndpoint<T>(options);
  return await serveEndpoint(endpoint, start);
}

/** Serves an existing endpoint (a restart keeps nothing but the port). */
export async function serveEndpoint<T>(
  endpoint: Endpoint<T>,
  start: StartOptions = {},
): Promise<TestServer<T>> {
  const adapter = start.adapter ?? "native";
  const port = start.port ?? 0;
  let stop: () => Promise<void>;
  let boundPort: number;
  if (runtime === "deno") {
    let handler: (req: Request, info: unknown) => Response | Promise<Response>;
    if (adapter === "native") {
      // deno-lint-ignore no-explicit-any
      handler = denoHandler(endpoint) as any;
    } else {
      const { Hono } = await import("hono");
      const { upgradeWebSocket } = await import("hono/deno");
      const app = new Hono();
      app.get("/ws", honoWebSocket(endpoint, upgradeWebSocket));
      // deno-lint-ignore no-explicit-any
      handler = (req, info) => app.fetch(req, info as any);
    }
    const server = g.Deno.serve({ port, hostname: "127.0.0.1", onListen() {} }, handler);
    boundPort = server.addr.port;
    stop = () => server.shutdown();
  } else {
    let server;
    if (adapter === "native") {
      server = g.Bun.serve({ port, hostname: "127.0.0.1", ...bunHandlers(endpoint) });
    } else {
      const { Hono } = await import("hono");
      const honoBun = "hono/bun";
      const { upgradeWebSocket, websocket } = await import(honoBun);
      const app = new Hono();
      app.get("/ws", honoWebSocket(endpoint, upgradeWebSocket));
      server = g.Bun.serve({
        port,
        hostname: "127.0.0.1",
        fetch: (req: Request, srv: unknown) => app.fetch(req, srv),
        websocket: { ...websocket, ...bunWebSocketSettings(endpoint) },
      });
    }
    boundPort = server.port;
    stop = () => server.stop(true);
  }
  let closed = false;
  return {
    endpoint,
    port: boundPort,
    url: `ws://127.0.0.1:${boundPort}/ws`,
    adapter,
    async close(deadlineMs = 2_000) {
      if (closed) return;
      closed = true;
      await endpoint.shutdown({ deadlineMs });
      await stop();
    },
  };
}
