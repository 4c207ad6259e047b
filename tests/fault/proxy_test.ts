import assert from "node:assert/strict";
import net from "node:net";
import { test } from "../_harness.ts";
import { type FaultMode, type FaultProxy, startFaultProxy } from "./proxy.ts";
import { waitUntil } from "./wait.ts";

/** A TCP server that records its peers and lets the test drive each accepted socket. */
async function tcpServer(onSocket?: (s: net.Socket) => void) {
  const sockets: net.Socket[] = [];
  const received: Uint8Array[][] = [];
  const ended: boolean[] = [];
  const server = net.createServer((s) => {
    const i = sockets.length;
    sockets.push(s);
    received.push([]);
    ended.push(false);
    s.on("error", () => {});
    s.on("data", (d: Uint8Array) => received[i].push(d));
    s.on("close", () => (ended[i] = true));
    onSocket?.(s);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as net.AddressInfo).port,
    sockets,
    received,
    ended,
    bytes: (i: number) => received[i]?.reduce((n, d) => n + d.length, 0) ?? 0,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

function client(port: number) {
  const s = net.connect({ port, host: "127.0.0.1" });
  const state = {
    data: [] as Uint8Array[],
    ended: false,
    closed: false,
    error: undefined as string | undefined,
  };
  s.on("data", (d: Uint8Array) => state.data.push(d));
  s.on("end", () => (state.ended = true));
  s.on("close", () => (state.closed = true));
  s.on("error", (e: Error & { code?: string }) => (state.error = e.code ?? e.message));
  const bytes = () => state.data.reduce((n, d) => n + d.length, 0);
  return { socket: s, state, bytes };
}

const echo = (s: net.Socket) => s.on("data", (d: Uint8Array) => s.write(d));

/** What {@linkcode throughProxy} hands a test: the server, the proxy in front of it, one client through it. */
interface Proxied {
  server: Awaited<ReturnType<typeof tcpServer>>;
  proxy: FaultProxy;
  c: ReturnType<typeof client>;
}

/** Runs `body` with a server, a fault proxy in front of it and one client, and tears all three down. */
async function throughProxy(
  options: { echo?: boolean; mode?: FaultMode },
  body: (setup: Proxied) => Promise<void>,
): Promise<void> {
  const server = await tcpServer(options.echo ? echo : undefined);
  const proxy = await startFaultProxy({
    target: { port: server.port },
    ...(options.mode ? { mode: options.mode } : {}),
  });
  const c = client(proxy.port);
  try {
    await body({ server, proxy, c });
  } finally {
    c.socket.destroy();
    await proxy.close();
    await server.close();
  }
}

test("fault proxy: pass forwards both ways and a FIN travels through", () =>
  throughProxy({ echo: true }, async ({ server, proxy, c }) => {
    c.socket.write("hello through the proxy");
    await waitUntil(() => c.bytes() === 23, "the echo through the proxy");
    assert.equal(new TextDecoder().decode(Buffer.concat(c.state.data)), "hello through the proxy");
    const [conn] = proxy.connections();
    assert.equal(conn.bytesUp, 23);
    assert.equal(conn.bytesDown, 23);
    c.socket.end();
    await waitUntil(() => server.ended[0], "the server to see the FIN");
    await proxy.drained(5_000);
    assert.equal(proxy.live().length, 0);
  }));

test("fault proxy: delay holds each chunk back and keeps the order", () =>
  throughProxy({ echo: true, mode: { kind: "delay", ms: 150 } }, async ({ server, c }) => {
    await waitUntil(() => server.sockets.length === 1, "the upstream connection");
    const started = performance.now();
    for (let i = 0; i < 10; i++) c.socket.write(String(i));
    await waitUntil(() => c.bytes() === 10, "ten delayed bytes");
    // Two hops of 150 ms (up, then down): a lower bound only, no upper bound on a shared machine.
    assert.ok(performance.now() - started >= 290, "expected the round trip to take at least 2 × 150 ms");
    assert.equal(new TextDecoder().decode(Buffer.concat(c.state.data)), "0123456789");
  }));

test("fault proxy: reset aborts both sides with an RST", () =>
  throughProxy({ echo: true }, async ({ server, proxy, c }) => {
    c.socket.write("x");
    await waitUntil(() => c.bytes() === 1, "the echo");
    proxy.actAll("reset");
    await waitUntil(() => c.state.closed && server.ended[0], "both sides to see the connection end");
    assert.equal(c.state.error, "ECONNRESET");
    assert.equal(c.state.ended, false, "expected no FIN before the reset");
    await proxy.drained(5_000);
  }));

test("fault proxy: cut-to-client forwards part of a chunk, then resets", () =>
  throughProxy({}, async ({ server, proxy, c }) => {
    await waitUntil(() => server.sockets.length === 1, "the upstream connection");
    const [conn] = proxy.connections();
    conn.act("cut-to-client");
    server.sockets[0].write(new Uint8Array(1000).fill(7));
    await waitUntil(() => c.state.closed && server.ended[0], "both sides to see the cut");
    assert.ok(c.bytes() > 0 && c.bytes() < 1000, `expected part of the 1000 bytes, got ${c.bytes()}`);
    assert.equal(conn.bytesDropped + conn.bytesDown, 1000);
    assert.equal(c.state.ended, false, "expected no FIN on a cut");
  }));

test("fault proxy: cut-to-server leaves the server with half a frame", () =>
  throughProxy({}, async ({ server, proxy, c }) => {
    await waitUntil(() => server.sockets.length === 1, "the upstream connection");
    proxy.connections()[0].act("cut-to-server");
    c.socket.write(new Uint8Array(600).fill(1));
    await waitUntil(() => c.state.closed && server.ended[0], "both sides to see the cut");
    assert.ok(
      server.bytes(0) > 0 && server.bytes(0) < 600,
      `expected part of 600 bytes, got ${server.bytes(0)}`,
    );
  }));

test("fault proxy: black hole drops bytes both ways and never forwards a FIN or RST", () =>
  throughProxy({}, async ({ server, proxy, c }) => {
    await waitUntil(() => server.sockets.length === 1, "the upstream connection");
    const [conn] = proxy.connections();
    conn.setMode({ kind: "blackhole" });
    c.socket.write("lost upward");
    server.sockets[0].write("lost downward");
    await waitUntil(() => conn.bytesDropped === 24, "the proxy to swallow 24 bytes");
    // The server hangs up; the proxy sees it but must not tell the client.
    server.sockets[0].destroy();
    await waitUntil(() => server.ended[0], "the server socket to close");
    // A marker on a fresh pass-through connection proves the event loop moved on past the close.
    const marker = client(proxy.port);
    marker.socket.write("m");
    await waitUntil(() => server.bytes(1) === 1, "the marker");
    marker.socket.destroy();
    assert.equal(c.bytes(), 0);
    assert.equal(server.bytes(0), 0);
    assert.equal(c.state.ended, false, "expected no FIN through a black hole");
    assert.equal(c.state.closed, false, "expected no RST through a black hole");
    assert.equal(conn.done, false);
  }));

test("fault proxy: stall stops reading so the sender's buffers fill", () =>
  throughProxy({ mode: { kind: "stall" } }, async ({ server, c }) => {
    await waitUntil(() => server.sockets.length === 1, "the upstream connection");
    const chunk = new Uint8Array(64 * 1024);
    let full = false;
    for (let i = 0; i < 2_000 && !full; i++) full = !server.sockets[0].write(chunk);
    assert.ok(full, "expected write() to report a full buffer within 128 MiB");
    assert.equal(c.bytes(), 0);
  }));

test("fault proxy: global mode applies to open and new connections; per-connection mode overrides", async () => {
  const server = await tcpServer(echo);
  const proxy = await startFaultProxy({ target: { port: server.port } });
  const a = client(proxy.port);
  const b = client(proxy.port);
  let c: ReturnType<typeof client> | undefined;
  try {
    await waitUntil(() => server.sockets.length === 2, "two upstream connections");
    proxy.setMode({ kind: "blackhole" }, { applyToOpen: true });
    c = client(proxy.port);
    await waitUntil(() => proxy.connections().length === 3, "the third connection");
    assert.deepEqual(proxy.connections().map((p) => p.mode.kind), ["blackhole", "blackhole", "blackhole"]);
    proxy.connections()[1].setMode({ kind: "pass" });
    a.socket.write("a");
    b.socket.write("b");
    c.socket.write("c");
    await waitUntil(() => b.bytes() === 1, "the echo on the connection set back to pass");
    await waitUntil(() => proxy.connections()[0].bytesDropped === 1, "a's byte to vanish");
    await waitUntil(() => proxy.connections()[2].bytesDropped === 1, "c's byte to vanish");
    assert.equal(a.bytes(), 0);
    assert.equal(c.bytes(), 0);
  } finally {
    a.socket.destroy();
    b.socket.destroy();
    c?.socket.destroy();
    await proxy.close();
    await server.close();
  }
});

test("fault proxy: upstream source addresses make distinct peers", async () => {
  const server = await tcpServer();
  const proxy = await startFaultProxy({
    target: { port: server.port },
    upstreamLocalAddress: (id) => `127.0.0.${10 + id}`,
  });
  const a = client(proxy.port);
  const b = client(proxy.port);
  try {
    await waitUntil(
      () => server.sockets.length === 2 && server.sockets.every((s) => s.remoteAddress),
      "two peers",
    );
    assert.deepEqual(server.sockets.map((s) => s.remoteAddress).sort(), ["127.0.0.11", "127.0.0.12"]);
  } finally {
    a.socket.destroy();
    b.socket.destroy();
    await proxy.close();
    await server.close();
  }
});

test("fault proxy: close() ends every connection, including black holes", async () => {
  const server = await tcpServer();
  const proxy = await startFaultProxy({ target: { port: server.port }, mode: { kind: "blackhole" } });
  const cs = [client(proxy.port), client(proxy.port), client(proxy.port)];
  try {
    await waitUntil(() => server.sockets.length === 3, "three upstream connections");
    await proxy.close();
    await waitUntil(
      () => cs.every((c) => c.state.closed) && server.ended.every(Boolean),
      "everything to close",
    );
    assert.equal(proxy.live().length, 0);
  } finally {
    for (const c of cs) c.socket.destroy();
    await proxy.close();
    await server.close();
  }
});
