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

const config = readConfig(Deno.env.toObject());
const { app, endpoint } = createDemo({ upgradeWebSocket, config });

const server = Deno.serve({
  hostname: config.host,
  port: config.port,
  onListen: ({ hostname, port }) =>
    console.log(`steadysocket demo (Deno) listening on http://${hostname}:${port}/`),
}, app.fetch);

let stopping = false;
async function stop(signal: string): Promise<void> {
  if (stopping) {
    console.log(`${signal} again: exiting without waiting`);
    Deno.exit(1);
  }
  stopping = true;
  console.log(`${signal}: closing every client with 1001`);
  const report = await endpoint.shutdown({ deadlineMs: config.shutdownMs, reason: "server shutting down" });
  console.log(
    `shutdown: ${report.closedCleanly}/${report.connections} closed cleanly, ${report.dropped} dropped, ${report.durationMs} ms`,
  );
  // Every WebSocket is gone by now; bound the HTTP drain too, a stuck keep-alive must not hold the exit.
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([server.shutdown(), new Promise((resolve) => timer = setTimeout(resolve, 2000))]);
  clearTimeout(timer);
  Deno.exit(0);
}

Deno.addSignalListener("SIGINT", () => void stop("SIGINT"));
Deno.addSignalListener("SIGTERM", () => void stop("SIGTERM"));
