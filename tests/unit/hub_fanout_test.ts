/**
 * The hub with a native fan-out installed (what the Bun adapter does), on a
 * fake fan-out: subscriptions follow membership, targets are checked before
 * the publish (or covered by the share a check reserved), counts are exact,
 * and the loop takes over where a publish cannot be exact.
 */

import assert from "node:assert/strict";
import { test } from "../_harness.ts";
import { createEndpoint } from "../../server/mod.ts";
import type { CloseInfo, SocketLike } from "../../server/types.ts";
import { payloadBound } from "../../server/limits.ts";
import type { ConnectionHub, NativeFanout } from "../../server/hub.ts";
import { FakeSocket, ManualClock, MemoryLogger, openFake } from "./_fake_socket.ts";

/** A socket of another runtime, which the fan-out cannot subscribe. */
class ForeignSocket extends FakeSocket {}

/** Topics per socket, and a publish that writes to the subscribers at once. */
class FakeFanout implements NativeFanout {
  topics = new Map<SocketLike, Set<string>>();
  publishes: { topic: string; from?: SocketLike }[] = [];
  accept = true;

  owns(socket: SocketLike): boolean {
    return !(socket instanceof ForeignSocket);
  }
  subscribe(socket: SocketLike, topic: string): boolean {
    if (socket instanceof ForeignSocket) return false;
    let set = this.topics.get(socket);
    if (set === undefined) this.topics.set(socket, set = new Set());
    set.add(topic);
    return true;
  }
  unsubscribe(socket: SocketLike, topic: string): void {
    this.topics.get(socket)?.delete(topic);
  }
  /** How admitted messages are counted: at their bound unless a test says otherwise. */
  count: (message: string | Uint8Array | ArrayBuffer) => number = payloadBound;
  admit(message: string | Uint8Array | ArrayBuffer): number {
    return this.accept ? this.count(message) : -1;
  }
  publish(topic: string, message: string | Uint8Array | ArrayBuffer, from?: SocketLike): void {
    this.publishes.push({ topic, from });
    for (const [socket, set] of this.topics) {
      if (socket !== from && set.has(topic)) (socket as FakeSocket).sent.push(message);
    }
  }
  of(socket: SocketLike): string[] {
    return [...(this.topics.get(socket) ?? [])].sort();
  }
}

function setup(maxBufferedBytes = 1024) {
  const closes: CloseInfo[] = [];
  const ep = createEndpoint({
    clock: new ManualClock(),
    logger: new MemoryLogger(),
    maxBufferedBytes,
    close: (_conn, info) => void closes.push(info),
  });
  const fanout = new FakeFanout();
  const hub = ep.hub as ConnectionHub;
  hub.useNativeFanout(fanout);
  return { ep, hub, fanout, closes };
}

