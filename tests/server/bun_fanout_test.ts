/**
 * Bun's native fan-out (`bunHandlers(endpoint, { fanout: "native" })`): the
 * hub publishes through Bun's topics and keeps the send loop's guarantees
 * (right peers, exact counts, slow consumers closed with 1013 and not written
 * to, dead peers evicted). Real server on loopback, real clients.
 */

import assert from "node:assert/strict";
import type net from "node:net";
import { test } from "../_harness.ts";
import { createEndpoint } from "../../server/mod.ts";
import type { BroadcastResult, CloseInfo, Connection, EndpointOptions } from "../../server/types.ts";
import type { ConnectionHub } from "../../server/hub.ts";
import { silentLogger } from "../../server/logger.ts";
import { bunHandlers, type BunSocket } from "../../server/adapters/bun.ts";
import { Counter, deadline, destroy, openClient, rawRequest, type TestClient } from "./_clients.ts";

// deno-lint-ignore no-explicit-any
const g = globalThis as any;

interface FanoutServer {
  url: string;
  port: number;
  hub: ConnectionHub;
  endpoint: ReturnType<typeof createEndpoint>;
  /** Server-side connections in the order they opened. */
  conns: Connection[];
  opens: Counter;
  closes: Counter;
  closeInfos: CloseInfo[];
  /** The connection's `readyState` (kept by the adapter's wrapper) and Bun's own, as the close handler saw them. */
  statesAtClose: { kept: number; bun: number }[];
  /** Calls of the native publish (0 when every broadcast took the loop). */
  publishes(): number;
  stop(): Promise<void>;
}

/** The Bun adapter's wrapped socket of a server-side connection. */
function socketOf(conn: Connection): BunSocket {
  return (conn as unknown as { socket: BunSocket }).socket;
}

function serve(
  options: EndpointOptions<unknown> = {},
  fanout: "native" | "loop" = "native",
): FanoutServer {
  const conns: Connection[] = [];
  const opens = new Counter();
  const closes = new Counter();
  const closeInfos: CloseInfo[] = [];
  const statesAtClose: { kept: number; bun: number }[] = [];
  const endpoint = createEndpoint({
    logger: silentLogger,
    heartbeat: false,
    ...options,
    open(conn) {
      conns.push(conn);
      opens.add();
    },
    close(conn, info) {
      const socket = socketOf(conn);
      statesAtClose.push({ kept: socket.readyState, bun: socket.raw.readyState });
      closeInfos.push(info);
      closes.add();
    },
  });
  const hub = endpoint.hub as ConnectionHub;
  const server = g.Bun.serve({ hostname: "127.0.0.1", port: 0, ...bunHandlers(endpoint, { fanout }) });
  let spied = false;
  let publishes = 0;
  const spy = () => {
    const native = hub.fanout;
    if (spied || native === undefined) return;
    spied = true;
    const publish = native.publish;
    native.publish = (...args) => {
      publishes++;
      publish.apply(native, args);
    };
  };
  return {
    url: `ws://127.0.0.1:${server.port}/ws`,
    port: server.port,
    hub,
    endpoint,
    conns,
    opens,
    closes,
    closeInfos,
    statesAtClose,
    publishes() {
      spy();
      return publishes;
    },
    async stop() {
      await endpoint.shutdown({ deadlineMs: 2_000 });
      await server.stop(true);
    },
  };
}

/** Broadcasts `tag` to everyone after `check`, so each client's list ends with it. */
async function drain(server: FanoutServer, clients: TestClient[], tag: string): Promise<void> {
  server.hub.broadcast(tag);
  for (const client of clients) {
    await deadline(
      (async () => {
        while (client.messages.at(-1) !== tag) await client.nextRaw();
      })(),
      5_000,
      `${tag} to arrive`,
    );
  }
}

