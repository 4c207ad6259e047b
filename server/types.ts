/**
 * The neutral types of the server core. The core is written against these;
 * each adapter turns its runtime's socket into a {@linkcode SocketLike} and
 * its events into calls on a {@linkcode Session}.
 *
 * @module
 */

import type { Envelope } from "../protocol.ts";

/**
 * WebSocket ready states, as in the standard API.
 *
 * @example
 * ```ts
 * import { ReadyState, type SocketLike } from "./types.ts";
 * const isOpen = (socket: SocketLike) => socket.readyState === ReadyState.Open;
 * ```
 */
export const ReadyState = {
  Connecting: 0,
  Open: 1,
  Closing: 2,
  Closed: 3,
} as const;

/**
 * The few members of the standard `WebSocket` that the core uses.
 *
 * `send` may return a number (Bun): a positive number is bytes written,
 * `-1` is "queued under backpressure" (handed to the socket, like a Deno
 * send that grows `bufferedAmount`) and `0` is "dropped" (the peer is a slow
 * consumer, or gone). `void` (Deno, the standard API) means "handed to the
 * socket".
 *
 * @example
 * ```ts
 * import type { SocketLike } from "./types.ts";
 * // A socket that discards everything, for a dry run.
 * const sink: SocketLike = { readyState: 1, bufferedAmount: 0, send() {}, close() {} };
 * ```
 */
export interface SocketLike {
  /** 0 connecting, 1 open, 2 closing, 3 closed. */
  readonly readyState: number;
  /** Bytes queued for the peer and not yet written to the network; 0 where the runtime cannot tell. */
  readonly bufferedAmount: number;
  /** Queues a frame; may throw (Deno while connecting) and may return Bun's -1/0/n. */
  send(data: string | Uint8Array | ArrayBuffer): void | number;
  /** Starts the closing handshake; may throw for an invalid code or reason. */
  close(code?: number, reason?: string): void;
}

/**
 * A levelled logger; `fields` never contains message payloads unless `logPayloads` is set.
 *
 * @example
 * ```ts
 * import type { Logger } from "./types.ts";
 * const jsonLines: Logger = {
 *   debug() {},
 *   info: (message, fields) => console.log(JSON.stringify({ level: "info", message, ...fields })),
 *   warn: (message, fields) => console.log(JSON.stringify({ level: "warn", message, ...fields })),
 *   error: (message, fields) => console.log(JSON.stringify({ level: "error", message, ...fields })),
 * };
 * ```
 */
export interface Logger {
  /** Routine events: opens, normal disconnects, refused upgrades. */
  debug(message: string, fields?: Record<string, unknown>): void;
  /** Endpoint-level events: shutdown started and finished. */
  info(message: string, fields?: Record<string, unknown>): void;
  /** Unusual but expected: policy closes, socket errors, heartbeat timeouts, slow consumers. */
  warn(message: string, fields?: Record<string, unknown>): void;
  /** Faults: a handler threw, a send failed unexpectedly; `fields.stack` holds the stack. */
  error(message: string, fields?: Record<string, unknown>): void;
}

/**
 * Time source and the one repeating timer the heartbeat needs; injectable for tests.
 *
 * @example
 * ```ts
 * import type { Clock } from "./types.ts";
 * let time = 0;
 * const manual: Clock = { now: () => time, setInterval: () => 1, clearInterval() {} };
 * time += 1000;
 * ```
 */
export interface Clock {
  /** Milliseconds, monotonic enough for intervals. */
  now(): number;
  /** Runs `fn` every `ms` milliseconds until cleared; returns a handle for `clearInterval`. */
  setInterval(fn: () => void, ms: number): unknown;
  /** Stops an interval made by `setInterval`. */
  clearInterval(handle: unknown): void;
}

/**
 * What an adapter knows about the request besides the `Request` itself.
 *
 * @example
 * ```ts
 * import type { RequestInfo } from "./types.ts";
 * const info: RequestInfo = { remoteAddress: "192.0.2.7" };
 * ```
 */
