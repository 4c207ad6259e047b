/**
 * Serves an endpoint with `Bun.serve`: a `fetch` that runs the guards and
 * upgrades, and the `websocket` handlers and settings that drive the
 * connection's lifecycle.
 *
 * @example
 * ```ts ignore
 * import { createEndpoint } from "../mod.ts";
 * import { bunHandlers } from "./bun.ts";
 *
 * const endpoint = createEndpoint({ message: (conn, msg) => conn.sendJson(msg) });
 * Bun.serve({ port: 8080, ...bunHandlers(endpoint) });
 * ```
 *
 * @module
 */

import type { Endpoint, Session } from "../types.ts";
import {
  bunCloseCode,
  type BunServerWebSocket,
  type BunSocket,
  reportBunClose,
  WrappedBunSocket,
} from "./_bun_socket.ts";
import { chooseProtocol, isUpgradeRequest, upgradeFailed } from "./_upgrade.ts";
import { bunFanout } from "./_bun_fanout.ts";
import { ConnectionHub } from "../hub.ts";

export type { BunServerWebSocket, BunSocket } from "./_bun_socket.ts";

/** The members of Bun's `Server` the adapter uses. */
export interface BunServer {
  /** Upgrades the request once the handler returns; `false` if it is not a valid upgrade request. */
  upgrade(request: Request, options: { data: BunSocketData; headers?: HeadersInit }): boolean;
  /** The peer's address, or `null` (e.g. over a Unix socket). */
  requestIP(request: Request): { address: string } | null;
  /** Writes to every socket subscribed to the topic (used by the `"native"` fan-out). */
  publish?(topic: string, data: string | ArrayBuffer | Uint8Array<ArrayBuffer>, compress?: boolean): number;
}

/** What this adapter stores in `ws.data`. */
export interface BunSocketData {
  /** The connection's lifecycle in the endpoint. */
  readonly session: Session;
  /** The wrapped socket, from `open` on. */
  readonly socket?: BunSocket;
}

/**
 * Bun's `websocket` settings chosen for an endpoint. Spread them into the
 * `websocket` object of `Bun.serve` whenever the endpoint is served through
 * Bun (also through Hono's `websocket` from `hono/bun`).
 */
export interface BunWebSocketSettings {
  /** 0: Bun's idle timer is off; the endpoint's heartbeat judges liveness on received frames instead. */
  idleTimeout: number;
  /** `false`: Bun's protocol-level pings are off; the endpoint sends its own `ping` envelopes. */
  sendPings: boolean;
  /**
   * The endpoint's `maxBufferedBytes`; with `bunHandlers`' native fan-out,
   * that plus `maxMessageBytes` (see {@linkcode BunHandlersOptions.fanout}).
   */
  backpressureLimit: number;
  /** `false`: the endpoint closes a slow consumer itself, with 1013. */
  closeOnBackpressureLimit: boolean;
  /** The endpoint's `maxMessageBytes`: Bun refuses longer messages itself, with 1009. */
  maxPayloadLength: number;
}

/** The `websocket` object for `Bun.serve`. */
export interface BunWebSocketHandler extends BunWebSocketSettings {
  /** Attaches the wrapped socket to the session and opens it. */
  open(ws: BunServerWebSocket<BunSocketData>): void;
  /** Hands a complete message to the session. */
  message(ws: BunServerWebSocket<BunSocketData>, message: string | Uint8Array): void;
  /** Reports the close (a 1009 Bun sent itself is reported as 1009). */
  close(ws: BunServerWebSocket<BunSocketData>, code: number, reason: string): void;
  // No `drain`: the slow-consumer bound needs no word of a drained buffer, and
  // with a handler Bun calls into JavaScript each time a socket's buffer
  // drains, which a saturating fan-out makes happen all the time.
}

