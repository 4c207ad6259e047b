/**
 * Bun's `ServerWebSocket`, declared structurally (no Bun types are installed),
 * and its wrapping into the core's {@linkcode SocketLike}.
 *
 * @module
 */

import type { SocketLike } from "../types.ts";

/** The members of Bun's `ServerWebSocket` the adapters use. */
export interface BunServerWebSocket<D = unknown> {
  /** What was passed as `data` to `server.upgrade`. */
  readonly data: D;
  /** 0–3, as in the standard API. */
  readonly readyState: number;
  /** Bytes written; `-1` queued under backpressure; `0` dropped (closed, or past `backpressureLimit`). */
  send(data: string | ArrayBuffer | Uint8Array<ArrayBuffer>, compress?: boolean): number;
  /** Starts the closing handshake; Bun runs the `close` handler before this returns. */
  close(code?: number, reason?: string): void;
  /** Bytes queued for the peer (present in current Bun releases). */
  getBufferedAmount?(): number;
  /** Subscribes to a topic of the server's `publish`; `false` on a closed socket (no throw). */
  subscribe?(topic: string): void;
  /** Unsubscribes; `false` on a closed socket (no throw). */
  unsubscribe?(topic: string): void;
  /** Publishes to the topic's subscribers except this socket. */
  publish?(topic: string, data: string | ArrayBuffer | Uint8Array<ArrayBuffer>, compress?: boolean): number;
}

/** A wrapped `ServerWebSocket`; `closing` is true while our own `close()` call is running. */
export interface BunSocket extends SocketLike {
  /** True while our own `close()` call is running (Bun's `close` handler may run inside it). */
  readonly closing: boolean;
  /** The runtime's socket (for topics). */
  readonly raw: BunServerWebSocket;
}

/** `#state` while our own `close()` runs: reads as closed, and tells `reportBunClose` the close is ours. */
const CLOSING_OURSELVES = -1;

/**
 * A `ServerWebSocket` wrapped once per connection, so the core holds one
 * stable object with the standard `readyState` and `bufferedAmount`. A class
 * rather than an object literal with getters and closures: its methods live
 * on the prototype, which saves about 370 bytes of heap per connection.
 *
 * `readyState` is kept here rather than read from Bun, a call into the
 * runtime that cost about 5 ns, most of what checking a target before a
 * native publish costs. Bun's own is 3 once its `closed` flag is set and 1
 * before; it sets the flag in `close()` and in its close callback, right
 * before it runs the `close` handler, and the adapters report every close
 * event through {@linkcode reportBunClose}, which marks this wrapper closed.
 */
export class WrappedBunSocket implements BunSocket {
  raw: BunServerWebSocket;
  #state: number;

  constructor(ws: BunServerWebSocket) {
    this.raw = ws;
    this.#state = ws.readyState;
  }

  /** Wraps `ws` from now on (the adapter's `open`, for a wrapper made before the socket existed). */
  wrap(ws: BunServerWebSocket): void {
    this.raw = ws;
    this.#state = ws.readyState;
  }

  get closing(): boolean {
    return this.#state === CLOSING_OURSELVES;
  }

  get readyState(): number {
    const state = this.#state;
    return state === CLOSING_OURSELVES ? 3 : state;
  }

  get bufferedAmount(): number {
    const ws = this.raw;
    // Older Bun releases have no getBufferedAmount: report 0 and rely on
    // send()'s -1/0 results, which the core reads as backpressure/dropped.
    return typeof ws.getBufferedAmount === "function" ? ws.getBufferedAmount() : 0;
  }

  /** Records that Bun reported the close (its `close` handler runs). */
  markClosed(): void {
    if (this.#state !== CLOSING_OURSELVES) this.#state = 3;
  }

  send(data: string | Uint8Array | ArrayBuffer): number | undefined {
    const ws = this.raw;
    // SocketLike accepts views of any buffer; Bun accepts them as well.
    const result = ws.send(data as string | ArrayBuffer | Uint8Array<ArrayBuffer>);
    // An empty message is written but reported as 0 bytes, which would read
    // as "dropped": on an open socket, report it as handed over.
    if (result === 0 && byteLength(data) === 0 && ws.readyState === 1) return undefined;
    return result;
  }

  close(code?: number, reason?: string): void {
    this.#state = CLOSING_OURSELVES;
    try {
      this.raw.close(code, reason);
    } finally {
      // Bun's own, also if close() threw (an invalid code leaves the socket open).
      this.#state = this.raw.readyState;
    }
  }
}

/**
 * Wraps a `ServerWebSocket` once per connection (see {@linkcode BunSocket}).
 */
export function bunSocket(ws: BunServerWebSocket): BunSocket {
  return new WrappedBunSocket(ws);
}

/**
 * Reports a Bun close event to `report`, after marking the wrapper closed.
 * Bun runs the `close` handler synchronously inside `ws.close()`; when that
 * happens during our own `close()` call, the report waits for a microtask,
 * so the side that is closing finishes first and the close is recorded as
 * ours. Any other socket (Deno's, through Hono) is reported at once.
 */
export function reportBunClose(socket: SocketLike | undefined, report: () => void): void {
  if (!(socket instanceof WrappedBunSocket)) {
    report();
    return;
  }
  const ours = socket.closing;
  socket.markClosed();
  if (ours) queueMicrotask(report);
  else report();
}

function byteLength(data: string | Uint8Array | ArrayBuffer): number {
  return typeof data === "string" ? data.length : data.byteLength;
}

/**
 * The close code to report for a Bun close event. Bun closes an over-long
 * message itself (its `maxPayloadLength`): the peer receives 1009, but the
 * server's `close` handler is told 1006 with the reason "Received too big
 * message". Report what the peer was told.
 */
export function bunCloseCode(code: number, reason: string): number {
  if (code === 1006 && reason.startsWith("Received too big message")) return 1009;
  return code >= 1000 && code <= 4999 ? code : 1006;
}
