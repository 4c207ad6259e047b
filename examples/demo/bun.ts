/**
 * The demo on Bun: `bun run serve` (bundles the client, then runs this).
 * Listens on `HOST`:`PORT` (default 127.0.0.1:8000); SIGINT/SIGTERM close every
 * client with 1001, wait for them (bounded), stop the server and exit 0.
 *
 * @module
 */

import process from "node:process";
import { upgradeWebSocket, websocket } from "hono/bun";
import { bunWebSocketSettings } from "../../server/adapters/bun.ts";
import { createDemo } from "./app.ts";
import { readConfig } from "./config.ts";
import { shutdownOnSignals } from "./graceful.ts";

// No Bun types are installed: declare the little of `Bun.serve` used here.
declare const Bun: {
  serve(options: {
    hostname: string;
    port: number;
    fetch: (request: Request, server: unknown) => Response | Promise<Response>;
    websocket: unknown;
  }): { hostname: string; port: number; stop(closeActiveConnections?: boolean): Promise<void> };
};

const config = readConfig(process.env);
const { app, endpoint } = createDemo({ upgradeWebSocket, config });

// Bun's own idle timer, pings and payload limit are set to match the endpoint's heartbeat and limits.
const server = Bun.serve({
  hostname: config.host,
  port: config.port,
  fetch: app.fetch,
  websocket: { ...websocket, ...bunWebSocketSettings(endpoint) },
});
console.log(`steadysocket demo (Bun) listening on http://${server.hostname}:${server.port}/`);

shutdownOnSignals({
  endpoint,
  shutdownMs: config.shutdownMs,
  stopServer: () => server.stop(),
  onSignal: (signal, listener) => process.on(signal, listener),
  exit: (code) => process.exit(code),
});
