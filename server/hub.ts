/**
 * The connection registry: membership, rooms and fan-out.
 *
 * @module
 */

import type { BroadcastResult, Connection, Hub, SocketLike } from "./types.ts";
import { type ServerConnection, State, Write } from "./connection.ts";
import { MemberList, type Places } from "./_member_list.ts";

/**
 * Whom a broadcast skips: one connection, or any iterable of them.
 *
 * @example
 * ```ts
 * import type { Except } from "./hub.ts";
 * import type { Connection } from "./types.ts";
 * const skip = (sender: Connection, others: Connection[]): Except<unknown> => [sender, ...others];
 * ```
 */
export type Except<T> = Connection<T> | Iterable<Connection<T>>;

/**
 * A runtime's native fan-out (Bun's topics), installed by its adapter. The
 * hub keeps its own membership and vouches for every target of a publish
 * (checked, or covered by what it reserved at its last check); the runtime
 * only writes the frames.
 *
 * Install one only where a socket it owns reports leaving the open state
 * through the endpoint in the same turn (Bun's adapter marks its socket
 * wrapper closed and reports in the close handler): between checks, the
 * hub takes a member still in its list to be open.
 *
 * @example
 * ```ts
 * import type { NativeFanout } from "./hub.ts";
 * // Publishes nothing: every broadcast takes the send loop.
 * const never: NativeFanout = {
 *   owns: () => false,
 *   subscribe: () => false,
 *   unsubscribe() {},
 *   admit: () => -1,
 *   publish() {},
 * };
 * ```
 */
export interface NativeFanout {
  /** Whether the socket is the runtime's own, one this fan-out can subscribe. */
  owns(socket: SocketLike): boolean;
  /** Subscribes the socket to a topic; `false` if it cannot (not the runtime's socket). */
  subscribe(socket: SocketLike, topic: string): boolean;
  /** Unsubscribes; never throws (the socket may be closed already). */
  unsubscribe(socket: SocketLike, topic: string): void;
  /**
   * Whether a publish of this message can be exact now (its size and what
   * was published since the runtime last wrote its queues), reserving it if
   * so: the payload's bytes as each target's budget counts them (its UTF-8
   * length, or for a short text an upper bound of it), or -1 when it cannot.
   * A broadcast of a long text is then counted at what it writes, not at
   * 3 bytes per code unit, so the share a check reserves covers three times
   * as many broadcasts of it.
   */
  admit(message: string | Uint8Array | ArrayBuffer): number;
  /** Publishes to every subscriber of the topic, except `from` when given (publishing from that socket). */
  publish(topic: string, message: string | Uint8Array | ArrayBuffer, from?: SocketLike): void;
}

/**
 * The topic of a broadcast to everyone; room topics start with "#", so none
 * can collide. A topic costs the runtime memory per socket (Bun: about
 * 260 B for a socket's first topic, 100 B for each further one), so
 * connections are subscribed to one only once it is published to: to this
 * one from the first broadcast to everyone on, to a room's from the first
 * broadcast to that room the fan-out serves (one with at least two members
 * to reach). A room used for membership or one-member sends, such as a
 * room per user, costs no topic.
 */
const EVERYONE = "*";

/** Where a connection sits in the hub's list of everyone. */
const EVERYONE_PLACES: Places<ServerConnection<never>> = {
  get: (conn) => conn.slot,
  set: (conn, place) => {
    conn.slot = place;
  },
};

/**
 * Where a connection sits in one room's member list: `roomSlot` while the
 * room is its only one, else its entry in `joined`. The hub records the room
 * in `joined` before adding and takes it out after removing.
 */
function roomPlaces<T>(room: string): Places<ServerConnection<T>> {
  return {
    get(conn) {
      const joined = conn.joined;
      if (typeof joined === "string") return joined === room ? conn.roomSlot : -1;
      return joined?.get(room) ?? -1;
    },
    set(conn, place) {
      const joined = conn.joined;
      if (typeof joined === "string") conn.roomSlot = place;
      else joined?.set(room, place);
    },
  };
}