export interface RequestInfo {
  /** The peer's IP address, where the runtime gives it. */
  remoteAddress?: string;
}

/**
 * How a connection ended, as given to the `close` handler.
 *
 * @example
 * ```ts
 * import type { CloseInfo } from "./types.ts";
 * const routine = (info: CloseInfo) => info.initiator === "peer" && (info.code === 1000 || info.code === 1001);
 * ```
 */
export interface CloseInfo {
  /** The close code: the peer's, or the one our side sent (1006 when the socket failed without one). */
  code: number;
  /** The close reason, possibly empty. */
  reason: string;
  /** Who ended it: the peer, or our side (limits, heartbeat, shutdown, handler error, `close()`). */
  initiator: "peer" | "server";
}

/**
 * One live connection, as the application's handlers see it.
 *
 * @example
 * ```ts
 * import type { Connection } from "./types.ts";
 * function greet(conn: Connection<{ user: string }>) {
 *   conn.join("lobby");
 *   if (!conn.sendJson({ type: "hello", payload: conn.data.user })) conn.close(1011, "cannot greet");
 * }
 * ```
 */
export interface Connection<T = unknown> {
  /** Unique within the process. */
  readonly id: string;
  /** The result of `authenticate`, or `undefined`. Mutable for the application's own use. */
  data: T;
  /** The peer's IP address, where the runtime gives it. */
  readonly remoteAddress: string | undefined;
  /** The socket's current ready state (0–3). */
  readonly readyState: number;
  /** Bytes queued for the peer, where the runtime tells. */
  readonly bufferedAmount: number;
  /** The rooms this connection is in. */
  readonly rooms: ReadonlySet<string>;
  /** The last heartbeat round trip in ms, once a ping of ours was answered; otherwise `undefined`. */
  readonly rttMs?: number;
  /** Sends a frame; `true` if it was handed to the socket. Never throws. */
  send(data: string | Uint8Array | ArrayBuffer): boolean;
  /** Sends `JSON.stringify(value)`; `true` if it was handed to the socket. Never throws. */
  sendJson(value: unknown): boolean;
  /** Closes the connection; idempotent, never throws. */
  close(code?: number, reason?: string): void;
  /** Joins a room of the endpoint's hub. */
  join(room: string): void;
  /** Leaves a room of the endpoint's hub. */
  leave(room: string): void;
}

/**
 * The application's handlers. Each may be sync or async; a throw or rejection never escapes.
 *
 * @example
 * ```ts
 * import type { Handlers } from "./types.ts";
 * const handlers: Handlers<undefined> = {
 *   async message(conn, msg) {
 *     await Promise.resolve();
 *     conn.sendJson({ type: "ack", payload: msg.type });
 *   },
 *   close(conn, info) {
 *     console.log(conn.id, "closed", info.code);
 *   },
 * };
 * ```
 */
export interface Handlers<T> {
  /** After the connection is registered and open. */
  open?(conn: Connection<T>): void | Promise<void>;
  /** A JSON envelope other than `ping`/`pong`. Throw a `ClientError` to answer with an `error` envelope. */
  message?(conn: Connection<T>, message: Envelope): void | Promise<void>;
  /** A binary frame. Binary frames are refused with 1003 unless this handler exists. */
  binary?(conn: Connection<T>, data: Uint8Array): void | Promise<void>;
  /** Exactly once per opened connection, after it has left the hub. */
  close?(conn: Connection<T>, info: CloseInfo): void | Promise<void>;
  /** A socket error or a handler failure (other than `ClientError`). */
  error?(conn: Connection<T>, error: unknown): void | Promise<void>;
}

/**
 * What happened during {@linkcode Endpoint.shutdown}.
 *
 * @example
 * ```ts
 * import type { Endpoint } from "./types.ts";
 * async function stop(endpoint: Endpoint) {
 *   const { connections, closedCleanly, dropped } = await endpoint.shutdown({ deadlineMs: 2_000 });
 *   console.log(`${closedCleanly}/${connections} closed cleanly, ${dropped} dropped`);
 * }
 * ```
 */
