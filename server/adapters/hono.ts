/**
 * Mounts an endpoint on a Hono route, with the runtime's `upgradeWebSocket`
 * from `hono/deno` or `hono/bun`, so the same endpoint serves on either.
 *
 * @example
 * ```ts ignore
 * import { Hono } from "hono";
 * import { upgradeWebSocket } from "hono/deno";
 * import { createEndpoint } from "../mod.ts";
 * import { honoWebSocket } from "./hono.ts";
 *
 * const endpoint = createEndpoint({ message: (conn, msg) => conn.sendJson(msg) });
 * const app = new Hono();
 * app.get("/ws", honoWebSocket(endpoint, upgradeWebSocket));
 * Deno.serve({ port: 8080 }, app.fetch);
 * ```
 *
 * @module
 */

import type { Context } from "hono";
import type { UpgradeWebSocket, WSContext, WSEvents } from "hono/ws";
import type { Endpoint, SocketLike } from "../types.ts";
import { bunCloseCode, type BunServerWebSocket, bunSocket, reportBunClose } from "./_bun_socket.ts";
import { chooseProtocol, upgradeFailed } from "./_upgrade.ts";

/** Options of {@linkcode honoWebSocket}. */
export interface HonoWebSocketOptions {
  /**
   * The peer's address for the per-address cap and the connection. Default:
   * read from what the runtime gave Hono (`Deno.serve`'s info, Bun's server).
   * Behind a proxy, derive it from a header you trust instead.
   */
  remoteAddress?: (c: Context) => string | undefined;
  /** Subprotocols this server speaks; the first one the client also offers is answered. Default: none. */
  protocols?: readonly string[];
}

/**
 * Returns a Hono handler that runs the endpoint's guards on the request, then
 * upgrades through the given `upgradeWebSocket` and drives the connection's
 * lifecycle from its events.
 *
 * Three things differ from calling Hono's helper directly: a refused request
 * is answered before any upgrade (nothing is registered); `Upgrade: WebSocket`
 * in any letter case is accepted (Hono's Deno helper only accepts lower case);
 * and the client's first subprotocol is not echoed back (a token sent as a
 * subprotocol would be reflected), only one listed in `protocols`.
 *
 * On Bun, spread `bunWebSocketSettings(endpoint)` from `./bun.ts` into Hono's
 * `websocket` so Bun's idle timer, pings and limits match the endpoint.
 *
 * @example
 * ```ts ignore
 * import { Hono } from "hono";
 * import { upgradeWebSocket, websocket } from "hono/bun";
 * import { createEndpoint } from "../mod.ts";
 * import { bunWebSocketSettings } from "./bun.ts";
 * import { honoWebSocket } from "./hono.ts";
 *
 * const endpoint = createEndpoint({ message: (conn, msg) => conn.sendJson(msg) });
 * const app = new Hono();
 * app.get("/ws", honoWebSocket(endpoint, upgradeWebSocket));
 * Bun.serve({ fetch: app.fetch, websocket: { ...websocket, ...bunWebSocketSettings(endpoint) } });
 * ```
 */
export function honoWebSocket<T>(
  endpoint: Endpoint<T>,
  // deno-lint-ignore no-explicit-any
  upgradeWebSocket: UpgradeWebSocket<any, any>,
  options: HonoWebSocketOptions = {},
): (c: Context) => Promise<Response> {
  const { protocols } = options;
  const addressOf = options.remoteAddress ?? defaultRemoteAddress;
  return async (c) => {
    const request = c.req.raw;
    const admission = await endpoint.admit(request, { remoteAddress: safely(() => addressOf(c)) });
    if (!admission.ok) return admission.response;
    const session = admission.session;
    const protocol = chooseProtocol(request, protocols);

    // One SocketLike per connection, made from the first event's context:
    // Bun's Hono helper builds a new context per event with a copied
    // readyState, so the runtime's own socket (`ws.raw`) is what is kept.
    let socket: SocketLike | undefined;
    const bind = (ws: WSContext<unknown>) => {
      if (socket !== undefined) return;
      socket = socketOf(ws);
      session.attach(socket);
    };
    const events: WSEvents<unknown> = {
      onOpen: (_event, ws) => {
        bind(ws);
        session.opened();
      },
      onMessage: (event, ws) => {
        bind(ws);
        session.received(event.data as string | ArrayBuffer | Uint8Array);
      },
      onClose: (event, ws) => {
        bind(ws);
        const { code, reason } = event;
        // Bun runs this synchronously inside our own close(); see reportBunClose.
        reportBunClose(socket, () => session.closed(bunCloseCode(code, reason), reason));
      },
      onError: (event, ws) => {
        bind(ws);
        session.errored((event as ErrorEvent).error ?? (event as ErrorEvent).message ?? event);
      },
    };
    try {
      // `idleTimeout: 0` reaches Deno.upgradeWebSocket (the endpoint's
      // heartbeat replaces Deno's idle timer); Bun's helper ignores options.
      return await upgradeWebSocket(upgradeContext(c, protocol), events, { idleTimeout: 0 });
    } catch (error) {
      session.abandon();
      return upgradeFailed(error instanceof Error ? error.message : String(error));
    }
  };
}

