/**
 * One live connection: checked sends that never throw, an idempotent close,
 * rooms, and the adapter-facing {@linkcode Session} methods, which forward
 * the socket's events to the endpoint's lifecycle.
 *
 * One object per socket serves as both the `Connection` the application sees
 * and the `Session` the adapter drives, so a connection costs a single small
 * object (its rooms set is created on first join).
 *
 * @module
 */

import type { Connection, Session, SocketLike } from "./types.ts";
import type { ConnectionHub } from "./hub.ts";
import type { StatsCounter } from "./stats.ts";
import { payloadBound } from "./limits.ts";

/**
 * Outcome of {@linkcode ServerConnection.write}.
 *
 * @example
 * ```ts
 * import { Write } from "./connection.ts";
 * const outcome: number = Write.Slow;
 * if (outcome !== Write.Delivered) console.log("not handed to the socket");
 * ```
 */
export const Write = {
  /** Handed to the socket. */
  Delivered: 0,
  /** The socket is not open (closing, closed, or the connection already ended). */
  Gone: 1,
  /** The peer reads too slowly: buffered bytes above the bound, or the runtime dropped the frame (Bun's 0). */
  Slow: 2,
  /** The socket threw. */
  Failed: 3,
} as const;

/**
 * Lifecycle state of a connection: Pending → Open → (Closing →) Done. Done is
 * final; every cleanup path first checks for it, which is what makes cleanup
 * run once.
 *
 * @example
 * ```ts
 * import { State } from "./connection.ts";
 * const state: number = State.Open;
 * console.log(state === State.Done); // false
 * ```
 */
export const State = {
  /** Admitted, not yet open. */
  Pending: 0,
  /** Open and registered in the hub. */
  Open: 1,
  /** We sent a close (shutdown) and wait for the handshake. */
  Closing: 2,
  /** Cleaned up; every later event is ignored. */
  Done: 3,
} as const;

/**
 * What a connection needs from its endpoint; implemented by the lifecycle.
 *
 * @example
 * ```ts
 * import type { ConnectionHost } from "./connection.ts";
 * function slowConsumerBound(host: ConnectionHost): number {
 *   return host.maxBufferedBytes;
 * }
 * ```
 */
export interface ConnectionHost {
  readonly stats: StatsCounter;
  readonly maxBufferedBytes: number;
  /**
   * Set once a socket's `send` returned a number (Bun): the runtime then
   * bounds the queue itself (`backpressureLimit`) and reports a drop as 0,
   * so reading `bufferedAmount` before every send is skipped — unless the
   * hub uses the native fan-out, whose adapter sets Bun's limit above the
   * bound.
   */
  runtimeBounded: boolean;
  // deno-lint-ignore no-explicit-any
  readonly hub: ConnectionHub<any>;
  attach(conn: ServerConnection, socket: SocketLike): void;
  opened(conn: ServerConnection): void;
  received(conn: ServerConnection, data: string | ArrayBuffer | Uint8Array): void;
  closed(conn: ServerConnection, code: number, reason: string): void;
  errored(conn: ServerConnection, error: unknown): void;
  abandon(conn: ServerConnection): void;
  /** Our side ends the connection: close frame, then cleanup at once. */
  end(conn: ServerConnection, code: number, reason: string): void;
  /** A socket's `send` threw; only logs it (what becomes of the connection is `writeFailed`'s call). */
  sendThrew(conn: ServerConnection, error: unknown): void;
  /** A write did not deliver: decide what becomes of the connection. */
  writeFailed(conn: ServerConnection, outcome: number): void;
  /** A handler's promise rejected. */
  handlerFailed(conn: ServerConnection, error: unknown): void;
}

const EMPTY_ROOMS: ReadonlySet<string> = Object.freeze(new Set<string>());

let sequence = 0;

/**
 * Closes a socket without ever throwing. An invalid code or an over-long
 * reason (the runtime throws for those) falls back to a plain close.
 *
 * @example
 * ```ts
 * import { safeClose } from "./connection.ts";
 * safeClose({ close() { throw new Error("already closed") } }, 1000, "bye"); // no throw
 * ```
 */
export function safeClose(
  socket: Pick<SocketLike, "close"> | undefined,
  code?: number,
  reason?: string,
): void {
  if (socket === undefined) return;
  try {
    socket.close(code, reason);
    return;
  } catch {
    // fall through: try without the reason, then without anything
  }
  try {
    socket.close(code);
    return;
  } catch {
    // fall through
  }
  try {
    socket.close();
  } catch {
    // the socket is gone already; nothing left to release on our side
  }
}

/**
 * The core's connection. Applications receive it typed as
 * {@linkcode Connection}; adapters receive it typed as {@linkcode Session}
 * from `endpoint.admit()`. Fields without JSDoc are internal to the core.
 *
 * @example
 * ```ts
 * import { createEndpoint } from "./endpoint.ts";
 *
 * const endpoint = createEndpoint({
 *   message(conn, msg) {
 *     conn.sendJson({ type: "echo", payload: msg.payload }); // false if not delivered; never throws
 *   },
 * });
 * ```
 */
