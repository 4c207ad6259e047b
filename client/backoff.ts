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
 * const options: BackoffOptions = { minDelayMs: 250, spreadMs: 4_000, maxDelayMs: 10_000, growth: 2 };
 * ```
 */
export interface BackoffOptions {
  /** The floor of every delay. */
  minDelayMs: number;
  /** Width of the first retry's random window; later windows grow by `growth`. */
  spreadMs: number;
  /** The cap of every delay. */
  maxDelayMs: number;
  /** Growth of the window's width per attempt. */
  growth: number;
}

/**
 * The delay before retry number `attempt` (1 for the first retry).
 *
 * "Full jitter above a floor": the delay is drawn uniformly from
 * `[minDelayMs, minDelayMs + spreadMs * growth ** (attempt - 1)]`, capped at
 * `maxDelayMs`. The width of the first window is what keeps a fleet dropped
 * together (a server restart) from coming back in lockstep: the reconnects
 * after the restart spread over what is left of everyone's window. With the
 * default 4 s, a fleet's busiest 250 ms holds well under 15 % of it after a
 * one-second outage, while one client still retries within 2.25 s on average.
 *
 * @example
 * ```ts
 * import { backoffDelay } from "./backoff.ts";
 * const options = { minDelayMs: 250, spreadMs: 4_000, maxDelayMs: 10_000, growth: 2 };
 * const ms = backoffDelay(2, options); // 250..8 250
 * ```
 */
export function backoffDelay(
  attempt: number,
  options: BackoffOptions,
  random: () => number = Math.random,
): number {
  const { minDelayMs, spreadMs, maxDelayMs, growth } = options;
  const width = Math.min(
    Math.max(0, maxDelayMs - minDelayMs),
    spreadMs * growth ** (Math.max(1, attempt) - 1),
  );
  return Math.round(minDelayMs + random() * width);
}
