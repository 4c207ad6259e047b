/**
 * `createEndpoint`: one runtime-neutral WebSocket endpoint. It answers the
 * upgrade request (guards first, nothing registered for a refused peer) and
 * hands adapters a session that drives the lifecycle.
 *
 * @module
 */

import type {
  Admission,
  Endpoint,
  EndpointOptions,
  EndpointStats,
  Hub,
  OriginPolicy,
  RequestInfo,
  Settings,
  ShutdownReport,
} from "./types.ts";
import { systemClock } from "./clock.ts";
import { ServerConnection } from "./connection.ts";
import { UpgradeRefused } from "./errors.ts";
import { badHandshake, notAnUpgrade, originAllowed, refusal } from "./guards.ts";
import { Lifecycle } from "./lifecycle.ts";
import { consoleLogger, errorFields, guardLogger } from "./logger.ts";
import { DEFAULTS, resolveSettings } from "./settings.ts";
import { prometheusText } from "./stats.ts";

/**
 * Reasons under which refused upgrades are counted in
 * `stats().upgradesRefused`: `not_upgrade` (426), `bad_handshake` (400, or 426
 * for a WebSocket version other than 13), `shutdown` (503), `origin`
 * (403, or 500 if the origin function threw), `capacity` and
 * `capacity_per_address` (503), and for `authenticate`: `auth_401` (falsy
 * result), `auth_<status>` (an `UpgradeRefused`), `auth_error` (500, any
 * other throw).
 *
 * @example
 * ```ts
 * import { createEndpoint, type RefusalReason } from "./endpoint.ts";
 * const endpoint = createEndpoint({});
 * const reason: RefusalReason = "origin";
 * console.log(endpoint.stats().upgradesRefused[reason] ?? 0);
 * ```
 */
export type RefusalReason = string;

/**
 * The endpoint behind {@linkcode createEndpoint}; not part of the public
 * entry (use the function and the {@linkcode Endpoint} type).
 *
 * @example
 * ```ts
 * import { createEndpoint, SteadyEndpoint } from "./endpoint.ts";
 * const endpoint = createEndpoint({});
 * console.log(endpoint instanceof SteadyEndpoint); // true
 * ```
 */
export class SteadyEndpoint<T = unknown> implements Endpoint<T> {
  /** The settings in force, defaults filled in. */
  readonly settings: Readonly<Settings>;
  #options: EndpointOptions<T>;
  #origins: OriginPolicy;
  #life: Lifecycle<T>;
  #shutdown: Promise<ShutdownReport> | undefined = undefined;

