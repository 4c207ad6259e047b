/**
 * The project's endpoint served on loopback by the current runtime's adapter
 * (`Deno.serve` + `denoHandler`, or `Bun.serve` + `bunHandlers`), for the
 * client tests. It records the application messages it receives and answers a
 * few test commands:
 *
 * - `echo`: sends the envelope back;
 * - `kick`: closes the connection with the code in the payload (default 1008);
 * - `bad`: throws a `ClientError`, so the client gets an `error` envelope;
 * - binary frames are echoed.
 */

import { runtime } from "../_harness.ts";
import { ClientError, createEndpoint, silentLogger } from "../../server/mod.ts";
import type { Endpoint, EndpointOptions } from "../../server/mod.ts";
import { denoHandler } from "../../server/adapters/deno.ts";
import { bunHandlers } from "../../server/adapters/bun.ts";
import type { Envelope } from "../../protocol.ts";

// deno-lint-ignore no-explicit-any
const g = globalThis as any;

/** A running endpoint and what a test can observe of it. */
export interface ClientTestServer {
  /** `ws://127.0.0.1:<port>/ws` */
  url: string;
  port: number;
  endpoint: Endpoint<unknown>;
  /** Every application message received, in order. */
  received: Envelope[];
  /** Shuts the endpoint down (close 1001 to everyone) and stops listening; idempotent. */
  stop(): Promise<void>;
}

/** Options of {@linkcode startServer}. */
export interface StartOptions {
  /** The port to listen on; default 0 (ephemeral). Pass a stopped server's port to restart "the same" server. */
  port?: number;
  /** Endpoint options besides the test handlers (heartbeat, limits). */
  endpoint?: EndpointOptions<unknown>;
}

/** Starts the endpoint on 127.0.0.1. */
export async function startServer(options: StartOptions = {}): Promise<ClientTestServer> {
  const received: Envelope[] = [];
  const endpoint = createEndpoint<unknown>({
    logger: silentLogger,
    rateLimit: false,
    ...options.endpoint,
    message(conn, message) {
      received.push(message);
      if (message.type === "echo") conn.sendJson(message);
      else if (message.type === "kick") conn.close(Number(message.payload ?? 1008), "kicked");
      else if (message.type === "bad") throw new ClientError(`refused "${String(message.payload)}"`);
    },
    binary(conn, data) {
      conn.send(data);
    },
  });
  const port = options.port ?? 0;
  let listening: number;
  let stopServer: () => Promise<void>;
  if (runtime === "deno") {
    const server = g.Deno.serve({ hostname: "127.0.0.1", port, onListen() {} }, denoHandler(endpoint));
    listening = server.addr.port;
    stopServer = () => server.shutdown();
  } else {
    const server = g.Bun.serve({ hostname: "127.0.0.1", port, ...bunHandlers(endpoint) });
    listening = server.port;
    stopServer = async () => {
      await server.stop(true);
    };
  }
  await Promise.resolve();
  let stopped: Promise<void> | undefined;
  return {
    url: `ws://127.0.0.1:${listening}/ws`,
    port: listening,
    endpoint,
    received,
    stop() {
      stopped ??= (async () => {
        await endpoint.shutdown({ deadlineMs: 2_000 });
        await stopServer();
      })();
      return stopped;
    },
  };
}

/** A port on 127.0.0.1 where nothing listens (bound, then released). */
export async function closedPort(): Promise<number> {
  const server = await startServer();
  const port = server.port;
  await server.stop();
  return port;
}