test("bun native fan-out: everyone, a room, except one, a room named like the everyone topic", async () => {
  const server = serve();
  try {
    const clients = [];
    for (let i = 0; i < 4; i++) clients.push(await openClient(server.url));
    await server.opens.reach(4, 5_000, "four opens");
    const [a, b, c, d] = server.conns;
    assert.ok(server.hub.fanout !== undefined, "the Bun adapter installed the native fan-out");
    server.publishes(); // start counting
    a.join("r");
    b.join("r");
    c.join("r");
    a.join("*");
    const results: BroadcastResult[] = [];
    results.push(server.hub.broadcast("all-1"));
    results.push(server.hub.broadcast("room-1", { room: "r" }));
    results.push(server.hub.broadcast("room-except-a", { room: "r", except: a }));
    results.push(server.hub.broadcast("all-except-d", { except: d }));
    results.push(server.hub.broadcast("all-except-outsider", { room: "r", except: d }));
    results.push(server.hub.broadcast("star", { room: "*" }));
    b.leave("r");
    results.push(server.hub.broadcast("room-after-leave", { room: "r" }));
    results.push(server.hub.broadcast("nobody", { room: "empty" }));
    assert.deepEqual(results, [
      { delivered: 4, dropped: 0 },
      { delivered: 3, dropped: 0 },
      { delivered: 2, dropped: 0 },
      { delivered: 3, dropped: 0 },
      { delivered: 3, dropped: 0 },
      { delivered: 1, dropped: 0 },
      { delivered: 2, dropped: 0 },
      { delivered: 0, dropped: 0 },
    ]);
    assert.equal(server.publishes(), 6, "every broadcast with two or more targets was one publish");
    await drain(server, clients, "end");
    assert.deepEqual(clients[0].messages, [
      "all-1",
      "room-1",
      "all-except-d",
      "all-except-outsider",
      "star",
      "room-after-leave",
      "end",
    ]);
    assert.deepEqual(clients[1].messages, [
      "all-1",
      "room-1",
      "room-except-a",
      "all-except-d",
      "all-except-outsider",
      "end",
    ]);
    assert.deepEqual(clients[2].messages, [
      "all-1",
      "room-1",
      "room-except-a",
      "all-except-d",
      "all-except-outsider",
      "room-after-leave",
      "end",
    ]);
    assert.deepEqual(clients[3].messages, ["all-1", "end"]);
    // A closed connection is unsubscribed: the others still get exactly one frame each.
    await clients[3].close();
    await server.closes.reach(1, 5_000, "d's close handler");
    assert.deepEqual(server.hub.broadcast("after-close"), { delivered: 3, dropped: 0 });
    await drain(server, clients.slice(0, 3), "end-2");
    for (const client of clients.slice(0, 3)) {
      assert.deepEqual(client.messages.slice(-2), ["after-close", "end-2"]);
    }
    assert.equal(clients[3].messages.at(-1), "end");
    for (const client of clients.slice(0, 3)) await client.close();
    await server.closes.reach(4, 5_000, "every close handler");
    assert.equal(server.hub.size, 0);
  } finally {
    await server.stop();
  }
}, { only: "bun" });

test("bun native fan-out: a dead peer in the snapshot is evicted and not counted", async () => {
  const server = serve();
  try {
    const a = await openClient(server.url);
    const b = await openClient(server.url);
    const c = await openClient(server.url);
    await server.opens.reach(3, 5_000, "three opens");
    server.publishes();
    // Close c's runtime socket under the hub: Bun reports the close a microtask later.
    socketOf(server.conns[2]).close(1000, "gone");
    assert.deepEqual(server.hub.broadcast("news"), { delivered: 2, dropped: 1 });
    assert.equal(server.publishes(), 1);
    assert.equal(server.hub.size, 2, "the dead peer is evicted");
    assert.equal(await a.nextRaw(), "news");
    assert.equal(await b.nextRaw(), "news");
    assert.equal((await c.closedWithin()).code, 1000);
    assert.equal(c.messages.length, 0);
    await a.close();
    await b.close();
    await server.closes.reach(3, 5_000, "every close handler");
    assert.equal(server.closes.value, 3, "cleanup ran once per connection");
  } finally {
    await server.stop();
  }
}, { only: "bun" });

