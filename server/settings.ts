/**
 * Every default of an endpoint, in one place.
 *
 * @module
 */

import type { EndpointOptions, HeartbeatOptions, RateLimitOptions, Settings } from "./types.ts";

/**
 * The default limits and timings, by name.
 *
 * @example
 * ```ts
 * import { DEFAULTS, type Defaults } from "./settings.ts";
 * const d: Defaults = DEFAULTS;
 * console.log(d.pingAfterMs); // 25000
 * ```
 */
export interface Defaults {
  /** Open connections in all. */
  readonly maxConnections: number;
  /** Open connections per remote address. */
  readonly maxConnectionsPerAddress: number;
  /** Largest inbound message in bytes. */
  readonly maxMessageBytes: number;
  /** Buffered bytes above which a peer is a slow consumer. */
  readonly maxBufferedBytes: number;
  /** Sustained messages per second per connection. */
  readonly ratePerSecond: number;
  /** Messages per connection in a burst. */
  readonly rateBurst: number;
  /** Silence before a heartbeat ping, in ms. */
  readonly pingAfterMs: number;
  /** Further silence before the 4000 close, in ms. */
  readonly timeoutMs: number;
  /** How long shutdown waits for close handshakes, in ms. */
  readonly shutdownDeadlineMs: number;
  /** How long an admitted session may wait for its socket to open before its slot is released, in ms. */
  readonly upgradeTimeoutMs: number;
}

/**
 * Default limits and timings of {@linkcode resolveSettings}.
 *
 * @example
 * ```ts
 * import { DEFAULTS } from "./settings.ts";
 * DEFAULTS.maxMessageBytes; // 1048576
 * ```
 */
export const DEFAULTS: Defaults = Object.freeze({
  /** Open connections in all: 10 000. */
  maxConnections: 10_000,
  /** Open connections per remote address: 256. */
  maxConnectionsPerAddress: 256,
  /** Largest inbound message: 1 MiB. */
  maxMessageBytes: 1024 * 1024,
  /** Bytes buffered for a peer before it counts as a slow consumer: 1 MiB. */
  maxBufferedBytes: 1024 * 1024,
  /** Sustained messages per second per connection: 200. */
  ratePerSecond: 200,
  /** Messages per connection in a burst: 400. */
  rateBurst: 400,
  /** Silence before a ping: 25 s (as engine.io). */
  pingAfterMs: 25_000,
  /** Further silence after the ping before closing with 4000: 20 s (as engine.io). */
  timeoutMs: 20_000,
  /** Shutdown waits this long for close handshakes: 5 s. */
  shutdownDeadlineMs: 5_000,
  /** An admitted session whose socket never opened (nor failed) gives its slot back after 10 s. */
  upgradeTimeoutMs: 10_000,
});

/**
 * The sweep period for a heartbeat: a quarter of the smaller of `pingAfterMs`
 * and `timeoutMs`, at least 100 ms and at most 5 000 ms. Pings and timeouts
 * are therefore late by at most this much.
 *
 * @example
 * ```ts
 * import { defaultSweepMs } from "./settings.ts";
 * defaultSweepMs(25_000, 20_000); // 5000
 * defaultSweepMs(200, 200); // 100
 * ```
 */
export function defaultSweepMs(pingAfterMs: number, timeoutMs: number): number {
  return Math.min(5_000, Math.max(100, Math.floor(Math.min(pingAfterMs, timeoutMs) / 4)));
}

function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !(value > 0) || !Number.isFinite(value)) {
    throw new RangeError(`expected ${name} to be a positive finite number, got ${String(value)}`);
  }
  return value;
}

function heartbeat(options: HeartbeatOptions | false | undefined): Required<HeartbeatOptions> | false {
  if (options === false) return false;
  const pingAfterMs = positive("heartbeat.pingAfterMs", options?.pingAfterMs, DEFAULTS.pingAfterMs);
  const timeoutMs = positive("heartbeat.timeoutMs", options?.timeoutMs, DEFAULTS.timeoutMs);
  const sweepMs = positive("heartbeat.sweepMs", options?.sweepMs, defaultSweepMs(pingAfterMs, timeoutMs));
  return { pingAfterMs, timeoutMs, sweepMs };
}

function rate(options: RateLimitOptions | false | undefined): Required<RateLimitOptions> | false {
  if (options === false) return false;
  return {
    perSecond: positive("rateLimit.perSecond", options?.perSecond, DEFAULTS.ratePerSecond),
    burst: positive("rateLimit.burst", options?.burst, DEFAULTS.rateBurst),
  };
}

function oneOf<V extends string>(name: string, value: V | undefined, allowed: readonly V[]): V {
  if (value === undefined) return allowed[0];
  if (!allowed.includes(value)) {
    throw new RangeError(`expected ${name} to be one of ${allowed.join(", ")}, got ${String(value)}`);
  }
  return value;
}

/**
 * Fills in every default of {@linkcode EndpointOptions} and validates the
 * values, throwing a `RangeError` that names the option for a bad one.
 *
 * @example
 * ```ts
 * import { resolveSettings } from "./settings.ts";
 * resolveSettings({}).maxMessageBytes; // 1048576
 * resolveSettings({ heartbeat: false }).heartbeat; // false
 * ```
 */
export function resolveSettings<T>(options: EndpointOptions<T>): Settings {
  return {
    maxConnections: positive("maxConnections", options.maxConnections, DEFAULTS.maxConnections),
    maxConnectionsPerAddress: positive(
      "maxConnectionsPerAddress",
      options.maxConnectionsPerAddress,
      DEFAULTS.maxConnectionsPerAddress,
    ),
    maxMessageBytes: positive("maxMessageBytes", options.maxMessageBytes, DEFAULTS.maxMessageBytes),
    maxBufferedBytes: positive("maxBufferedBytes", options.maxBufferedBytes, DEFAULTS.maxBufferedBytes),
    rateLimit: rate(options.rateLimit),
    heartbeat: heartbeat(options.heartbeat),
    invalidJson: oneOf("invalidJson", options.invalidJson, ["error", "close"] as const),
    onHandlerError: oneOf("onHandlerError", options.onHandlerError, ["continue", "close"] as const),
  };
}
