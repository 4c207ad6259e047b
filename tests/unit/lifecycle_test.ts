import assert from "node:assert/strict";
import { test } from "../_harness.ts";
import { lifecycleOf } from "../../server/endpoint.ts";
import { ClientError, createEndpoint } from "../../server/mod.ts";
import type { CloseInfo, Connection, EndpointOptions } from "../../server/types.ts";
import { flush, ManualClock, MemoryLogger, openFake, upgradeRequest } from "./_fake_socket.ts";

function endpoint(options: EndpointOptions<unknown> = {}) {
  const closes: CloseInfo[] = [];
  const errors: unknown[] = [];
  const logger = new MemoryLogger();
  const clock = new ManualClock();
  const ep = createEndpoint({
    clock,
    logger,
    heartbeat: false,
    close: (_conn, info) => void closes.push(info),
    error: (_conn, error) => void errors.push(error),
    ...options,
  });
  return { ep, closes, errors, logger, clock };
}

function released(ep: ReturnType<typeof endpoint>["ep"]): void {
  assert.equal(ep.hub.size, 0);
  assert.equal(lifecycleOf(ep).active, 0);
  assert.equal(lifecycleOf(ep).perAddress.size, 0);
  assert.equal(ep.stats().open, 0);
}

// ---- exactly-once cleanup ------------------------------------------------------------------

test("cleanup once: peer close, then repeated close events", async () => {
  const { ep, closes } = endpoint();
  const { session, conn } = await openFake(ep, { remoteAddress: "1.2.3.4" });
  conn.join("room");
  session.closed(1000, "bye");
  session.closed(1000, "bye");
  session.errored(new Error("late"));
  assert.deepEqual(closes, [{ code: 1000, reason: "bye", initiator: "peer" }]);
  assert.deepEqual(ep.hub.rooms(), []);
  released(ep);
  assert.equal(ep.stats().closed, 1);
  assert.equal(ep.stats().errors, 0, "an error after cleanup is ignored");
});

test("cleanup once: Deno's double close event (1001 then 1005)", async () => {
  const { ep, closes } = endpoint();
  const { session } = await openFake(ep, { remoteAddress: "1.2.3.4" });
  session.closed(1001, "");
  session.closed(1005, "");
  assert.deepEqual(closes, [{ code: 1001, reason: "", initiator: "peer" }]);
  assert.deepEqual(ep.stats().closedByCode, { "1001": 1 });
  released(ep);
});

test("cleanup once: error without close before open (Deno upgrade failure) releases the slot, no close handler", async () => {
  const { ep, closes, errors, logger } = endpoint();
  const admission = await ep.admit(upgradeRequest(), { remoteAddress: "1.2.3.4" });
  assert.ok(admission.ok);
  admission.session.errored(new Error("handshake failed"));
  admission.session.errored(new Error("again"));
  admission.session.opened();
  assert.deepEqual(closes, []);
  assert.deepEqual(errors, [], "the error handler is for connections the application saw");
  assert.equal(ep.stats().errors, 1);
  assert.equal(logger.at("warn")[0].message, "upgrade failed");
  released(ep);
  assert.equal(ep.stats().opened, 0);
});

test("cleanup once: error without close after open cleans up at once (1006); a later close is ignored", async () => {
  const { ep, closes, errors } = endpoint();
  const { session, socket } = await openFake(ep, { remoteAddress: "1.2.3.4" });
  const failure = new Error("connection reset");
  session.errored(failure);
  assert.deepEqual(errors, [failure]);
  assert.deepEqual(closes, [{ code: 1006, reason: "socket error", initiator: "peer" }]);
  assert.equal(socket.closes.length, 1, "the socket is closed on our side too");
  session.closed(1006, "");
  assert.equal(closes.length, 1);
  released(ep);
});

test("cleanup once: close before open, abandon, and abandon after open are harmless", async () => {
  const { ep, closes } = endpoint();
  const a = await ep.admit(upgradeRequest(), { remoteAddress: "1.2.3.4" });
  assert.ok(a.ok);
  a.session.closed(1006, "");
  a.session.abandon();
  const b = await openFake(ep, { remoteAddress: "1.2.3.4" });
  b.session.abandon(); // after open: the session is live, abandon does nothing
  assert.equal(ep.hub.size, 1);
  b.session.closed(1000, "");
  assert.equal(closes.length, 1);
  released(ep);
});

