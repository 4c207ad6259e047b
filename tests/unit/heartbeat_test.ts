import assert from "node:assert/strict";
import { test } from "../_harness.ts";
import { lifecycleOf } from "../../server/endpoint.ts";
import { createEndpoint } from "../../server/mod.ts";
import { defaultSweepMs } from "../../server/settings.ts";
import type { CloseInfo, EndpointOptions } from "../../server/types.ts";
import { ManualClock, MemoryLogger, openFake } from "./_fake_socket.ts";

// pingAfter 1000 + timeout 500, sweep every 125 ms (a quarter of 500).
function endpoint(options: EndpointOptions<unknown> = {}) {
  const closes: CloseInfo[] = [];
  const clock = new ManualClock();
  const ep = createEndpoint({
    clock,
    logger: new MemoryLogger(),
    heartbeat: { pingAfterMs: 1000, timeoutMs: 500 },
    rateLimit: false,
    close: (_conn, info) => void closes.push(info),
    ...options,
  });
  return { ep, closes, clock };
}

test("heartbeat: a silent peer gets one ping, then is closed 4000 and cleaned up at once", async () => {
  const { ep, closes, clock } = endpoint();
  assert.equal(ep.settings.heartbeat && ep.settings.heartbeat.sweepMs, 125);
  const { session, socket } = await openFake(ep, { remoteAddress: "9.9.9.9" });
  clock.advance(999);
  assert.deepEqual(socket.sent, []);
  clock.advance(1);
  assert.deepEqual(socket.sent, ['{"type":"ping"}']);
  clock.advance(498);
  assert.deepEqual(socket.sent, ['{"type":"ping"}'], "one ping only");
  assert.equal(closes.length, 0);
  clock.advance(2);
  assert.deepEqual(closes, [{ code: 4000, reason: "heartbeat timeout", initiator: "server" }]);
  assert.deepEqual(socket.closes, [{ code: 4000, reason: "heartbeat timeout" }]);
  assert.equal(ep.hub.size, 0);
  assert.equal(lifecycleOf(ep).perAddress.size, 0);
  // A dead peer's close event, if it ever comes, is ignored.
  session.closed(1006, "");
  assert.equal(closes.length, 1);
  const stats = ep.stats();
  assert.equal(stats.pingsSent, 1);
  assert.equal(stats.heartbeatTimeouts, 1);
  assert.deepEqual(stats.closedByCode, { "4000": 1 });
});

test("heartbeat: liveness comes only from frames received; our own sends do not count", async () => {
  const { ep, closes, clock } = endpoint();
  const talker = await openFake(ep);
  const listener = await openFake(ep);
  for (let t = 0; t < 1500; t += 50) {
    clock.advance(50);
    talker.session.received('{"type":"chatter"}');
    listener.conn.send("server keeps pushing");
  }
  assert.equal(closes.length, 1);
  assert.equal(closes[0].code, 4000);
  assert.equal(ep.hub.size, 1);
  assert.deepEqual(ep.hub.connections(), [talker.conn]);
  assert.ok(!talker.socket.sent.includes('{"type":"ping"}'), "a talking peer is never pinged");
});

test("heartbeat: a pong answers the ping, records the round trip, and keeps the peer", async () => {
  const { ep, closes, clock } = endpoint();
  const { session, socket, conn } = await openFake(ep);
  assert.equal(conn.rttMs, undefined);
  clock.advance(1000);
  assert.equal(socket.sent.length, 1);
  clock.advance(40);
  session.received('{"type":"pong"}');
  assert.equal(conn.rttMs, 40);
  // A peer that only ever answers pings stays, pinged once per quiet period.
  for (let step = 0; step < 100; step++) {
    const before = socket.sent.length;
    clock.advance(100);
    if (socket.sent.length > before) session.received('{"type":"pong"}');
  }
  assert.equal(closes.length, 0, "every ping answered in time");
  assert.ok(
    socket.sent.length >= 9 && socket.sent.length <= 11,
    `pinged ${socket.sent.length} times in 10 s`,
  );
  session.closed(1000, "");
  assert.equal(closes[0].code, 1000);
});

