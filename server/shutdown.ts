/**
 * Bookkeeping of a graceful shutdown: how many connections closed cleanly
 * before the deadline and how many were dropped at it.
 *
 * @module
 */

import type { Clock, ShutdownReport } from "./types.ts";

/**
 * Counts connections out during a shutdown and resolves the report when the
 * last one is gone, either by its close handshake or dropped at the deadline.
 * The deadline timer is cleared as soon as everyone is gone, so no timer
 * outlives the shutdown.
 *
 * @example
 * ```ts
 * import { Drain } from "./shutdown.ts";
 * import { systemClock } from "./clock.ts";
 *
 * const drain = new Drain(systemClock, 1, 5_000, () => {});
 * drain.finished(); // the one connection closed cleanly
 * const report = await drain.done; // { connections: 1, closedCleanly: 1, dropped: 0, durationMs: ... }
 * ```
 */
export class Drain {
  /** Resolves with the report once every connection is gone. */
  readonly done: Promise<ShutdownReport>;
  #clock: Clock;
  #total: number;
  #started: number;
  #cleanly = 0;
  #dropped = 0;
  #forcing = false;
  #timer: unknown = undefined;
  #resolve!: (report: ShutdownReport) => void;

  /**
   * @param total Connections open when the shutdown began.
   * @param deadlineMs How long to wait for close handshakes.
   * @param forceDrop Called at the deadline; must end every connection still open (each calls `finished`).
   */
  constructor(clock: Clock, total: number, deadlineMs: number, forceDrop: () => void) {
    this.#clock = clock;
    this.#total = total;
    this.#started = clock.now();
    this.done = new Promise((resolve) => (this.#resolve = resolve));
    if (total === 0) {
      this.#complete();
      return;
    }
    // The clock's interval timer, cleared on its first run or on completion:
    // it keeps the deadline injectable for tests.
    this.#timer = clock.setInterval(() => {
      this.#clearTimer();
      this.#forcing = true;
      forceDrop();
      this.#complete();
    }, deadlineMs);
  }

  /** One connection is gone: cleanly before the deadline, dropped during `forceDrop`. */
  finished(): void {
    if (this.#forcing) this.#dropped++;
    else this.#cleanly++;
    if (this.#cleanly + this.#dropped >= this.#total) this.#complete();
  }

  #clearTimer(): void {
    if (this.#timer === undefined) return;
    const timer = this.#timer;
    this.#timer = undefined;
    this.#clock.clearInterval(timer);
  }

  #complete(): void {
    this.#clearTimer();
    this.#resolve({
      connections: this.#total,
      closedCleanly: this.#cleanly,
      dropped: this.#total - this.#cleanly,
      durationMs: Math.max(0, this.#clock.now() - this.#started),
    });
  }
}
