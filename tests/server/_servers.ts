/**
 * Starts a real server on loopback (port 0) for one adapter on the current
 * runtime, so one list of scenarios runs against every adapter: `deno` and
 * `hono` under Deno, `bun` and `hono` under Bun.
 */

import { runtime } from "../_harness.ts";
import { createEndpoint } from "../../server/mod.ts";
import type {
  Admission,
  CloseInfo,
  Connection,
  Endpoint,
  EndpointOptions,
  Logger,
  RequestInfo,
  SocketLike,
} from "../../server/types.ts";
import { denoHandler } from "../../server/adapters/deno.ts";
import { bunHandlers, type BunServer, bunWebSocketSettings } from "../../server/adapters/bun.ts";
import { honoWebSocket } from "../../server/adapters/hono.ts";
import { Counter } from "./_clients.ts";

/** An adapter under test. */
export type AdapterKind = "deno" | "bun" | "hono";

/** The adapters that run on this runtime. */
export const adapters: AdapterKind[] = runtime === "deno" ? ["deno", "hono"] : ["bun", "hono"];

/** One logged line. */
export interface LogEntry {
  level: "debug" | "info" | "warn" | "error";
  message: string;
  fields?: Record<string, unknown>;
}

/** A running server and what the test can observe of it. */
export interface TestServer<T> {
  /** `ws://127.0.0.1:<port>/ws` */
  url: string;
  port: number;
  endpoint: Endpoint<T>;
  /** Counts of the `open` and `close` handlers' calls. */
  opens: Counter;
  closes: Counter;
  /** Every `close` handler call, in order. */
  closeInfos: CloseInfo[];
  /** Everything logged. */
  logs: LogEntry[];
  /** The sockets the adapter attached, in order (the runtime's own, or its wrapper). */
  sockets: SocketLike[];
  /** What the adapter told `admit` about each admitted request, in order. */
  infos: (RequestInfo | undefined)[];
  /** Shuts the endpoint down (if nobody did) and stops the server. */
  stop(): Promise<void>;
}

/** Options of {@linkcode startServer} besides the endpoint's. */
export interface ServerOptions {
  /** Subprotocols the adapter may answer. */
  protocols?: readonly string[];
  /** Answers requests that are not upgrades (the adapters' `fallback`; a catch-all route on Hono). */
  fallback?: (request: Request) => Response | Promise<Response>;
}

// Variable specifiers: `deno check` does not resolve the other runtime's module.
const honoDenoModule = "hono/deno";
const honoBunModule = "hono/bun";

// deno-lint-ignore no-explicit-any
const g = globalThis as any;

/** Starts `kind` on loopback with an endpoint made from `options` (handlers wrapped to count). */
export async function startServer<T>(
  kind: AdapterKind,
  options: EndpointOptions<T> = {},
  serverOptions: ServerOptions = {},
): Promise<TestServer<T>> {
  const opens = new Counter();
  const closes = new Counter();
  const closeInfos: CloseInfo[] = [];
  const logs: LogEntry[] = [];
  const logger: Logger = {
    debug: (message, fields) => logs.push({ level: "debug", message, fields }),
    info: (message, fields) => logs.push({ level: "info", message, fields }),
    warn: (message, fields) => logs.push({ level: "warn", message, fields }),
    error: (message, fields) => logs.push({ level: "error", message, fields }),
  };
  const endpoint = createEndpoint<T>({
    logger,
    ...options,
    open: async (conn: Connection<T>) => {
      opens.add();
      await options.open?.(conn);
    },
    close: async (conn: Connection<T>, info: CloseInfo) => {
      closeInfos.push(info);
      closes.add();
      await options.close?.(conn, info);
    },
  });

  const sockets: SocketLike[] = [];
  const infos: (RequestInfo | undefined)[] = [];
  const observed = observe(endpoint, sockets, infos);

  let port: number;
  let stopServer: () => Promise<void>;
  if (kind === "deno" || (kind === "hono" && runtime === "deno")) {
    // deno-lint-ignore no-explicit-any
    let handler: (request: Request, info: any) => Response | Promise<Response>;
    if (kind === "deno") {
      handler = denoHandler(observed, serverOptions);
    } else {
      const { Hono } = await import("hono");
      const { upgradeWebSocket } = await import(honoDenoModule);
      const app = new Hono();
      app.get("/ws", honoWebSocket(observed, upgradeWebSocket, { protocols: serverOptions.protocols }));
      const fallback = serverOptions.fallback;
      if (fallback !== undefined) app.all("*", (c) => fallback(c.req.raw));
      handler = (request, info) => app.fetch(request, info);
    }
    const server = g.Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
    port = server.addr.port;
    stopServer = () => server.shutdown();
  } else {
    let serveOptions: Record<string, unknown>;
    if (kind === "bun") {
      serveOptions = bunHandlers(observed, serverOptions) as unknown as Record<
        string,
        unknown
      >;
    } else {
      const { Hono } = await import("hono");
      const { upgradeWebSocket, websocket } = await import(honoBunModule);
      const app = new Hono();
      app.get("/ws", honoWebSocket(observed, upgradeWebSocket, { protocols: serverOptions.protocols }));
      const fallback = serverOptions.fallback;
      if (fallback !== undefined) app.all("*", (c) => fallback(c.req.raw));
      serveOptions = {
        fetch: (request: Request, server: BunServer) => app.fetch(request, server),
        websocket: { ...websocket, ...bunWebSocketSettings(endpoint) },
      };
    }
    const server = g.Bun.serve({ hostname: "127.0.0.1", port: 0, ...serveOptions });
    port = server.port;
    stopServer = async () => {
      await server.stop(true);
    };
  }

  let stopped = false;
  return {
    url: `ws://127.0.0.1:${port}/ws`,
    port,
    endpoint,
    opens,
    closes,
    closeInfos,
    logs,
    sockets,
    infos,
    async stop() {
      if (stopped) return;
      stopped = true;
      await endpoint.shutdown({ deadlineMs: 2_000 });
      await stopServer();
    },
  };
}

/**
 * The endpoint as the adapter sees it, recording the sockets attached and the
 * request info passed, and otherwise forwarding everything.
 */
function observe<T>(
  endpoint: Endpoint<T>,
  sockets: SocketLike[],
  infos: (RequestInfo | undefined)[],
): Endpoint<T> {
  return {
    get hub() {
      return endpoint.hub;
    },
    get settings() {
      return endpoint.settings;
    },
    stats: () => endpoint.stats(),
    metrics: () => endpoint.metrics(),
    shutdown: (options) => endpoint.shutdown(options),
    async admit(request, info): Promise<Admission> {
      const admission = await endpoint.admit(request, info);
      if (!admission.ok) return admission;
      infos.push(info);
      const s = admission.session;
      return {
        ok: true,
        session: {
          attach: (socket) => {
            sockets.push(socket);
            s.attach(socket);
          },
          opened: () => s.opened(),
          received: (data) => s.received(data),
          closed: (code, reason) => s.closed(code, reason),
          errored: (error) => s.errored(error),
          drained: () => s.drained(),
          abandon: () => s.abandon(),
        },
      };
    },
  };
}
