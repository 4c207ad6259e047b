/**
 * A fault-injecting TCP proxy for the reliability suites: it sits between
 * clients and a server and, per connection or for all of them, passes bytes,
 * delays them, resets the connection (RST), cuts it in the middle of a frame,
 * or turns it into a black hole (bytes stop both ways, no FIN, no RST).
 *
 * Built on `node:net`, which both Deno and Bun implement, so the same proxy
 * runs under both test runners.
 *
 * @example
 * ```ts
 * const proxy = await startFaultProxy({ target: { port: serverPort } });
 * const ws = new WebSocket(`ws://127.0.0.1:${proxy.port}/ws`);
 * // ... later, make every current and future connection a black hole:
 * proxy.setMode({ kind: "blackhole" }, { applyToOpen: true });
 * await proxy.close();
 * ```
 *
 * @module
 */

import net from "node:net";

/** What the proxy does with the bytes of a connection. */
export type FaultMode =
  /** Forward both ways. */
  | { kind: "pass" }
  /** Forward both ways, each chunk held back for `ms` (order kept). */
  | { kind: "delay"; ms: number }
  /** Discard everything both ways; no FIN or RST reaches either side, ever. Reads go on, so no backpressure. */
  | { kind: "blackhole" }
  /** Like `blackhole` but stop reading, so the senders' buffers fill as in a real partition. */
  | { kind: "stall" };

/** One-shot actions that end a connection. */
export type FaultAction =
  /** Abort both sides with a TCP RST. */
  | "reset"
  /** Forward only part of the next chunk in the given direction (a frame cut in half), then RST both sides. */
  | "cut-to-client"
  | "cut-to-server";

/** Byte counts and state of one proxied connection. */
export interface ProxiedConnection {
  /** Sequence number, from 1. */
  readonly id: number;
  /** The current mode. */
  readonly mode: FaultMode;
  /** When the client connected (`performance.now()`). */
  readonly startedAt: number;
  /** When the first byte went from the server to the client (the upgrade answer), or 0. */
  readonly firstDownAt: number;
  /** Free for the test's bookkeeping (e.g. the fault applied). */
  tag: string | undefined;
  /** Bytes forwarded client → server. */
  readonly bytesUp: number;
  /** Bytes forwarded server → client. */
  readonly bytesDown: number;
  /** Bytes discarded by a black hole or a cut, both directions. */
  readonly bytesDropped: number;
  /** True once both sockets are gone. */
  readonly done: boolean;
  /** Whether the client side's socket has closed. */
  readonly clientClosed: boolean;
  /** Whether the server side's socket has closed. */
  readonly upstreamClosed: boolean;
  /** The local address used towards the server. */
  readonly upstreamLocalAddress: string | undefined;
  /** Changes the mode from now on. */
  setMode(mode: FaultMode): void;
  /** Applies a one-shot fault. */
  act(action: FaultAction): void;
}

/** Options of {@linkcode startFaultProxy}. */
export interface FaultProxyOptions {
  /** Where to forward. */
  target: { port: number; host?: string };
  /** Mode of new connections. Default pass. */
  mode?: FaultMode;
  /** Source address for the upstream connection, e.g. `127.0.0.7`, so the server sees distinct peers. */
  upstreamLocalAddress?: (id: number) => string | undefined;
  /** Called for each new connection, before any byte is forwarded (to pick a mode, say). */
  onConnection?: (conn: ProxiedConnection) => void;
}

/** A running proxy. */
export interface FaultProxy {
  /** The port clients connect to (on 127.0.0.1). */
  readonly port: number;
  /** Live and finished connections, in order of arrival. */
  connections(): ProxiedConnection[];
  /** Live connections. */
  live(): ProxiedConnection[];
  /** Sets the mode of new connections and, with `applyToOpen`, of every live one. */
  setMode(mode: FaultMode, options?: { applyToOpen?: boolean }): void;
  /** Applies a one-shot action to every live connection. */
  actAll(action: FaultAction): void;
  /** Resolves once no connection is live, or rejects at the deadline. */
  drained(timeoutMs?: number): Promise<void>;
  /** Stops listening, destroys every connection and clears every timer. */
  close(): Promise<void>;
}