test("native fan-out: subscriptions follow open, join, leave and cleanup", async () => {
  const { ep, fanout } = setup();
  const a = await openFake(ep);
  const b = await openFake(ep);
  // Nobody pays for a topic until it is published to.
  assert.deepEqual(fanout.of(a.socket), []);
  a.conn.join("r");
  a.conn.join("*");
  b.conn.join("r");
  assert.deepEqual(fanout.of(a.socket), [], "expected no topic at join");
  ep.hub.broadcast("to r", { room: "r" });
  assert.deepEqual(fanout.publishes.map((p) => p.topic), ["#r"]);
  assert.deepEqual(fanout.of(a.socket), ["#r"], "expected the room's topic from its first broadcast on");
  assert.deepEqual(fanout.of(b.socket), ["#r"]);
  ep.hub.broadcast("to all");
  assert.deepEqual(fanout.publishes.map((p) => p.topic), ["#r", "*"]);
  assert.deepEqual(fanout.of(a.socket), ["#r", "*"], "room topics cannot collide with everyone's");
  assert.deepEqual(fanout.of(b.socket), ["#r", "*"]);
  ep.hub.broadcast("to the room named *", { room: "*" });
  assert.deepEqual(fanout.of(a.socket), ["#r", "*"], "a one-member room takes the loop and costs no topic");
  assert.deepEqual(a.socket.sent, ["to r", "to all", "to the room named *"]);
  const c = await openFake(ep);
  assert.deepEqual(fanout.of(c.socket), ["*"], "expected later connections subscribed at once");
  c.conn.join("r");
  assert.deepEqual(fanout.of(c.socket), ["#r", "*"], "and to a room's topic at join once it has one");
  a.conn.leave("r");
  assert.deepEqual(fanout.of(a.socket), ["*"]);
  a.session.closed(1000, "");
  assert.deepEqual(fanout.of(a.socket), []);
  assert.deepEqual(ep.hub.broadcast("again"), { delivered: 2, dropped: 0 });
  assert.deepEqual(
    fanout.publishes.map((p) => p.topic),
    ["#r", "*", "*"],
    "expected the publish path still taken",
  );
  // An emptied room loses its topic; a new room of that name starts without one.
  b.conn.leave("r");
  c.conn.leave("r");
  b.conn.join("r");
  c.conn.join("r");
  assert.deepEqual(fanout.of(b.socket), ["*"]);
  assert.deepEqual(ep.hub.broadcast("new r", { room: "r" }), { delivered: 2, dropped: 0 });
  assert.deepEqual(fanout.of(c.socket), ["#r", "*"]);
});

test("native fan-out: a socket the runtime refuses at a room's first broadcast leaves the fan-out", async () => {
  const { ep, fanout } = setup();
  const [a, b, c] = [await openFake(ep), await openFake(ep), await openFake(ep)];
  for (const x of [a, b, c]) x.conn.join("r");
  const subscribe = fanout.subscribe.bind(fanout);
  fanout.subscribe = (socket, topic) => socket === b.socket ? false : subscribe(socket, topic);
  assert.deepEqual(ep.hub.broadcast("m", { room: "r" }), { delivered: 3, dropped: 0 });
  assert.equal(fanout.publishes.length, 0, "expected the loop while a connection is outside the fan-out");
  b.session.closed(1000, "");
  assert.deepEqual(ep.hub.broadcast("n", { room: "r" }), { delivered: 2, dropped: 0 });
  assert.deepEqual(fanout.publishes.map((p) => p.topic), ["#r"]);
  assert.deepEqual(a.socket.sent, ["m", "n"]);
  assert.deepEqual(c.socket.sent, ["m", "n"]);
});

test("native fan-out: a socket the runtime refuses at the first broadcast to all leaves the fan-out", async () => {
  const { ep, fanout } = setup();
  const [a, b, c] = [await openFake(ep), await openFake(ep), await openFake(ep)];
  // Accepted as the runtime's own at open, refused when subscribed later (closed meanwhile, say).
  const subscribe = fanout.subscribe.bind(fanout);
  fanout.subscribe = (socket, topic) => socket === b.socket ? false : subscribe(socket, topic);
  assert.deepEqual(ep.hub.broadcast("m"), { delivered: 3, dropped: 0 });
  assert.equal(fanout.publishes.length, 0, "expected the loop while a connection is outside the fan-out");
  assert.deepEqual(b.socket.sent, ["m"]);
  b.session.closed(1000, "");
  ep.hub.broadcast("n");
  ep.hub.broadcast("o");
  assert.deepEqual(
    fanout.publishes.map((p) => p.topic),
    ["*", "*"],
    "expected the publish path once it left",
  );
  assert.deepEqual(a.socket.sent, ["m", "n", "o"]);
  assert.deepEqual(c.socket.sent, ["m", "n", "o"]);
});

