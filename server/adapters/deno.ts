/**
 * Serves an endpoint with `Deno.serve`, through `Deno.upgradeWebSocket`.
 *
 * @example
 * ```ts ignore
 * import { createEndpoint } from "../mod.ts";
 * import { denoHandler } from "./deno.ts";
 *
 * const endpoint = createEndpoint({ message: (conn, msg) => conn.sendJson(msg) });
 * Deno.serve({ port: 8080 }, denoHandler(endpoint));
 * ```
 *
 * @module
 */

import type { Endpoint, SocketLike } from "../types.ts";
import { chooseProtocol, closeCode, isUpgradeRequest, upgradeFailed } from "./_upgrade.ts";

/** What `Deno.serve` passes next to the request; only the peer's address is read. */
export interface DenoServeInfo {
  /** The peer's address (`hostname` for TCP; absent for Unix sockets). */
  readonly remoteAddr?: { readonly hostname?: string };
}

/** The members of Deno's server-side `WebSocket` the adapter uses. */
interface DenoWebSocket extends SocketLike {
  binaryType: string;
  onopen: ((event: Event) => void) | null;
  onmessage: ((event: MessageEvent) => void) | null;
  onclose: ((event: CloseEvent) => void) | null;
  onerror: ((event: Event) => void) | null;
}

interface DenoNamespace {
  upgradeWebSocket(
    request: Request,
    options: { idleTimeout?: number; protocol?: string },
  ): { socket: DenoWebSocket; response: Response };
}

/** Options of {@linkcode denoHandler}. */
export interface DenoHandlerOptions {
  /** Answers requests that are not WebSocket upgrades (pages, `/metrics`); without it they get 426. */
  fallback?: (request: Request, info?: DenoServeInfo) => Response | Promise<Response>;
  /** Subprotocols this server speaks; the first one the client also offers is answered. Default: none. */
  protocols?: readonly string[];
}

/**
 * Returns a `Deno.serve` handler that runs the endpoint's guards, upgrades
 * admitted requests and drives the connection's lifecycle.
 *
 * The upgrade turns Deno's idle timer off (`idleTimeout: 0`): the endpoint's
 * heartbeat replaces it, and Deno's timer costs a `clearTimeout` and a
 * `setTimeout` per received message and fires `close` twice when it expires.
 *
 * @example
 * ```ts ignore
 * import { createEndpoint } from "../mod.ts";
 * import { denoHandler } from "./deno.ts";
 *
 * const endpoint = createEndpoint({ message: (conn, msg) => conn.sendJson(msg) });
 * const ws = denoHandler(endpoint, {
 *   fallback: (req) => new URL(req.url).pathname === "/metrics"
 *     ? new Response(endpoint.metrics())
 *     : new Response("not found", { status: 404 }),
 * });
 * const server = Deno.serve({ port: 8080 }, ws);
 * Deno.addSignalListener("SIGTERM", async () => {
 *   await endpoint.shutdown();
 *   await server.shutdown();
 * });
 * ```
 */
export function denoHandler<T>(
  endpoint: Endpoint<T>,
  options: DenoHandlerOptions = {},
): (request: Request, info?: DenoServeInfo) => Promise<Response> {
  const { fallback, protocols } = options;
  return async (request, info) => {
    if (fallback !== undefined && !isUpgradeRequest(request)) return await fallback(request, info);
    const admission = await endpoint.admit(request, { remoteAddress: info?.remoteAddr?.hostname });
    if (!admission.ok) return admission.response;
    const session = admission.session;
    const protocol = chooseProtocol(request, protocols);
    let upgraded: { socket: DenoWebSocket; response: Response };
    try {
      upgraded = deno().upgradeWebSocket(
        request,
        protocol ? { idleTimeout: 0, protocol } : { idleTimeout: 0 },
      );
    } catch (error) {
      session.abandon();
      return upgradeFailed(error instanceof Error ? error.message : String(error));
    }
    const { socket, response } = upgraded;
    socket.binaryType = "arraybuffer";
    session.attach(socket);
    socket.onopen = () => session.opened();
    socket.onmessage = (event) => session.received(event.data);
    // Deno may report code 0 for a connection lost without a Close frame, and
    // fires `close` twice after its idle timeout; the session ignores repeats.
    socket.onclose = (event) => session.closed(closeCode(event.code), event.reason);
    // A failed upgrade handshake fires `error` and never `close`.
    socket.onerror = (event) => session.errored((event as ErrorEvent).error ?? (event as ErrorEvent).message);
    return response;
  };
}

function deno(): DenoNamespace {
  const ns = (globalThis as { Deno?: DenoNamespace }).Deno;
  if (ns === undefined) throw new TypeError("expected the Deno runtime, found no global Deno");
  return ns;
}
