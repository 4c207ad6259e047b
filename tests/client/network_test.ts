/**
 * Network and page signals, through a fake environment (the runtime has no
 * page): offline pauses retries, `online` reconnects at once, a visible page or
 * `pageshow` triggers a liveness check that catches a dead socket.
 */

import assert from "node:assert/strict";
import { test } from "../_harness.ts";
import { connect } from "../../client/mod.ts";
import { backoffDelay } from "../../client/mod.ts";
import { startFaultProxy } from "../fault/proxy.ts";
import type { ProxiedConnection } from "../fault/proxy.ts";
import { startServer } from "./_server.ts";
import { nextEvent, opened, recordStates, until, waitForState } from "./_wait.ts";

class FakePage extends EventTarget {
  visibilityState = "visible";
}

test("client: while offline no retry is made; on online it reconnects at once", async () => {
  let server = await startServer();
  const port = server.port;
  const options = { minDelayMs: 10, maxDelayMs: 20 };
  const window = new EventTarget();
  const navigator = { onLine: true };
  const client = connect(server.url, { ...options, env: { window, navigator } });
  // Same delays, but online: it shows when a retry would have happened.
  const control = connect(server.url, { ...options, env: { navigator: { onLine: true } } });
  try {
    await opened(client);
    await opened(control);
    navigator.onLine = false;
    window.dispatchEvent(new Event("offline"));
    await server.stop();
    const paused = await waitForState(client, (s) => s.status === "reconnecting", "the client to pause");
    assert.equal(paused.status === "reconnecting" && paused.offline, true);
    assert.equal(paused.status === "reconnecting" && paused.nextAttemptAt, 0);
    await waitForState(control, (s) => s.status === "reconnecting", "the control client to notice");
    server = await startServer({ port });
    await opened(control);
    await until(() => server.endpoint.stats().opened === 1, "the server to count the control client");
    // The control client is back; the offline one has not even tried.
    const still = client.state;
    assert.equal(still.status === "reconnecting" && still.offline, true);
    assert.equal(server.endpoint.stats().opened, 1);
    navigator.onLine = true;
    window.dispatchEvent(new Event("online"));
    assert.equal(client.state.status, "connecting");
    await opened(client);
    await until(() => server.endpoint.stats().opened === 2, "the server to count the client");
  } finally {
    await client.close();
    await control.close();
    await server.stop();
  }
});

test("client: going offline during a backoff wait pauses it", async () => {
  const server = await startServer();
  const window = new EventTarget();
  const navigator = { onLine: true };
  const client = connect(server.url, { minDelayMs: 20_000, maxDelayMs: 30_000, env: { window, navigator } });
  try {
    await opened(client);
    await server.stop();
    const waiting = await waitForState(client, (s) => s.status === "reconnecting", "a backoff wait");
    assert.equal(waiting.status === "reconnecting" && waiting.offline, false);
    navigator.onLine = false;
    window.dispatchEvent(new Event("offline"));
    const paused = client.state;
    assert.equal(paused.status === "reconnecting" && paused.offline, true);
  } finally {
    await client.close();
  }
});

for (const signal of ["visibilitychange", "pageshow"] as const) {
  test(`client: ${signal} checks liveness and replaces a socket that only says it is open`, async () => {
    const server = await startServer({ endpoint: { heartbeat: false } });
    const conns: ProxiedConnection[] = [];
    const proxy = await startFaultProxy({
      target: { port: server.port },
      onConnection: (c) => conns.push(c),
    });
    const window = new EventTarget();
    const document = new FakePage();
    // No periodic ping and a watchdog far away: only the liveness check can notice.
    const client = connect(`ws://127.0.0.1:${proxy.port}/ws`, {
      minDelayMs: 10,
      maxDelayMs: 20,
      pingIntervalMs: 0,
      serverTimeoutMs: 60_000,
      probeTimeoutMs: 200,
      env: { window, document, navigator: { onLine: true } },
    });
    let done: Promise<void> | undefined;
    try {
      await opened(client);
      // A live socket passes the check.
      (signal === "pageshow" ? window : document).dispatchEvent(new Event(signal));
      await until(() => client.rtt !== undefined, "the check's pong");
      conns[0].setMode({ kind: "blackhole" });
      (signal === "pageshow" ? window : document).dispatchEvent(new Event(signal));
      const lost = await waitForState(client, (s) => s.status === "reconnecting", "the check to fail");
      assert.equal(lost.status === "reconnecting" && lost.code, 4000);
      assert.equal(lost.status === "reconnecting" && lost.reason, "no answer to a liveness check");
      await opened(client);
      assert.equal(conns.length, 2);
    } finally {
      done = client.close();
      await proxy.close();
      await done;
      await server.stop();
    }
  });
}

