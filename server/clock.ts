/**
 * The system clock: `Date.now` and the global `setInterval`.
 *
 * @module
 */

import type { Clock } from "./types.ts";

/**
 * The default {@linkcode Clock}: `performance.now()`, `setInterval`,
 * `clearInterval`. A monotonic clock, not `Date.now()`: a wall-clock step
 * (NTP, a VM resumed) must not make every connection look silent at once.
 * Tests inject their own clock instead and advance it by hand.
 *
 * @example
 * ```ts
 * import { systemClock } from "./clock.ts";
 * const started = systemClock.now();
 * const handle = systemClock.setInterval(() => {}, 1000);
 * systemClock.clearInterval(handle);
 * ```
 */
export const systemClock: Clock = Object.freeze({
  now: () => performance.now(),
  setInterval: (fn: () => void, ms: number): unknown => setInterval(fn, ms),
  clearInterval: (handle: unknown): void => clearInterval(handle as number),
});
