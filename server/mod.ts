/**
 * The steadysocket server core, runtime-neutral: `createEndpoint`, the error
 * classes handlers throw, the logger, and the contract types. Serve an
 * endpoint with an adapter from `./adapters/`.
 *
 * @example
 * ```ts
 * import { ClientError, consoleLogger, createEndpoint } from "./mod.ts";
 *
 * export const endpoint = createEndpoint({
 *   logger: consoleLogger("debug"),
 *   message(conn, msg) {
 *     if (msg.type !== "echo") throw new ClientError(`unknown type ${msg.type}`, "unknown_type");
 *     conn.sendJson(msg);
 *   },
 * });
 * ```
 *
 * @module
 */
export { createEndpoint } from "./endpoint.ts";
export type { RefusalReason } from "./endpoint.ts";
export { ClientError, UpgradeRefused } from "./errors.ts";
export { closeLogLevel, consoleLogger, silentLogger } from "./logger.ts";
export type { LogLevel } from "./logger.ts";
export { systemClock } from "./clock.ts";
export { DEFAULTS } from "./settings.ts";
export type { Defaults } from "./settings.ts";
export { prometheusText } from "./stats.ts";
export { CloseCode } from "../protocol.ts";
export type { Envelope, ErrorPayload } from "../protocol.ts";
export * from "./types.ts";