test("cleanup once: a handler that throws with onHandlerError 'close' closes 1011", async () => {
  const { ep, closes, errors } = endpoint({
    onHandlerError: "close",
    message() {
      throw new Error("bug");
    },
  });
  const { session, socket } = await openFake(ep);
  session.received('{"type":"x"}');
  session.received('{"type":"x"}');
  assert.equal(errors.length, 1);
  assert.deepEqual(closes, [{ code: 1011, reason: "internal error", initiator: "server" }]);
  assert.equal(socket.closes[0].code, 1011);
  session.closed(1011, "");
  assert.equal(closes.length, 1);
  released(ep);
});

test("cleanup once: a handler that rejects with onHandlerError 'close' closes 1011", async () => {
  const { ep, closes } = endpoint({
    onHandlerError: "close",
    async message() {
      await Promise.resolve();
      throw new Error("async bug");
    },
  });
  const { session } = await openFake(ep);
  session.received('{"type":"x"}');
  await flush();
  assert.deepEqual(closes, [{ code: 1011, reason: "internal error", initiator: "server" }]);
  released(ep);
});

test("the close handler runs after the connection left the hub; its throw or rejection is only logged", async () => {
  let sizeInHandler = -1;
  const { ep, logger } = endpoint({
    close(conn) {
      sizeInHandler = ep.hub.size;
      if (conn.data === undefined) throw new Error("close handler bug");
    },
  });
  const a = await openFake(ep);
  a.session.closed(1000, "");
  assert.equal(sizeInHandler, 0);
  const { ep: ep2, logger: logger2 } = endpoint({
    close: () => Promise.reject(new Error("async close bug")),
  });
  const b = await openFake(ep2);
  b.session.closed(1000, "");
  await flush();
  assert.equal(logger.at("error")[0].message, "close handler failed");
  assert.match(String(logger2.at("error")[0].fields?.stack), /async close bug/);
});

// ---- handler errors ------------------------------------------------------------------------

test("ClientError thrown or rejected: an error envelope, the connection goes on", async () => {
  const { ep, errors, logger } = endpoint({
    message(_conn, msg) {
      if (msg.type === "sync") throw new ClientError('bad "input"\nline', "bad_input");
      return Promise.reject(new ClientError("no code"));
    },
  });
  const { session, socket } = await openFake(ep);
  session.received('{"type":"sync"}');
  session.received('{"type":"async"}');
  await flush();
  assert.deepEqual(socket.json(), [
    { type: "error", payload: { message: 'bad "input"\nline', code: "bad_input" } },
    { type: "error", payload: { message: "no code" } },
  ]);
  assert.equal(ep.hub.size, 1);
  assert.deepEqual(errors, []);
  assert.equal(logger.at("error").length, 0);
  assert.equal(ep.stats().handlerErrors, 0);
});

test("other exceptions: logged at error with stack, error handler called, connection goes on, others unaffected", async () => {
  const { ep, errors, logger } = endpoint({
    open(conn) {
      if (conn.remoteAddress === "open-fails") throw new RangeError("open bug");
    },
    message(conn, msg) {
      if (msg.type === "sync") throw new TypeError("sync bug");
      if (msg.type === "async") return Promise.reject(new Error("async bug"));
      if (msg.type === "value") throw "a string, not an Error";
      conn.sendJson({ type: "ok" });
    },
  });
  const a = await openFake(ep, { remoteAddress: "open-fails" });
  const b = await openFake(ep);
  a.session.received('{"type":"sync"}');
  a.session.received('{"type":"async"}');
  a.session.received('{"type":"value"}');
  b.session.received('{"type":"fine"}');
  await flush();
  assert.equal(errors.length, 4);
  const logged = logger.at("error");
  assert.equal(logged.length, 4);
  const stacks = logged.map((e) => String(e.fields?.stack ?? e.fields?.error));
  assert.match(stacks[0], /RangeError: open bug\n\s+at /);
  assert.match(stacks[1], /TypeError: sync bug/);
  assert.ok(stacks.some((s) => /Error: async bug\n\s+at /.test(s)));
  assert.ok(stacks.includes("a string, not an Error"));
  assert.equal(ep.hub.size, 2);
  assert.deepEqual(b.socket.json(), [{ type: "ok" }]);
  assert.equal(ep.stats().handlerErrors, 4);
});

test("an error handler that throws or rejects is contained", async () => {
  let calls = 0;
  const { ep, logger } = endpoint({
    message() {
      throw new Error("first");
    },
    error() {
      calls++;
      if (calls === 1) throw new Error("error handler bug");
      return Promise.reject(new Error("error handler async bug"));
    },
  });
  const { session } = await openFake(ep);
  session.received('{"type":"x"}');
  session.received('{"type":"x"}');
  await flush();
  assert.equal(calls, 2);
  const messages = logger.at("error").map((e) => e.message);
  assert.deepEqual(messages, [
    "handler failed",
    "error handler failed",
    "handler failed",
    "error handler failed",
  ]);
  assert.equal(ep.hub.size, 1);
});