test("native fan-out: one publish; slow and dead peers are removed before it and counted dropped", async () => {
  const { ep, fanout, closes } = setup(1024);
  const [a, b, c, d] = [await openFake(ep), await openFake(ep), await openFake(ep), await openFake(ep)];
  c.socket.bufferedAmount = 2048; // above the bound
  d.socket.readyState = 3; // closed under the hub
  const result = ep.hub.broadcast("m");
  assert.deepEqual(result, { delivered: 2, dropped: 2 });
  assert.equal(fanout.publishes.length, 1);
  assert.deepEqual(a.socket.sent, ["m"]);
  assert.deepEqual(b.socket.sent, ["m"]);
  assert.deepEqual(c.socket.sent, [], "the slow peer was not written to");
  assert.deepEqual(d.socket.sent, []);
  assert.equal(c.socket.closes[0].code, 1013);
  assert.equal(ep.hub.size, 2);
  assert.deepEqual(closes.map((info) => info.code).sort(), [1006, 1013]);
  const stats = ep.stats();
  assert.equal(stats.slowConsumers, 1);
  assert.equal(stats.sendsDropped, 2);
  assert.equal(stats.messagesOut, 2);
});

test("native fan-out: except one open member publishes from it; a room reaches its members only", async () => {
  const { ep, fanout } = setup();
  const [a, b, c] = [await openFake(ep), await openFake(ep), await openFake(ep)];
  a.conn.join("r");
  b.conn.join("r");
  assert.deepEqual(ep.hub.broadcast("x", { room: "r", except: a.conn }), { delivered: 1, dropped: 0 });
  assert.equal(fanout.publishes.at(-1)?.from, a.socket);
  assert.equal(fanout.publishes.at(-1)?.topic, "#r");
  assert.deepEqual(ep.hub.broadcast("y", { except: c.conn }), { delivered: 2, dropped: 0 });
  assert.deepEqual(ep.hub.broadcast("z", { room: "r", except: c.conn }), { delivered: 2, dropped: 0 });
  assert.equal(fanout.publishes.at(-1)?.from, undefined, "a non-member is simply not a target");
  assert.deepEqual(a.socket.sent, ["y", "z"]);
  assert.deepEqual(b.socket.sent, ["x", "y", "z"]);
  assert.deepEqual(c.socket.sent, []);
});

test("native fan-out: the loop takes over when the fan-out refuses, for a list to skip, or for a foreign socket", async () => {
  const { ep, fanout } = setup();
  const a = await openFake(ep);
  const b = await openFake(ep);
  fanout.accept = false;
  assert.deepEqual(ep.hub.broadcast("refused"), { delivered: 2, dropped: 0 });
  fanout.accept = true;
  assert.deepEqual(ep.hub.broadcast("list", { except: [a.conn] }), { delivered: 1, dropped: 0 });
  assert.equal(fanout.publishes.length, 0);
  // A socket the fan-out cannot subscribe: every broadcast loops while it is open.
  const foreign = await openFake(ep, { socket: new ForeignSocket() });
  assert.deepEqual(ep.hub.broadcast("with-foreign"), { delivered: 3, dropped: 0 });
  assert.equal(fanout.publishes.length, 0);
  assert.deepEqual(foreign.socket.sent, ["with-foreign"]);
  foreign.session.closed(1000, "");
  assert.deepEqual(ep.hub.broadcast("native"), { delivered: 2, dropped: 0 });
  assert.equal(fanout.publishes.length, 1);
  assert.deepEqual(a.socket.sent, ["refused", "with-foreign", "native"]);
  assert.deepEqual(b.socket.sent, ["refused", "list", "with-foreign", "native"]);
});

test("native fan-out installed: a direct send checks the buffered bytes even after Bun-style results", async () => {
  const { ep } = setup(1024);
  const a = await openFake(ep);
  a.socket.sendResult = 5; // Bun reports numbers: without a native fan-out the check would be skipped from here on
  assert.equal(a.conn.send("one"), true);
  const big = "x".repeat(400); // up to 1 200 bytes: past what the 1 024-byte bound leaves after "one"
  assert.equal(a.conn.send(big), true);
  a.socket.bufferedAmount = 4096; // the peer stopped reading
  assert.equal(a.conn.send("two"), false);
  assert.deepEqual(a.socket.sent, ["one", big]);
  assert.equal(a.socket.closes[0].code, 1013);
});

