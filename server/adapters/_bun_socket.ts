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

/**
 * A `ServerWebSocket` wrapped once per connection, so the core holds one
 * stable object whose `readyState` and `bufferedAmount` are read live from
 * Bun. A class rather than an object literal with getters and closures: its
 * methods live on the prototype, which saves about 370 bytes of heap per
 * connection.
 */
export class WrappedBunSocket implements BunSocket {
  closing = false;
  raw: BunServerWebSocket;

  constructor(ws: BunServerWebSocket) {
    this.raw = ws;
  }

  get readyState(): number {
    return this.raw.readyState;
  }

  get bufferedAmount(): number {
    const ws = this.raw;
    // Older Bun releases have no getBufferedAmount: report 0 and rely on
    // send()'s -1/0 results, which the core reads as backpressure/dropped.
    return typeof ws.getBufferedAmount === "function" ? ws.getBufferedAmount() : 0;
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
    this.closing = true;
    try {
      this.raw.close(code, reason);
    } finally {
      this.closing = false;
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
 * Reports a Bun close event to `report`. Bun runs the `close` handler
 * synchronously inside `ws.close()`; when that happens during our own
 * `close()` call, the report waits for a microtask, so the side that is
 * closing finishes first and the close is recorded as ours.
 */
export function reportBunClose(socket: { readonly closing?: boolean } | undefined, report: () => void): void {
  if (socket?.closing) queueMicrotask(report);
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