export interface ShutdownReport {
  /** Connections open when shutdown began. */
  connections: number;
  /** Those whose close handshake completed before the deadline. */
  closedCleanly: number;
  /** Those dropped at the deadline. */
  dropped: number;
  /** How long it took. */
  durationMs: number;
}

/**
 * A pending connection between admission and close. Adapters create one with
 * `endpoint.admit()` and forward their runtime's events to it. Every method is
 * idempotent and never throws; whatever the order of events, cleanup runs once.
 *
 * @example
 * ```ts
 * import type { Session } from "./types.ts";
 * // How an adapter wires a standard WebSocket to a session.
 * function drive(session: Session, socket: WebSocket) {
 *   session.attach(socket);
 *   socket.onopen = () => session.opened();
 *   socket.onmessage = (e) => session.received(e.data);
 *   socket.onclose = (e) => session.closed(e.code, e.reason);
 *   socket.onerror = (e) => session.errored(e);
 * }
 * ```
 */
export interface Session {
  /** Gives the session its socket (before or at `opened`). */
  attach(socket: SocketLike): void;
  /** The socket opened. */
  opened(): void;
  /** A complete message arrived. */
  received(data: string | ArrayBuffer | Uint8Array): void;
  /** The socket closed. */
  closed(code: number, reason: string): void;
  /** The socket reported an error (Deno: may come without any `closed`). */
  errored(error: unknown): void;
  /**
   * The runtime's send buffer drained. Nothing depends on it (the
   * slow-consumer bound reads the buffered bytes itself), so an adapter need
   * not report it: the Bun adapter does not, as a `drain` handler makes Bun
   * call into JavaScript each time a socket's buffer drains.
   */
  drained(): void;
  /** The upgrade did not happen; releases the reservation. */
  abandon(): void;
}

/**
 * Heartbeat settings.
 *
 * @example
 * ```ts
 * import type { HeartbeatOptions } from "./types.ts";
 * const mobile: HeartbeatOptions = { pingAfterMs: 15_000, timeoutMs: 10_000 };
 * ```
 */
export interface HeartbeatOptions {
  /** A connection that sent nothing for this long gets `{"type":"ping"}`. Default 25 000. */
  pingAfterMs?: number;
  /** After the ping, this much more silence closes it with 4000. Default 20 000. */
  timeoutMs?: number;
  /** How often the one shared sweep runs. Default: a quarter of the smaller of the two, at least 100 ms, at most 5 000 ms. */
  sweepMs?: number;
}

/**
 * Token-bucket message rate limit per connection.
 *
 * @example
 * ```ts
 * import type { RateLimitOptions } from "./types.ts";
 * const chatty: RateLimitOptions = { perSecond: 50, burst: 100 };
 * ```
 */
export interface RateLimitOptions {
  /** Sustained messages per second. Default 200. */
  perSecond?: number;
  /** Messages allowed in a burst. Default 400. */
  burst?: number;
}

/**
 * Who may open a WebSocket, judged on the `Origin` header before the upgrade.
 *
 * @example
 * ```ts
 * import type { OriginPolicy } from "./types.ts";
 * const policy: OriginPolicy = ["https://app.example.com", "https://admin.example.com"];
 * ```
 */
export type OriginPolicy =
  | "same-origin"
  | "any"
  | readonly string[]
  | ((origin: string | null, request: Request) => boolean);

/**
 * Options of {@linkcode createEndpoint}; every limit has a documented default.
 *
 * @example
 * ```ts
 * import type { EndpointOptions } from "./types.ts";
 * const options: EndpointOptions<{ user: string }> = {
 *   origins: ["https://app.example.com"],
 *   maxMessageBytes: 64 * 1024,
 *   heartbeat: { pingAfterMs: 20_000, timeoutMs: 10_000 },
 *   authenticate: (req) => {
 *     const user = req.headers.get("x-user");
 *     return user ? { user } : undefined;
 *   },
 * };
 * ```
 */