export class ServerConnection<T = unknown> implements Connection<T>, Session {
  /** The number behind `id`: a string per connection would cost heap for every idle peer. */
  readonly #seq: number;
  /** The result of `authenticate`, or `undefined`. */
  data: T;
  /** The peer's IP address, where the runtime gives it. */
  readonly remoteAddress: string | undefined;
  /** The last measured heartbeat round trip in ms, once a ping of ours was answered. */
  rttMs: number | undefined = undefined;
  socket: SocketLike | undefined = undefined;
  state: number = State.Pending;
  /** Coarse time of the last complete frame received (see the heartbeat). */
  lastSeen = 0;
  /** Exact time our last heartbeat ping was sent; 0 when none is outstanding. */
  pingSentAt = 0;
  /** Token bucket of the rate limit. */
  tokens = 0;
  refilledAt = 0;
  /**
   * The rooms joined: none, one (its name, the common case; its place in the
   * room's member list is `roomSlot`), or from the second on a map from each
   * name to that place. Kept by the hub.
   */
  joined: Map<string, number> | string | undefined = undefined;
  /** Place in the member list of the one room when `joined` is a name. */
  roomSlot = -1;
  /** Place in the hub's list of open connections; -1 outside it. */
  slot = -1;
  /** Subscribed to the runtime's native fan-out (see `ConnectionHub.useNativeFanout`). */
  subscribed = false;
  #host: ConnectionHost;
  #onRejected: ((error: unknown) => void) | undefined = undefined;
  /**
   * Bytes that may still be written before the buffered amount could exceed
   * the bound: the bound minus the last buffered amount read, minus an upper
   * bound of what was written since (3 bytes per UTF-16 unit of a string).
   * The buffered amount only grows by what we write, so while this is not
   * negative it is within the bound and reading it (a call into the runtime
   * per send) tells nothing new; -1: unknown, read before the next write.
   */
  #budget = -1;

  constructor(host: ConnectionHost, data: T, remoteAddress: string | undefined) {
    this.#host = host;
    this.data = data;
    this.remoteAddress = remoteAddress;
    this.#seq = ++sequence;
  }

  /** Unique within the process (base 36 of a sequence number; an equal string on every read). */
  get id(): string {
    return this.#seq.toString(36);
  }

  /** The socket's ready state (0–3); 0 before the socket is attached, at least 2 once cleaned up. */
  get readyState(): number {
    const socket = this.socket;
    if (socket === undefined) return this.state === State.Done ? 3 : 0;
    const state = socket.readyState;
    // Once cleaned up, never report OPEN even if the runtime has not caught up.
    return this.state === State.Done && state < 2 ? 2 : state;
  }

  /** Bytes queued for the peer, where the runtime tells; 0 otherwise. */
  get bufferedAmount(): number {
    const socket = this.socket;
    if (socket === undefined) return 0;
    try {
      return socket.bufferedAmount ?? 0;
    } catch {
      return 0;
    }
  }

  /** The rooms this connection is in (a snapshot). */
  get rooms(): ReadonlySet<string> {
    const joined = this.joined;
    if (joined === undefined) return EMPTY_ROOMS;
    return new Set(typeof joined === "string" ? [joined] : joined.keys());
  }

  /**
   * Writes a frame if the connection is open and not a slow consumer, and
   * says what happened without acting on it (the hub acts after its loop).
   */
  write(data: string | Uint8Array | ArrayBuffer): number {
    const socket = this.socket;
    const host = this.#host;
    if (this.state !== State.Open || socket === undefined) {
      host.stats.sendsDropped++;
      return Write.Gone;
    }
    // A runtime whose send reports a result (Bun) and bounds its own queue
    // needs neither read before the send: a closed socket answers 0, told
    // apart from a slow one below. Deno's send says nothing and buffers
    // without bound: refuse to add to a closed peer or one that is not reading.
    // With a native fan-out, Bun's own limit sits above the bound (see the Bun adapter).
    if (!host.runtimeBounded || host.hub.checkBuffered) {
      if (socket.readyState !== 1) {
        host.stats.sendsDropped++;
        return Write.Gone;
      }
      const room = this.#room(socket, payloadBound(data));
      if (room !== Write.Delivered) {
        host.stats.sendsDropped++;
        return room;
      }
    }
    let result: void | number;
    try {
      result = socket.send(data);
    } catch (error) {
      host.stats.sendsDropped++;
      host.sendThrew(this, error);
      return Write.Failed;
    }
    // Bun: bytes written (> 0); -1 queued under backpressure, which is what a
    // Deno send always is (the frame will go out; the bound above limits the
    // queue); 0 dropped because the queue is past Bun's backpressureLimit:
    // a slow consumer. Closing on -1 would close healthy peers on any burst
    // larger than the kernel's socket buffer.
    if (typeof result === "number") {
      if (result === 0) {
        host.stats.sendsDropped++;
        return socket.readyState === 1 ? Write.Slow : Write.Gone;
      }
      if (!host.runtimeBounded) host.runtimeBounded = true;
    }
    host.stats.messagesOut++;
    return Write.Delivered;
  }