/** Keeps the thread busy, as a frozen or throttled page would be: timers fire late. */
function freeze(ms: number): void {
  const end = Date.now() + ms;
  while (Date.now() < end) { /* busy */ }
}

test("client: a late timer (a frozen page) leads to a liveness check, not to a false timeout", async () => {
  const server = await startServer({ endpoint: { heartbeat: false } });
  const options = { pingIntervalMs: 50, serverTimeoutMs: 300, lateTimerMs: 100, probeTimeoutMs: 500 };
  const client = connect(server.url, options);
  try {
    await opened(client);
    await until(() => client.rtt !== undefined, "a first round trip");
    const states = recordStates(client);
    freeze(600);
    const rtt = nextEvent<number>(client, "rtt", "a round trip after the freeze");
    await rtt;
    assert.deepEqual(states, []);
    assert.equal(client.state.status, "open");
  } finally {
    await client.close();
    await server.stop();
  }
});

test("client: after a late timer, a dead socket fails the liveness check", async () => {
  const server = await startServer({ endpoint: { heartbeat: false } });
  const conns: ProxiedConnection[] = [];
  const proxy = await startFaultProxy({ target: { port: server.port }, onConnection: (c) => conns.push(c) });
  const client = connect(`ws://127.0.0.1:${proxy.port}/ws`, {
    minDelayMs: 10,
    maxDelayMs: 20,
    pingIntervalMs: 50,
    serverTimeoutMs: 300,
    lateTimerMs: 100,
    probeTimeoutMs: 200,
  });
  let done: Promise<void> | undefined;
  try {
    await opened(client);
    conns[0].setMode({ kind: "blackhole" });
    freeze(400);
    const lost = await waitForState(client, (s) => s.status === "reconnecting", "the check to fail");
    // Not the watchdog's verdict ("server silent"), though the silence is already longer than its timeout.
    assert.equal(lost.status === "reconnecting" && lost.reason, "no answer to a liveness check");
    await opened(client);
  } finally {
    done = client.close();
    await proxy.close();
    await done;
    await server.stop();
  }
});

test("client: a hidden page's visibilitychange does not probe", async () => {
  const server = await startServer();
  const document = new FakePage();
  const client = connect(server.url, { pingIntervalMs: 0, env: { document } });
  try {
    await opened(client);
    document.visibilityState = "hidden";
    document.dispatchEvent(new Event("visibilitychange"));
    document.visibilityState = "visible";
    // The visible one does: its pong gives the first round-trip time.
    assert.equal(client.rtt, undefined);
    document.dispatchEvent(new Event("visibilitychange"));
    await until(() => client.rtt !== undefined, "the check's pong");
  } finally {
    await client.close();
    await server.stop();
  }
});

test("backoffDelay: within [min, min + spread * growth^(attempt-1)], capped, and random", () => {
  const options = { minDelayMs: 500, spreadMs: 1_000, maxDelayMs: 10_000, growth: 2 };
  assert.equal(backoffDelay(1, options, () => 0), 500);
  assert.equal(backoffDelay(1, options, () => 1), 1_500);
  assert.equal(backoffDelay(3, options, () => 1), 4_500);
  assert.equal(backoffDelay(30, options, () => 1), 10_000);
  const seen = new Set<number>();
  for (let i = 0; i < 200; i++) {
    const d = backoffDelay(4, options);
    assert.ok(d >= 500 && d <= 8_500, `delay ${d}`);
    seen.add(d);
  }
  assert.ok(seen.size > 100, `expected varied delays, got ${seen.size} distinct of 200`);
});
