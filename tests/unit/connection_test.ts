import assert from "node:assert/strict";
import { test } from "../_harness.ts";
import { lifecycleOf } from "../../server/endpoint.ts";
import { createEndpoint } from "../../server/mod.ts";
import { safeClose } from "../../server/connection.ts";
import type { CloseInfo, EndpointOptions } from "../../server/types.ts";
import { FakeSocket, ManualClock, MemoryLogger, openFake, upgradeRequest } from "./_fake_socket.ts";

function endpoint(extra: EndpointOptions<unknown> = {}) {
  const closes: CloseInfo[] = [];
  const ep = createEndpoint({
    clock: new ManualClock(),
    logger: new MemoryLogger(),
    close: (_conn, info) => void closes.push(info),
    ...extra,
  });
  return { ep, closes };
}

test("send delivers to an open socket and counts it", async () => {
  const { ep } = endpoint();
  const { conn, socket } = await openFake(ep);
  assert.equal(conn.send("hello"), true);
  assert.equal(conn.sendJson({ type: "x" }), true);
  assert.deepEqual(socket.sent, ["hello", '{"type":"x"}']);
  assert.equal(ep.stats().messagesOut, 2);
});

test("send never throws: a socket whose send throws (Deno while CONNECTING) gives false and a 1011 close", async () => {
  const { ep, closes } = endpoint();
  const { conn, socket } = await openFake(ep);
  socket.sendThrows = new DOMException("still connecting", "InvalidStateError");
  assert.equal(conn.send("x"), false);
  assert.deepEqual(closes, [{ code: 1011, reason: "send failed", initiator: "server" }]);
  assert.equal(ep.hub.size, 0);
  assert.equal(conn.send("again"), false);
  assert.equal(ep.stats().sendsDropped, 2);
});

test("readyState is checked before send: a CONNECTING or CLOSED socket is never written to", async () => {
  const { ep } = endpoint();
  const { conn, socket } = await openFake(ep);
  socket.readyState = 0;
  socket.sendThrows = new Error("must not be called");
  // Still connecting although opened: nothing written, nothing thrown.
  assert.equal(conn.send("x"), false);
  assert.equal(socket.sent.length, 0);
});

test("sendJson of an unserializable value returns false without throwing", async () => {
  const { ep } = endpoint({ onHandlerError: "continue" });
  const { conn, socket } = await openFake(ep);
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  assert.equal(conn.sendJson(cyclic), false);
  assert.equal(conn.sendJson(10n), false);
  assert.equal(conn.sendJson(undefined), false);
  assert.equal(socket.sent.length, 0);
  assert.equal(ep.hub.size, 1, "a programming error in a payload does not close the connection");
});

test("close is idempotent, never throws, and cleans up once", async () => {
  const { ep, closes } = endpoint();
  const { conn, socket, session } = await openFake(ep);
  socket.closeThrows = new Error("boom");
  conn.close(4001, "done");
  conn.close(4002, "again");
  session.closed(4001, "done");
  assert.deepEqual(closes, [{ code: 4001, reason: "done", initiator: "server" }]);
  assert.equal(socket.closes[0].code, 4001);
  assert.equal(ep.stats().open, 0);
  assert.equal(ep.stats().closedByCode["4001"], 1);
  assert.equal(conn.readyState, 2);
});

test("close with an invalid code or over-long reason still closes the socket", () => {
  const calls: unknown[][] = [];
  const picky = {
    close(...args: unknown[]) {
      calls.push(args);
      if (args.length > 0 && args[0] !== undefined) throw new RangeError("invalid close code");
    },
  };
  safeClose(picky, 1005, "x".repeat(200));
  assert.equal(calls.length, 3);
  assert.deepEqual(calls[2], []);
});

test("Bun send results: n > 0 delivered, -1 queued under backpressure (still delivered), 0 dropped → 1013", async () => {
  const { ep, closes } = endpoint();
  const a = await openFake(ep);
  a.socket.sendResult = 5;
  assert.equal(a.conn.send("hello"), true);
  a.socket.sendResult = -1;
  assert.equal(a.conn.send("queued"), true, "Bun queued it: it goes out, like a Deno send with a buffer");
  assert.equal(closes.length, 0);
  a.socket.sendResult = 0;
  assert.equal(a.conn.send("dropped"), false);
  assert.deepEqual(closes, [{ code: 1013, reason: "slow consumer", initiator: "server" }]);
  assert.equal(a.socket.closes[0].code, 1013);
  const stats = ep.stats();
  assert.equal(stats.slowConsumers, 1);
  assert.equal(stats.sendsDropped, 1);
  assert.equal(stats.messagesOut, 2);
  assert.equal(ep.hub.size, 0);
});

test("a runtime whose send returns numbers bounds its own queue: bufferedAmount is no longer read per send", async () => {
  const { ep, closes } = endpoint({ maxBufferedBytes: 10 });
  const { conn, socket } = await openFake(ep);
  socket.sendResult = 3;
  assert.equal(conn.send("abc"), true);
  let reads = 0;
  Object.defineProperty(socket, "bufferedAmount", {
    get: () => (reads++, 11),
  });
  socket.sendResult = -1;
  assert.equal(conn.send("queued by the runtime"), true);
  assert.equal(reads, 0);
  socket.sendResult = 0;
  assert.equal(conn.send("dropped by the runtime"), false);
  assert.equal(closes[0].code, 1013);
});

