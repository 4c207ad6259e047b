/**
 * A fleet of real steadysocket clients with message accounting: every send's
 * result is kept per sequence number, every drop event is kept, and the
 * server side records what arrived, so a run can say what was sent,
 * delivered, reported dropped and silently lost.
 *
 * @module
 */

import { connect, type SteadyClient } from "../../client/mod.ts";
import type { ClientOptions, SendResult, WebSocketConstructor } from "../../client/types.ts";
import process from "node:process";
import type { Connection } from "../../server/types.ts";
import type { Envelope } from "../../protocol.ts";

/** One client of the fleet. */
export interface Member {
  readonly id: number;
  readonly client: SteadyClient;
  /** Result of each numbered send. */
  readonly results: SendResult[];
  /** Sequence numbers reported by a `drop` event. */
  readonly dropped: Set<number>;
  /** How many times the client reached `open`. */
  opens: number;
  /** `results.length` at each `open`: which messages each connection carried. */
  readonly openMarks: number[];
  /** The close code of a final `closed` state, if any. */
  finalCode: number | undefined;
  /** Its reason. */
  finalReason: string | undefined;
  /** With `STEADY_DEBUG`: every socket the client created, with the events it fired. */
  readonly sockets: Array<{ ws: WebSocket; events: string[] }>;
}

/** What the server received, per client id: sequence numbers in arrival order. */
export class Ledger {
  readonly received = new Map<number, number[]>();
  readonly markers = new Map<number, number>();

  /** The message handler part that records `msg` envelopes; returns true if it was one. */
  record(_conn: Connection, message: Envelope): boolean {
    const p = message.payload as { c?: number; s?: number } | undefined;
    if (message.type === "msg" && typeof p?.c === "number" && typeof p?.s === "number") {
      let list = this.received.get(p.c);
      if (!list) this.received.set(p.c, list = []);
      list.push(p.s);
      return true;
    }
    if (message.type === "marker" && typeof p?.c === "number" && typeof p?.s === "number") {
      this.markers.set(p.c, p.s);
      return true;
    }
    return false;
  }
}

/** Totals of a run. */
export interface Accounting {
  sent: number;
  queued: number;
  droppedReported: number;
  delivered: number;
  duplicates: number;
  /** A message that arrived after a later one carried by the same connection: order broken. */
  outOfOrder: number;
  /**
   * A message that arrived after a later one carried by a later connection: it was in flight on a
   * connection that was being replaced (slow, then given up) while the next one already delivered.
   * Order holds per connection only; this counts how often that shows.
   */
  reorderedInFlight: number;
  /**
   * `queued`, never delivered nor reported dropped, although a later message of the connection that
   * carried it (flushed on the next open) did arrive: the queue itself lost it.
   */
  lostQueued: number;
  /** `queued`, flushed on the next open, and lost with that connection before anything after it arrived. */
  lostQueuedInFlight: number;
  /** `sent` on an open socket and never delivered: lost in flight with the connection. */
  lostInFlight: number;
}

/**
 * Starts `count` clients.
 *
 * @example
 * ```ts
 * const fleet = startFleet(10, "ws://127.0.0.1:8080/ws", { maxDelayMs: 1_000 });
 * ```
 */
export function startFleet(count: number, url: string, options: ClientOptions): Member[] {
  const members: Member[] = [];
  for (let id = 0; id < count; id++) {
    const sockets: Member["sockets"] = [];
    const traced = process.env.STEADY_DEBUG ? tracingWebSocket(sockets) : undefined;
    const client = connect(url, traced ? { ...options, WebSocket: traced } : options);
    const member: Member = {
      id,
      client,
      results: [],
      dropped: new Set(),
      opens: 0,
      openMarks: [],
      sockets,
      finalCode: undefined,
      finalReason: undefined,
    };
    client.addEventListener("state", (e) => {
      const s = e.detail;
      if (s.status === "open") {
        member.opens++;
        member.openMarks.push(member.results.length);
      }
      if (s.status === "closed") {
        member.finalCode = s.code;
        member.finalReason = s.reason;
      }
    });
    client.addEventListener("drop", (e) => {
      const data = e.detail.data;
      if (typeof data !== "string") return;
      try {
        const env = JSON.parse(data);
        if (env.type === "msg") member.dropped.add(env.payload.s);
      } catch { /* not ours */ }
    });
    members.push(member);
  }
  return members;
}

