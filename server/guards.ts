/**
 * Checks made on the upgrade request, before anything is registered: is it a
 * WebSocket upgrade, and is its `Origin` allowed.
 *
 * @module
 */

import type { OriginPolicy } from "./types.ts";

/**
 * Whether a comma-separated header value holds `token` (given in lower
 * case), compared case-insensitively. The usual value, the token alone, is
 * recognised without splitting: this runs for every upgrade request.
 *
 * @example
 * ```ts
 * import { hasToken } from "./guards.ts";
 * hasToken("keep-alive, Upgrade", "upgrade"); // true
 * hasToken("WebSocket", "websocket"); // true
 * ```
 */
export function hasToken(header: string | null, token: string): boolean {
  if (header === null) return false;
  if (header.length === token.length) return header === token || header.toLowerCase() === token;
  for (const part of header.split(",")) {
    if (part.trim().toLowerCase() === token) return true;
  }
  return false;
}

/**
 * Why a request is not a WebSocket upgrade, or `undefined` when it is one. The
 * `Upgrade` and `Connection` headers are compared case-insensitively, and
 * `Connection` may be a token list (`keep-alive, Upgrade`).
 *
 * @example
 * ```ts
 * import { notAnUpgrade } from "./guards.ts";
 * const req = new Request("http://localhost/ws", {
 *   headers: { upgrade: "WebSocket", connection: "keep-alive, Upgrade" },
 * });
 * notAnUpgrade(req); // undefined
 * ```
 */
export function notAnUpgrade(request: Request): string | undefined {
  if (request.method !== "GET") {
    return `expected a GET WebSocket upgrade request, got ${request.method}`;
  }
  const upgrade = request.headers.get("upgrade");
  if (!hasToken(upgrade, "websocket")) {
    return `expected header "Upgrade: websocket", got ${upgrade === null ? "none" : JSON.stringify(upgrade)}`;
  }
  const connection = request.headers.get("connection");
  if (!hasToken(connection, "upgrade")) {
    return `expected header "Connection: Upgrade", got ${
      connection === null ? "none" : JSON.stringify(connection)
    }`;
  }
  return undefined;
}

const KEY = /^[A-Za-z0-9+/]{22}==$/;

/**
 * What is wrong with an upgrade request's WebSocket handshake headers, or
 * `undefined` when they are right: `Sec-WebSocket-Version` must be 13 and
 * `Sec-WebSocket-Key` the base64 form of 16 bytes (RFC 6455, 4.2.1). Deno
 * upgrades requests with a wrong or missing version and an empty key, so the
 * endpoint checks them itself and answers with a status instead.
 *
 * @example
 * ```ts
 * import { badHandshake } from "./guards.ts";
 * const req = new Request("http://localhost/ws", {
 *   headers: { "sec-websocket-version": "8", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==" },
 * });
 * badHandshake(req); // { status: 426, message: "expected Sec-WebSocket-Version 13, got \"8\"" }
 * ```
 */
export function badHandshake(request: Request): { status: number; message: string } | undefined {
  const version = request.headers.get("sec-websocket-version");
  if (version === null) {
    return { status: 400, message: "expected header Sec-WebSocket-Version: 13, got none" };
  }
  // 426 with the versions we speak is RFC 6455's answer to a version it does not understand.
  if (version.trim() !== "13") {
    return { status: 426, message: `expected Sec-WebSocket-Version 13, got ${JSON.stringify(version)}` };
  }
  const key = request.headers.get("sec-websocket-key");
  if (key === null || !KEY.test(key.trim())) {
    return {
      status: 400,
      message: `expected Sec-WebSocket-Key to be 16 bytes in base64, got ${
        key === null ? "none" : JSON.stringify(key.slice(0, 64))
      }`,
    };
  }
  return undefined;
}

function normalizeOrigin(text: string): string | undefined {
  try {
    const origin = new URL(text).origin;
    return origin === "null" ? undefined : origin;
  } catch {
    return undefined;
  }
}

/**
 * The origin a same-origin page would send for this request: the request's
 * scheme (`ws:`/`http:` → `http:`, `wss:`/`https:` → `https:`) and its `Host`
 * header (or, without one, the URL's host).
 *
 * @example
 * ```ts
 * import { ownOrigin } from "./guards.ts";
 * ownOrigin(new Request("http://example.com:8000/ws")); // "http://example.com:8000"
 * ```
 */
export function ownOrigin(request: Request): string | undefined {
  let url: URL;
  try {
    url = new URL(request.url);
  } catch {
    return undefined;
  }
  const scheme = url.protocol === "https:" || url.protocol === "wss:" ? "https:" : "http:";
  const host = request.headers.get("host") ?? url.host;
  return normalizeOrigin(`${scheme}//${host}`);
}

/**
 * Whether the request's `Origin` passes the policy.
 *
 * - `"same-origin"` (the default): no `Origin` header (a non-browser client),
 *   or one equal to {@linkcode ownOrigin}. Behind a proxy that terminates TLS
 *   the scheme differs: use an allow-list there.
 * - `"any"`: every request.
 * - a list: no `Origin` header, or one of the listed origins (compared after
 *   URL normalization: case and default ports).
 * - a function: its answer, given the header (`null` when absent).
 *
 * The opaque origin `"null"` (sandboxed frames, `file:` pages) is refused by
 * `"same-origin"` and by lists. A function that throws lets the error through.
 *
 * @example
 * ```ts
 * import { originAllowed } from "./guards.ts";
 * const req = new Request("http://localhost:8000/ws", { headers: { origin: "http://localhost:8000" } });
 * originAllowed("same-origin", req); // true
 * originAllowed(["https://example.com"], req); // false
 * ```
 */
export function originAllowed(policy: OriginPolicy, request: Request): boolean {
  const origin = request.headers.get("origin");
  if (policy === "any") return true;
  if (typeof policy === "function") return policy(origin, request) === true;
  if (origin === null) return true;
  const normalized = normalizeOrigin(origin);
  if (normalized === undefined) return false;
  if (policy === "same-origin") return normalized === ownOrigin(request);
  for (const allowed of policy) {
    if (normalizeOrigin(allowed) === normalized) return true;
  }
  return false;
}

/**
 * A plain-text refusal of an upgrade request.
 *
 * @example
 * ```ts
 * import { refusal } from "./guards.ts";
 * const res = refusal(503, "server is shutting down");
 * res.status; // 503
 * ```
 */
export function refusal(status: number, message: string, headers?: Record<string, string>): Response {
  return new Response(message + "\n", {
    status,
    headers: { "content-type": "text/plain; charset=utf-8", ...headers },
  });
}
