/**
 * The client's message API against the project's endpoint: typed handlers,
 * error envelopes as events, the bounded queue, raw frames, RTT, reconnect().
 */

import assert from "node:assert/strict";
import { test } from "../_harness.ts";
import { WebSocket as ReconnectingWebSocket } from "partysocket";
import { connect } from "../../client/mod.ts";
import type { DroppedMessage } from "../../client/mod.ts";
import type { ErrorPayload } from "../../protocol.ts";
import { closedPort, startServer } from "./_server.ts";
import { nextEvent, opened, until, waitForState } from "./_wait.ts";

test("client: on(type) gets typed payloads, off() and the returned function stop them", async () => {
  const server = await startServer();
  const client = connect(server.url);
  try {
    await opened(client);
    const got: unknown[] = [];
    const all: string[] = [];
    const handler = (payload: { n: number }) => got.push(payload.n);
    const stop = client.on("echo", handler);
    client.on("*", (_payload, envelope) => all.push(envelope.type));
    client.send("echo", { n: 1 });
    await until(() => got.length === 1, "the first echo");
    client.off("echo", handler);
    client.on("echo", handler);
    stop();
    client.send("echo", { n: 2 });
    await until(() => all.length === 2, "the second echo to reach the wildcard handler");
    assert.deepEqual(got, [1]);
    assert.deepEqual(all, ["echo", "echo"]);
  } finally {
    await client.close();
    await server.stop();
  }
});

test("client: the server's error envelope is an event, never an exception, and the connection goes on", async () => {
  const server = await startServer();
  const client = connect(server.url);
  try {
    await opened(client);
    const viaOn: unknown[] = [];
    client.on("error", (payload) => viaOn.push(payload));
    const event = nextEvent<ErrorPayload>(client, "error", "an error event");
    client.send("bad", 'a "quoted" value');
    const error = await event;
    assert.equal(typeof error.message, "string");
    assert.ok(error.message.includes('"quoted"'), `unexpected message ${error.message}`);
    assert.deepEqual(viaOn, [error]);
    assert.equal(client.state.status, "open");
    const echoed = new Promise((resolve) => client.on("echo", resolve));
    client.send("echo", "still here");
    assert.equal(await echoed, "still here");
  } finally {
    await client.close();
    await server.stop();
  }
});

test("client: the offline queue is bounded; a full queue drops, returns 'dropped' and says so", async () => {
  const port = await closedPort();
  const client = connect(`ws://127.0.0.1:${port}/ws`, {
    queueLimit: 2,
    minDelayMs: 5_000,
    maxDelayMs: 10_000,
  });
  const drops: DroppedMessage[] = [];
  client.addEventListener("drop", (e) => drops.push(e.detail));
  try {
    assert.equal(client.send("a"), "queued");
    assert.equal(client.send("b"), "queued");
    assert.equal(client.send("c"), "dropped");
    assert.equal(client.queued, 2);
    assert.deepEqual(drops, [{ data: '{"type":"c"}', reason: "queue_full" }]);
  } finally {
    await client.close();
  }
  assert.deepEqual(drops.map((d) => d.reason), ["queue_full", "closed", "closed"]);
  assert.equal(client.queued, 0);
});

test("client: binary frames go out with sendRaw and come back as raw events", async () => {
  const server = await startServer();
  const client = connect(server.url);
  try {
    await opened(client);
    const raw = nextEvent<ArrayBuffer>(client, "raw", "the echoed binary frame");
    assert.equal(client.sendRaw(new Uint8Array([1, 2, 250])), "sent");
    const data = await raw;
    assert.ok(
      data instanceof ArrayBuffer,
      `expected an ArrayBuffer, got ${Object.prototype.toString.call(data)}`,
    );
    assert.deepEqual([...new Uint8Array(data)], [1, 2, 250]);
  } finally {
    await client.close();
    await server.stop();
  }
});

