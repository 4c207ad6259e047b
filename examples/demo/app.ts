/**
 * The demo application, one Hono app for both runtimes: the runtime's entry
 * (`deno.ts` or `bun.ts`) hands in its `upgradeWebSocket` and serves
 * `app.fetch`.
 *
 * Routes: `/` the chat page, `/app.js` and `/style.css` its assets,
 * `/dist/*` the bundled client, `/ws` the endpoint, `/healthz`, `/metrics`.
 *
 * @module
 */

import { readFile } from "node:fs/promises";
import { Hono } from "hono";
import type { Context } from "hono";
import type { UpgradeWebSocket } from "hono/ws";
import { consoleLogger, createEndpoint } from "../../server/mod.ts";
import { honoWebSocket } from "../../server/adapters/hono.ts";
import type { Endpoint, Logger } from "../../server/types.ts";
import { chatHandlers, type ChatUser, userFromRequest } from "./chat.ts";
import { type DemoConfig, originPolicy } from "./config.ts";

/** Options of {@linkcode createDemo}. */
export interface DemoOptions {
  /** The runtime's Hono helper: from `hono/deno` or `hono/bun`. */
  // deno-lint-ignore no-explicit-any
  upgradeWebSocket: UpgradeWebSocket<any, any, any>;
  /** Settings, usually from {@linkcode readConfig}. */
  config: DemoConfig;
  /** The peer's address for the per-address connection cap, where the runtime gives it. */
  remoteAddress?: (c: Context) => string | undefined;
  /** Default: the console at `config.logLevel`. */
  logger?: Logger;
}

/** The demo's app and the endpoint behind `/ws`. */
export interface Demo {
  /** Serve `app.fetch`. */
  app: Hono;
  /** Shut it down on SIGINT/SIGTERM. */
  endpoint: Endpoint<ChatUser>;
}

const PUBLIC = new URL("./public/", import.meta.url);
const DIST = new URL("../../dist/", import.meta.url);

const PAGE_FILES: Record<string, string> = {
  "/": "index.html",
  "/app.js": "app.js",
  "/style.css": "style.css",
};

const BUNDLE_FILES = new Set([
  "steadysocket.js",
  "steadysocket.js.map",
  "steadysocket.global.js",
  "steadysocket.global.js.map",
]);

const TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  map: "application/json; charset=utf-8",
};

/**
 * Builds the demo application.
 *
 * @example
 * ```ts
 * import { upgradeWebSocket } from "hono/deno";
 * const { app } = createDemo({ upgradeWebSocket, config: readConfig(Deno.env.toObject()) });
 * Deno.serve({ port: 8000 }, app.fetch);
 * ```
 */
export function createDemo(options: DemoOptions): Demo {
  const { config } = options;
  const heartbeat = config.pingAfterMs === undefined && config.pingTimeoutMs === undefined
    ? undefined
    : { pingAfterMs: config.pingAfterMs, timeoutMs: config.pingTimeoutMs };
  const endpoint: Endpoint<ChatUser> = createEndpoint<ChatUser>({
    ...chatHandlers(() => endpoint.hub),
    authenticate: userFromRequest,
    origins: originPolicy(config.allowedOrigins),
    maxMessageBytes: config.maxMessageBytes,
    heartbeat,
    logger: options.logger ?? consoleLogger(config.logLevel),
  });

  const app = new Hono();
  app.get("/ws", honoWebSocket(endpoint, options.upgradeWebSocket, { remoteAddress: options.remoteAddress }));
  app.get("/healthz", (c) => c.json({ status: "ok", open: endpoint.hub.size }));
  app.get(
    "/metrics",
    (c) => c.body(endpoint.metrics(), 200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" }),
  );
  for (const [path, file] of Object.entries(PAGE_FILES)) {
    app.get(path, () => sendFile(new URL(file, PUBLIC)));
  }
  app.get("/dist/:file", (c) => {
    const file = c.req.param("file");
    if (!BUNDLE_FILES.has(file)) return c.text(`no such file in dist/: ${file}`, 404);
    return sendFile(new URL(file, DIST), "the client bundle is missing: run `deno task bundle` first");
  });
  return { app, endpoint };
}

// Read on every request so a rebuilt bundle shows up without a restart.
async function sendFile(url: URL, missing = "not found"): Promise<Response> {
  try {
    const body = await readFile(url);
    const ext = url.pathname.slice(url.pathname.lastIndexOf(".") + 1);
    return new Response(body, {
      headers: { "content-type": TYPES[ext] ?? "application/octet-stream", "cache-control": "no-cache" },
    });
  } catch {
    return new Response(missing, { status: 404, headers: { "content-type": "text/plain; charset=utf-8" } });
  }
}
