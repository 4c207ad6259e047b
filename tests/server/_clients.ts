/**
 * Clients for the integration tests: a runtime WebSocket that records what it
 * receives, and hand-written HTTP upgrade requests over raw TCP. Every wait
 * has a deadline and clears its timer.
 */

import net from "node:net";

/** Resolves with `promise`, or rejects after `ms` saying what was awaited. */
export function deadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`expected ${what} within ${ms} ms; it did not happen`)), ms);
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}

/** A counter whose values can be awaited. */
export class Counter {
  #value = 0;
  #waiters: { n: number; resolve: () => void }[] = [];

  get value(): number {
    return this.#value;
  }

  add(by = 1): void {
    this.#value += by;
    this.#waiters = this.#waiters.filter((w) => {
      if (this.#value < w.n) return true;
      w.resolve();
      return false;
    });
  }

  /** Resolves once the count reaches `n`. */
  reach(n: number, ms: number, what: string): Promise<void> {
    if (this.#value >= n) return Promise.resolve();
    const reached = new Promise<void>((resolve) => this.#waiters.push({ n, resolve }));
    return deadline(reached, ms, `${what} (count ${n}, at ${this.#value})`);
  }
}

/** How a client's connection ended. */
export interface Closed {
  code: number;
  reason: string;
}

/** A runtime WebSocket recording its messages and its close. */
export class TestClient {
  readonly ws: WebSocket;
  readonly messages: (string | ArrayBuffer)[] = [];
  /** Resolves when the socket closes, with the code the client saw. */
  readonly closed: Promise<Closed>;
  #arrived = new Counter();
  #taken = 0;

  constructor(url: string, protocols?: string[]) {
    this.ws = new WebSocket(url, protocols);
    this.ws.binaryType = "arraybuffer";
    this.ws.onmessage = (event) => {
      this.messages.push(event.data);
      this.#arrived.add();
    };
    this.closed = new Promise((resolve) => {
      this.ws.onclose = (event) => resolve({ code: event.code, reason: event.reason });
    });
    // An error is always followed by close; the close promise reports it.
    this.ws.onerror = () => {};
  }

  /** Resolves once open; rejects if the socket closes first. */
  opened(ms = 5_000): Promise<void> {
    if (this.ws.readyState === WebSocket.OPEN) return Promise.resolve();
    const open = new Promise<void>((resolve, reject) => {
      this.ws.onopen = () => resolve();
      this.closed.then((c) => reject(new Error(`expected the socket to open, it closed with ${c.code}`)));
    });
    return deadline(open, ms, "the WebSocket to open");
  }

  send(data: string | ArrayBuffer | Uint8Array<ArrayBuffer>): void {
    this.ws.send(data);
  }

  sendJson(value: unknown): void {
    this.ws.send(JSON.stringify(value));
  }

  /** The next message not yet taken, as received. */
  async nextRaw(ms = 5_000): Promise<string | ArrayBuffer> {
    const index = this.#taken++;
    await this.#arrived.reach(index + 1, ms, "a message from the server");
    return this.messages[index];
  }

  /** Resolves once `count` messages in all have arrived, taken or not. */
  async received(count: number, ms = 5_000): Promise<void> {
    await this.#arrived.reach(count, ms, `${count} messages from the server`);
  }

  /** The next message not yet taken, parsed as JSON. */
  async next(ms = 5_000): Promise<{ type: string; payload?: unknown }> {
    const raw = await this.nextRaw(ms);
    if (typeof raw !== "string") throw new Error("expected a text frame, got a binary one");
    return JSON.parse(raw);
  }

  /** The next message of the given type, skipping others. */
  async nextOfType(type: string, ms = 5_000): Promise<{ type: string; payload?: unknown }> {
    for (;;) {
      const message = await this.next(ms);
      if (message.type === type) return message;
    }
  }

  /** Closes (code 1000) and waits for the close to complete. */
  async close(ms = 5_000): Promise<Closed> {
    if (this.ws.readyState < WebSocket.CLOSING) this.ws.close(1000, "done");
    return await deadline(this.closed, ms, "the WebSocket to close");
  }

  /** Resolves with the close the client saw. */
  closedWithin(ms = 5_000): Promise<Closed> {
    return deadline(this.closed, ms, "the server to close the WebSocket");
  }
}

/** Opens a client and waits for it to be open. */
export async function openClient(url: string, protocols?: string[]): Promise<TestClient> {
  const client = new TestClient(url, protocols);
  await client.opened();
  return client;
}

/** The head of an HTTP response read from a raw socket. */
export interface RawResponse {
  status: number;
  /** Header names in lower case. */
  headers: Map<string, string>;
  /** The socket, still open (a 101 leaves a WebSocket behind it). */
  socket: net.Socket;
}

/** Options of {@linkcode rawRequest}. */
export interface RawRequestOptions {
  path?: string;
  /** The `Upgrade` header's value; `null` leaves it (and `Connection`) out. Default `"websocket"`. */
  upgrade?: string | null;
  /** Leave out `Sec-WebSocket-Key`. */
  noKey?: boolean;
  /** Extra header lines, name to value. */
  headers?: Record<string, string>;
  ms?: number;
}

/**
 * Writes an upgrade request by hand over TCP and reads the response head, so
 * header spelling (e.g. `Upgrade: WebSocket`) is exactly what the test says.
 */
export function rawRequest(port: number, options: RawRequestOptions = {}): Promise<RawResponse> {
  const upgrade = options.upgrade === undefined ? "websocket" : options.upgrade;
  const lines = [`GET ${options.path ?? "/ws"} HTTP/1.1`, `Host: 127.0.0.1:${port}`];
  if (upgrade !== null) lines.push(`Upgrade: ${upgrade}`, "Connection: Upgrade");
  if (!options.noKey) lines.push("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==");
  lines.push("Sec-WebSocket-Version: 13");
  for (const [name, value] of Object.entries(options.headers ?? {})) lines.push(`${name}: ${value}`);
  const request = lines.join("\r\n") + "\r\n\r\n";

  const response = new Promise<RawResponse>((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1", () => socket.write(request));
    let head = "";
    const onData = (chunk: Buffer) => {
      head += chunk.toString("latin1");
      const end = head.indexOf("\r\n\r\n");
      if (end < 0) return;
      socket.off("data", onData);
      const [statusLine, ...headerLines] = head.slice(0, end).split("\r\n");
      const headers = new Map<string, string>();
      for (const line of headerLines) {
        const colon = line.indexOf(":");
        headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
      }
      resolve({ status: Number(statusLine.split(" ")[1]), headers, socket });
    };
    socket.on("data", onData);
    socket.on("error", (error) => reject(error));
    socket.on(
      "close",
      () => reject(new Error(`expected an HTTP response head, got ${JSON.stringify(head)}`)),
    );
  });
  return deadline(response, options.ms ?? 5_000, "an HTTP response to a raw upgrade request");
}

/** Destroys a raw socket (no Close frame, no graceful end) and waits until it is closed. */
export function destroy(socket: net.Socket): Promise<void> {
  if (socket.destroyed && socket.closed) return Promise.resolve();
  const done = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  socket.destroy();
  return deadline(done, 5_000, "a raw socket to close");
}

/** Answers a raw request, then closes its socket; for refusals. */
export async function rawStatus(port: number, options: RawRequestOptions = {}): Promise<RawResponse> {
  const response = await rawRequest(port, options);
  await destroy(response.socket);
  return response;
}
