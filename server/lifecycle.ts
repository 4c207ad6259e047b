/**
 * The lifecycle driver: turns a socket's events into calls of the
 * application's handlers, enforces the inbound limits, and runs cleanup
 * exactly once on every exit path.
 *
 * @module
 */

import { CloseCode, decode, type Envelope, errorFrame, PING_FRAME, PONG_FRAME } from "../protocol.ts";
import type { Clock, EndpointOptions, Handlers, Logger, Settings, SocketLike } from "./types.ts";
import { type ConnectionHost, safeClose, type ServerConnection, State, Write } from "./connection.ts";
import { ClientError } from "./errors.ts";
import { Heartbeat } from "./heartbeat.ts";
import { ConnectionHub } from "./hub.ts";
import { takeToken, textTooBig } from "./limits.ts";
import { closeLogLevel, errorFields } from "./logger.ts";
import { Drain } from "./shutdown.ts";
import { DEFAULTS } from "./settings.ts";
import { StatsCounter } from "./stats.ts";

const GOING_AWAY = CloseCode.GoingAway;

/**
 * The per-endpoint state behind every connection: hub, stats, reservations,
 * heartbeat and shutdown. `createEndpoint` builds one; adapters reach it only
 * through the {@linkcode ServerConnection}'s session methods.
 *
 * @example
 * ```ts
 * import { Lifecycle } from "./lifecycle.ts";
 * import { resolveSettings } from "./settings.ts";
 * import { systemClock } from "./clock.ts";
 * import { silentLogger } from "./logger.ts";
 *
 * const life = new Lifecycle({}, resolveSettings({}), systemClock, silentLogger);
 * life.hub.size; // 0
 * ```
 */
