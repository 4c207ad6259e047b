/**
 * The steadysocket client: a reconnecting WebSocket (partysocket underneath)
 * with jittered backoff, the protocol's heartbeat, a watchdog, liveness checks
 * after sleep, network awareness, a close-code policy, typed JSON messages and
 * a bounded offline queue. Runs unchanged in browsers, Deno and Bun.
 *
 * @example
 * ```ts ignore
 * import { connect } from "./mod.ts";
 *
 * const client = connect("ws://localhost:8080/ws");
 * client.addEventListener("state", (e) => console.log(e.detail));
 * client.addEventListener("error", (e) => console.warn("server said:", e.detail.message));
 * client.on("chat", (payload) => console.log(payload));
 * client.send("chat", { text: "hello" });
 * ```
 *
 * @module
 */

export { connect, SteadyClient } from "./client.ts";
export { backoffDelay } from "./backoff.ts";
export type { BackoffOptions } from "./backoff.ts";
export type { Envelope, ErrorPayload } from "../protocol.ts";
export type {
  ClientEnvironment,
  ClientEventMap,
  ClientOptions,
  ClientState,
  DroppedMessage,
  MessageHandler,
  OutgoingData,
  SendResult,
  WebSocketConstructor,
} from "./types.ts";
