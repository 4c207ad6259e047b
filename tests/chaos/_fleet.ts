/**
 * A fleet of real steadysocket clients with message accounting: every send's
 * result is kept per sequence number, every drop event is kept, and the
 * server side records what arrived, so a run can say what was sent,
 * delivered, reported dropped and silently lost.
 *
 * @module
 */

import { connect, type SteadyClient } from "../../client/mod.ts";
import type { ClientOptions, SendResult } from "../../client/types.ts";
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
  /** A queued message that arrived after one sent later than it: the queue's order broken. */
  outOfOrder: number;
  /**
   * A message that arrived after one sent later than it, where the late one was sent on an open socket:
   * it was in flight on a connection that was dying while the next connection already delivered.
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
    const client = connect(url, options);
    const member: Member = {
      id,
      client,
      results: [],
      dropped: new Set(),
      opens: 0,
      openMarks: [],
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
    const unique = new Set(got);
    a.duplicates += got.length - unique.size;
    let highest = -1;
    for (const s of got) {
      if (s < highest) {
        if (m.results[s] === "queued") a.outOfOrder++;
        else a.reorderedInFlight++;
      }
      highest = Math.max(highest, s);
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
      const k = m.openMarks.findIndex((mark) => mark > s);
      const end = k >= 0 && k + 1 < m.openMarks.length ? m.openMarks[k + 1] : m.results.length;
      let laterArrived = false;
      for (let t = s + 1; t < end && !laterArrived; t++) if (unique.has(t)) laterArrived = true;
      if (k < 0 || laterArrived) a.lostQueued++;
      else a.lostQueuedInFlight++;
    });
  }
  return a;
}

/** Closes every client and waits for their sockets to finish closing. */
export async function closeFleet(members: Member[]): Promise<void> {
  await Promise.all(members.map((m) => m.client.close()));
}
