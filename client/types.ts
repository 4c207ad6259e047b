/**
 * The options, states and events of the reconnecting client.
 *
 * @module
 */

import type { ErrorPayload } from "../protocol.ts";

/**
 * Where the client hears about the page and the network; defaults to the browser's globals.
 *
 * @example
 * ```ts
 * import type { ClientEnvironment } from "./types.ts";
 * // A host with its own network signal and no page.
 * const env: ClientEnvironment = { window: new EventTarget(), navigator: { onLine: true } };
 * ```
 */
export interface ClientEnvironment {
  /** Fires `online`, `offline` and `pageshow`. Default: `globalThis` when it is an event target. */
  window?: EventTarget;
  /** Fires `visibilitychange` and has `visibilityState`. Default: `globalThis.document`. */
  document?: EventTarget & { readonly visibilityState?: string };
  /** Tells whether the network is up. Default: `globalThis.navigator`; no `onLine` means online. */
  navigator?: { readonly onLine?: boolean };
}

/**
 * A constructor of standard WebSockets, as `globalThis.WebSocket`.
 *
 * @example
 * ```ts
 * import type { WebSocketConstructor } from "./types.ts";
 * const WS: WebSocketConstructor = globalThis.WebSocket;
 * ```
 */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocket;

/**
 * Options of {@linkcode connect}. Every one has a default; durations are in ms.
 *
 * @example
 * ```ts
 * import type { ClientOptions } from "./types.ts";
 * const options: ClientOptions = { maxDelayMs: 30_000, queueLimit: 500 };
 * ```
 */
export interface ClientOptions {
  /** Shortest wait before a retry; every retry waits at least this long. Default 250. */
  minDelayMs?: number;
  /**
   * Width of the first retry's random window, above `minDelayMs`; each failed attempt multiplies it by
   * `growth`. Wide enough that a fleet dropped by one restart does not return in lockstep. Default 4 000.
   */
  spreadMs?: number;
  /** Longest wait before a retry (the cap of the backoff). Default 10 000. */
  maxDelayMs?: number;
  /** How fast the retry window widens per failed attempt. Default 2. */
  growth?: number;
  /** A connection that stayed open this long resets the backoff to its first step. Default 5 000. */
  minUptimeMs?: number;
  /**
   * An attempt that has not opened after this long is abandoned and retried. Default 4 000.
   * (On Deno an abandoned attempt is closed once it opens, or cancelled after the shorter of this and
   * `closeTimeoutMs`: see client/_deno_close.ts for the runtime's unhandled rejection this avoids.)
   */
  connectTimeoutMs?: number;
  /** The client sends `ping` this often while open (round-trip time; keeps the watchdog fed). 0: never. Default 20 000. */
  pingIntervalMs?: number;
  /**
   * No frame from the server for this long means it is dead: the client reconnects. 0: no watchdog.
   * Default 50 000, above the server's own ping (25 s) and timeout (20 s). Keep it above `pingIntervalMs`.
   */
  serverTimeoutMs?: number;
  /** A liveness check (after a wake-up, `online`, a visible page) waits this long for any frame. Default 4 000. */
  probeTimeoutMs?: number;
  /** The client's timer firing this much later than planned means the page slept: check liveness. Default 5 000. */
  lateTimerMs?: number;
  /** Messages kept while not connected; beyond it `send` drops and says so. Default 100. */
  queueLimit?: number;
  /** How long `close()` waits for sockets whose closing handshake cannot finish (a dead network). Default 3 000. */
  closeTimeoutMs?: number;
  /** Decides whether a close is retried. Default: `shouldReconnect(code)` of the protocol. */
  shouldReconnect?: (code: number, reason: string) => boolean;
  /** Subprotocols offered to the server. */
  protocols?: string | string[];
  /** How binary frames arrive. Default `"arraybuffer"`. */
  binaryType?: BinaryType;
  /** Aborting it closes the client for good, as {@linkcode SteadyClient.close}. */
  signal?: AbortSignal;
  /** The WebSocket implementation. Default `globalThis.WebSocket`. */
  WebSocket?: WebSocketConstructor;
  /** Where `online`/`offline`/`pageshow`/`visibilitychange` come from. Default: the browser's globals. */
  env?: ClientEnvironment;
}