/**
 * A view of `c` for Hono's helper: `Upgrade` reads as `websocket` (the guards
 * already checked it, case-insensitively) and `Sec-WebSocket-Protocol` reads
 * as the chosen subprotocol only. The original context is not modified.
 */
function upgradeContext(c: Context, protocol: string | undefined): Context {
  const original = c.req;
  // Bun answers the request's first subprotocol by itself, whatever Hono
  // says; its request headers are mutable. Deno's are immutable, but Deno
  // only answers the protocol Hono passes it, which is `protocol`.
  try {
    if (protocol === undefined) original.raw.headers.delete("sec-websocket-protocol");
    else original.raw.headers.set("sec-websocket-protocol", protocol);
  } catch { /* immutable headers (Deno): nothing to do */ }
  const header = (name?: string) => {
    if (name === undefined) return original.header();
    const lower = name.toLowerCase();
    if (lower === "upgrade") return "websocket";
    if (lower === "sec-websocket-protocol") return protocol;
    return original.header(name);
  };
  const req = Object.create(original, { header: { value: header } });
  return Object.create(c, { req: { value: req } });
}

/** The connection's socket, from a Hono WebSocket context. */
function socketOf(ws: WSContext<unknown>): SocketLike {
  const raw = ws.raw as Record<string, unknown> | undefined;
  if (raw !== undefined && raw !== null) {
    // Bun's ServerWebSocket: live state, send() returns -1/0/n.
    if (typeof raw.getBufferedAmount === "function") return bunSocket(raw as unknown as BunServerWebSocket);
    // A standard WebSocket (Deno): usable as is.
    if (typeof raw.send === "function" && typeof raw.readyState === "number" && "bufferedAmount" in raw) {
      if ("binaryType" in raw) raw.binaryType = "arraybuffer";
      return raw as unknown as SocketLike;
    }
  }
  // Another runtime: the context itself; its readyState may be a snapshot.
  return {
    get readyState() {
      return ws.readyState;
    },
    bufferedAmount: 0,
    send: (data) => ws.send(data as string | ArrayBuffer | Uint8Array<ArrayBuffer>),
    close: (code, reason) => ws.close(code, reason),
  };
}

/** The peer's address from what the runtime gave Hono as `c.env`. */
function defaultRemoteAddress(c: Context): string | undefined {
  const env = c.env as Record<string, unknown> | undefined;
  if (env === undefined || env === null) return undefined;
  // Deno.serve: env is the ServeHandlerInfo.
  const hostname = (env.remoteAddr as { hostname?: unknown } | undefined)?.hostname;
  if (typeof hostname === "string") return hostname;
  // Bun.serve: env is the Server, or `{ server }`.
  const server = (typeof env.requestIP === "function" ? env : env.server) as
    | { requestIP?: (request: Request) => { address?: string } | null }
    | undefined;
  if (typeof server?.requestIP === "function") return server.requestIP(c.req.raw)?.address;
  return undefined;
}

function safely<R>(fn: () => R): R | undefined {
  try {
    return fn();
  } catch {
    return undefined;
  }
}
