/**
 * Stale-peer detection with one shared sweep timer per endpoint.
 *
 * @module
 */

import type { Clock, HeartbeatOptions } from "./types.ts";

/**
 * The two fields the heartbeat reads on each connection.
 *
 * @example
 * ```ts
 * import type { Beating } from "./heartbeat.ts";
 * const fresh: Beating = { lastSeen: Date.now(), pingSentAt: 0 };
 * ```
 */
export interface Beating {
  /** Time of the last complete frame received. */
  lastSeen: number;
  /** Time our last ping was sent; a ping is outstanding while it is later than `lastSeen`. */
  pingSentAt: number;
}

/**
 * What the heartbeat drives: implemented by the endpoint's lifecycle.
 *
 * @example
 * ```ts
 * import type { Beating, HeartbeatTarget } from "./heartbeat.ts";
 * const conns: Beating[] = [];
 * const target: HeartbeatTarget<Beating> = {
 *   tick() {},
 *   connections: () => conns,
 *   ping(conn, now) { conn.pingSentAt = now; },
 *   expire(conn) { conns.splice(conns.indexOf(conn), 1); },
 * };
 * ```
 */
export interface HeartbeatTarget<C extends Beating> {
  /** Called first on every sweep with the clock's time (the lifecycle keeps it as its coarse clock). */
  tick(now: number): void;
  /** The open connections; a snapshot that the sweep may outlive. */
  connections(): readonly C[];
  /** Sends the ping frame to a connection silent for `pingAfterMs`. */
  ping(conn: C, now: number): void;
  /** Closes a connection silent for `pingAfterMs + timeoutMs` with 4000 and cleans it up at once. */
  expire(conn: C): void;
}

/**
 * The sweep. It runs every `sweepMs` only while the endpoint has open
 * connections: {@linkcode Heartbeat.start} on the first open,
 * {@linkcode Heartbeat.stop} when the last one leaves or at shutdown, so an
 * idle endpoint holds no timer.
 *
 * Why a coarse clock: a message only stores the time of the last sweep in
 * `lastSeen` (a field write; no clock read, no timer per message). That time
 * lags the truth by under `sweepMs`, which is at most a quarter of the
 * smaller window by default, so a ping or a timeout comes at most one sweep
 * early or late; the window itself is what matters for liveness.
 *
 * @example
 * ```ts
 * import { Heartbeat } from "./heartbeat.ts";
 * import { systemClock } from "./clock.ts";
 *
 * const conns = [{ lastSeen: Date.now(), pingSentAt: 0 }];
 * const beat = new Heartbeat(systemClock, { pingAfterMs: 25_000, timeoutMs: 20_000, sweepMs: 5_000 }, {
 *   tick() {},
 *   connections: () => conns,
 *   ping(conn, now) { conn.pingSentAt = now; },
 *   expire() {},
 * });
 * beat.start();
 * beat.stop();
 * ```
 */
export class Heartbeat<C extends Beating> {
  #clock: Clock;
  #pingAfter: number;
  #deadAfter: number;
  #sweepMs: number;
  #target: HeartbeatTarget<C>;
  #handle: unknown = undefined;
  #running = false;
  #stale: C[] = [];
  #lastSweep = 0;
  #spared = false;
  #sweep = (): void => this.sweep();

  constructor(clock: Clock, options: Required<HeartbeatOptions>, target: HeartbeatTarget<C>) {
    this.#clock = clock;
    this.#pingAfter = options.pingAfterMs;
    this.#deadAfter = options.pingAfterMs + options.timeoutMs;
    this.#sweepMs = options.sweepMs;
    this.#target = target;
  }

  /** Whether the sweep timer is set. */
  get running(): boolean {
    return this.#running;
  }

  /** Sets the sweep timer unless it is set already. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#lastSweep = this.#clock.now();
    this.#handle = this.#clock.setInterval(this.#sweep, this.#sweepMs);
  }

  /** Clears the sweep timer; idempotent. */
  stop(): void {
    if (!this.#running) return;
    this.#running = false;
    const handle = this.#handle;
    this.#handle = undefined;
    this.#clock.clearInterval(handle);
  }

  /** One pass: pings the quiet, expires the silent. Runs from the timer; callable directly. */
  sweep(): void {
    const now = this.#clock.now();
    const target = this.#target;
    target.tick(now);
    // A sweep far behind schedule means the process was stalled (blocked
    // event loop, suspended VM): frames that arrived meanwhile are still
    // unread, so this pass pings but expires nobody; the next one judges.
    // Never twice in a row, or a loop that is late on every turn would
    // never reap anyone.
    const stalled = !this.#spared && now - this.#lastSweep > 3 * this.#sweepMs;
    this.#spared = stalled;
    this.#lastSweep = now;
    const list = target.connections();
    const stale = this.#stale;
    for (let i = 0; i < list.length; i++) {
      const conn = list[i];
      const silent = now - conn.lastSeen;
      if (silent >= this.#deadAfter && !stalled) stale.push(conn);
      else if (silent >= this.#pingAfter && conn.pingSentAt <= conn.lastSeen) target.ping(conn, now);
    }
    // Expire after the loop: cleanup changes the hub and runs `close` handlers.
    for (let i = 0; i < stale.length; i++) target.expire(stale[i]);
    stale.length = 0;
  }
}
