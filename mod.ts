/**
 * steadysocket: WebSockets where disconnects are routine, on Deno and Bun.
 *
 * This entry re-exports the wire protocol; the server, the client and each
 * adapter have entries of their own.
 *
 * @example
 * ```ts
 * import { CloseCode, shouldReconnect } from "./mod.ts";
 * shouldReconnect(CloseCode.GoingAway); // true
 * ```
 *
 * @module
 */
export * from "./protocol.ts";