  constructor(options: EndpointOptions<T>) {
    this.#options = options;
    this.settings = Object.freeze(resolveSettings(options));
    this.#origins = options.origins ?? "same-origin";
    this.#life = new Lifecycle(
      options,
      this.settings,
      options.clock ?? systemClock,
      options.logger === undefined ? consoleLogger("info") : guardLogger(options.logger),
    );
  }

  /** The connection registry and rooms. */
  get hub(): Hub<T> {
    return this.#life.hub;
  }

  /** The lifecycle, for the core's tests and diagnostics. */
  get lifecycle(): Lifecycle<T> {
    return this.#life;
  }

  /**
   * Runs the guards on an upgrade request, in this order: not an upgrade
   * (426), shutting down (503), origin (403), capacity in all and per address
   * (503), `authenticate` (401, an `UpgradeRefused`'s status, or 500). Every
   * refusal is a plain-text response, counted by reason, and leaves nothing
   * reserved. On success one slot is reserved until the session ends or is
   * abandoned. Never rejects.
   */
  async admit(request: Request, info: RequestInfo = {}): Promise<Admission> {
    const life = this.#life;
    const why = notAnUpgrade(request);
    if (why !== undefined) return this.#refuse("not_upgrade", 426, why, { upgrade: "websocket" });
    const bad = badHandshake(request);
    if (bad !== undefined) {
      return this.#refuse("bad_handshake", bad.status, bad.message, { "sec-websocket-version": "13" });
    }
    if (life.shuttingDown) return this.#refuse("shutdown", 503, "server is shutting down");
    let allowed: boolean;
    try {
      allowed = originAllowed(this.#origins, request);
    } catch (error) {
      life.logger.error("origin check failed", errorFields(error));
      return this.#refuse("origin", 500, "origin check failed");
    }
    if (!allowed) {
      const origin = request.headers.get("origin");
      return this.#refuse("origin", 403, `origin ${JSON.stringify(origin)} is not allowed`);
    }
    const settings = this.settings;
    const address = info.remoteAddress;
    if (life.pending.size !== 0 && this.#atCapacity(address)) life.reapPending(life.clock.now());
    if (life.active >= settings.maxConnections) {
      return this.#refuse(
        "capacity",
        503,
        `server is full: ${settings.maxConnections} connections open`,
        { "retry-after": "5" },
      );
    }
    if (address !== undefined && (life.perAddress.get(address) ?? 0) >= settings.maxConnectionsPerAddress) {
      return this.#refuse(
        "capacity_per_address",
        503,
        `too many connections from this address: ${settings.maxConnectionsPerAddress} open`,
        { "retry-after": "5" },
      );
    }
    // Reserve before awaiting `authenticate`, so concurrent upgrades cannot overshoot the caps.
    life.reserve(address);
    let data: T = undefined as T;
    const authenticate = this.#options.authenticate;
    if (authenticate !== undefined) {
      let result: T | undefined | null | false;
      try {
        result = await authenticate.call(this.#options, request, info);
      } catch (error) {
        life.unreserve(address);
        if (error instanceof UpgradeRefused) {
          return this.#refuse(`auth_${error.status}`, error.status, error.message);
        }
        life.logger.error("authenticate failed", errorFields(error));
        return this.#refuse("auth_error", 500, "authentication failed on the server");
      }
      if (!result) {
        life.unreserve(address);
        return this.#refuse("auth_401", 401, "authentication required");
      }
      data = result;
    }
    if (life.shuttingDown) {
      life.unreserve(address);
      return this.#refuse("shutdown", 503, "server is shutting down");
    }
    const session = new ServerConnection<T>(life, data, address);
    life.admitted(session);
    return { ok: true, session };
  }

  #atCapacity(address: string | undefined): boolean {
    const life = this.#life;
    const settings = this.settings;
    return life.active >= settings.maxConnections ||
      (address !== undefined && (life.perAddress.get(address) ?? 0) >= settings.maxConnectionsPerAddress);
  }

  #refuse(reason: string, status: number, message: string, headers?: Record<string, string>): Admission {
    this.#life.stats.countRefusal(reason);
    this.#life.logger.debug("upgrade refused", { reason, status, message });
    return { ok: false, response: refusal(status, message, headers) };
  }

  /**
   * Refuses new upgrades (503), closes every connection with 1001, waits for
   * the close handshakes up to `deadlineMs` (default 5 000), drops the rest
   * and resolves with a report. A second call returns the same promise.
   */
  shutdown(options: { deadlineMs?: number; reason?: string } = {}): Promise<ShutdownReport> {
    if (this.#shutdown !== undefined) return this.#shutdown;
    const deadlineMs = options.deadlineMs ?? DEFAULTS.shutdownDeadlineMs;
    const reason = options.reason ?? "server shutting down";
    this.#life.logger.info("shutting down", { open: this.#life.hub.size, deadlineMs });
    this.#shutdown = this.#life.shutdown(deadlineMs, reason).done.then((report) => {
      this.#life.logger.info("shut down", { ...report });
      return report;
    });
    return this.#shutdown;
  }

  /** Counters as a plain object (a copy). */
  stats(): EndpointStats {
    return this.#life.stats.snapshot();
  }

  /** Counters in Prometheus text format, built on each call. */
  metrics(): string {
    return prometheusText(this.#life.stats.snapshot());
  }
}

/**
 * Creates a WebSocket endpoint from handlers and options. Serve it with an
 * adapter (`denoHandler`, `bunHandlers`, `honoWebSocket`).
 *
 * Defaults: origins `"same-origin"`; maxConnections 10 000;
 * maxConnectionsPerAddress 256; maxMessageBytes 1 MiB (1009);
 * maxBufferedBytes 1 MiB (slow consumer, 1013); rateLimit 200/s with bursts
 * of 400 (1008); invalidJson `"error"` (an `error` envelope; `"close"` →
 * 1003); onHandlerError `"continue"` (`"close"` → 1011); heartbeat: ping
 * after 25 000 ms of silence, close 4000 after 20 000 ms more, sweep every
 * quarter of the smaller window (100–5 000 ms); logger `consoleLogger("info")`;
 * logPayloads false; clock `performance.now`/`setInterval`; shutdown deadline 5 000 ms.
 *
 * @example
 * ```ts
 * import { ClientError, createEndpoint } from "./mod.ts";
 *
 * const endpoint = createEndpoint<{ user: string }>({
 *   authenticate(request) {
 *     const user = new URL(request.url).searchParams.get("user");
 *     return user ? { user } : undefined; // falsy → 401
 *   },
 *   open(conn) {
 *     conn.join("chat");
 *   },
 *   message(conn, msg) {
 *     if (msg.type !== "say") throw new ClientError(`unknown type ${msg.type}`, "unknown_type");
 *     endpoint.hub.broadcastJson({ type: "said", payload: { by: conn.data.user, text: msg.payload } }, {
 *       room: "chat",
 *     });
 *   },
 *   close(conn, info) {
 *     console.log(conn.data.user, "left", info.code);
 *   },
 * });
 * ```
 */
export function createEndpoint<T = unknown>(options: EndpointOptions<T> = {}): Endpoint<T> {
  return new SteadyEndpoint(options);
}

/**
 * The lifecycle behind an endpoint made by {@linkcode createEndpoint}, for
 * the core's own tests and diagnostics (reservations, heartbeat state).
 *
 * @example
 * ```ts
 * import { createEndpoint, lifecycleOf } from "./endpoint.ts";
 * lifecycleOf(createEndpoint({})).active; // 0
 * ```
 */
export function lifecycleOf<T>(endpoint: Endpoint<T>): Lifecycle<T> {
  if (!(endpoint instanceof SteadyEndpoint)) {
    throw new TypeError("expected an endpoint made by createEndpoint");
  }
  return endpoint.lifecycle;
}