export interface EndpointOptions<T> extends Handlers<T> {
  /** Origin allow-list, answered 403. Default `"same-origin"`: no `Origin` header (non-browser) or one equal to the request's own origin. */
  origins?: OriginPolicy;
  /**
   * Decides on the request before the upgrade; the result becomes `conn.data`.
   * A falsy result answers 401; throw `UpgradeRefused` for another status; any other throw answers 500.
   */
  authenticate?(
    request: Request,
    info: RequestInfo,
  ): T | undefined | null | false | Promise<T | undefined | null | false>;
  /** Open connections in all; more get 503. Default 10 000. */
  maxConnections?: number;
  /** Open connections per remote address; more get 503. Default 256. */
  maxConnectionsPerAddress?: number;
  /** Largest inbound message in bytes; more closes with 1009. Default 1 MiB. */
  maxMessageBytes?: number;
  /** Bytes buffered for a peer above which it is a slow consumer: not written to, closed with 1013. Default 1 MiB. */
  maxBufferedBytes?: number;
  /** Message rate per connection; sustained excess closes with 1008. `false` turns it off. */
  rateLimit?: RateLimitOptions | false;
  /** Text that is not a JSON envelope: answer with an `error` envelope (default) or close with 1003. */
  invalidJson?: "error" | "close";
  /** A handler that throws something other than `ClientError`: log and go on (default) or close with 1011. */
  onHandlerError?: "continue" | "close";
  /** Heartbeat timing, or `false` to turn it off. */
  heartbeat?: HeartbeatOptions | false;
  /** Default: console, level `"info"` and above. */
  logger?: Logger;
  /** Include message payloads in logs. Default false. */
  logPayloads?: boolean;
  /** Default: `performance.now` (monotonic) and `setInterval`. */
  clock?: Clock;
}

/**
 * The outcome of {@linkcode Endpoint.admit}: a refusal to return as is, or a session to upgrade.
 *
 * @example
 * ```ts
 * import type { Endpoint } from "./types.ts";
 * async function handle(endpoint: Endpoint, request: Request): Promise<Response> {
 *   const admission = await endpoint.admit(request);
 *   if (!admission.ok) return admission.response;
 *   admission.session.abandon(); // this sketch does not upgrade
 *   return new Response("upgrade skipped", { status: 500 });
 * }
 * ```
 */
export type Admission =
  | { ok: false; response: Response }
  | { ok: true; session: Session };

/**
 * One WebSocket endpoint: guards, lifecycle, hub, heartbeat, stats. Runtime-neutral.
 *
 * @example
 * ```ts
 * import type { Endpoint } from "./types.ts";
 * function metricsRoute(endpoint: Endpoint): Response {
 *   return new Response(endpoint.metrics(), { headers: { "content-type": "text/plain; version=0.0.4" } });
 * }
 * ```
 */
export interface Endpoint<T = unknown> {
  /** The connection registry and rooms. */
  readonly hub: Hub<T>;
  /**
   * Runs the guards (upgrade headers 426, shutdown 503, origin 403, caps 503, authenticate 401/403)
   * on an upgrade request. On success a slot is reserved until the session closes or is abandoned.
   */
  admit(request: Request, info?: RequestInfo): Promise<Admission>;
  /** Refuses new upgrades, closes everyone with 1001, waits up to the deadline (default 5 000 ms), drops the rest. */
  shutdown(options?: { deadlineMs?: number; reason?: string }): Promise<ShutdownReport>;
  /** Counters as a plain object. */
  stats(): EndpointStats;
  /** Counters in Prometheus text format. */
  metrics(): string;
  /** The settings in force, defaults filled in. */
  readonly settings: Readonly<Settings>;
}

/**
 * Options with every default filled in.
 *
 * @example
 * ```ts
 * import type { Endpoint } from "./types.ts";
 * const limit = (endpoint: Endpoint) => endpoint.settings.maxMessageBytes;
 * ```
 */