test("client: measures the round trip of its own pings", async () => {
  const server = await startServer();
  const client = connect(server.url, { pingIntervalMs: 30 });
  try {
    const rtt = nextEvent<number>(client, "rtt", "a round-trip time");
    await opened(client);
    const ms = await rtt;
    assert.ok(ms >= 0 && ms < 5_000, `rtt ${ms}`);
    assert.equal(client.rtt, ms);
  } finally {
    await client.close();
    await server.stop();
  }
});

test("client: reconnect() drops the connection and opens a new one at once", async () => {
  const server = await startServer();
  const client = connect(server.url, { minDelayMs: 5_000, maxDelayMs: 10_000 });
  try {
    await opened(client);
    const connecting = waitForState(client, (s) => s.status === "connecting", "a new attempt");
    client.reconnect();
    assert.deepEqual(await connecting, { status: "connecting", attempt: 0 });
    await opened(client);
    await until(() => server.endpoint.stats().opened === 2, "a second connection on the server");
    await until(() => server.endpoint.stats().open === 1, "the first connection to be gone");
  } finally {
    await client.close();
    await server.stop();
  }
});

test("client: reconnect() during a backoff wait cuts the wait short", async () => {
  let server = await startServer();
  const port = server.port;
  const client = connect(server.url, { minDelayMs: 30_000, maxDelayMs: 60_000 });
  try {
    await opened(client);
    await server.stop();
    const waiting = await waitForState(client, (s) => s.status === "reconnecting", "a long wait");
    assert.ok(waiting.status === "reconnecting" && waiting.delayMs >= 30_000);
    server = await startServer({ port });
    client.reconnect();
    await opened(client);
  } finally {
    await client.close();
    await server.stop();
  }
});

test("client: messages reach handlers without partysocket's per-message event copy", async () => {
  const server = await startServer();
  // deno-lint-ignore no-explicit-any
  const g = globalThis as any;
  const Original = g.MessageEvent;
  let copies = 0;
  // partysocket copies each message event with `new MessageEvent(type, event)`
  // at dispatch: count those constructions while messages flow.
  g.MessageEvent = class extends Original {
    constructor(type: string, init?: MessageEventInit) {
      super(type, init);
      copies++;
    }
  };
  const client = connect(server.url, { pingIntervalMs: 0 });
  const control = new ReconnectingWebSocket(server.url, null, { maxRetries: 0 });
  const controlOpen = nextEvent(control, "open", "partysocket to open");
  try {
    await opened(client);
    let got = 0;
    client.on("echo", () => got++);
    for (let i = 0; i < 50; i++) client.send("echo", i);
    await until(() => got === 50, "50 echoes");
    assert.equal(copies, 0, `expected no copied message events, counted ${copies}`);
    // The control: partysocket on its own does copy.
    await controlOpen;
    const echoed = nextEvent(control, "message", "partysocket's echo");
    control.send('{"type":"echo"}');
    await echoed;
    assert.ok(copies > 0, "expected partysocket alone to copy the message event");
  } finally {
    g.MessageEvent = Original;
    control.close();
    await client.close();
    await server.stop();
  }
});

test("client: a handler that throws is logged; the other handlers and later messages still arrive", async () => {
  const server = await startServer();
  const client = connect(server.url);
  const logged: unknown[] = [];
  const consoleError = console.error;
  console.error = (...args: unknown[]) => logged.push(args[1]);
  try {
    await opened(client);
    const got: unknown[] = [];
    client.on("echo", () => {
      throw new Error("application bug");
    });
    client.on("echo", (payload) => got.push(payload));
    client.send("echo", 1);
    client.send("echo", 2);
    await until(() => got.length === 2, "both echoes at the second handler");
    assert.deepEqual(got, [1, 2]);
    assert.equal(logged.length, 2);
    assert.equal((logged[0] as Error).message, "application bug");
    assert.equal(client.state.status, "open");
  } finally {
    console.error = consoleError;
    await client.close();
    await server.stop();
  }
});