test("bun native fan-out: a room's topic is subscribed from its first broadcast, not at join", async () => {
  const server = serve();
  try {
    const a = await openClient(server.url);
    const b = await openClient(server.url);
    await server.opens.reach(2, 5_000, "two opens");
    server.publishes();
    const [ca, cb] = server.conns;
    const subscribed = (conn: Connection, topic: string) =>
      (socketOf(conn).raw as unknown as { isSubscribed(topic: string): boolean }).isSubscribed(topic);
    ca.join("solo");
    ca.join("r");
    cb.join("r");
    assert.deepEqual([subscribed(ca, "#r"), subscribed(cb, "#r")], [false, false], "no topic at join");
    assert.deepEqual(server.hub.broadcast("one", { room: "solo" }), { delivered: 1, dropped: 0 });
    assert.equal(subscribed(ca, "#solo"), false, "a one-member room takes the loop, without a topic");
    assert.deepEqual(server.hub.broadcast("two", { room: "r" }), { delivered: 2, dropped: 0 });
    assert.deepEqual([subscribed(ca, "#r"), subscribed(cb, "#r")], [true, true]);
    assert.equal(server.publishes(), 1);
    assert.equal(await a.nextRaw(), "one");
    assert.equal(await a.nextRaw(), "two");
    assert.equal(await b.nextRaw(), "two");
    const c = await openClient(server.url);
    await server.opens.reach(3, 5_000, "a third open");
    server.conns[2].join("r");
    assert.equal(subscribed(server.conns[2], "#r"), true, "a later member subscribes at join");
    assert.deepEqual(server.hub.broadcast("three", { room: "r" }), { delivered: 3, dropped: 0 });
    assert.equal(await c.nextRaw(), "three");
    await Promise.all([a.close(), b.close(), c.close()]);
  } finally {
    await server.stop();
  }
}, { only: "bun" });

// The pre-publish check reads the `readyState` the adapter keeps instead of
// calling into Bun for each target; this is what makes that exact.
test("bun: the readyState the adapter keeps is Bun's own, however a connection ends", async () => {
  const server = serve({ maxMessageBytes: 1024 });
  const raw: net.Socket[] = [];
  try {
    const clean = await openClient(server.url);
    const tooBig = await openClient(server.url);
    const closedByServer = await openClient(server.url);
    const response = await rawRequest(server.port);
    assert.equal(response.status, 101);
    raw.push(response.socket);
    const atShutdown = await openClient(server.url);
    await server.opens.reach(5, 5_000, "five opens");
    for (const conn of server.conns) {
      const socket = socketOf(conn);
      assert.deepEqual([socket.readyState, socket.raw.readyState], [1, 1], "expected both open while open");
    }
    await clean.close();
    await server.closes.reach(1, 5_000, "the clean close");
    tooBig.send("x".repeat(2048)); // past maxMessageBytes: Bun closes it itself
    assert.equal((await tooBig.closedWithin()).code, 1009);
    await server.closes.reach(2, 5_000, "Bun's own close");
    server.conns[2].close(4000, "bye");
    assert.equal((await closedByServer.closedWithin()).code, 4000);
    response.socket.destroy(); // the peer vanishes: no Close frame
    await server.closes.reach(4, 5_000, "the vanished peer");
    assert.deepEqual(server.hub.broadcast("left"), { delivered: 1, dropped: 0 });
    assert.equal(await atShutdown.nextRaw(), "left");
    await server.endpoint.shutdown({ deadlineMs: 2_000 });
    assert.equal((await atShutdown.closedWithin()).code, 1001);
    assert.deepEqual(server.closeInfos.map((info) => info.code), [1000, 1009, 4000, 1006, 1001]);
    assert.deepEqual(
      server.statesAtClose,
      Array.from({ length: 5 }, () => ({ kept: 3, bun: 3 })),
      "expected the kept state closed whenever Bun's is, in every close handler",
    );
  } finally {
    for (const socket of raw) await destroy(socket);
    await server.stop();
  }
}, { only: "bun" });