test("a runtime whose send returns numbers: no state read before the send; a 0 from a closed socket is a lost peer, not a slow one", async () => {
  const { ep, closes } = endpoint();
  const { conn, socket } = await openFake(ep);
  socket.sendResult = 3;
  assert.equal(conn.send("abc"), true);
  let reads = 0;
  let state = 1;
  Object.defineProperty(socket, "readyState", { get: () => (reads++, state) });
  assert.equal(conn.send("def"), true);
  assert.equal(reads, 0, "expected no readyState read on the way to a send that reports its result");
  // Closed under us, before its close event: Bun answers 0 (measured), as it does for a full queue.
  state = 3;
  socket.sendResult = 0;
  assert.equal(conn.send("into a closed socket"), false);
  assert.deepEqual(closes, [{ code: 1006, reason: "connection lost", initiator: "peer" }]);
  assert.equal(ep.stats().slowConsumers, 0);
  assert.equal(socket.closes.length, 0, "expected no close frame towards a closed socket");
});

test("the buffered amount is read only when what was written since could have passed the bound", async () => {
  const { ep, closes } = endpoint({ maxBufferedBytes: 1000 });
  const { conn, socket } = await openFake(ep);
  let reads = 0;
  let buffered = 0;
  Object.defineProperty(socket, "bufferedAmount", { get: () => (reads++, buffered) });
  // "abcdefghij" counts as at most 30 bytes: 1 000 bytes allow 33 sends after one read.
  for (let i = 0; i < 34; i++) assert.equal(conn.send("abcdefghij"), true);
  assert.equal(reads, 1, "expected one read for the first 34 sends");
  // The peer reads nothing: what we wrote is all still buffered, and the next read tells.
  buffered = 34 * 10;
  for (let i = 0; i < 200 && closes.length === 0; i++) {
    buffered += conn.send("abcdefghij") ? 10 : 0;
  }
  assert.deepEqual(closes.map((c) => c.code), [1013]);
  assert.ok(buffered <= 1000 + 30, `expected the bound kept, ${buffered} bytes buffered`);
  assert.ok(reads < 20, `expected a read per budget spent, not per send (${reads})`);
});

test("a slow consumer (bufferedAmount above the bound) is not written to and is closed with 1013", async () => {
  const { ep, closes } = endpoint({ maxBufferedBytes: 1000 });
  const { conn, socket } = await openFake(ep);
  socket.bufferedAmount = 1000;
  assert.equal(conn.send("ok at the bound"), true);
  socket.bufferedAmount = 1001;
  assert.equal(conn.send("too much"), false);
  assert.deepEqual(socket.sent, ["ok at the bound"]);
  assert.deepEqual(closes, [{ code: 1013, reason: "slow consumer", initiator: "server" }]);
});

test("a connection carries an id, data and remote address; rooms start empty", async () => {
  const { ep } = endpoint({ authenticate: () => ({ user: "ann" }) });
  const a = await openFake(ep, { remoteAddress: "10.0.0.1" });
  const b = await openFake(ep);
  assert.notEqual(a.conn.id, b.conn.id);
  assert.deepEqual(a.conn.data, { user: "ann" });
  assert.equal(a.conn.remoteAddress, "10.0.0.1");
  assert.equal(b.conn.remoteAddress, undefined);
  assert.equal(a.conn.rooms.size, 0);
  assert.equal(a.conn.readyState, 1);
  a.socket.bufferedAmount = 12;
  assert.equal(a.conn.bufferedAmount, 12);
});

test("a fresh connection is small: no rooms set until the first join", async () => {
  const { ep } = endpoint();
  const { conn } = await openFake(ep);
  // deno-lint-ignore no-explicit-any
  assert.equal((conn as any).joined, undefined);
  conn.join("a");
  // deno-lint-ignore no-explicit-any
  assert.equal((conn as any).joined, "a", "one room is kept as its name, not a collection");
  conn.join("b");
  // deno-lint-ignore no-explicit-any
  assert.ok((conn as any).joined instanceof Map);
  assert.deepEqual([...conn.rooms], ["a", "b"]);
  conn.leave("b");
  conn.leave("a");
  assert.equal(conn.rooms.size, 0);
  conn.join("c");
  assert.deepEqual([...conn.rooms], ["c"]);
  assert.deepEqual(ep.hub.members("c"), [conn]);
  assert.deepEqual(ep.hub.rooms(), ["c"]);
});

test("the session ignores events after cleanup and attach after the end closes the late socket", async () => {
  const { ep, closes } = endpoint();
  const admission = await ep.admit(upgradeRequest("http://localhost/ws"));
  assert.ok(admission.ok);
  admission.session.abandon();
  const late = new FakeSocket();
  admission.session.attach(late);
  admission.session.opened();
  admission.session.received('{"type":"x"}');
  admission.session.closed(1000, "");
  assert.equal(late.closes.length, 1);
  assert.equal(closes.length, 0, "close handler only for opened connections");
  assert.equal(ep.stats().opened, 0);
  assert.equal(lifecycleOf(ep).active, 0);
});