/**
 * The hub of one endpoint. The endpoint adds a connection when it opens and
 * removes it (from every room too) during cleanup; applications read it and
 * broadcast through it.
 *
 * Broadcasts iterate an array snapshot that is cached until the membership
 * changes, so a fan-out allocates nothing per call unless `except` is a list.
 * Where an adapter installed a {@linkcode NativeFanout} (Bun), a broadcast
 * checks every target, then writes with one native publish; the check also
 * reserves room on each, so the broadcasts after it publish at once.
 *
 * @example
 * ```ts
 * import { createEndpoint } from "./endpoint.ts";
 *
 * const endpoint = createEndpoint({
 *   open(conn) {
 *     conn.join("lobby");
 *   },
 *   message(conn, msg) {
 *     const { delivered, dropped } = endpoint.hub.broadcastJson(msg, { room: "lobby", except: conn });
 *     if (dropped > 0) console.log(`${dropped} peers were gone or slow; delivered to ${delivered}`);
 *   },
 * });
 * ```
 */
export class ConnectionHub<T = unknown> implements Hub<T> {
  #all = new MemberList<ServerConnection<T>>(EVERYONE_PLACES);
  #rooms = new Map<string, MemberList<ServerConnection<T>>>();
  /** The runtime's fan-out, once an adapter installed it. */
  fanout: NativeFanout | undefined = undefined;
  /**
   * Set for good once a native fan-out was installed: its adapter raised the
   * runtime's own send limit above the bound, so every send checks the
   * buffered bytes itself.
   */
  checkBuffered = false;
  /** Open connections the fan-out could not subscribe: while any, every broadcast takes the loop. */
  #unsubscribed = 0;

  /**
   * Installs a native fan-out (adapters do, before any connection opens).
   * Connections already open stay outside it, so broadcasts keep the loop
   * until they are gone.
   */
  useNativeFanout(fanout: NativeFanout): void {
    if (this.fanout !== undefined) return;
    this.fanout = fanout;
    this.checkBuffered = true;
    this.#unsubscribed += this.#all.size;
  }

  /** Stops using the native fan-out for good (e.g. one endpoint served by two runtime servers). */
  dropNativeFanout(): void {
    this.fanout = undefined;
    this.#unsubscribed = 0;
  }

  /** Open connections. */
  get size(): number {
    return this.#all.size;
  }