/** Counts the text frames in a server-to-client byte stream (unmasked frames), up to a Close frame. */
function countTextFrames(bytes: Uint8Array): { text: number; close: number | undefined } {
  let at = 0;
  let text = 0;
  while (at + 2 <= bytes.length) {
    const opcode = bytes[at] & 0x0f;
    let length = bytes[at + 1] & 0x7f;
    let header = 2;
    if (length === 126) {
      length = (bytes[at + 2] << 8) | bytes[at + 3];
      header = 4;
    } else if (length === 127) {
      length = Number(new DataView(bytes.buffer, bytes.byteOffset + at + 2, 8).getBigUint64(0));
      header = 10;
    }
    if (at + header + length > bytes.length) break; // a frame cut short
    if (opcode === 8) {
      const code = length >= 2 ? (bytes[at + header] << 8) | bytes[at + header + 1] : undefined;
      return { text, close: code };
    }
    if (opcode === 1) text++;
    at += header + length;
  }
  return { text, close: undefined };
}

// 64 broadcasts of 4 KiB per event-loop turn stay within the publish budget
// (maxMessageBytes per turn); 400 exceed it, so each turn mixes publishes and
// send loops. Messages of 20 bytes fit the share each target reserves for
// the list (a sixteenth of the bound), so most broadcasts publish without
// checking the targets; it takes many more of them to fill the stalled
// peer's kernel buffers.
const STALL_CASES = [
  { perTurn: 64, bytes: 4 * 1024, turns: 100 },
  { perTurn: 400, bytes: 4 * 1024, turns: 100 },
  { perTurn: 400, bytes: 20, turns: 2_000 },
];
for (const { perTurn, bytes, turns } of STALL_CASES) {
  test(
    `bun native fan-out: a peer that stopped reading is closed with 1013, counts stay exact (${perTurn} per turn of ${bytes} B)`,
    async () => {
      const bound = 64 * 1024;
      const server = serve({ maxBufferedBytes: bound });
      let stalled: net.Socket | undefined;
      try {
        const a = await openClient(server.url);
        const b = await openClient(server.url);
        const response = await rawRequest(server.port);
        assert.equal(response.status, 101);
        stalled = response.socket;
        stalled.pause(); // reads nothing more: the server's writes pile up in the kernel, then in Bun
        await server.opens.reach(3, 5_000, "three opens");
        server.publishes();
        const message = "m".repeat(bytes - 1);
        let broadcasts = 0;
        let delivered = 0;
        let dropped = 0;
        // Bounded: at most 160 MiB to the stalled peer if nothing stopped it.
        for (let turn = 0; turn < turns && server.hub.size === 3; turn++) {
          for (let i = 0; i < perTurn; i++) {
            const result = server.hub.broadcast(message);
            broadcasts++;
            delivered += result.delivered;
            dropped += result.dropped;
            assert.equal(result.delivered + result.dropped, server.hub.size + result.dropped);
          }
          // Let the event loop write the queues out, and the healthy clients (in this process) read all of
          // it: a turn puts up to 1.6 MiB in each one's kernel buffers, which hold it only when empty, and a
          // healthy peer still behind from the turn before would overflow the bound and be closed too.
          await new Promise((resolve) => setTimeout(resolve, 0));
          if (server.hub.size === 3) { for (const client of [a, b]) await client.received(broadcasts); }
        }
        assert.equal(server.hub.size, 2, "the stalled peer was closed");
        assert.equal(dropped, 1, "the stalled peer was counted once as dropped");
        const publishes = server.publishes();
        assert.ok(publishes > 0, "broadcasts went through the native publish");
        if (perTurn === 400 && bytes > 1024) {
          assert.ok(publishes < broadcasts, "and some through the loop, past the budget");
        }
        await server.closes.reach(1, 5_000, "the stalled peer's close handler");
        assert.equal(server.closeInfos[0].code, 1013);
        assert.equal(server.endpoint.stats().slowConsumers, 1);
        // Healthy peers get every frame.
        await drain(server, [a, b], "end");
        assert.equal(a.messages.length, broadcasts + 1);
        assert.equal(b.messages.length, broadcasts + 1);
        // The stalled peer got exactly the frames counted as delivered to it.
        const toStalled = delivered - 2 * broadcasts;
        const chunks: Uint8Array[] = [];
        const ended = new Promise<void>((resolve) => {
          stalled!.on("close", () => resolve());
          stalled!.on("end", () => resolve());
        });
        stalled.on("data", (chunk: Uint8Array) => chunks.push(chunk));
        stalled.resume();
        await deadline(ended, 10_000, "the stalled peer's stream to end");
        const all = new Uint8Array(chunks.reduce((n, chunk) => n + chunk.length, 0));
        let offset = 0;
        for (const chunk of chunks) {
          all.set(chunk, offset);
          offset += chunk.length;
        }
        const frames = countTextFrames(all);
        assert.ok(toStalled > 0);
        assert.equal(
          frames.text,
          toStalled,
          "frames received by the stalled peer = counted as delivered to it",
        );
        await a.close();
        await b.close();
      } finally {
        if (stalled !== undefined) await destroy(stalled);
        await server.stop();
      }
    },
    { only: "bun", timeoutMs: 40_000 },
  );
}

