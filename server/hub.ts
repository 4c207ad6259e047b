/**
 * The connection registry: membership, rooms and fan-out.
 *
 * @module
 */

import type { BroadcastResult, Connection, Hub } from "./types.ts";
import { type ServerConnection, State, Write } from "./connection.ts";

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

interface Room<T> {
  members: Set<ServerConnection<T>>;
  /** Cached snapshot, rebuilt after a membership change only. */
  list: ServerConnection<T>[] | undefined;
}

/**
 * The hub of one endpoint. The endpoint adds a connection when it opens and
 * removes it (from every room too) during cleanup; applications read it and
 * broadcast through it.
 *
 * Broadcasts iterate an array snapshot that is cached until the membership
 * changes, so a fan-out allocates nothing per call unless `except` is a list.
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
  #all = new Set<ServerConnection<T>>();
  #list: ServerConnection<T>[] | undefined = undefined;
  #rooms = new Map<string, Room<T>>();

  /** Open connections. */
  get size(): number {
    return this.#all.size;
  }

  /** Registers an open connection (the endpoint calls this). */
  add(conn: ServerConnection<T>): void {
    if (this.#all.has(conn)) return;
    this.#all.add(conn);
    this.#list = undefined;
  }

  /** Unregisters a connection and takes it out of every room; idempotent. */
  remove(conn: ServerConnection<T>): void {
    if (this.#all.delete(conn)) this.#list = undefined;
    const rooms = conn.roomSet;
    if (rooms === undefined) return;
    for (const name of rooms) this.#leaveRoom(conn, name);
    conn.roomSet = undefined;
  }

  /** Whether the connection is registered. */
  has(conn: Connection<T>): boolean {
    return this.#all.has(conn as ServerConnection<T>);
  }

  /** The cached snapshot of open connections; callers must not modify it. */
  list(): readonly ServerConnection<T>[] {
    return this.#list ??= [...this.#all];
  }

  /** A snapshot of the open connections. */
  connections(): Connection<T>[] {
    return [...this.#all];
  }

  /** Members of a room (snapshot); empty for an unknown room. */
  members(room: string): Connection<T>[] {
    const entry = this.#rooms.get(room);
    return entry === undefined ? [] : [...entry.members];
  }

  /** Names of non-empty rooms. */
  rooms(): string[] {
    return [...this.#rooms.keys()];
  }

  /** Puts an open connection in a room; ignored for a connection that is not open. */
  join(conn: ServerConnection<T>, room: string): void {
    if (conn.state !== State.Open || !this.#all.has(conn)) return;
    const rooms = conn.roomSet ??= new Set();
    if (rooms.has(room)) return;
    rooms.add(room);
    let entry = this.#rooms.get(room);
    if (entry === undefined) {
      entry = { members: new Set(), list: undefined };
      this.#rooms.set(room, entry);
    }
    entry.members.add(conn);
    entry.list = undefined;
  }

  /** Takes a connection out of a room; idempotent. */
  leave(conn: ServerConnection<T>, room: string): void {
    const rooms = conn.roomSet;
    if (rooms === undefined || !rooms.delete(room)) return;
    this.#leaveRoom(conn, room);
  }

  #leaveRoom(conn: ServerConnection<T>, room: string): void {
    const entry = this.#rooms.get(room);
    if (entry === undefined || !entry.members.delete(conn)) return;
    entry.list = undefined;
    if (entry.members.size === 0) this.#rooms.delete(room);
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
    let list: readonly ServerConnection<T>[];
    if (options?.room === undefined) {
      list = this.list();
    } else {
      const entry = this.#rooms.get(options.room);
      if (entry === undefined) return { delivered: 0, dropped: 0 };
      list = entry.list ??= [...entry.members];
    }
    let skipOne: unknown = undefined;
    let skipMany: Set<unknown> | undefined = undefined;
    const except = options?.except;
    if (except !== undefined) {
      if (typeof (except as Connection<T>).send === "function") skipOne = except;
      else skipMany = new Set(except as Iterable<Connection<T>>);
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
    if (failed !== undefined) {
      for (let i = 0; i < failed.length; i += 2) {
        const conn = failed[i] as ServerConnection<T>;
        conn.afterFailedWrite(failed[i + 1] as number);
      }
    }
    return { delivered, dropped };
  }

  /** `broadcast(JSON.stringify(value), options)`; nothing is sent if the value cannot be serialized. */
  broadcastJson(value: unknown, options?: { room?: string; except?: Except<T> }): BroadcastResult {
    const text = JSON.stringify(value);
    if (typeof text !== "string") return { delivered: 0, dropped: 0 };
    return this.broadcast(text, options);
  }
}
