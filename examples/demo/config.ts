/**
 * The demo's settings, read from environment variables so that the same
 * application runs unchanged on Deno and Bun (each entry passes its own
 * environment in).
 *
 * @module
 */

import type { OriginPolicy } from "../../server/types.ts";

/** The demo's settings with every default filled in. */
export interface DemoConfig {
  /** Interface to listen on (`HOST`). Default `127.0.0.1`. */
  host: string;
  /** Port to listen on (`PORT`). Default 8000; 0 picks a free port. */
  port: number;
  /** `STEADY_PING_AFTER_MS`: silence before the server pings a client. Default: the endpoint's (25 000). */
  pingAfterMs?: number;
  /** `STEADY_PING_TIMEOUT_MS`: silence after the ping before the client is dropped. Default: the endpoint's (20 000). */
  pingTimeoutMs?: number;
  /** `STEADY_MAX_MESSAGE_BYTES`: largest inbound message. Default: the endpoint's (1 MiB). */
  maxMessageBytes?: number;
  /** `STEADY_ALLOWED_ORIGINS`: the page's own origin is always allowed; these are allowed too. */
  allowedOrigins: string[];
  /** `STEADY_SHUTDOWN_MS`: how long a graceful shutdown waits for clients. Default 3 000. */
  shutdownMs: number;
  /** `STEADY_LOG_LEVEL`: `debug`, `info`, `warn` or `error`. Default `info`. */
  logLevel: "debug" | "info" | "warn" | "error";
}

/** Reads a variable set, e.g. `Deno.env.toObject()` or `Bun.env`. */
export type Env = Record<string, string | undefined>;

/**
 * Builds the demo's settings from environment variables; throws on a value
 * that is set but not usable, naming the variable and what it held.
 *
 * @example
 * ```ts
 * const config = readConfig({ PORT: "0", STEADY_ALLOWED_ORIGINS: "https://example.com" });
 * console.log(config.port, config.allowedOrigins); // 0 ["https://example.com"]
 * ```
 */
export function readConfig(env: Env): DemoConfig {
  const level = env.STEADY_LOG_LEVEL ?? "info";
  if (level !== "debug" && level !== "info" && level !== "warn" && level !== "error") {
    throw new Error(`STEADY_LOG_LEVEL: expected debug, info, warn or error, got "${level}"`);
  }
  return {
    host: env.HOST || "127.0.0.1",
    port: integer(env, "PORT", 0, 65535) ?? 8000,
    pingAfterMs: integer(env, "STEADY_PING_AFTER_MS", 1),
    pingTimeoutMs: integer(env, "STEADY_PING_TIMEOUT_MS", 1),
    maxMessageBytes: integer(env, "STEADY_MAX_MESSAGE_BYTES", 1),
    allowedOrigins: (env.STEADY_ALLOWED_ORIGINS ?? "").split(",").map((s) => s.trim()).filter(Boolean),
    shutdownMs: integer(env, "STEADY_SHUTDOWN_MS", 0) ?? 3000,
    logLevel: level,
  };
}

/**
 * The origin policy the demo gives its endpoint: the page's own origin, plus
 * `allowedOrigins`; `*` in the list allows any origin.
 *
 * @example
 * ```ts
 * originPolicy([]); // "same-origin": a foreign page gets 403
 * ```
 */
export function originPolicy(allowedOrigins: readonly string[]): OriginPolicy {
  if (allowedOrigins.includes("*")) return "any";
  if (allowedOrigins.length === 0) return "same-origin";
  const allowed = new Set(allowedOrigins.map((o) => o.replace(/\/+$/, "")));
  return (origin, request) =>
    origin === null || origin === new URL(request.url).origin || allowed.has(origin);
}

function integer(env: Env, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw.trim() === "") return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${name}: expected an integer from ${min} to ${max}, got "${raw}"`);
  }
  return value;
}
