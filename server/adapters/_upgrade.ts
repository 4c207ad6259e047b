/**
 * Request-side helpers shared by the adapters: recognising an upgrade request
 * and choosing the subprotocol to answer with.
 *
 * @module
 */

import { hasToken } from "../guards.ts";

/**
 * Whether the request asks for a WebSocket upgrade, to route it away from the
 * fallback. The `Upgrade` header is a token list compared case-insensitively
 * (`Upgrade: WebSocket` is as legal as `websocket`); the endpoint's guards
 * judge the rest.
 */
export function isUpgradeRequest(request: Request): boolean {
  return hasToken(request.headers.get("upgrade"), "websocket");
}

/**
 * The subprotocol to answer with: the first one the client offers that the
 * server declared it speaks, or `undefined`. Nothing is ever echoed blindly:
 * clients sometimes pass a token as a subprotocol, and reflecting it would
 * put the credential into a response header.
 */
export function chooseProtocol(
  request: Request,
  supported: readonly string[] | undefined,
): string | undefined {
  if (supported === undefined || supported.length === 0) return undefined;
  const offered = request.headers.get("sec-websocket-protocol");
  if (offered === null) return undefined;
  for (const candidate of offered.split(",")) {
    const name = candidate.trim();
    if (name !== "" && supported.includes(name)) return name;
  }
  return undefined;
}

/** The plain-text answer when the runtime refused an upgrade the guards had admitted. */
export function upgradeFailed(detail: string): Response {
  return new Response(`expected a valid WebSocket upgrade request: ${detail}\n`, {
    status: 400,
    headers: { "content-type": "text/plain; charset=utf-8" },
  });
}

/** A close code as reported by a runtime, made valid: some report 0 for a connection lost without a Close frame. */
export function closeCode(code: number | undefined): number {
  return typeof code === "number" && code >= 1000 && code <= 4999 ? code : 1006;
}