// ---- inbound messages ----------------------------------------------------------------------

test("message handler gets the envelope; ping is answered with pong; pong is swallowed", async () => {
  const got: unknown[] = [];
  const { ep } = endpoint({ message: (_conn, msg) => void got.push(msg) });
  const { session, socket } = await openFake(ep);
  session.received('{"type":"chat","payload":{"text":"hi"}}');
  session.received('{"type":"ping"}');
  session.received('{"type":"pong"}');
  assert.deepEqual(got, [{ type: "chat", payload: { text: "hi" } }]);
  assert.deepEqual(socket.sent, ['{"type":"pong"}']);
  assert.equal(ep.stats().messagesIn, 3);
});

test("size limit 1009 counts UTF-8 bytes: multi-byte characters and surrogate pairs", async () => {
  // The envelope around the payload is ASCII; the payload gets 8 bytes.
  const frame = (payload: string) => JSON.stringify({ type: "x", payload });
  const limit = frame("").length + 8;
  const cases: [string, boolean][] = [
    ["abcdefgh", true], // 8 bytes
    ["éééé", true], // 8 bytes in 4 code units
    ["ééééa", false], // 9 bytes
    ["😀😀", true], // 8 bytes in 4 code units
    ["😀😀a", false], // 9 bytes
    ["€€€", false], // 9 bytes in 3 code units
  ];
  for (const [payload, fits] of cases) {
    const got: unknown[] = [];
    const { ep, closes } = endpoint({ maxMessageBytes: limit, message: (_c, m) => void got.push(m) });
    const { session, socket } = await openFake(ep);
    session.received(frame(payload));
    if (fits) {
      assert.equal(got.length, 1, `${payload} fits`);
      assert.equal(closes.length, 0);
    } else {
      assert.deepEqual(closes, [{ code: 1009, reason: "message too big", initiator: "server" }], payload);
      assert.equal(socket.closes[0].code, 1009);
      assert.equal(got.length, 0);
    }
  }
});

test("size limit 1009 for binary frames", async () => {
  const { ep, closes } = endpoint({ maxMessageBytes: 4, binary: () => {} });
  const { session } = await openFake(ep);
  session.received(new Uint8Array(4));
  assert.equal(closes.length, 0);
  session.received(new ArrayBuffer(5));
  assert.equal(closes[0].code, 1009);
});

test("invalid JSON: an error envelope by default (no payload logged), close 1003 by option", async () => {
  const { ep, logger } = endpoint({ message: () => assert.fail("not for invalid input") });
  const { session, socket } = await openFake(ep);
  for (const text of ["{not json", "[1,2]", '{"type":""}', '{"type":5}', "null", '"str"']) {
    session.received(text);
  }
  const codes = socket.json().map((m) => (m as { payload: { code: string } }).payload.code);
  assert.deepEqual(codes, [
    "invalid_json",
    "invalid_envelope",
    "invalid_envelope",
    "invalid_envelope",
    "invalid_envelope",
    "invalid_envelope",
  ]);
  assert.equal(ep.hub.size, 1);
  assert.ok(logger.entries.every((e) => !JSON.stringify(e.fields ?? {}).includes("not json")));

  const closing = endpoint({ invalidJson: "close" });
  const c = await openFake(closing.ep);
  c.session.received("{not json");
  assert.deepEqual(closing.closes, [{ code: 1003, reason: "expected a JSON envelope", initiator: "server" }]);
  assert.equal(c.socket.sent.length, 0);
});

test("payloads are logged only with logPayloads", async () => {
  const custom = new MemoryLogger();
  const ep2 = createEndpoint({ logger: custom, logPayloads: true, heartbeat: false });
  const s2 = await openFake(ep2);
  s2.session.received("{secret");
  assert.equal(custom.entries.find((e) => e.message === "invalid message")?.fields?.payload, "{secret");
  s2.conn.close();
});

test("binary frames: 1003 unless a binary handler exists; ArrayBuffer arrives as Uint8Array", async () => {
  const refused = endpoint();
  const a = await openFake(refused.ep);
  a.session.received(new Uint8Array([1, 2]));
  assert.deepEqual(refused.closes, [{
    code: 1003,
    reason: "binary frames are not accepted",
    initiator: "server",
  }]);

  const got: Uint8Array[] = [];
  const accepted = endpoint({ binary: (_conn, data) => void got.push(data) });
  const b = await openFake(accepted.ep);
  b.session.received(new Uint8Array([1, 2]).buffer);
  b.session.received(new Uint8Array([3]));
  assert.deepEqual(got.map((d) => [...d]), [[1, 2], [3]]);
  assert.ok(got.every((d) => d instanceof Uint8Array));
  assert.equal(accepted.ep.stats().bytesIn, 3);
});

