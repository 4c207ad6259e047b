import assert from "node:assert/strict";
import { test } from "../_harness.ts";
import { lifecycleOf } from "../../server/endpoint.ts";
import { createEndpoint } from "../../server/mod.ts";
import type { CloseInfo } from "../../server/types.ts";
import { FakeSocket, ManualClock, MemoryLogger, openFake, upgradeRequest } from "./_fake_socket.ts";

test("shutdown: 1001 to everyone, 503 to newcomers, waits for handshakes, drops the rest at the deadline", async () => {
  const closes: CloseInfo[] = [];
  const clock = new ManualClock();
  const ep = createEndpoint({
    clock,
    logger: new MemoryLogger(),
    close: (_c, info) => void closes.push(info),
  });
  const peers = [await openFake(ep), await openFake(ep), await openFake(ep)];
  const pending = await ep.admit(upgradeRequest());
  assert.ok(pending.ok);

  const done = ep.shutdown({ deadlineMs: 2000, reason: "restarting" });
  assert.equal(ep.shutdown(), done, "a second call returns the same promise");
  for (const p of peers) assert.deepEqual(p.socket.closes, [{ code: 1001, reason: "restarting" }]);
  assert.equal(clock.timers.size, 1, "only the deadline timer; the heartbeat sweep is stopped");

  const refused = await ep.admit(upgradeRequest());
  assert.equal(refused.ok, false);
  if (!refused.ok) assert.equal(refused.response.status, 503);

  // The session admitted before the shutdown opens now: closed at once, never registered.
  const late = new FakeSocket();
  pending.session.attach(late);
  pending.session.opened();
  assert.equal(late.closes[0].code, 1001);

  // Messages during the drain are ignored; sends are refused.
  peers[0].session.received('{"type":"x"}');
  assert.equal(peers[0].conn.send("x"), false);

  peers[0].session.closed(1001, "restarting");
  peers[1].session.closed(1005, "");
  clock.advance(1999);
  assert.equal(closes.length, 2);
  clock.advance(1);
  const report = await done;
  assert.deepEqual({ ...report, durationMs: undefined }, {
    connections: 3,
    closedCleanly: 2,
    dropped: 1,
    durationMs: undefined,
  });
  assert.equal(report.durationMs, 2000);
  assert.deepEqual(closes.map((c) => [c.code, c.initiator]), [[1001, "server"], [1001, "server"], [
    1001,
    "server",
  ]]);
  peers[2].session.closed(1006, "");
  assert.equal(closes.length, 3, "the dropped peer's late close event is ignored");
  assert.equal(ep.hub.size, 0);
  assert.equal(lifecycleOf(ep).active, 0);
  assert.equal(clock.timers.size, 0, "no timer left behind");
  assert.deepEqual(ep.stats().closedByCode, { "1001": 3 });
});

test("shutdown: resolves as soon as everyone closed, clearing the deadline timer", async () => {
  const clock = new ManualClock();
  const ep = createEndpoint({ clock, logger: new MemoryLogger() });
  const a = await openFake(ep);
  const b = await openFake(ep);
  const done = ep.shutdown();
  a.session.closed(1001, "");
  b.session.errored(new Error("reset during close"));
  const report = await done;
  assert.equal(report.connections, 2);
  assert.equal(report.closedCleanly, 2);
  assert.equal(report.dropped, 0);
  assert.equal(clock.timers.size, 0);
});

test("shutdown: with no connections resolves at once; with the system clock no timer leaks", async () => {
  const empty = createEndpoint({ logger: new MemoryLogger() });
  const nothing = await empty.shutdown();
  assert.deepEqual({ ...nothing, durationMs: 0 }, {
    connections: 0,
    closedCleanly: 0,
    dropped: 0,
    durationMs: 0,
  });
  assert.ok(nothing.durationMs >= 0 && nothing.durationMs < 1000);

  // Real timers: the heartbeat sweep and the deadline must both be cleared (Deno's sanitizer checks).
  const real = createEndpoint({
    logger: new MemoryLogger(),
    heartbeat: { pingAfterMs: 60_000, timeoutMs: 60_000 },
  });
  const peer = await openFake(real);
  const done = real.shutdown({ deadlineMs: 60_000 });
  peer.session.closed(1001, "");
  assert.equal((await done).closedCleanly, 1);
});

test("shutdown: the application closing a connection during the drain counts as clean", async () => {
  const clock = new ManualClock();
  const ep = createEndpoint({ clock, logger: new MemoryLogger() });
  const a = await openFake(ep);
  const done = ep.shutdown({ deadlineMs: 10 });
  a.conn.close(1000, "bye");
  const report = await done;
  assert.equal(report.closedCleanly, 1);
  assert.equal(clock.timers.size, 0);
});
