/**
 * The client against the project's endpoint on loopback: heartbeat, restart on
 * the same port with a queue, close-code policy, watchdog, jitter, cleanup.
 */

import assert from "node:assert/strict";
import { test } from "../_harness.ts";
import { connect } from "../../client/mod.ts";
import type { ClientState, SteadyClient } from "../../client/mod.ts";
import { startFaultProxy } from "../fault/proxy.ts";
import type { ProxiedConnection } from "../fault/proxy.ts";
import { startServer } from "./_server.ts";
import { opened, recordStates, until, waitForState } from "./_wait.ts";

test("client: answers the server's heartbeat pings with pongs", async () => {
  const server = await startServer({
    endpoint: { heartbeat: { pingAfterMs: 50, timeoutMs: 2_000, sweepMs: 20 } },
  });
  // pingIntervalMs 0: the client stays quiet, so the server is the one pinging.
  const client = connect(server.url, { pingIntervalMs: 0 });
  try {
    await opened(client);
    const conn = () => server.endpoint.hub.connections()[0];
    await until(() => conn()?.rttMs !== undefined, "the server to measure a round trip from our pong");
    assert.ok(server.endpoint.stats().pingsSent >= 1);
    assert.equal(server.endpoint.stats().heartbeatTimeouts, 0);
    assert.equal(client.state.status, "open");
  } finally {
    await client.close();
    await server.stop();
  }
});

test("client: after a server restart on the same port, reconnects and delivers the queue once, in order", async () => {
  let server = await startServer();
  const port = server.port;
  const client = connect(server.url, { minDelayMs: 20, maxDelayMs: 100 });
  try {
    await opened(client);
    const states = recordStates(client);
    await server.stop();
    const down = await waitForState(client, (s) => s.status === "reconnecting", "the client to notice");
    assert.equal(down.status === "reconnecting" && down.code, 1001);
    const results = [1, 2, 3, 4, 5].map((n) => client.send("n", n));
    assert.deepEqual(results, ["queued", "queued", "queued", "queued", "queued"]);
    assert.equal(client.queued, 5);

    server = await startServer({ port });
    await opened(client, 10_000);
    assert.equal(client.queued, 0);
    assert.equal(client.send("end"), "sent");
    await until(() => server.received.some((m) => m.type === "end"), "the end marker to arrive");
    assert.deepEqual(
      server.received.map((m) => m.type === "n" ? m.payload : m.type),
      [1, 2, 3, 4, 5, "end"],
    );
    assert.ok(states.some((s) => s.status === "reconnecting"), "a reconnecting state was reported");
    assert.equal(server.endpoint.stats().opened, 1);
  } finally {
    await client.close();
    await server.stop();
  }
});

test("client: a policy close (1008) is final, not retried", async () => {
  const server = await startServer();
  const client = connect(server.url, { minDelayMs: 10, maxDelayMs: 20 });
  try {
    await opened(client);
    const states = recordStates(client);
    client.send("kick", 1008);
    const closed = await waitForState(client, (s) => s.status === "closed", "the client to close for good");
    assert.deepEqual(closed, { status: "closed", code: 1008, reason: "kicked" });
    assert.deepEqual(states.map((s) => s.status), ["closed"]);
    assert.equal(client.send("after"), "dropped");
    assert.equal(server.endpoint.stats().opened, 1);
  } finally {
    await client.close();
    await server.stop();
  }
});

test("client: retries 1011 and 1013, and a shouldReconnect option overrides the policy", async () => {
  const server = await startServer();
  const retried = connect(server.url, { minDelayMs: 10, maxDelayMs: 20 });
  const seen: [number, string][] = [];
  const overridden = connect(server.url, {
    minDelayMs: 10,
    maxDelayMs: 20,
    shouldReconnect: (code, reason) => {
      seen.push([code, reason]);
      return true;
    },
  });
  try {
    await opened(retried);
    await opened(overridden);
    for (const code of [1011, 1013]) {
      retried.send("kick", code);
      const s = await waitForState(retried, (s) => s.status === "reconnecting", `a retry after ${code}`);
      assert.equal(s.status === "reconnecting" && s.code, code);
      await opened(retried);
    }
    overridden.send("kick", 1008);
    await waitForState(overridden, (s) => s.status === "reconnecting", "a retry the option allowed");
    await opened(overridden);
    assert.deepEqual(seen, [[1008, "kicked"]]);
  } finally {
    await retried.close();
    await overridden.close();
    await server.stop();
  }
});

test("client: a server gone silent is caught by the watchdog, and the client reconnects", async () => {
  const server = await startServer({ endpoint: { heartbeat: false } });
  const conns: ProxiedConnection[] = [];
  const proxy = await startFaultProxy({ target: { port: server.port }, onConnection: (c) => conns.push(c) });
  const client = connect(`ws://127.0.0.1:${proxy.port}/ws`, {
    minDelayMs: 10,
    maxDelayMs: 20,
    pingIntervalMs: 50,
    serverTimeoutMs: 300,
  });
  let done: Promise<void> | undefined;
  try {
    await opened(client);
    await until(() => client.rtt !== undefined, "a first round trip");
    // Bytes stop both ways, no FIN, no RST: the socket still says it is open.
    conns[0].setMode({ kind: "blackhole" });
    const lost = await waitForState(client, (s) => s.status === "reconnecting", "the watchdog to fire");
    assert.equal(lost.status === "reconnecting" && lost.code, 4000);
    assert.equal(lost.status === "reconnecting" && lost.reason, "server silent");
    await opened(client);
    assert.equal(conns.length, 2);
    assert.equal(client.send("echo", "again"), "sent");
    await until(() => server.received.some((m) => m.payload === "again"), "a message on the new connection");
  } finally {
    done = client.close();
    // The black-holed socket can only finish closing once the proxy drops it.
    await proxy.close();
    await done;
    await server.stop();
  }
});

