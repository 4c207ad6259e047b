/**
 * Graceful shutdown of the demo on SIGINT/SIGTERM, shared by the Deno and Bun
 * entries: every client gets 1001, the wait for their close handshakes is
 * bounded, then the HTTP server stops (also bounded) and the process exits 0.
 * A second signal exits at once with 1.
 *
 * @module
 */

import type { Endpoint } from "../../server/types.ts";

/** What the runtime entry provides. */
export interface GracefulOptions {
  endpoint: Endpoint<unknown>;
  /** How long to wait for the clients' close handshakes. */
  shutdownMs: number;
  /** Stops the HTTP server (Deno's `server.shutdown()`, Bun's `server.stop()`). */
  stopServer(): Promise<unknown>;
  /** Registers a signal listener. */
  onSignal(signal: "SIGINT" | "SIGTERM", listener: () => void): void;
  /** Ends the process. */
  exit(code: number): void;
}

/**
 * Wires SIGINT and SIGTERM to a graceful shutdown.
 *
 * @example
 * ```ts ignore
 * shutdownOnSignals({
 *   endpoint,
 *   shutdownMs: 3_000,
 *   stopServer: () => server.shutdown(),
 *   onSignal: (signal, listener) => Deno.addSignalListener(signal, listener),
 *   exit: (code) => Deno.exit(code),
 * });
 * ```
 */
export function shutdownOnSignals(options: GracefulOptions): void {
  const { endpoint, shutdownMs, stopServer, exit } = options;
  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) {
      console.log(`${signal} again: exiting without waiting`);
      exit(1);
      return;
    }
    stopping = true;
    console.log(`${signal}: closing every client with 1001`);
    const report = await endpoint.shutdown({ deadlineMs: shutdownMs, reason: "server shutting down" });
    console.log(
      `shutdown: ${report.closedCleanly}/${report.connections} closed cleanly, ${report.dropped} dropped, ${report.durationMs} ms`,
    );
    // Every WebSocket is gone by now; bound the HTTP drain too, a stuck keep-alive must not hold the exit.
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([stopServer(), new Promise((resolve) => timer = setTimeout(resolve, 2000))]);
    clearTimeout(timer);
    exit(0);
  };
  options.onSignal("SIGINT", () => void stop("SIGINT"));
  options.onSignal("SIGTERM", () => void stop("SIGTERM"));
}
