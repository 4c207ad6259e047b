/**
 * Bun's topics (`subscribe`, `publish`) as the hub's native fan-out.
 *
 * What was measured on Bun 1.4.5 and is relied on here:
 * - `server.publish(topic, data)` writes to every subscriber;
 *   `ws.publish(topic, data)` to every subscriber but `ws`.
 * - `subscribe`/`unsubscribe` on a closed socket return false and do not
 *   throw; Bun unsubscribes a socket when it closes.
 * - Bun checks its `backpressureLimit` per subscriber before writing each
 *   frame (a frame is written while the subscriber's buffered bytes are at
 *   or under the limit, dropped silently above it).
 * - A message under 16 KiB is not written at once: it is queued per
 *   subscriber and written at the end of the event loop's iteration (a
 *   `setTimeout(0)` callback sees it written; a `setImmediate` one sometimes
 *   does not), or before a direct `send` to that subscriber, which keeps
 *   the order. `getBufferedAmount()` does not include that queue. Larger
 *   messages are written at once.
 * - `Buffer.byteLength(text, "utf8")` is native: about 50 ns for 1 KiB,
 *   against 1.8 µs for a JavaScript loop over the code units.
 * - `getBufferedAmount()` costs about 8 ns a call over 1 000 sockets, and
 *   reading Bun's `readyState` about 5 ns, against about 110 ns per frame
 *   for the publish. So the check before a publish reads the `readyState`
 *   the socket wrapper keeps (see `_bun_socket.ts`), and the buffered
 *   amount only once the target's budget of bytes is spent: about 3.5 ns
 *   per target, where reading both from Bun made it 7–9.
 *
 * So the hub's check of a subscriber's buffered bytes can miss what was
 * published to it since the last write-out. `admit` bounds that: at most
 * `budget` bytes are published between two timer turns, and the adapter sets
 * `backpressureLimit` to the endpoint's bound plus `budget`; a subscriber
 * found at or under the bound then has room for everything queued for it,
 * and Bun drops no frame the hub counted as delivered. Past the budget, the
 * broadcast takes the send loop, whose every `send` reports its result.
 *
 * @module
 */

import type { NativeFanout } from "../hub.ts";
import { utf8Length } from "../limits.ts";
import type { SocketLike } from "../types.ts";
import type { BunServerWebSocket } from "./_bun_socket.ts";

/** The part of Bun's `Server` the fan-out uses. */
export interface BunPublisher {
  /** Writes to every subscriber of the topic. */
  publish(topic: string, data: string | ArrayBuffer | Uint8Array<ArrayBuffer>, compress?: boolean): number;
}

/** Longest WebSocket frame header from a server (no mask): counted with each message. */
const FRAME_HEADER = 10;

/**
 * Texts up to this many code units are counted at their bound: at most 768
 * bytes each, so a turn still admits over 1 300 of them within a 1 MiB budget.
 */
const SHORT_TEXT = 256;

/**
 * A text's UTF-8 length: Bun's native `Buffer.byteLength` (about 50 ns for a
 * 1 KiB message where the JavaScript loop takes 1.8 µs, which made the check
 * cost more than the publish it guards), or the loop where it is missing.
 */
const textBytes: (text: string) => number = (() => {
  const buffer = (globalThis as { Buffer?: { byteLength?(text: string, encoding: "utf8"): number } }).Buffer;
  const native = buffer?.byteLength;
  return typeof native === "function" ? (text) => native.call(buffer, text, "utf8") : utf8Length;
})();

function rawOf(socket: SocketLike): BunServerWebSocket | undefined {
  const raw = (socket as { raw?: BunServerWebSocket }).raw;
  return raw !== undefined && typeof raw.subscribe === "function" ? raw : undefined;
}

/**
 * A {@linkcode NativeFanout} over a Bun server, publishing at most `budget`
 * bytes (frames included) per timer turn.
 */
export function bunFanout(server: BunPublisher, budget: number): NativeFanout {
  let queued = 0;
  let armed = false;
  const reset = () => {
    armed = false;
    queued = 0;
  };
  return {
    owns(socket) {
      return rawOf(socket) !== undefined;
    },
    subscribe(socket, topic) {
      const raw = rawOf(socket);
      if (raw === undefined) return false;
      try {
        raw.subscribe!(topic);
        return true;
      } catch {
        return false;
      }
    },
    unsubscribe(socket, topic) {
      try {
        rawOf(socket)?.unsubscribe?.(topic);
      } catch {
        // closed: Bun has unsubscribed it already
      }
    },
    admit(message) {
      let payload: number;
      if (typeof message !== "string") payload = message.byteLength;
      else {
        // A short text is counted at its bound (3 bytes per code unit): no
        // call at all, where Buffer.byteLength was a third of the check's
        // cost for a 20-byte broadcast. It can only make the budget stricter;
        // counted exactly is what would not fit at the bound.
        payload = message.length * 3;
        if (message.length > SHORT_TEXT || queued + FRAME_HEADER + payload > budget) {
          payload = textBytes(message);
        }
      }
      const size = FRAME_HEADER + payload;
      if (queued + size > budget) return -1;
      queued += size;
      if (!armed) {
        armed = true;
        setTimeout(reset, 0);
      }
      return payload;
    },
    publish(topic, message, from) {
      const data = message as string | ArrayBuffer | Uint8Array<ArrayBuffer>;
      const raw = from === undefined ? undefined : rawOf(from);
      if (raw !== undefined) raw.publish!(topic, data);
      else server.publish(topic, data);
    },
  };
}