/**
 * The connection state a page can show.
 *
 * - `connecting`: a socket is being opened (`attempt` 0 is the first, or a forced reconnect).
 * - `open`: connected.
 * - `reconnecting`: waiting before attempt `attempt`; the attempt is due at `nextAttemptAt`
 *   (epoch ms) after `delayMs`, or, while `offline`, as soon as the network is back. `code` and
 *   `reason` say why the last connection ended.
 * - `closed`: final, by `close()`, by the signal, or by a close code that is not retried.
 *
 * @example
 * ```ts
 * import type { ClientState } from "./types.ts";
 * function label(s: ClientState): string {
 *   if (s.status === "reconnecting") {
 *     return s.offline ? "offline" : `retry in ${Math.ceil((s.nextAttemptAt - Date.now()) / 1000)} s`;
 *   }
 *   return s.status;
 * }
 * ```
 */
export type ClientState =
  | { status: "connecting"; attempt: number }
  | { status: "open" }
  | {
    status: "reconnecting";
    attempt: number;
    delayMs: number;
    nextAttemptAt: number;
    offline: boolean;
    code: number;
    reason: string;
  }
  | { status: "closed"; code: number; reason: string };

/**
 * A frame as the client sends it: text or binary.
 *
 * @example
 * ```ts
 * import type { OutgoingData } from "./types.ts";
 * const frames: OutgoingData[] = ["text", new Uint8Array([1, 2])];
 * ```
 */
export type OutgoingData = string | ArrayBufferLike | ArrayBufferView | Blob;

/**
 * The outcome of a send: written to the open socket, kept for the next connection, or dropped.
 *
 * @example
 * ```ts
 * import type { SendResult } from "./types.ts";
 * const ok = (r: SendResult) => r !== "dropped";
 * ```
 */
export type SendResult = "sent" | "queued" | "dropped";

/**
 * A message that was not and will not be sent.
 *
 * @example
 * ```ts
 * import type { DroppedMessage } from "./types.ts";
 * const onDrop = (d: DroppedMessage) => console.warn(`lost ${d.data} (${d.reason})`);
 * ```
 */
export interface DroppedMessage {
  /** The frame as it would have gone out. */
  data: OutgoingData;
  /** `queue_full`: the offline queue was at its limit; `closed`: the client was closed. */
  reason: "queue_full" | "closed";
}

/**
 * The events of a {@linkcode SteadyClient}, each a `CustomEvent` with this `detail`.
 *
 * @example
 * ```ts
 * import type { ClientEventMap } from "./types.ts";
 * const onState = (e: ClientEventMap["state"]) => console.log(e.detail.status);
 * ```
 */
export interface ClientEventMap {
  /** The connection state changed. */
  state: CustomEvent<ClientState>;
  /** A message was dropped (queue full, or queued when the client closed). */
  drop: CustomEvent<DroppedMessage>;
  /** The server sent an `error` envelope: it rejected a message, the connection goes on. */
  error: CustomEvent<ErrorPayload>;
  /** A new round-trip time in ms, from the client's ping to the server's pong. */
  rtt: CustomEvent<number>;
  /** A frame that is not a JSON envelope: binary data or other text. */
  raw: CustomEvent<string | ArrayBuffer | Blob>;
}

/**
 * A handler of typed messages: the envelope's payload, and the whole envelope.
 *
 * @example
 * ```ts
 * import type { MessageHandler } from "./types.ts";
 * const onChat: MessageHandler<{ text: string }> = (payload) => console.log(payload.text);
 * ```
 */
export type MessageHandler<P = unknown> = (payload: P, envelope: { type: string; payload?: P }) => void;