test("bun native fan-out: a message over the budget, or a list to skip, takes the send loop", async () => {
  const server = serve({ maxMessageBytes: 1024 });
  try {
    const a = await openClient(server.url);
    const b = await openClient(server.url);
    await server.opens.reach(2, 5_000, "two opens");
    server.publishes();
    const big = "b".repeat(2048);
    assert.deepEqual(server.hub.broadcast(big), { delivered: 2, dropped: 0 });
    assert.deepEqual(server.hub.broadcast("skip-list", { except: [server.conns[0]] }), {
      delivered: 1,
      dropped: 0,
    });
    assert.equal(server.publishes(), 0, "neither went through publish");
    assert.deepEqual(server.hub.broadcast("small"), { delivered: 2, dropped: 0 });
    assert.equal(server.publishes(), 1);
    assert.equal(await a.nextRaw(), big);
    assert.equal(await a.nextRaw(), "small");
    assert.equal(await b.nextRaw(), big);
    assert.equal(await b.nextRaw(), "skip-list");
    assert.equal(await b.nextRaw(), "small");
    await a.close();
    await b.close();
  } finally {
    await server.stop();
  }
}, { only: "bun" });

test('bun fan-out "loop": no native fan-out, Bun\'s limit is the bound', async () => {
  const server = serve({ maxBufferedBytes: 64 * 1024 }, "loop");
  try {
    const handlers = bunHandlers(server.endpoint, { fanout: "loop" });
    assert.equal(handlers.websocket.backpressureLimit, 64 * 1024);
    assert.equal(bunHandlers(server.endpoint).websocket.backpressureLimit, 64 * 1024 + 1024 * 1024);
    const a = await openClient(server.url);
    const b = await openClient(server.url);
    await server.opens.reach(2, 5_000, "two opens");
    assert.equal(server.hub.fanout, undefined);
    assert.deepEqual(server.hub.broadcast("x"), { delivered: 2, dropped: 0 });
    assert.equal(await a.nextRaw(), "x");
    assert.equal(await b.nextRaw(), "x");
    await a.close();
    await b.close();
  } finally {
    await server.stop();
  }
}, { only: "bun" });