/** Counts how often the hub reads a fake socket's ready state: once per target it checks. */
function countReads(socket: FakeSocket): { reads: number } {
  const counter = { reads: 0 };
  let state = socket.readyState;
  Object.defineProperty(socket, "readyState", {
    get: () => (counter.reads++, state),
    set: (value: number) => void (state = value),
  });
  return counter;
}

test("native fan-out: a check that finds every member fine lets the next broadcasts publish unchecked until its reserve is spent", async () => {
  // A sixteenth of the 1 024-byte bound is reserved: 64 bytes, 21 broadcasts of "m" (3 bytes at its bound).
  const { ep, fanout } = setup(1024);
  const [a, b] = [await openFake(ep), await openFake(ep)];
  const [ra, rb] = [countReads(a.socket), countReads(b.socket)];
  assert.deepEqual(ep.hub.broadcast("m"), { delivered: 2, dropped: 0 });
  const checked = ra.reads;
  assert.ok(checked > 0, "expected the first broadcast to check its targets");
  for (let i = 0; i < 21; i++) assert.deepEqual(ep.hub.broadcast("m"), { delivered: 2, dropped: 0 });
  assert.equal(ra.reads, checked, "expected no target read while the reserve lasts");
  assert.equal(rb.reads, checked);
  assert.deepEqual(ep.hub.broadcast("m"), { delivered: 2, dropped: 0 });
  assert.ok(ra.reads > checked, "expected a check once the reserve is spent");
  assert.equal(fanout.publishes.length, 23);
  assert.equal(a.socket.sent.length, 23);
  assert.equal(ep.stats().messagesOut, 46);
});

test("native fan-out: the reserve is spent by the bytes the fan-out admits, so an exact count lasts longer", async () => {
  // 16 ASCII code units: 48 bytes at their bound, 16 exactly; the reserve is 64 bytes.
  const text = "m".repeat(16);
  for (const [count, unchecked] of [[payloadBound, 1], [(m: string) => m.length, 4]] as const) {
    const { ep, fanout } = setup(1024);
    fanout.count = count as (message: string | Uint8Array | ArrayBuffer) => number;
    const [a] = [await openFake(ep), await openFake(ep)];
    const reads = countReads(a.socket);
    ep.hub.broadcast(text);
    const checked = reads.reads;
    for (let i = 0; i < unchecked; i++) ep.hub.broadcast(text);
    assert.equal(
      reads.reads,
      checked,
      `expected ${unchecked} broadcasts unchecked counting ${count(text)} bytes`,
    );
    ep.hub.broadcast(text);
    assert.ok(reads.reads > checked, `expected a check after ${unchecked}`);
    assert.equal(a.socket.sent.length, unchecked + 2);
  }
});

test("native fan-out: a bound of 8 GiB reserves its sixteenth too", async () => {
  const { ep } = setup(8 * 1024 ** 3);
  const [a] = [await openFake(ep), await openFake(ep)];
  const reads = countReads(a.socket);
  ep.hub.broadcast("m");
  const checked = reads.reads;
  for (let i = 0; i < 100; i++) ep.hub.broadcast("m");
  assert.equal(reads.reads, checked, "expected the broadcasts after the check to publish unchecked");
});

