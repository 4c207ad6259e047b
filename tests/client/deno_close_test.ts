/**
 * Deno's WebSocket client, closed during its handshake: the guard in
 * client/_deno_close.ts keeps the runtime's unhandled rejection away, sends
 * the held close once the socket opens, and cancels a handshake that never
 * ends. Deno only (the other runtimes handle a close while connecting).
 */

import assert from "node:assert/strict";
import { createServer, type Server, type Socket } from "node:net";
import { createHash } from "node:crypto";
import { test } from "../_harness.ts";
import { holdCloseWhileConnecting, isDenoWebSocket } from "../../client/_deno_close.ts";
import { SteadyClient } from "../../client/mod.ts";
import { watchUnhandled } from "../chaos/_unhandled.ts";
import { waitUntil } from "../fault/wait.ts";

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC525B11";

/** A TCP server that reads one handshake per connection and lets `answer` decide what follows. */
async function handshakeServer(
  answer: (socket: Socket, response: string) => void,
): Promise<{ port: number; sockets: Set<Socket>; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
    socket.on("close", () => sockets.delete(socket));
    socket.once("data", (buf) => {
      const key = /sec-websocket-key:\s*(\S+)/i.exec(buf.toString("latin1"))?.[1] ?? "";
      const accept = createHash("sha1").update(key + GUID).digest("base64");
      answer(
        socket,
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
          `Sec-WebSocket-Accept: ${accept}\r\n\r\n`,
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as { port: number }).port,
    sockets,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

test("deno client: only Deno's own WebSocket gets the guard", () => {
  assert.equal(isDenoWebSocket(globalThis.WebSocket), true);
  assert.equal(isDenoWebSocket(class {}), false);
}, { only: "deno" });

test("deno client: closes racing a handshake that ends in a reset leave no unhandled rejection", async () => {
  const watch = watchUnhandled();
  const waiting: Array<[Socket, string]> = [];
  const server = await handshakeServer((socket, response) => waiting.push([socket, response]));
  const rounds = 30;
  const batch = 100;
  let opened = 0;
  let closed = 0;
  try {
    for (let round = 0; round < rounds; round++) {
      const sockets: WebSocket[] = [];
      for (let i = 0; i < batch; i++) {
        const ws = new WebSocket(`ws://127.0.0.1:${server.port}/`);
        holdCloseWhileConnecting(ws, 1_000);
        ws.onerror = () => {};
        ws.onopen = () => opened++;
        ws.onclose = () => closed++;
        sockets.push(ws);
      }
      await waitUntil(() => waiting.length === batch, "every handshake to reach the server", 10_000, 1);
      // Everyone answered at once and reset; a moment later every socket still connecting is closed,
      // so some closes land after the runtime finished the handshake but before the socket reports open.
      for (const [socket, response] of waiting.splice(0)) {
        socket.write(response);
        socket.resetAndDestroy();
      }
      await new Promise((r) => setTimeout(r, round % 4));
      for (const ws of sockets) if (ws.readyState === WebSocket.CONNECTING) ws.close();
      await waitUntil(
        () => closed === (round + 1) * batch,
        `the sockets of round ${round} to close`,
        5_000,
        2,
      );
    }
    assert.equal(
      watch.seen.length,
      0,
      `expected no unhandled rejection, got ${watch.seen.length}: ${String(watch.seen[0])}`,
    );
    console.log(`${rounds * batch} closes racing a reset handshake: ${opened} opened first, 0 unhandled`);
  } finally {
    watch.stop();
    await server.close();
  }
}, { only: "deno", timeoutMs: 120_000 });

test("deno client: a close held during the handshake is sent once the socket opens", async () => {
  const frames: Buffer[] = [];
  const answers = new Set<ReturnType<typeof setTimeout>>();
  const server = await handshakeServer((socket, response) => {
    socket.on("data", (chunk) => frames.push(chunk));
    const t = setTimeout(() => {
      answers.delete(t);
      socket.write(response);
    }, 150);
    answers.add(t);
  });
  try {
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/`);
    holdCloseWhileConnecting(ws, 5_000);
    let opened = false;
    ws.onopen = () => opened = true;
    const closedEvent = new Promise<void>((resolve) => ws.onclose = () => resolve());
    await waitUntil(() => server.sockets.size === 1, "the handshake to reach the server");
    ws.close(4001, "changed my mind");
    assert.equal(ws.readyState, WebSocket.CONNECTING, "expected the close to be held while connecting");
    await waitUntil(() => Buffer.concat(frames).length >= 2, "a Close frame at the server");
    const frame = Buffer.concat(frames);
    assert.equal(frame[0], 0x88, "expected a final Close frame");
    // Client frames are masked: the code is the first two payload bytes XOR the mask.
    const mask = frame.subarray(2, 6);
    const code = ((frame[6] ^ mask[0]) << 8) | (frame[7] ^ mask[1]);
    assert.equal(code, 4001);
    assert.ok(opened, "expected the socket to have opened before closing");
    // The server answers the close by ending the connection.
    for (const s of server.sockets) s.end();
    await closedEvent;
  } finally {
    for (const t of answers) clearTimeout(t);
    await server.close();
  }
}, { only: "deno" });

test("deno client: a held close cancels a handshake that never ends, after the grace", async () => {
  const server = await handshakeServer(() => {/* never answers */});
  try {
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/`);
    holdCloseWhileConnecting(ws, 100);
    ws.onerror = () => {};
    let closed = false;
    ws.onclose = () => closed = true;
    await waitUntil(() => server.sockets.size === 1, "the handshake to reach the server");
    // What the runtime refuses is refused at once, not later in a listener.
    assert.throws(() => ws.close(1006), DOMException);
    ws.close();
    await waitUntil(() => closed, "the handshake to be cancelled", 5_000);
    assert.equal(ws.readyState, WebSocket.CLOSED);
  } finally {
    await server.close();
  }
}, { only: "deno" });

test(
  "deno client: close() while the handshake hangs ends within closeTimeoutMs, leaving nothing open",
  async () => {
    // The sanitizers fail this test if the held socket outlives it.
    const server = await handshakeServer(() => {/* never answers */});
    try {
      const client = new SteadyClient(`ws://127.0.0.1:${server.port}/ws`, { closeTimeoutMs: 300 });
      await waitUntil(() => server.sockets.size === 1, "the handshake to reach the server");
      const started = performance.now();
      await client.close();
      const tookMs = performance.now() - started;
      assert.equal(client.state.status, "closed");
      assert.ok(tookMs < 2_000, `expected close() to end near closeTimeoutMs (300 ms), took ${tookMs} ms`);
      await waitUntil(() => server.sockets.size === 0, "the cancelled handshake's connection to end");
    } finally {
      await server.close();
    }
  },
  { only: "deno" },
);