/** Options of {@linkcode bunHandlers}. */
export interface BunHandlersOptions {
  /** Answers requests that are not WebSocket upgrades (pages, `/metrics`); without it they get 426. */
  fallback?: (request: Request, server: BunServer) => Response | Promise<Response>;
  /** Subprotocols this server speaks; the first one the client also offers is answered. Default: none. */
  protocols?: readonly string[];
  /**
   * How `hub.broadcast` writes: `"native"` (default) through Bun's
   * `server.publish`, about 4× faster than a send loop, or `"loop"`, one
   * checked `send` per peer. The native fan-out costs Bun memory per socket
   * for its topics (about 260 B for the first, 100 B for each further one),
   * each from its first publish on: a room's from the first broadcast to the
   * room with at least two members to reach (later members subscribe at
   * join), the everyone-topic from the first broadcast to everyone.
   *
   * `"native"` keeps the loop's guarantees: the targets are checked before
   * the publish (a closed one is evicted, one with more than
   * `maxBufferedBytes` buffered is closed with 1013 and not written to), or
   * covered by the share of their bound that the last check reserved for the
   * room, and `delivered` is exact. For that Bun's `backpressureLimit` is set to
   * `maxBufferedBytes + maxMessageBytes` (the most a peer can hold), and a
   * broadcast takes the loop when it skips a list of connections, or when
   * more than `maxMessageBytes` were published in the same event-loop turn.
   */
  fanout?: "native" | "loop";
}

/** What {@linkcode bunHandlers} returns: spread it into `Bun.serve({...})`. */
export interface BunHandlers {
  /** Guards, then upgrades; `undefined` once upgraded, as Bun expects. */
  fetch(request: Request, server: BunServer): Promise<Response | undefined>;
  /** Event handlers and settings of the upgraded sockets. */
  websocket: BunWebSocketHandler;
}

/**
 * Bun's `websocket` settings for an endpoint, and why each is set.
 *
 * - `idleTimeout: 0`, `sendPings: false`: Bun's own idle timer is re-armed on
 *   every *send*, so a server that keeps pushing never reaps a dead client;
 *   the endpoint's heartbeat counts only received frames, so both are off.
 * - `backpressureLimit` = `maxBufferedBytes` and `closeOnBackpressureLimit:
 *   false`: past the bound `send()` returns 0, which the endpoint counts as
 *   dropped, and the endpoint itself closes the slow consumer with 1013.
 *   (`bunHandlers` with its native fan-out raises the limit by
 *   `maxMessageBytes` and checks the bound before every write instead.)
 * - `maxPayloadLength` = `maxMessageBytes`: Bun refuses a longer message
 *   before buffering it and sends the peer a Close frame with 1009.
 *
 * @example
 * ```ts ignore
 * import { upgradeWebSocket, websocket } from "hono/bun";
 * import { bunWebSocketSettings } from "./bun.ts";
 *
 * Bun.serve({ fetch: app.fetch, websocket: { ...websocket, ...bunWebSocketSettings(endpoint) } });
 * ```
 */
export function bunWebSocketSettings(endpoint: Pick<Endpoint, "settings">): BunWebSocketSettings {
  return {
    idleTimeout: 0,
    sendPings: false,
    backpressureLimit: endpoint.settings.maxBufferedBytes,
    closeOnBackpressureLimit: false,
    maxPayloadLength: endpoint.settings.maxMessageBytes,
  };
}

/**
 * Returns `{ fetch, websocket }` for `Bun.serve`: `fetch` runs the endpoint's
 * guards and upgrades admitted requests; `websocket` maps Bun's
 * `open`/`message`/`close`/`drain` onto the connection's lifecycle.
 *
 * @example
 * ```ts ignore
 * import { createEndpoint } from "../mod.ts";
 * import { bunHandlers } from "./bun.ts";
 *
 * const endpoint = createEndpoint({ message: (conn, msg) => conn.sendJson(msg) });
 * const server = Bun.serve({
 *   port: 8080,
 *   ...bunHandlers(endpoint, {
 *     fallback: (req) => new URL(req.url).pathname === "/metrics"
 *       ? new Response(endpoint.metrics())
 *       : new Response("not found", { status: 404 }),
 *   }),
 * });
 * process.on("SIGTERM", async () => {
 *   await endpoint.shutdown();
 *   await server.stop();
 * });
 * ```
 */