  /** Registers an open connection (the endpoint calls this). */
  add(conn: ServerConnection<T>): void {
    if (!this.#all.add(conn)) return;
    const fanout = this.fanout;
    if (fanout === undefined) return;
    const socket = conn.socket;
    if (
      socket !== undefined &&
      (this.#all.topic !== undefined ? fanout.subscribe(socket, EVERYONE) : fanout.owns(socket))
    ) {
      conn.subscribed = true;
    } else this.#unsubscribed++;
  }

  /** Unregisters a connection and takes it out of every room; idempotent. */
  remove(conn: ServerConnection<T>): void {
    if (this.#all.delete(conn)) {
      if (this.fanout !== undefined) {
        if (conn.subscribed) {
          if (this.#all.topic !== undefined) this.fanout.unsubscribe(conn.socket!, EVERYONE);
        } else if (this.#unsubscribed > 0) this.#unsubscribed--;
      }
    }
    const joined = conn.joined;
    if (joined === undefined) return;
    if (typeof joined === "string") this.leave(conn, joined);
    else for (const name of [...joined.keys()]) this.leave(conn, name);
  }

  /** Whether the connection is registered. */
  has(conn: Connection<T>): boolean {
    return this.#all.has(conn as ServerConnection<T>);
  }

  /** The cached snapshot of open connections; callers must not modify it. */
  list(): readonly ServerConnection<T>[] {
    return this.#all.snapshot();
  }

  /** A snapshot of the open connections. */
  connections(): Connection<T>[] {
    return [...this.#all.snapshot()];
  }

  /** Members of a room (snapshot); empty for an unknown room. */
  members(room: string): Connection<T>[] {
    const members = this.#rooms.get(room);
    return members === undefined ? [] : [...members.snapshot()];
  }

  /** Names of non-empty rooms. */
  rooms(): string[] {
    return [...this.#rooms.keys()];
  }

  /** Puts an open connection in a room; ignored for a connection that is not open. */
  join(conn: ServerConnection<T>, room: string): void {
    if (conn.state !== State.Open || !this.#all.has(conn)) return;
    // One room is kept as its name: a Map (or Set) per connection costs about
    // 250 B of heap on Bun, and most connections are in one room.
    const joined = conn.joined;
    if (joined === undefined) conn.joined = room;
    else if (typeof joined === "string") {
      if (joined === room) return;
      conn.joined = new Map([[joined, conn.roomSlot], [room, -1]]);
    } else {
      if (joined.has(room)) return;
      joined.set(room, -1);
    }
    let members = this.#rooms.get(room);
    if (members === undefined) {
      members = new MemberList(roomPlaces<T>(room));
      this.#rooms.set(room, members);
    }
    members.add(conn);
    const topic = members.topic;
    if (topic !== undefined && conn.subscribed && this.fanout !== undefined) {
      this.fanout.subscribe(conn.socket!, topic);
    }
  }

  /** Takes a connection out of a room; idempotent. */
  leave(conn: ServerConnection<T>, room: string): void {
    const members = this.#rooms.get(room);
    // Out of the list first: it reads the place from `joined`.
    if (members === undefined || !members.delete(conn)) return;
    const joined = conn.joined!;
    if (typeof joined === "string") {
      conn.joined = undefined;
      conn.roomSlot = -1;
    } else {
      joined.delete(room);
      if (joined.size === 0) conn.joined = undefined;
    }
    const topic = members.topic;
    if (topic !== undefined && conn.subscribed && this.fanout !== undefined) {
      this.fanout.unsubscribe(conn.socket!, topic);
    }
    // An emptied room goes, with its topic: a room joined again starts without one.
    if (members.size === 0) this.#rooms.delete(room);
  }

  /**
   * Sends to everyone, or to a room, except some. Each send is isolated (a
   * failing peer cannot stop the loop); peers found closed, slow or failing
   * are not written to and are closed and removed after the loop (slow ones
   * with 1013).
   */
  broadcast(
    message: string | Uint8Array | ArrayBuffer,
    options?: { room?: string; except?: Except<T> },
  ): BroadcastResult {
    const room = options?.room;
    const members = room === undefined ? this.#all : this.#rooms.get(room);
    if (members === undefined) return { delivered: 0, dropped: 0 };
    const list = members.snapshot();
    let skipOne: unknown = undefined;
    let skipMany: Set<unknown> | undefined = undefined;
    const except = options?.except;
    if (except !== undefined) {
      if (typeof (except as Connection<T>).send === "function") skipOne = except;
      else skipMany = new Set(except as Iterable<Connection<T>>);
    }
    const fanout = this.fanout;
    if (fanout !== undefined && skipMany === undefined && this.#unsubscribed === 0 && list.length > 1) {
      const topic = members.topic ??
        this.#subscribe(fanout, members, room === undefined ? EVERYONE : "#" + room);
      // Only with a topic: admitting reserves the message in the turn's allowance.
      if (topic !== undefined) {
        const bytes = fanout.admit(message);
        if (bytes >= 0) {
          return this.#publish(
            fanout,
            message,
            bytes,
            topic,
            members,
            list,
            skipOne as ServerConnection<T> | undefined,
          );
        }
      }
    }
    let delivered = 0;
    let dropped = 0;
    // Pairs of (connection, outcome), filled only when something failed.
    let failed: (ServerConnection<T> | number)[] | undefined = undefined;
    for (let i = 0; i < list.length; i++) {
      const conn = list[i];
      if (conn === skipOne || (skipMany !== undefined && skipMany.has(conn))) continue;
      const outcome = conn.write(message);
      if (outcome === Write.Delivered) {
        delivered++;
      } else {
        dropped++;
        (failed ??= []).push(conn, outcome);
      }
    }
    if (failed !== undefined) settleFailures(failed);
    return { delivered, dropped };
  }

  /**
   * Subscribes the members of a list (everyone, or a room) in the fan-out to
   * its topic, once per list: the topic is recorded even when the runtime
   * refuses a member, which then leaves the fan-out (the loop serves
   * broadcasts while it is open). The topic, or `undefined` after a refusal.
   * The string is kept, where a fresh `"#" + room` per publish would be a
   * new string for Bun to flatten every time.
   */
  #subscribe(
    fanout: NativeFanout,
    members: MemberList<ServerConnection<T>>,
    topic: string,
  ): string | undefined {
    members.topic = topic;
    let all = true;
    for (const conn of members.snapshot()) {
      if (!conn.subscribed) continue;
      if (fanout.subscribe(conn.socket!, topic)) continue;
      conn.subscribed = false;
      this.#unsubscribed++;
      all = false;
    }
    return all ? topic : undefined;
  }

  /**
   * The broadcast through the runtime's fan-out, with the loop's guarantees:
   * each target is checked first (not open: evicted; buffered bytes above
   * the bound: closed with 1013, and both unsubscribed before the publish, so
   * they are not written to), then one publish writes to the rest. The
   * adapter sets the runtime's own limit above the bound by what
   * `admit` lets through, so the runtime drops no frame of a checked
   * target and `delivered` is exact.
   *
   * A check that finds every member fine also reserves a share of each
   * one's budget for the list (`MemberList.unchecked`); until that share is
   * spent or someone joins, a broadcast publishes at once, checking no
   * target: each is still open (a member that closes leaves the list in the
   * same turn, see `NativeFanout`) and still has room for what the share
   * allows. That leaves one loop over a room's members per share (hundreds
   * of small broadcasts) instead of one per broadcast.
   */
  #publish(
    fanout: NativeFanout,
    message: string | Uint8Array | ArrayBuffer,
    bytes: number,
    topic: string,
    members: MemberList<ServerConnection<T>>,
    list: readonly ServerConnection<T>[],
    skip: ServerConnection<T> | undefined,
  ): BroadcastResult {
    if (members.unchecked >= bytes) {
      members.unchecked -= bytes;
      let delivered = list.length;
      let from: SocketLike | undefined = undefined;
      if (skip !== undefined && members.has(skip)) {
        delivered--;
        from = skip.socket;
      }
      fanout.publish(topic, message, from);
      list[0].countDelivered(delivered);
      return { delivered, dropped: 0 };
    }
    let delivered = 0;
    let dropped = 0;
    let failed: (ServerConnection<T> | number)[] | undefined = undefined;
    let from: SocketLike | undefined = undefined;
    // What every member reserved so far, until one cannot.
    let reserved = Infinity;
    for (let i = 0; i < list.length; i++) {
      const conn = list[i];
      if (conn === skip) {
        if (conn.state === State.Open && conn.socket?.readyState === 1) from = conn.socket;
        // Not written to now, but the next broadcast may not skip it.
        if (reserved !== 0) reserved = Math.min(reserved, conn.reserve());
        continue;
      }
      const outcome = conn.check(bytes);
      if (outcome === Write.Delivered) {
        delivered++;
        if (reserved !== 0) reserved = Math.min(reserved, conn.reserve());
      } else {
        dropped++;
        (failed ??= []).push(conn, outcome);
      }
    }
    // The failing peers are closed and removed (which unsubscribes them) before the publish.
    if (failed !== undefined) settleFailures(failed);
    else members.unchecked = reserved;
    if (delivered !== 0) {
      // A skipped connection that is not open cannot publish for us, and is
      // no longer subscribed (the runtime unsubscribes closed sockets).
      fanout.publish(topic, message, from);
      list[0].countDelivered(delivered);
    }
    return { delivered, dropped };
  }

  /**
   * Makes the next broadcast to each list check every target again: for a
   * change that leaves members in their lists while they stop being open
   * (shutdown marks everyone closing).
   */
  checkEveryTarget(): void {
    this.#all.unchecked = 0;
    for (const members of this.#rooms.values()) members.unchecked = 0;
  }

  /** `broadcast(JSON.stringify(value), options)`; nothing is sent if the value cannot be serialized. */
  broadcastJson(value: unknown, options?: { room?: string; except?: Except<T> }): BroadcastResult {
    const text = JSON.stringify(value);
    if (typeof text !== "string") return { delivered: 0, dropped: 0 };
    return this.broadcast(text, options);
  }
}

/** Acts on the (connection, outcome) pairs a broadcast collected, after its loop: closes or evicts each. */
function settleFailures(failed: readonly (ServerConnection<unknown> | number)[]): void {
  for (let i = 0; i < failed.length; i += 2) {
    (failed[i] as ServerConnection<unknown>).afterFailedWrite(failed[i + 1] as number);
  }
}
