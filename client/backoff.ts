/**
 * The retry delay of the reconnecting client: exponential backoff with a cap
 * and per-attempt random jitter.
 *
 * @module
 */

/**
 * Settings of {@linkcode backoffDelay}.
 *
 * @example
 * ```ts
 * import type { BackoffOptions } from "./backoff.ts";
 * const options: BackoffOptions = { minDelayMs: 500, maxDelayMs: 10_000, growth: 2 };
 * ```
 */
export interface BackoffOptions {
  /** The floor of every delay. */
  minDelayMs: number;
  /** The cap of every delay. */
  maxDelayMs: number;
  /** Growth of the window's upper bound per attempt. */
  growth: number;
}

/**
 * The delay before retry number `attempt` (1 for the first retry).
 *
 * "Full jitter above a floor": the delay is drawn uniformly from
 * `[minDelayMs, min(maxDelayMs, minDelayMs * growth ** attempt)]`. Every retry
 * waits at least the floor, the window's top grows exponentially up to the cap,
 * and even the first retry after an outage is spread over a window (500–1 000 ms
 * by default), so a fleet of clients dropped together does not come back in
 * lockstep.
 *
 * @example
 * ```ts
 * import { backoffDelay } from "./backoff.ts";
 * const ms = backoffDelay(3, { minDelayMs: 500, maxDelayMs: 10_000, growth: 2 }); // 500..4 000
 * ```
 */
export function backoffDelay(
  attempt: number,
  options: BackoffOptions,
  random: () => number = Math.random,
): number {
  const { minDelayMs, maxDelayMs, growth } = options;
  const top = Math.min(maxDelayMs, minDelayMs * growth ** Math.max(1, attempt));
  return Math.round(minDelayMs + random() * Math.max(0, top - minDelayMs));
}