export interface Settings {
  /** See {@linkcode EndpointOptions.maxConnections}. */
  maxConnections: number;
  /** See {@linkcode EndpointOptions.maxConnectionsPerAddress}. */
  maxConnectionsPerAddress: number;
  /** See {@linkcode EndpointOptions.maxMessageBytes}. */
  maxMessageBytes: number;
  /** See {@linkcode EndpointOptions.maxBufferedBytes}. */
  maxBufferedBytes: number;
  /** See {@linkcode EndpointOptions.rateLimit}. */
  rateLimit: Required<RateLimitOptions> | false;
  /** See {@linkcode EndpointOptions.heartbeat}; `sweepMs` computed when not given. */
  heartbeat: Required<HeartbeatOptions> | false;
  /** See {@linkcode EndpointOptions.invalidJson}. */
  invalidJson: "error" | "close";
  /** See {@linkcode EndpointOptions.onHandlerError}. */
  onHandlerError: "continue" | "close";
}

/**
 * Counters of one endpoint.
 *
 * @example
 * ```ts
 * import type { Endpoint } from "./types.ts";
 * const normal = (endpoint: Endpoint) => endpoint.stats().closedByCode["1000"] ?? 0;
 * ```
 */
export interface EndpointStats {
  /** Connections open now. */
  open: number;
  /** Connections opened since the endpoint was created. */
  opened: number;
  /** Connections closed since the endpoint was created. */
  closed: number;
  /** Closed connections by close code (keys are the codes as strings). */
  closedByCode: Record<string, number>;
  /** Socket errors reported by the runtime. */
  errors: number;
  /** Handler throws and rejections other than `ClientError`. */
  handlerErrors: number;
  /** Frames received (text and binary, pings included). */
  messagesIn: number;
  /** Frames handed to a socket (pings, pongs and error envelopes included). */
  messagesOut: number;
  /** Inbound size: binary bytes plus text length in UTF-16 units (bytes for ASCII). */
  bytesIn: number;
  /** Sends not handed to a socket: peer closed, slow or failing. */
  sendsDropped: number;
  /** Heartbeat pings sent. */
  pingsSent: number;
  /** Connections closed with 4000 by the heartbeat. */
  heartbeatTimeouts: number;
  /** Connections closed with 1013 as slow consumers. */
  slowConsumers: number;
  /** Refused upgrades by reason (`not_upgrade`, `shutdown`, `origin`, `capacity`, `capacity_per_address`, `auth_<status>`, `auth_error`). */
  upgradesRefused: Record<string, number>;
}

/**
 * What a broadcast did.
 *
 * @example
 * ```ts
 * import type { Endpoint } from "./types.ts";
 * function announce(endpoint: Endpoint, text: string) {
 *   const { delivered, dropped } = endpoint.hub.broadcastJson({ type: "news", payload: text });
 *   return dropped === 0 ? `sent to ${delivered}` : `sent to ${delivered}, ${dropped} gone or slow`;
 * }
 * ```
 */
export interface BroadcastResult {
  /** Frames handed to a socket. */
  delivered: number;
  /** Recipients skipped because they were closed, slow or failing (each is then closed and removed). */
  dropped: number;
}

/**
 * The connection registry: rooms and fan-out.
 *
 * @example
 * ```ts
 * import type { Hub } from "./types.ts";
 * function roomSizes(hub: Hub): Record<string, number> {
 *   return Object.fromEntries(hub.rooms().map((room) => [room, hub.members(room).length]));
 * }
 * ```
 */
export interface Hub<T = unknown> {
  /** Open connections. */
  readonly size: number;
  /** A snapshot of the open connections. */
  connections(): Connection<T>[];
  /** Members of a room (snapshot). */
  members(room: string): Connection<T>[];
  /** Names of non-empty rooms. */
  rooms(): string[];
  /** Sends to everyone, or a room, except some; isolates each send, evicts the dead after the loop. */
  broadcast(
    message: string | Uint8Array | ArrayBuffer,
    options?: { room?: string; except?: Connection<T> | Iterable<Connection<T>> },
  ): BroadcastResult;
  /** `broadcast(JSON.stringify(value), options)`. */
  broadcastJson(
    value: unknown,
    options?: { room?: string; except?: Connection<T> | Iterable<Connection<T>> },
  ): BroadcastResult;
}