test("client: after one outage, the retry delays of 50 clients are spread, not identical", async () => {
  const server = await startServer();
  const options = { minDelayMs: 1_000, spreadMs: 1_000, maxDelayMs: 4_000, growth: 2 };
  const clients: SteadyClient[] = [];
  try {
    for (let i = 0; i < 50; i++) clients.push(connect(server.url, options));
    await Promise.all(clients.map((c) => opened(c, 10_000)));
    const waits = clients.map((c) => waitForState(c, (s) => s.status === "reconnecting", "a retry"));
    await server.stop();
    const delays = (await Promise.all(waits)).map((s) =>
      (s as Extract<ClientState, { status: "reconnecting" }>).delayMs
    );
    // First retry: uniform in [minDelayMs, minDelayMs + spreadMs] = [1000, 2000].
    for (const d of delays) assert.ok(d >= 1_000 && d <= 2_000, `delay ${d} outside [1000, 2000]`);
    const distinct = new Set(delays).size;
    const range = Math.max(...delays) - Math.min(...delays);
    assert.ok(distinct >= 40, `expected >= 40 distinct delays of 50, got ${distinct}`);
    assert.ok(range >= 500, `expected the delays to span >= 500 ms, got ${range} ms`);
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    await server.stop();
  }
});

test("client: close() is permanent and leaves nothing running, in every phase", async () => {
  const server = await startServer();
  // Open.
  const a = connect(server.url);
  await opened(a);
  const closedA = a.close(1000, "bye");
  assert.deepEqual(a.state, { status: "closed", code: 1000, reason: "bye" });
  await closedA;
  a.reconnect();
  assert.equal(a.state.status, "closed");
  // Connecting.
  const b = connect(server.url);
  await b.close();
  assert.equal(b.state.status, "closed");
  // Waiting to retry, with queued messages reported as dropped.
  const port = server.port;
  await server.stop();
  const c = connect(`ws://127.0.0.1:${port}/ws`, { minDelayMs: 5_000, maxDelayMs: 10_000 });
  await waitForState(c, (s) => s.status === "reconnecting", "a retry to be scheduled");
  assert.equal(c.send("x", 1), "queued");
  const drops: string[] = [];
  c.addEventListener("drop", (e) => drops.push(`${e.detail.reason}:${e.detail.data}`));
  await c.close();
  assert.deepEqual(drops, ['closed:{"type":"x","payload":1}']);
  // Aborted by its signal.
  const controller = new AbortController();
  const d = connect(`ws://127.0.0.1:${port}/ws`, { signal: controller.signal });
  controller.abort();
  assert.deepEqual(d.state, { status: "closed", code: 1000, reason: "aborted" });
  await d.close();
  // Already aborted: never connects.
  const e = connect(`ws://127.0.0.1:${port}/ws`, { signal: controller.signal });
  assert.equal(e.state.status, "closed");
  await e.close();
});

test("client: an attempt that does not open within connectTimeoutMs is abandoned and retried", async () => {
  const server = await startServer();
  // The upgrade request vanishes: the TCP connection is up, the handshake never ends.
  const proxy = await startFaultProxy({ target: { port: server.port }, mode: { kind: "blackhole" } });
  const client = connect(`ws://127.0.0.1:${proxy.port}/ws`, {
    connectTimeoutMs: 150,
    minDelayMs: 10,
    maxDelayMs: 20,
  });
  let done: Promise<void> | undefined;
  try {
    const failed = await waitForState(client, (s) => s.status === "reconnecting", "the attempt to time out");
    assert.equal(failed.status === "reconnecting" && failed.code, 1006);
    assert.equal(failed.status === "reconnecting" && failed.reason, "timeout");
    proxy.setMode({ kind: "pass" });
    await opened(client);
    assert.ok(proxy.connections().length >= 2);
  } finally {
    done = client.close();
    await proxy.close();
    await done;
    await server.stop();
  }
});

test(
  "client: close() resolves after closeTimeoutMs when a closing handshake is lost in a dead network",
  async () => {
    const server = await startServer({ endpoint: { heartbeat: false } });
    const proxy = await startFaultProxy({ target: { port: server.port } });
    const client = connect(`ws://127.0.0.1:${proxy.port}/ws`, { closeTimeoutMs: 100 });
    try {
      await opened(client);
      proxy.setMode({ kind: "blackhole" }, { applyToOpen: true });
      let resolved = false;
      const done = client.close().then(() => resolved = true);
      await until(() => resolved, "close() to resolve without the server's close frame", 2_000);
      await done;
    } finally {
      await proxy.close();
      await server.stop();
    }
  },
  // The runtime's socket stays in its closing handshake until the proxy drops it,
  // which is after the assertion; Deno's resource sanitizer would count it.
  { sanitize: false },
);
