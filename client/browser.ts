/**
 * The browser bundle's entry: `connect` and the client, plus the protocol's
 * close codes. Built into `dist/steadysocket.js` (ESM) and
 * `dist/steadysocket.global.js` (global `steadysocket`) by `deno task bundle`.
 *
 * @example
 * ```html
 * <script src="/dist/steadysocket.global.js"></script>
 * <script>
 *   const client = steadysocket.connect("/ws");
 *   client.addEventListener("state", (e) => console.log(e.detail.status));
 * </script>
 * ```
 *
 * @module
 */

export { connect, SteadyClient } from "./client.ts";
export { CloseCode } from "../protocol.ts";