export class Lifecycle<T> implements ConnectionHost {
  readonly hub: ConnectionHub<T> = new ConnectionHub<T>();
  readonly stats: StatsCounter = new StatsCounter();
  readonly maxBufferedBytes: number;
  /** See {@linkcode ConnectionHost.runtimeBounded}. */
  runtimeBounded = false;
  readonly settings: Settings;
  readonly logger: Logger;
  readonly clock: Clock;
  /** Time of the last sweep (or open): what a message writes into `lastSeen`. */
  now = 0;
  /** Admitted sessions not yet cleaned up (pending and open). */
  active = 0;
  /** Admitted sessions per remote address. */
  readonly perAddress: Map<string, number> = new Map();
  /** Admitted sessions whose socket has not opened yet. */
  readonly pending: Set<ServerConnection<T>> = new Set();
  /** Set once shutdown begins; new upgrades are refused from then on. */
  shuttingDown = false;
  #handlers: Handlers<T>;
  #heartbeat: Heartbeat<ServerConnection<T>> | undefined;
  #maxMessageBytes: number;
  #ratePerSecond: number;
  #rateBurst: number;
  #closeOnInvalid: boolean;
  #closeOnHandlerError: boolean;
  #logPayloads: boolean;
  #drain: Drain | undefined = undefined;
  #shutdownReason = "";
  #logLate = (error: unknown): void => {
    this.stats.handlerErrors++;
    this.logger.error("error handler failed", errorFields(error));
  };
  #logCloseFailure = (error: unknown): void => {
    this.stats.handlerErrors++;
    this.logger.error("close handler failed", errorFields(error));
  };

  constructor(handlers: EndpointOptions<T>, settings: Settings, clock: Clock, logger: Logger) {
    this.#handlers = handlers;
    this.settings = settings;
    this.clock = clock;
    this.logger = logger;
    this.maxBufferedBytes = settings.maxBufferedBytes;
    this.#maxMessageBytes = settings.maxMessageBytes;
    this.#ratePerSecond = settings.rateLimit === false ? 0 : settings.rateLimit.perSecond;
    this.#rateBurst = settings.rateLimit === false ? 0 : settings.rateLimit.burst;
    this.#closeOnInvalid = settings.invalidJson === "close";
    this.#closeOnHandlerError = settings.onHandlerError === "close";
    this.#logPayloads = handlers.logPayloads === true;
    if (settings.heartbeat !== false) {
      this.#heartbeat = new Heartbeat(clock, settings.heartbeat, {
        tick: (now) => {
          this.now = now;
          if (this.pending.size !== 0) this.reapPending(now);
        },
        connections: () => this.hub.list(),
        ping: (conn, now) => {
          conn.pingSentAt = now;
          if (conn.send(PING_FRAME)) this.stats.pingsSent++;
        },
        expire: (conn) => {
          if (conn.state !== State.Open) return;
          this.stats.heartbeatTimeouts++;
          this.end(conn, CloseCode.HeartbeatTimeout, "heartbeat timeout");
        },
      });
    }
  }

  /** Whether the heartbeat's sweep timer is set (only while connections are open). */
  get heartbeatRunning(): boolean {
    return this.#heartbeat?.running ?? false;
  }

  /** Runs one heartbeat sweep now (tests; the timer does it otherwise). */
  sweep(): void {
    this.#heartbeat?.sweep();
  }

  /** Takes a slot for an admitted session. */
  reserve(address: string | undefined): void {
    this.active++;
    if (address !== undefined) this.perAddress.set(address, (this.perAddress.get(address) ?? 0) + 1);
  }

  /** Registers a session just admitted, so an upgrade that never completes can be reaped. */
  admitted(conn: ServerConnection<T>): void {
    conn.lastSeen = this.clock.now();
    this.pending.add(conn);
  }

  /**
   * Releases sessions admitted more than `DEFAULTS.upgradeTimeoutMs` ago whose
   * socket never opened, errored or closed (a runtime that lost the
   * connection mid-upgrade without an event): their slots would otherwise be
   * held forever. Runs from the heartbeat sweep and before a capacity refusal.
   */
  reapPending(now: number): void {
    for (const conn of this.pending) {
      if (now - conn.lastSeen < DEFAULTS.upgradeTimeoutMs) continue;
      this.logger.warn("upgrade never completed; slot released", { id: conn.id });
      this.#release(conn);
      safeClose(conn.socket);
    }
  }

  /** Gives a slot back. */
  unreserve(address: string | undefined): void {
    this.active--;
    if (address === undefined) return;
    const n = (this.perAddress.get(address) ?? 1) - 1;
    if (n <= 0) this.perAddress.delete(address);
    else this.perAddress.set(address, n);
  }

  // ---- session events ------------------------------------------------------

  attach(conn: ServerConnection<T>, socket: SocketLike): void {
    if (conn.state === State.Done) {
      // The session ended before its socket arrived (abandoned, or refused at open).
      safeClose(socket, GOING_AWAY, "session ended");
      return;
    }
    if (conn.socket === undefined) conn.socket = socket;
  }

  opened(conn: ServerConnection<T>): void {
    if (conn.state !== State.Pending) return;
    this.pending.delete(conn);
    const socket = conn.socket;
    if (socket === undefined) {
      this.logger.error("session opened without a socket: attach() must come first", { id: conn.id });
      this.#release(conn);
      return;
    }
    if (this.shuttingDown) {
      this.#release(conn);
      safeClose(socket, GOING_AWAY, this.#shutdownReason);
      return;
    }
    const now = this.clock.now();
    this.now = now;
    conn.state = State.Open;
    conn.lastSeen = now;
    conn.tokens = this.#rateBurst;
    conn.refilledAt = now;
    this.hub.add(conn);
    this.stats.open++;
    this.stats.opened++;
    this.#heartbeat?.start();
    this.logger.debug("connection opened", { id: conn.id, remoteAddress: conn.remoteAddress });
    const open = this.#handlers.open;
    if (open === undefined) return;
    try {
      const result = open.call(this.#handlers, conn);
      if (result !== undefined && typeof result.then === "function") {
        result.then(undefined, conn.onRejected());
      }
    } catch (error) {
      this.handlerFailed(conn, error);
    }
  }

  received(conn: ServerConnection<T>, data: string | ArrayBuffer | Uint8Array): void {
    if (conn.state !== State.Open) return;
    conn.lastSeen = this.now;
    const stats = this.stats;
    stats.messagesIn++;
    if (typeof data !== "string") {
      this.#receivedBinary(conn, data);
      return;
    }
    stats.bytesIn += data.length;
    if (textTooBig(data, this.#maxMessageBytes)) {
      this.end(conn, CloseCode.MessageTooBig, "message too big");
      return;
    }
    if (this.#rateBurst !== 0 && !takeToken(conn, this.#ratePerSecond, this.#rateBurst, this.clock)) {
      this.end(conn, CloseCode.PolicyViolation, "message rate exceeded");
      return;
    }
    let value: Envelope;
    try {
      value = JSON.parse(data);
    } catch {
      this.#invalid(conn, data);
      return;
    }
    if (value === null || typeof value !== "object" || typeof value.type !== "string" || value.type === "") {
      this.#invalid(conn, data);
      return;
    }
    const type = value.type;
    if (type === "ping") {
      conn.send(PONG_FRAME);
      return;
    }
    if (type === "pong") {
      const sent = conn.pingSentAt;
      if (sent !== 0) {
        conn.pingSentAt = 0;
        conn.rttMs = this.clock.now() - sent;
      }
      return;
    }
    const message = this.#handlers.message;
    if (message === undefined) return;
    try {
      const result = message.call(this.#handlers, conn, value);
      if (result !== undefined && typeof result.then === "function") {
        result.then(undefined, conn.onRejected());
      }
    } catch (error) {
      this.handlerFailed(conn, error);
    }
  }

  #receivedBinary(conn: ServerConnection<T>, data: ArrayBuffer | Uint8Array): void {
    const size = data.byteLength;
    this.stats.bytesIn += size;
    if (size > this.#maxMessageBytes) {
      this.end(conn, CloseCode.MessageTooBig, "message too big");
      return;
    }
    if (this.#rateBurst !== 0 && !takeToken(conn, this.#ratePerSecond, this.#rateBurst, this.clock)) {
      this.end(conn, CloseCode.PolicyViolation, "message rate exceeded");
      return;
    }
    const binary = this.#handlers.binary;
    if (binary === undefined) {
      this.end(conn, CloseCode.UnsupportedData, "binary frames are not accepted");
      return;
    }
    try {
      const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
      const result = binary.call(this.#handlers, conn, bytes);
      if (result !== undefined && typeof result.then === "function") {
        result.then(undefined, conn.onRejected());
      }
    } catch (error) {
      this.handlerFailed(conn, error);
    }
  }

  #invalid(conn: ServerConnection<T>, data: string): void {
    if (this.#closeOnInvalid) {
      this.end(conn, CloseCode.UnsupportedData, "expected a JSON envelope");
      return;
    }
    const result = decode(data);
    if (result.ok) return; // unreachable: the fast path accepted nothing decode accepts
    this.logger.debug("invalid message", {
      id: conn.id,
      code: result.code,
      ...(this.#logPayloads ? { payload: data } : undefined),
    });
    conn.send(errorFrame(result.message, result.code));
  }

  closed(conn: ServerConnection<T>, code: number, reason: string): void {
    const state = conn.state;
    if (state === State.Done) return; // a second close event (Deno), or after our own close
    if (state === State.Pending) {
      this.#release(conn);
      return;
    }
    if (state === State.Closing) this.#finish(conn, GOING_AWAY, this.#shutdownReason, "server");
    else this.#finish(conn, code, reason, "peer");
  }

  errored(conn: ServerConnection<T>, error: unknown): void {
    const state = conn.state;
    if (state === State.Done) return;
    this.stats.errors++;
    if (state === State.Pending) {
      this.logger.warn("upgrade failed", { id: conn.id, ...errorFields(error) });
      this.#release(conn);
      safeClose(conn.socket);
      return;
    }
    // On Deno an `error` event is how a peer that vanished shows up (then a
    // 1006 close): routine, so debug; the count is in `stats().errors`.
    this.logger.debug("socket error", { id: conn.id, ...errorFields(error) });
    this.#callErrorHandler(conn, error);
    if (conn.state === State.Done) return; // the error handler closed it
    // Deno may fire `error` and never `close`: clean up now, ignore a later close.
    this.#finish(conn, CloseCode.Abnormal, "socket error", "peer");
    const socket = conn.socket;
    if (socket !== undefined && socket.readyState < 2) safeClose(socket);
  }

  abandon(conn: ServerConnection<T>): void {
    if (conn.state === State.Pending) this.#release(conn);
  }

  // ---- our side --------------------------------------------------------------

  end(conn: ServerConnection<T>, code: number, reason: string): void {
    const state = conn.state;
    if (state === State.Done) return;
    // Claim the cleanup first: a runtime may fire its close event from inside
    // `close()` (Bun does), and that event must find the connection done.
    conn.state = State.Done;
    safeClose(conn.socket, code, reason);
    if (state === State.Pending) {
      this.pending.delete(conn);
      this.unreserve(conn.remoteAddress);
      return;
    }
    // Cleanup does not wait for the close handshake: the peer may be dead or not reading.
    this.#finish(conn, code, reason, "server");
  }

  sendThrew(conn: ServerConnection<T>, error: unknown): void {
    this.logger.warn("send failed", { id: conn.id, ...errorFields(error) });
  }

  writeFailed(conn: ServerConnection<T>, outcome: number): void {
    if (conn.state !== State.Open) return;
    if (outcome === Write.Slow) {
      this.stats.slowConsumers++;
      this.end(conn, CloseCode.TryAgainLater, "slow consumer");
    } else if (outcome === Write.Failed) {
      this.end(conn, CloseCode.InternalError, "send failed");
    } else {
      // The socket closed before its close event reached us.
      this.#finish(conn, CloseCode.Abnormal, "connection lost", "peer");
    }
  }

  handlerFailed(conn: ServerConnection<T>, error: unknown): void {
    if (error instanceof ClientError) {
      if (conn.state === State.Open) conn.send(errorFrame(error.message, error.code));
      return;
    }
    this.stats.handlerErrors++;
    this.logger.error("handler failed", { id: conn.id, ...errorFields(error) });
    this.#callErrorHandler(conn, error);
    if (this.#closeOnHandlerError && conn.state === State.Open) {
      this.end(conn, CloseCode.InternalError, "internal error");
    }
  }

  #callErrorHandler(conn: ServerConnection<T>, error: unknown): void {
    const handler = this.#handlers.error;
    if (handler === undefined) return;
    try {
      const result = handler.call(this.#handlers, conn, error);
      if (result !== undefined && typeof result.then === "function") result.then(undefined, this.#logLate);
    } catch (failure) {
      this.#logLate(failure);
    }
  }

  // ---- cleanup ---------------------------------------------------------------

  /** Cleanup of a session that never opened: only the reservation. */
  #release(conn: ServerConnection<T>): void {
    conn.state = State.Done;
    this.pending.delete(conn);
    this.unreserve(conn.remoteAddress);
  }

  /** Cleanup of an opened connection; the state check above every caller makes it run once. */
  #finish(conn: ServerConnection<T>, code: number, reason: string, initiator: "peer" | "server"): void {
    conn.state = State.Done;
    this.unreserve(conn.remoteAddress);
    this.hub.remove(conn);
    const stats = this.stats;
    stats.open--;
    stats.countClose(code);
    if (this.hub.size === 0) this.#heartbeat?.stop();
    this.logger[closeLogLevel(code)]("connection closed", { id: conn.id, code, reason, initiator });
    const close = this.#handlers.close;
    if (close !== undefined) {
      try {
        const result = close.call(this.#handlers, conn, { code, reason, initiator });
        if (result !== undefined && typeof result.then === "function") {
          result.then(undefined, this.#logCloseFailure);
        }
      } catch (error) {
        this.#logCloseFailure(error);
      }
    }
    this.#drain?.finished();
  }

  // ---- shutdown --------------------------------------------------------------

  /** Closes everyone with 1001 and resolves when all are gone or dropped at the deadline. */
  shutdown(deadlineMs: number, reason: string): Drain {
    this.shuttingDown = true;
    this.#shutdownReason = reason;
    this.#heartbeat?.stop();
    const list = this.hub.list();
    for (const conn of list) conn.state = State.Closing;
    this.hub.checkEveryTarget();
    this.#drain = new Drain(this.clock, list.length, deadlineMs, () => {
      for (const conn of this.hub.list()) this.#finish(conn, GOING_AWAY, reason, "server");
    });
    for (const conn of list) safeClose(conn.socket, GOING_AWAY, reason);
    return this.#drain;
  }
}
