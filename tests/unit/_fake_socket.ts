/**
 * Test doubles for the server core: a scriptable socket and a manual clock.
 */

import type { Clock, Connection, Endpoint, Session, SocketLike } from "../../server/types.ts";

/** A socket that records what the core does to it. */
export class FakeSocket implements SocketLike {
  readyState = 1;
  bufferedAmount = 0;
  sent: (string | Uint8Array | ArrayBuffer)[] = [];
  closes: { code?: number; reason?: string }[] = [];
  /** What `send` returns (Bun-style numbers), or a function deciding it; `undefined` = Deno-style void. */
  sendResult: number | undefined = undefined;
  /** When set, `send` throws this. */
  sendThrows: unknown = undefined;
  /** When set, `close` throws this. */
  closeThrows: unknown = undefined;

  send(data: string | Uint8Array | ArrayBuffer): void | number {
    if (this.sendThrows !== undefined) throw this.sendThrows;
    this.sent.push(data);
    return this.sendResult;
  }

  /** When set, `close` fires this synchronously, as Bun runs its close handler inside `ws.close()`. */
  onCloseSync: ((code: number, reason: string) => void) | undefined = undefined;

  close(code?: number, reason?: string): void {
    this.closes.push({ code, reason });
    if (this.closeThrows !== undefined) throw this.closeThrows;
    if (this.readyState < 2) this.readyState = 2;
    if (this.onCloseSync !== undefined) {
      this.readyState = 3;
      this.onCloseSync(code ?? 1005, reason ?? "");
    }
  }

  /** Sent text frames parsed as JSON. */
  json(): unknown[] {
    return this.sent.filter((f) => typeof f === "string").map((f) => JSON.parse(f as string));
  }
}

/** A clock advanced by hand; intervals run when their time comes. */
export class ManualClock implements Clock {
  time = 1_000;
  #next = 1;
  timers = new Map<number, { fn: () => void; ms: number; due: number }>();

  now(): number {
    return this.time;
  }

  setInterval(fn: () => void, ms: number): unknown {
    const id = this.#next++;
    this.timers.set(id, { fn, ms, due: this.time + ms });
    return id;
  }

  clearInterval(handle: unknown): void {
    this.timers.delete(handle as number);
  }

  /** Moves time forward, running each interval as often as it falls due. Bounded. */
  advance(ms: number): void {
    const end = this.time + ms;
    for (let guard = 0; guard < 100_000; guard++) {
      let nextId = -1;
      let nextDue = Infinity;
      for (const [id, t] of this.timers) {
        if (t.due < nextDue) {
          nextDue = t.due;
          nextId = id;
        }
      }
      if (nextId === -1 || nextDue > end) break;
      this.time = nextDue;
      const timer = this.timers.get(nextId)!;
      timer.due += timer.ms;
      timer.fn();
    }
    this.time = end;
  }
}

/** A logger that keeps entries for assertions. */
export class MemoryLogger {
  entries: { level: string; message: string; fields?: Record<string, unknown> }[] = [];
  debug(message: string, fields?: Record<string, unknown>): void {
    this.entries.push({ level: "debug", message, fields });
  }
  info(message: string, fields?: Record<string, unknown>): void {
    this.entries.push({ level: "info", message, fields });
  }
  warn(message: string, fields?: Record<string, unknown>): void {
    this.entries.push({ level: "warn", message, fields });
  }
  error(message: string, fields?: Record<string, unknown>): void {
    this.entries.push({ level: "error", message, fields });
  }
  at(level: string): { message: string; fields?: Record<string, unknown> }[] {
    return this.entries.filter((e) => e.level === level);
  }
}

/** An upgrade request as a browser on the same origin would send it. */
export function upgradeRequest(
  url = "http://localhost:8000/ws",
  headers: Record<string, string> = {},
): Request {
  return new Request(url, {
    headers: {
      upgrade: "websocket",
      connection: "Upgrade",
      "sec-websocket-version": "13",
      "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
      host: new URL(url).host,
      ...headers,
    },
  });
}

/** The parts of an admitted, opened connection a test pokes at. */
export interface Opened<T = unknown> {
  session: Session;
  conn: Connection<T>;
  socket: FakeSocket;
}

/** Admits a request on the endpoint, attaches a fake socket and opens it; fails the test if refused. */
export async function openFake<T>(
  endpoint: Endpoint<T>,
  options: { remoteAddress?: string; socket?: FakeSocket; request?: Request } = {},
): Promise<Opened<T>> {
  const admission = await endpoint.admit(options.request ?? upgradeRequest(), {
    remoteAddress: options.remoteAddress,
  });
  if (!admission.ok) {
    throw new Error(`expected the upgrade to be admitted, got ${admission.response.status}`);
  }
  const socket = options.socket ?? new FakeSocket();
  const session = admission.session;
  session.attach(socket);
  session.opened();
  return { session, conn: session as unknown as Connection<T>, socket };
}

/** Lets pending promise callbacks run (a macrotask turn, no waiting on time). */
export function flush(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}