test("native fan-out: a member that joins is checked; one that leaves is no longer counted", async () => {
  const { ep, fanout, closes } = setup(1024);
  const [a, b, d] = [await openFake(ep), await openFake(ep), await openFake(ep)];
  for (const x of [a, b, d]) x.conn.join("r");
  ep.hub.broadcast("m", { room: "r" });
  // A slow peer joins: it reserved nothing, so the next broadcast must find it.
  const c = await openFake(ep);
  c.socket.bufferedAmount = 4096;
  c.conn.join("r");
  assert.deepEqual(ep.hub.broadcast("n", { room: "r" }), { delivered: 3, dropped: 1 });
  assert.deepEqual(c.socket.sent, [], "the slow newcomer was not written to");
  assert.equal(c.socket.closes[0].code, 1013);
  ep.hub.broadcast("o", { room: "r" }); // checks again after the failure, and reserves
  const reads = countReads(b.socket);
  a.session.closed(1000, "");
  assert.deepEqual(ep.hub.broadcast("p", { room: "r" }), { delivered: 2, dropped: 0 });
  assert.deepEqual(ep.hub.broadcast("q", { room: "r", except: b.conn }), { delivered: 1, dropped: 0 });
  assert.equal(reads.reads, 0, "leaving keeps the reserve of those who stay");
  assert.equal(fanout.publishes.at(-1)?.from, b.socket, "a skipped member publishes for the rest");
  assert.deepEqual(b.socket.sent, ["m", "n", "o", "p"]);
  assert.deepEqual(d.socket.sent, ["m", "n", "o", "p", "q"]);
  assert.deepEqual(closes.map((info) => info.code), [1013, 1000]);
});

test("native fan-out: a skipped member reserves too, so the next broadcast that reaches it needs no check", async () => {
  const { ep } = setup(1024);
  const [a, b, c] = [await openFake(ep), await openFake(ep), await openFake(ep)];
  assert.deepEqual(ep.hub.broadcast("m", { except: a.conn }), { delivered: 2, dropped: 0 });
  const reads = countReads(a.socket);
  assert.deepEqual(ep.hub.broadcast("n"), { delivered: 3, dropped: 0 });
  assert.equal(reads.reads, 0);
  assert.deepEqual(a.socket.sent, ["n"]);
  // A skipped member without room reserves nothing: every member is checked next time.
  const spends = "x".repeat(320); // 960 bytes at its bound: past what c's budget holds
  assert.equal(c.conn.send(spends), true);
  c.socket.bufferedAmount = 4096; // and c stopped reading
  const d = await openFake(ep); // a join: the next broadcast checks everyone
  assert.deepEqual(ep.hub.broadcast("o", { except: c.conn }), { delivered: 3, dropped: 0 });
  assert.deepEqual(ep.hub.broadcast("p"), { delivered: 3, dropped: 1 }, "the slow one found, not written to");
  assert.deepEqual(c.socket.sent, ["m", "n", spends]);
  assert.equal(c.socket.closes[0].code, 1013);
  assert.deepEqual(d.socket.sent, ["o", "p"]);
  assert.deepEqual(b.socket.sent, ["m", "n", "o", "p"]);
});

test("native fan-out: what a list reserved counts as written, so a direct send reads the buffered bytes sooner", async () => {
  const { ep } = setup(1024);
  const [a] = [await openFake(ep), await openFake(ep)];
  ep.hub.broadcast("m"); // budget: 1 024 - 3 ("m") - 64 reserved = 957
  // 960 bytes at its bound: within the bound when sent, and the budget is spent
  // (without the reserve 61 bytes would be left, and "y" would go out unread).
  const spends = "x".repeat(320);
  assert.equal(a.conn.send(spends), true);
  a.socket.bufferedAmount = 4096; // the peer stopped reading
  assert.equal(a.conn.send("y"), false, "expected the spent budget to read the buffered bytes");
  assert.equal(a.socket.closes[0].code, 1013);
  assert.deepEqual(a.socket.sent, ["m", spends]);
});

test("native fan-out: during a shutdown a broadcast checks its targets again and writes to nobody", async () => {
  const { ep, fanout } = setup();
  const [a, b] = [await openFake(ep), await openFake(ep)];
  assert.deepEqual(ep.hub.broadcast("m"), { delivered: 2, dropped: 0 });
  const done = ep.shutdown({ deadlineMs: 1000 });
  assert.deepEqual(ep.hub.broadcast("late"), { delivered: 0, dropped: 2 });
  assert.equal(fanout.publishes.length, 1);
  a.session.closed(1001, "");
  b.session.closed(1001, "");
  await done;
  assert.deepEqual(a.socket.sent, ["m"]);
});