  /**
   * What {@linkcode write} would find before sending `bytes` (an upper bound
   * of the frame's payload), without sending: the pre-publish check of a
   * native fan-out. Counts a refusal as a dropped send.
   */
  check(bytes: number): number {
    const socket = this.#openSocket();
    const host = this.#host;
    if (socket === undefined) {
      host.stats.sendsDropped++;
      return Write.Gone;
    }
    const room = this.#room(socket, bytes);
    if (room !== Write.Delivered) host.stats.sendsDropped++;
    return room;
  }

  /**
   * Sets aside a share of the budget (a sixteenth of the bound) for a native
   * fan-out's list to publish without checking this peer again: the share
   * counts as written from now on, so a direct send can never add to what
   * the list may still publish. The bytes reserved, or 0 when the peer is
   * not open or has not that much room (the list then checks every target).
   */
  reserve(): number {
    const socket = this.#openSocket();
    if (socket === undefined) return 0;
    // Math.floor, not `>>> 4`: a bound of 4 GiB or more would wrap.
    const share = Math.floor(this.#host.maxBufferedBytes / 16);
    if (share === 0) return 0;
    if (this.#budget < share) {
      // A fresh read, not a spent budget: what was written since the last one may have drained.
      this.#budget = -1;
      if (this.#room(socket, 0) !== Write.Delivered || this.#budget < share) return 0;
    }
    this.#budget -= share;
    return share;
  }

  /** The socket, while both the connection and the socket are open; `undefined` otherwise. */
  #openSocket(): SocketLike | undefined {
    const socket = this.socket;
    return this.state === State.Open && socket !== undefined && socket.readyState === 1 ? socket : undefined;
  }

  /**
   * Whether `bytes` more keep the peer within the bound: `Delivered` (and
   * the budget spent), `Slow`, or `Failed` when the runtime cannot say how
   * much it holds (its own limit would then be the only guard). The buffered
   * amount is read only once the budget is spent (see `#budget`).
   */
  #room(socket: SocketLike, bytes: number): number {
    if (this.#budget < 0) {
      let buffered: number;
      try {
        buffered = socket.bufferedAmount;
      } catch {
        return Write.Failed;
      }
      const max = this.#host.maxBufferedBytes;
      if (buffered > max) return Write.Slow;
      this.#budget = max - buffered;
    }
    this.#budget -= bytes;
    return Write.Delivered;
  }

  /** Counts frames a native fan-out delivered (the endpoint's stats are shared by all its connections). */
  countDelivered(n: number): void {
    this.#host.stats.messagesOut += n;
  }

  /** Acts on a write that did not deliver (closes a slow or failing peer, cleans up a gone one). */
  afterFailedWrite(outcome: number): void {
    this.#host.writeFailed(this, outcome);
  }

  /** Sends a frame; `true` if it was handed to the socket. Never throws. A slow or failing peer is closed. */
  send(data: string | Uint8Array | ArrayBuffer): boolean {
    const outcome = this.write(data);
    if (outcome === Write.Delivered) return true;
    this.#host.writeFailed(this, outcome);
    return false;
  }

  /** Sends `JSON.stringify(value)`; `true` if it was handed to the socket. Never throws. */
  sendJson(value: unknown): boolean {
    let text: string;
    try {
      text = JSON.stringify(value);
    } catch (error) {
      this.#host.handlerFailed(this, error);
      return false;
    }
    if (typeof text !== "string") return false; // undefined, a function...
    return this.send(text);
  }

  /** Closes the connection (default code 1000); idempotent, never throws. Cleanup runs at once. */
  close(code: number = 1000, reason: string = ""): void {
    this.#host.end(this, code, reason);
  }

  /** Joins a room of the endpoint's hub (ignored once closed). */
  join(room: string): void {
    this.#host.hub.join(this, room);
  }

  /** Leaves a room of the endpoint's hub. */
  leave(room: string): void {
    this.#host.hub.leave(this, room);
  }

  /** The callback for a handler's rejected promise, made once per connection and only if needed. */
  onRejected(): (error: unknown) => void {
    return this.#onRejected ??= (error) => this.#host.handlerFailed(this, error);
  }

  // Session: the adapter's side. Each forwards to the lifecycle, which keeps them idempotent.

  /** Gives the session its socket. */
  attach(socket: SocketLike): void {
    this.#host.attach(this, socket);
  }
  /** The socket opened. */
  opened(): void {
    this.#host.opened(this);
  }
  /** A complete message arrived. */
  received(data: string | ArrayBuffer | Uint8Array): void {
    this.#host.received(this, data);
  }
  /** The socket closed. */
  closed(code: number, reason: string): void {
    this.#host.closed(this, code, reason);
  }
  /** The socket reported an error. */
  errored(error: unknown): void {
    this.#host.errored(this, error);
  }
  /** The runtime's send buffer drained; nothing to do, as backpressure already closed the peer. */
  drained(): void {}
  /** The upgrade did not happen; releases the reservation. */
  abandon(): void {
    this.#host.abandon(this);
  }
}