/**
 * Starts a fault proxy on an ephemeral port of 127.0.0.1.
 *
 * @example
 * ```ts
 * const proxy = await startFaultProxy({ target: { port: 8080 }, mode: { kind: "delay", ms: 20 } });
 * console.log(proxy.port);
 * await proxy.close();
 * ```
 */
export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  let defaultMode: FaultMode = options.mode ?? { kind: "pass" };
  const all: Pipe[] = [];
  const host = options.target.host ?? "127.0.0.1";
  let closing = false;

  const server = net.createServer({ pauseOnConnect: true }, (client) => {
    if (closing) {
      client.destroy();
      return;
    }
    const id = all.length + 1;
    const local = options.upstreamLocalAddress?.(id);
    const pipe = new Pipe(id, client, { port: options.target.port, host, localAddress: local }, defaultMode);
    all.push(pipe);
    options.onConnection?.(pipe);
    pipe.start();
  });
  server.on("error", () => {/* a listening error surfaces through listen() */});
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as net.AddressInfo).port;

  return {
    port,
    connections: () => [...all],
    live: () => all.filter((p) => !p.done),
    setMode(mode, opts = {}) {
      defaultMode = mode;
      if (opts.applyToOpen) { for (const p of all) if (!p.done) p.setMode(mode); }
    },
    actAll(action) {
      for (const p of all) if (!p.done) p.act(action);
    },
    async drained(timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (all.some((p) => !p.done)) {
        if (Date.now() > deadline) {
          throw new Error(
            `expected every proxied connection to end within ${timeoutMs} ms, ${
              all.filter((p) => !p.done).length
            } still live`,
          );
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    async close() {
      closing = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const p of all) p.destroy();
      await closed;
      // Let the runtime finish releasing the destroyed sockets before a sanitizer looks.
      await Promise.all(all.map((p) => p.gone));
    },
  };
}

type Direction = "up" | "down";

class Pipe implements ProxiedConnection {
  mode: FaultMode;
  bytesUp = 0;
  bytesDown = 0;
  bytesDropped = 0;
  done = false;
  clientClosed = false;
  upstreamClosed = false;
  readonly startedAt: number = performance.now();
  firstDownAt = 0;
  tag: string | undefined = undefined;
  readonly upstreamLocalAddress: string | undefined;
  readonly gone: Promise<void>;
  #client: net.Socket;
  #upstream: net.Socket;
  #timers = new Set<ReturnType<typeof setTimeout>>();
  #cut: Direction | undefined;
  /** After a cut nothing more may pass: the rest of a stream would be misread as the cut frame's payload. */
  #severed = false;
  #closedCount = 0;
  #resolveGone!: () => void;

  constructor(
    readonly id: number,
    client: net.Socket,
    target: { port: number; host: string; localAddress?: string },
    mode: FaultMode,
  ) {
    this.mode = mode;
    this.upstreamLocalAddress = target.localAddress;
    this.gone = new Promise((r) => (this.#resolveGone = r));
    this.#client = client;
    this.#upstream = net.connect({
      port: target.port,
      host: target.host,
      ...(target.localAddress ? { localAddress: target.localAddress } : {}),
    });
    this.#upstream.pause();
  }

  start(): void {
    const c = this.#client;
    const u = this.#upstream;
    c.setNoDelay(true);
    u.setNoDelay(true);
    for (const s of [c, u]) {
      // Errors are faults we caused or the peers' business; the close event does the bookkeeping.
      s.on("error", () => {});
      s.on("close", () => this.#onSocketClosed(s));
    }
    c.on("data", (chunk: Uint8Array) => this.#onData("up", chunk));
    u.on("data", (chunk: Uint8Array) => this.#onData("down", chunk));
    // A FIN is forwarded only while the mode lets bytes through; a black hole swallows it.
    c.on("end", () => this.#onEnd(u));
    u.on("end", () => this.#onEnd(c));
    u.once("connect", () => {
      if (this.mode.kind !== "stall") {
        c.resume();
        u.resume();
      }
    });
  }

  setMode(mode: FaultMode): void {
    if (this.done) return;
    this.mode = mode;
    if (mode.kind === "stall") {
      this.#client.pause();
      this.#upstream.pause();
    } else if (this.#upstream.readyState === "open") {
      this.#client.resume();
      this.#upstream.resume();
    }
  }

  act(action: FaultAction): void {
    if (this.done) return;
    if (action === "reset") this.#reset();
    else this.#cut = action === "cut-to-client" ? "down" : "up";
  }

  destroy(): void {
    this.#clearTimers();
    this.#client.destroy();
    this.#upstream.destroy();
    if (this.#closedCount >= 2) this.#resolveGone();
  }

  #onData(dir: Direction, chunk: Uint8Array): void {
    const to = dir === "up" ? this.#upstream : this.#client;
    if (this.#severed) {
      this.bytesDropped += chunk.length;
      return;
    }
    if (this.#cut === dir) {
      // Forward strictly less than the chunk: a frame that started in it is left unfinished.
      const keep = chunk.length > 1 ? Math.max(1, Math.floor(chunk.length / 2)) : 0;
      if (keep > 0) this.#forward(dir, to, chunk.subarray(0, keep));
      this.bytesDropped += chunk.length - keep;
      // Give the partial write a moment to leave before the RST discards the send buffer.
      this.#later(() => this.#reset(), 20);
      this.#cut = undefined;
      this.#severed = true;
      return;
    }
    const mode = this.mode;
    if (mode.kind === "blackhole" || mode.kind === "stall") {
      this.bytesDropped += chunk.length;
      return;
    }
    if (mode.kind === "delay" && mode.ms > 0) {
      const copy = new Uint8Array(chunk);
      this.#later(() => this.#forward(dir, to, copy), mode.ms);
      return;
    }
    this.#forward(dir, to, chunk);
  }

  #forward(dir: Direction, to: net.Socket, chunk: Uint8Array): void {
    if (to.destroyed || !to.writable) return;
    if (dir === "up") this.bytesUp += chunk.length;
    else {
      if (this.bytesDown === 0) this.firstDownAt = performance.now();
      this.bytesDown += chunk.length;
    }
    to.write(chunk);
  }

  #onEnd(other: net.Socket): void {
    if (this.#severed || this.mode.kind === "blackhole" || this.mode.kind === "stall") return;
    const delay = this.mode.kind === "delay" ? this.mode.ms : 0;
    if (delay > 0) this.#later(() => other.end(), delay + 1);
    else other.end();
  }

  #reset(): void {
    this.#clearTimers();
    for (const s of [this.#client, this.#upstream]) {
      // An RST, not a FIN: the peer sees ECONNRESET, as after a crash or a middlebox drop.
      if (!s.destroyed) s.resetAndDestroy();
    }
  }

  #onSocketClosed(s: net.Socket): void {
    this.#closedCount += 1;
    if (s === this.#client) this.clientClosed = true;
    else this.upstreamClosed = true;
    // In a black hole the other side learns nothing; otherwise a vanished side takes the other along.
    if (this.mode.kind !== "blackhole" && this.mode.kind !== "stall") {
      const other = s === this.#client ? this.#upstream : this.#client;
      if (!other.destroyed) {
        const delay = this.mode.kind === "delay" ? this.mode.ms : 0;
        if (delay > 0) this.#later(() => other.destroy(), delay + 1);
        else other.destroy();
      }
    }
    if (this.#closedCount >= 2) {
      this.done = true;
      this.#clearTimers();
      this.#resolveGone();
    }
  }

  #later(fn: () => void, ms: number): void {
    const t = setTimeout(() => {
      this.#timers.delete(t);
      fn();
    }, ms);
    this.#timers.add(t);
  }

  #clearTimers(): void {
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
  }
}
