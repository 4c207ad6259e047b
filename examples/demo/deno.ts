/**
 * The demo on Deno: `deno task serve` (bundles the client, then runs this).
 * Listens on `HOST`:`PORT` (default 127.0.0.1:8000); SIGINT/SIGTERM close every
 * client with 1001, wait for them (bounded), stop the server and exit 0.
 *
 * @module
 */

import { upgradeWebSocket } from "hono/deno";
import { createDemo } from "./app.ts";
import { readConfig } from "./config.ts";
import { shutdownOnSignals } from "./graceful.ts";

const config = readConfig(Deno.env.toObject());
const { app, endpoint } = createDemo({ upgradeWebSocket, config });

const server = Deno.serve({
  hostname: config.host,
  port: config.port,
  onListen: ({ hostname, port }) =>
    console.log(`steadysocket demo (Deno) listening on http://${hostname}:${port}/`),
}, app.fetch);

shutdownOnSignals({
  endpoint,
  shutdownMs: config.shutdownMs,
  stopServer: () => server.shutdown(),
  onSignal: (signal, listener) => Deno.addSignalListener(signal, listener),
  exit: (code) => Deno.exit(code),
});
