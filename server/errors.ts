/**
 * The two error classes an application throws to steer the server: one for a
 * rejected message (the connection goes on), one for a refused upgrade.
 *
 * @module
 */

/**
 * A client-facing error. Thrown (or rejected) by a handler, it makes the peer
 * receive an `error` envelope `{"type":"error","payload":{"message","code"?}}`
 * and the connection goes on. Its message is sent to the peer, so it must not
 * carry secrets; it is not logged as a fault.
 *
 * @example
 * ```ts
 * import { ClientError } from "./errors.ts";
 *
 * function requireText(payload: unknown): string {
 *   if (typeof payload !== "string") throw new ClientError("expected a string payload", "bad_payload");
 *   return payload;
 * }
 * ```
 */
export class ClientError extends Error {
  /** A stable, machine-readable reason sent as `payload.code`, or `undefined`. */
  readonly code: string | undefined;

  /**
   * Makes a client-facing error.
   *
   * @param message Sent to the peer as `payload.message`.
   * @param code Sent to the peer as `payload.code` when given.
   */
  constructor(message: string, code?: string) {
    super(message);
    this.name = "ClientError";
    this.code = code;
  }
}

/**
 * Thrown by `authenticate` to refuse an upgrade with a given HTTP status and a
 * plain-text message (for example 403 "account suspended"). Any other throw
 * from `authenticate` answers 500, and a falsy result answers 401.
 *
 * @example
 * ```ts
 * import { UpgradeRefused } from "./errors.ts";
 *
 * function authenticate(request: Request): { user: string } {
 *   const token = new URL(request.url).searchParams.get("token");
 *   if (token === null) throw new UpgradeRefused(401, "expected a token query parameter");
 *   if (token !== "secret") throw new UpgradeRefused(403, "token not accepted");
 *   return { user: "alice" };
 * }
 * ```
 */
export class UpgradeRefused extends Error {
  /** The HTTP status of the refusal (a 4xx or 5xx code). */
  readonly status: number;

  /**
   * Makes a refusal with a status and a message.
   *
   * @param status HTTP status to answer with; anything outside 400–599 is answered as 403.
   * @param message Plain-text body of the refusal.
   */
  constructor(status: number, message: string) {
    super(message);
    this.name = "UpgradeRefused";
    this.status = Number.isInteger(status) && status >= 400 && status <= 599 ? status : 403;
  }
}