/** A WebSocket constructor that records each socket and the events it fires (for diagnosing stuck clients). */
function tracingWebSocket(into: Member["sockets"]): WebSocketConstructor {
  const Base = globalThis.WebSocket;
  return function (url: string, protocols?: string | string[]) {
    const ws = protocols ? new Base(url, protocols) : new Base(url);
    const entry = { ws, events: [] as string[] };
    const t0 = performance.now();
    for (const type of ["open", "close", "error"]) {
      ws.addEventListener(type, (e) => {
        const code = type === "close" ? `:${(e as CloseEvent).code}` : "";
        entry.events.push(`${type}${code}@${Math.round(performance.now() - t0)}`);
      });
    }
    into.push(entry);
    return ws;
  } as unknown as WebSocketConstructor;
}

/** What a stuck member's sockets look like: state and events of the last few. */
export function describeSockets(m: Member): string {
  return m.sockets.slice(-3).map((s) => `rs${s.ws.readyState}[${s.events.join(",")}]`).join(" ");
}

/** Sends the member's next numbered message and keeps the result. */
export function sendNext(m: Member): SendResult {
  const s = m.results.length;
  const r = m.client.send("msg", { c: m.id, s });
  m.results.push(r);
  return r;
}

/** Counts what happened to every numbered message. */
export function account(members: Member[], ledger: Ledger): Accounting {
  const a: Accounting = {
    sent: 0,
    queued: 0,
    droppedReported: 0,
    delivered: 0,
    duplicates: 0,
    outOfOrder: 0,
    reorderedInFlight: 0,
    lostQueued: 0,
    lostQueuedInFlight: 0,
    lostInFlight: 0,
  };
  for (const m of members) {
    const got = ledger.received.get(m.id) ?? [];
    // Which connection carried each message: a queued one goes out on the first open after it,
    // a sent one on the connection open when it was sent. Order is promised per connection.
    const carrier = (seq: number) => {
      if (m.results[seq] === "queued") {
        const k = m.openMarks.findIndex((mark) => mark > seq);
        return k < 0 ? m.openMarks.length : k;
      }
      let k = -1;
      while (k + 1 < m.openMarks.length && m.openMarks[k + 1] <= seq) k++;
      return k;
    };
    const unique = new Set(got);
    a.duplicates += got.length - unique.size;
    const highestOn = new Map<number, number>();
    let highest = -1;
    for (const seq of got) {
      const k = carrier(seq);
      if (seq < (highestOn.get(k) ?? -1)) {
        a.outOfOrder++;
        if (process.env.STEADY_DEBUG && a.outOfOrder <= 2) {
          console.log(`out of order on one connection: client ${m.id} seq ${seq} after ${highestOn.get(k)}`);
        }
      } else if (seq < highest) {
        a.reorderedInFlight++;
      }
      highestOn.set(k, Math.max(highestOn.get(k) ?? -1, seq));
      highest = Math.max(highest, seq);
    }
    a.delivered += unique.size;
    m.results.forEach((r, s) => {
      if (r === "sent") a.sent++;
      else if (r === "queued") a.queued++;
      else a.droppedReported++;
      if (unique.has(s) || m.dropped.has(s) || r === "dropped") return;
      if (r !== "queued") {
        a.lostInFlight++;
        return;
      }
      // The connection that carried it: the first open after it was queued; it carried the rest of the
      // queue and everything sent until the next open.
      const k = carrier(s);
      const end = k + 1 < m.openMarks.length ? m.openMarks[k + 1] : m.results.length;
      let laterArrived = false;
      for (let t = s + 1; t < end && !laterArrived; t++) {
        if (unique.has(t) && carrier(t) === k) laterArrived = true;
      }
      if (k >= m.openMarks.length || laterArrived) {
        a.lostQueued++;
        if (process.env.STEADY_DEBUG && a.lostQueued <= 2) {
          const i = got.findIndex((x) => x > s);
          console.log(
            `queued lost: client ${m.id} seq ${s}; carrier open #${k}, marks ${m.openMarks.join(",")}; ` +
              `results ${
                m.results.slice(Math.max(0, s - 5), s + 8).map((r, j) => `${Math.max(0, s - 5) + j}${r[0]}`)
                  .join(" ")
              }; ` +
              `arrivals ${got.slice(Math.max(0, i - 6), i + 6).join(" ")}; dropped ${
                [...m.dropped].slice(0, 10)
              }; ` +
              `sockets ${describeSockets(m)}`,
          );
        }
      } else a.lostQueuedInFlight++;
    });
  }
  return a;
}

/** Closes every client and waits for their sockets to finish closing. */
export async function closeFleet(members: Member[]): Promise<void> {
  await Promise.all(members.map((m) => m.client.close()));
}