test("rate limit: a flood closes 1008 'message rate exceeded'; refill follows the clock", async () => {
  let handled = 0;
  const { ep, closes, clock } = endpoint({
    rateLimit: { perSecond: 10, burst: 3 },
    message: () => void handled++,
  });
  const { session } = await openFake(ep);
  for (let i = 0; i < 3; i++) session.received('{"type":"x"}');
  clock.advance(100); // one more token
  session.received('{"type":"x"}');
  assert.equal(handled, 4);
  assert.equal(closes.length, 0);
  session.received('{"type":"x"}');
  assert.deepEqual(closes, [{ code: 1008, reason: "message rate exceeded", initiator: "server" }]);
  session.received('{"type":"x"}');
  assert.equal(handled, 4);

  const off = endpoint({ rateLimit: false, message: () => {} });
  const o = await openFake(off.ep);
  for (let i = 0; i < 1000; i++) o.session.received('{"type":"x"}');
  assert.equal(off.closes.length, 0);
});

test("rate limit default: 400 in a burst pass, a sustained flood is closed", async () => {
  const { ep, closes, clock } = endpoint({ message: () => {} });
  const { session } = await openFake(ep);
  for (let i = 0; i < 400; i++) session.received('{"type":"x"}');
  assert.equal(closes.length, 0);
  // 200/s sustained is fine...
  for (let s = 0; s < 5; s++) {
    clock.advance(1000);
    for (let i = 0; i < 200; i++) session.received('{"type":"x"}');
  }
  assert.equal(closes.length, 0);
  // ...twice that is not.
  for (let s = 0; s < 5 && closes.length === 0; s++) {
    clock.advance(1000);
    for (let i = 0; i < 400 && closes.length === 0; i++) session.received('{"type":"x"}');
  }
  assert.equal(closes[0]?.code, 1008);
});

test("received before open, during and after close is ignored", async () => {
  let handled = 0;
  const { ep } = endpoint({ message: () => void handled++ });
  const admission = await ep.admit(upgradeRequest());
  assert.ok(admission.ok);
  admission.session.received('{"type":"x"}');
  const conn = admission.session as unknown as Connection;
  admission.session.abandon();
  assert.equal(handled, 0);
  assert.equal(conn.send("x"), false);
});

test("cleanup once: a runtime that fires its close event inside close() (Bun) on every server-side exit", async () => {
  const { ep, closes, clock } = endpoint({
    heartbeat: { pingAfterMs: 100, timeoutMs: 100 },
    maxMessageBytes: 50,
    maxBufferedBytes: 10,
  });
  const open = async () => {
    const peer = await openFake(ep, { remoteAddress: "7.7.7.7" });
    peer.socket.onCloseSync = (code, reason) => peer.session.closed(code, reason);
    return peer;
  };
  (await open()).conn.close(4100, "app");
  (await open()).session.received("x".repeat(51));
  const slow = await open();
  slow.socket.bufferedAmount = 11;
  slow.conn.send("x");
  await open();
  clock.advance(200); // heartbeat timeout
  const draining = await open();
  const report = await ep.shutdown({ deadlineMs: 1000 });
  assert.deepEqual(closes.map((c) => [c.code, c.initiator]), [
    [4100, "server"],
    [1009, "server"],
    [1013, "server"],
    [4000, "server"],
    [1001, "server"],
  ]);
  assert.equal(report.closedCleanly, 1);
  assert.equal(draining.socket.closes.length, 1);
  assert.equal(ep.stats().closed, 5);
  released(ep);
  assert.equal(clock.timers.size, 0);
});

test("a logger that throws cannot break cleanup or escape into the runtime", async () => {
  let closed = 0;
  const throwing = () => {
    throw new Error("logger broken");
  };
  const ep = createEndpoint({
    clock: new ManualClock(),
    heartbeat: false,
    logger: { debug: throwing, info: throwing, warn: throwing, error: throwing },
    message() {
      throw new Error("handler bug");
    },
    close: () => void closed++,
  });
  const { session } = await openFake(ep, { remoteAddress: "5.5.5.5" });
  session.received('{"type":"x"}');
  session.errored(new Error("reset"));
  assert.equal(closed, 1);
  assert.equal(ep.hub.size, 0);
  assert.equal(lifecycleOf(ep).perAddress.size, 0);
  assert.equal((await ep.shutdown()).connections, 0);
});
