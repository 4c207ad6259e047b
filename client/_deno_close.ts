/**
 * A guard for Deno's `WebSocket` client against a close during the handshake.
 *
 * When `close()` is called while Deno's socket is still `CONNECTING` but the
 * runtime has already finished the handshake (its callback has not run yet),
 * Deno writes the Close frame through a promise nobody handles; if the peer
 * has reset the connection meanwhile, that promise rejects with
 * "Connection reset by peer (os error 104)" as an unhandled rejection, which
 * ends a Deno process. A connect timeout racing a slow handshake does exactly
 * this (measured: about 1 in 200 such races against a server that resets).
 *
 * So on Deno a close during the handshake is held: once the socket opens it
 * is closed normally (a Close frame the server sees, through Deno's handled
 * path); if it neither opens nor fails within `graceMs`, the handshake is
 * cancelled then.
 *
 * @module
 */

const CONNECTING = 0;

/**
 * Whether `WS` is Deno's own `WebSocket`, the one that needs the guard.
 *
 * @example
 * ```ts
 * import { isDenoWebSocket } from "./_deno_close.ts";
 * console.log(isDenoWebSocket(globalThis.WebSocket)); // true on Deno
 * ```
 */
export function isDenoWebSocket(WS: unknown): boolean {
  // deno-lint-ignore no-explicit-any
  const g = globalThis as any;
  return g.Deno !== undefined && typeof g.Deno.version?.deno === "string" && WS === g.WebSocket;
}

/**
 * Makes `ws.close()` during the handshake wait for the handshake to end (see
 * the module's note). Other calls go straight through.
 *
 * @example
 * ```ts ignore
 * import { holdCloseWhileConnecting } from "./_deno_close.ts";
 * const ws = new WebSocket("ws://127.0.0.1:8080/ws");
 * holdCloseWhileConnecting(ws, 4_000);
 * ws.close(); // sent once the socket opens, or the handshake is cancelled after 4 s
 * ```
 */
export function holdCloseWhileConnecting(ws: WebSocket, graceMs: number): void {
  const close = ws.close;
  let held = false;
  ws.close = function (code?: number, reason?: string): void {
    if (ws.readyState !== CONNECTING) return close.call(ws, code, reason);
    if (held) return;
    // Refuse what the runtime would refuse, now rather than later in a listener.
    if (code !== undefined && code !== 1000 && !(code >= 3000 && code <= 4999)) {
      throw new DOMException(`expected close code 1000 or 3000-4999, got ${code}`, "InvalidAccessError");
    }
    if (reason !== undefined && new TextEncoder().encode(reason).length > 123) {
      throw new DOMException("expected a close reason of at most 123 bytes", "SyntaxError");
    }
    held = true;
    const done = () => {
      clearTimeout(timer);
      ws.removeEventListener("open", opened);
      ws.removeEventListener("close", done);
    };
    const finish = () => {
      done();
      close.call(ws, code, reason);
    };
    const opened = () => finish();
    const timer = setTimeout(() => {
      if (ws.readyState === CONNECTING) finish();
      else done();
    }, graceMs);
    ws.addEventListener("open", opened);
    ws.addEventListener("close", done);
  };
}