export function bunHandlers<T>(endpoint: Endpoint<T>, options: BunHandlersOptions = {}): BunHandlers {
  const { fallback, protocols } = options;
  const native = (options.fanout ?? "native") === "native";
  const { maxBufferedBytes, maxMessageBytes } = endpoint.settings;
  const hub = endpoint.hub;
  let publisher: BunServer | undefined = undefined;
  const install = (server: BunServer) => {
    if (server === publisher || !(hub instanceof ConnectionHub)) return;
    if (publisher !== undefined || typeof server.publish !== "function") {
      // Two servers (or no publish): a topic would reach one server's sockets only.
      hub.dropNativeFanout();
      return;
    }
    publisher = server;
    hub.useNativeFanout(bunFanout(server as Required<BunServer>, maxMessageBytes));
  };
  return {
    async fetch(request, server) {
      if (native) install(server);
      if (fallback !== undefined && !isUpgradeRequest(request)) return await fallback(request, server);
      const admission = await endpoint.admit(request, { remoteAddress: remoteAddress(server, request) });
      if (!admission.ok) return admission.response;
      const session = admission.session;
      const protocol = chooseProtocol(request, protocols);
      // Bun answers the first offered subprotocol by itself; clients sometimes
      // offer a token that way, so the header is dropped unless one was chosen.
      const data = new UpgradeData(session);
      let upgraded = false;
      try {
        if (protocol === undefined) request.headers.delete("sec-websocket-protocol");
        upgraded = server.upgrade(
          request,
          protocol === undefined ? { data } : { data, headers: { "sec-websocket-protocol": protocol } },
        );
      } catch (error) {
        session.abandon();
        return upgradeFailed(error instanceof Error ? error.message : String(error));
      }
      if (!upgraded) {
        session.abandon();
        return upgradeFailed("the runtime refused the upgrade");
      }
      return undefined;
    },
    websocket: {
      ...bunWebSocketSettings(endpoint),
      // Room for what a checked peer may still be sent in one turn (see _bun_fanout.ts).
      backpressureLimit: native ? maxBufferedBytes + maxMessageBytes : maxBufferedBytes,
      open(ws) {
        const data = ws.data as UpgradeData;
        data.wrap(ws);
        data.session.attach(data);
        data.session.opened();
      },
      message(ws, message) {
        ws.data.session.received(message);
      },
      close(ws, code, reason) {
        const { session, socket } = ws.data;
        reportBunClose(socket, () => session.closed(bunCloseCode(code, reason), reason));
      },
    },
  };
}

/** Stands in for the runtime's socket until `open`: the core never writes before it attaches one. */
const NOT_OPEN: BunServerWebSocket = {
  data: undefined,
  readyState: 0,
  send: () => 0,
  close() {},
};

/**
 * The `data` of a socket this adapter upgrades: the session and, from `open`
 * on, the wrapped socket the core writes to, in one object per connection
 * (two cost Bun about 40 B more per idle peer).
 */
class UpgradeData extends WrappedBunSocket implements BunSocketData {
  readonly session: Session;

  constructor(session: Session) {
    super(NOT_OPEN);
    this.session = session;
  }

  /** The wrapped socket (this object), from `open` on. */
  get socket(): BunSocket | undefined {
    return this.raw === NOT_OPEN ? undefined : this;
  }
}

function remoteAddress(server: BunServer, request: Request): string | undefined {
  try {
    return server.requestIP(request)?.address;
  } catch {
    return undefined;
  }
}