test("heartbeat: one shared timer for many connections, none per message, none when empty", async () => {
  const { ep, clock } = endpoint();
  assert.equal(clock.timers.size, 0, "no timer before the first connection");
  assert.equal(lifecycleOf(ep).heartbeatRunning, false);
  const peers = [];
  for (let i = 0; i < 50; i++) peers.push(await openFake(ep));
  for (const p of peers) for (let i = 0; i < 10; i++) p.session.received('{"type":"x"}');
  assert.equal(clock.timers.size, 1);
  for (const p of peers.slice(0, 49)) p.session.closed(1000, "");
  assert.equal(clock.timers.size, 1);
  peers[49].conn.close();
  assert.equal(clock.timers.size, 0, "the sweep stops with the last connection");
  assert.equal(lifecycleOf(ep).heartbeatRunning, false);
  const again = await openFake(ep);
  assert.equal(clock.timers.size, 1, "and starts again with the next");
  again.session.errored(new Error("x"));
  assert.equal(clock.timers.size, 0);
});

test("heartbeat: the sweep also stops when the last connection times out", async () => {
  const { ep, clock } = endpoint();
  await openFake(ep);
  await openFake(ep);
  clock.advance(1500);
  assert.equal(ep.hub.size, 0);
  assert.equal(clock.timers.size, 0);
});

test("heartbeat: false turns it off (no timer, no ping)", async () => {
  const { ep, clock } = endpoint({ heartbeat: false });
  const { socket } = await openFake(ep);
  clock.advance(100_000);
  assert.equal(clock.timers.size, 0);
  assert.deepEqual(socket.sent, []);
  assert.equal(ep.hub.size, 1);
});

test("heartbeat: defaults 25 s / 20 s, sweep a quarter of the smaller window within 100–5000 ms", () => {
  const ep = createEndpoint({ logger: new MemoryLogger() });
  assert.deepEqual(ep.settings.heartbeat, { pingAfterMs: 25_000, timeoutMs: 20_000, sweepMs: 5_000 });
  assert.equal(defaultSweepMs(25_000, 20_000), 5_000);
  assert.equal(defaultSweepMs(100, 100), 100);
  assert.equal(defaultSweepMs(4_000, 2_000), 500);
  assert.equal(defaultSweepMs(100_000, 100_000), 5_000);
  assert.throws(() => createEndpoint({ heartbeat: { pingAfterMs: -1 } }), /heartbeat.pingAfterMs/);
});

test("heartbeat: a ping that cannot be delivered (slow peer) closes it 1013 instead", async () => {
  const { ep, closes, clock } = endpoint({ maxBufferedBytes: 10 });
  const { socket } = await openFake(ep);
  socket.bufferedAmount = 11;
  clock.advance(1000);
  assert.deepEqual(closes.map((c) => c.code), [1013]);
  assert.equal(ep.stats().pingsSent, 0);
  assert.equal(clock.timers.size, 0);
});

test("heartbeat: after a stall (blocked loop, suspended VM) the late sweep expires nobody; the next one judges", async () => {
  const { ep, closes, clock } = endpoint();
  const alive = await openFake(ep);
  const dead = await openFake(ep);
  clock.advance(125);
  // The process stalls for 10 s: the clock moves, no sweep runs, frames pile up unread.
  clock.time += 10_000;
  const [timer] = clock.timers.values();
  timer.due = clock.time;
  clock.advance(0); // the late sweep
  assert.equal(closes.length, 0, "nobody expired on the late sweep");
  assert.equal(alive.socket.sent.length, 1, "but pinged");
  alive.session.received('{"type":"pong"}'); // the frame that waited in the socket
  clock.advance(125);
  assert.deepEqual(ep.hub.connections(), [alive.conn]);
  assert.equal(closes[0].code, 4000);
  assert.equal(dead.socket.closes[0].code, 4000);
});

test("heartbeat: a loop late on every turn still reaps (a stall spares one sweep, never two in a row)", async () => {
  const { ep, closes, clock } = endpoint();
  await openFake(ep);
  const [timer] = clock.timers.values();
  for (let i = 0; i < 4 && closes.length === 0; i++) {
    clock.time += 1_000; // every sweep 1 s late (8 × the 125 ms period)
    timer.due = clock.time;
    clock.advance(0);
  }
  assert.deepEqual(closes.map((c) => c.code), [4000]);
});
