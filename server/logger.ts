/**
 * A levelled console logger, and the rule that decides how loud a disconnect is.
 *
 * @module
 */

import type { Logger } from "./types.ts";

/**
 * Logger levels, quietest last.
 *
 * @example
 * ```ts
 * import { consoleLogger, type LogLevel } from "./logger.ts";
 * const level: LogLevel = "warn";
 * const log = consoleLogger(level);
 * ```
 */
export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";

const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3, silent: 4 };

function noop(): void {}

/**
 * A {@linkcode Logger} writing to the console, dropping entries below `level`.
 * Each line reads `[steadysocket] LEVEL message` followed by the fields object
 * (the console prints an error's stack when a field holds one).
 *
 * @param level The lowest level written. Default `"info"`.
 *
 * @example
 * ```ts
 * import { consoleLogger } from "./logger.ts";
 *
 * const log = consoleLogger("debug");
 * log.debug("connection closed", { id: "1", code: 1000 });
 * ```
 */
export function consoleLogger(level: LogLevel = "info"): Logger {
  const min = RANK[level] ?? RANK.info;
  // Methods below the level are no-ops, so a disabled level costs one call and
  // no formatting.
  const at = (rank: number, write: (...args: unknown[]) => void, tag: string) =>
    rank < min ? noop : (message: string, fields?: Record<string, unknown>) => {
      if (fields === undefined) write(`[steadysocket] ${tag} ${message}`);
      else write(`[steadysocket] ${tag} ${message}`, fields);
    };
  return {
    debug: at(0, console.debug, "DEBUG"),
    info: at(1, console.info, "INFO"),
    warn: at(2, console.warn, "WARN"),
    error: at(3, console.error, "ERROR"),
  };
}

/**
 * A {@linkcode Logger} that writes nothing.
 *
 * @example
 * ```ts
 * import { silentLogger } from "./logger.ts";
 * silentLogger.error("never printed");
 * ```
 */
export const silentLogger: Logger = Object.freeze({ debug: noop, info: noop, warn: noop, error: noop });

/**
 * The level at which a closed connection is logged: a routine disconnect
 * (1000 normal, 1001 going away, 1005 no status, 1006 peer vanished) at
 * `"debug"`, a fault on our side (1011) at `"error"`, anything else (heartbeat
 * timeout, policy, size, slow consumer...) at `"warn"`.
 *
 * @example
 * ```ts
 * import { closeLogLevel } from "./logger.ts";
 * closeLogLevel(1001); // "debug"
 * closeLogLevel(1009); // "warn"
 * ```
 */
export function closeLogLevel(code: number): "debug" | "warn" | "error" {
  switch (code) {
    case 1000:
    case 1001:
    case 1005:
    case 1006:
      return "debug";
    case 1011:
      return "error";
    default:
      return "warn";
  }
}

/**
 * Fields describing an error for a log entry: its text and, when it has one, its stack.
 *
 * @example
 * ```ts
 * import { errorFields } from "./logger.ts";
 * errorFields(new Error("boom")).stack; // "Error: boom\n    at ..."
 * ```
 */
export function errorFields(error: unknown): { error: string; stack?: string } {
  if (error instanceof Error) {
    return error.stack === undefined
      ? { error: String(error) }
      : { error: String(error), stack: error.stack };
  }
  let text: string;
  try {
    text = String(error);
  } catch {
    text = Object.prototype.toString.call(error);
  }
  return { error: text };
}

/**
 * Wraps a logger so that a throwing logger method cannot break the endpoint:
 * a log call sits on cleanup and error paths, where a throw would skip the
 * rest of the cleanup or escape into the runtime's event loop.
 *
 * @example
 * ```ts
 * import { guardLogger } from "./logger.ts";
 * const log = guardLogger({
 *   debug() {},
 *   info() {},
 *   warn() {},
 *   error() {
 *     throw new Error("disk full");
 *   },
 * });
 * log.error("handler failed"); // no throw
 * ```
 */
export function guardLogger(logger: Logger): Logger {
  const guard =
    (method: "debug" | "info" | "warn" | "error") =>
    (message: string, fields?: Record<string, unknown>): void => {
      try {
        logger[method](message, fields);
      } catch {
        // A logger that cannot log has nowhere to report that; dropping the entry is all that is left.
      }
    };
  return { debug: guard("debug"), info: guard("info"), warn: guard("warn"), error: guard("error") };
}
