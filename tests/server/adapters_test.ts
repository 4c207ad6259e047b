/**
 * One list of scenarios, run on a real loopback server for every adapter of
 * the current runtime (Deno: `denoHandler`, Hono; Bun: `bunHandlers`, Hono).
 */

import assert from "node:assert/strict";
import { runtime, test } from "../_harness.ts";
import { ClientError, UpgradeRefused } from "../../server/mod.ts";
import { adapters, startServer, type TestServer } from "./_servers.ts";
import { destroy, openClient, rawRequest, rawStatus, TestClient } from "./_clients.ts";

async function withServer<T>(
  server: TestServer<T>,
  fn: (server: TestServer<T>) => Promise<void>,
): Promise<void> {
  try {
    await fn(server);
  } finally {
    await server.stop();
  }
}

const echo = {
  message(conn: { sendJson(v: unknown): boolean }, msg: { type: string; payload?: unknown }) {
    conn.sendJson({ type: "echo", payload: msg });
  },
};

for (const kind of adapters) {
  test(`${kind}: echo, ping/pong, remote address, clean close`, async () => {
    const server = await startServer(kind, {
      message(conn, msg) {
        conn.sendJson({ type: "echo", payload: { got: msg, address: conn.remoteAddress } });
      },
    });
    await withServer(server, async () => {
      const client = await openClient(server.url);
      const text = 'say "hi"\n\u2028 and \\ back';
      client.sendJson({ type: "say", payload: { text } });
      assert.deepEqual(await client.next(), {
        type: "echo",
        payload: { got: { type: "say", payload: { text } }, address: "127.0.0.1" },
      });
      client.sendJson({ type: "ping" });
      assert.deepEqual(await client.next(), { type: "pong" });
      assert.equal(server.endpoint.hub.size, 1);
      assert.equal(server.infos[0]?.remoteAddress, "127.0.0.1");

      assert.equal((await client.close()).code, 1000);
      await server.closes.reach(1, 5_000, "the close handler");
      assert.equal(server.closeInfos[0].code, 1000);
      assert.equal(server.closeInfos[0].initiator, "peer");
      assert.equal(server.endpoint.hub.size, 0);
      assert.equal(server.endpoint.stats().open, 0);
    });
  });

  test(`${kind}: broadcast with a dead peer in the snapshot reaches the others and evicts it`, async () => {
    const server = await startServer(kind, {});
    await withServer(server, async () => {
      const a = await openClient(server.url);
      const b = await openClient(server.url);
      const c = await openClient(server.url);
      await server.opens.reach(3, 5_000, "three opens");
      assert.equal(server.endpoint.hub.size, 3);
      // Close c's socket under the hub: the runtime socket is no longer open,
      // and the hub has not heard of it yet when the broadcast takes its snapshot.
      server.sockets[2].close(1000, "gone");
      const result = server.endpoint.hub.broadcastJson({ type: "news", payload: 1 });
      assert.deepEqual(result, { delivered: 2, dropped: 1 });
      assert.equal(server.endpoint.hub.size, 2, "the dead peer is evicted after the loop");
      assert.deepEqual(await a.next(), { type: "news", payload: 1 });
      assert.deepEqual(await b.next(), { type: "news", payload: 1 });
      assert.equal((await c.closedWithin()).code, 1000);
      assert.equal(c.messages.length, 0);
      await server.closes.reach(1, 5_000, "the dead peer's close handler");
      await a.close();
      await b.close();
      await server.closes.reach(3, 5_000, "every close handler");
      assert.equal(server.closes.value, 3, "the close handler runs once per connection");
      assert.equal(server.endpoint.hub.size, 0);
    });
  });

  test(`${kind}: a throwing handler answers an error envelope and harms no one`, async () => {
    const server = await startServer(kind, {
      message(conn, msg) {
        if (msg.type === "bad") throw new ClientError('expected "text" to be a string', "bad_payload");
        if (msg.type === "crash") throw new Error("handler bug");
        if (msg.type === "crash-async") return Promise.reject(new Error("async handler bug"));
        conn.sendJson({ type: "echo", payload: msg });
      },
    });
    await withServer(server, async () => {
      const a = await openClient(server.url);
      const b = await openClient(server.url);
      a.sendJson({ type: "bad" });
      assert.deepEqual(await a.next(), {
        type: "error",
        payload: { message: 'expected "text" to be a string', code: "bad_payload" },
      });
      a.sendJson({ type: "crash" });
      a.sendJson({ type: "crash-async" });
      b.sendJson({ type: "hello" });
      assert.deepEqual(await b.next(), { type: "echo", payload: { type: "hello" } });
      a.sendJson({ type: "still-here" });
      assert.deepEqual(await a.nextOfType("echo"), { type: "echo", payload: { type: "still-here" } });
      const errors = server.logs.filter((l) => l.level === "error");
      assert.ok(errors.length >= 2, `expected two errors logged, got ${JSON.stringify(server.logs)}`);
      assert.ok(
        errors.some((l) => JSON.stringify(l.fields).includes("handler bug")),
        "the handler's error is logged",
      );
      assert.equal(server.endpoint.hub.size, 2);
      await a.close();
      await b.close();
    });
  });

  test(`${kind}: invalid JSON answers an error envelope and the connection goes on`, async () => {
    const server = await startServer(kind, echo);
    await withServer(server, async () => {
      const client = await openClient(server.url);
      client.send("not json {");
      const reply = await client.next();
      assert.equal(reply.type, "error");
      assert.equal((reply.payload as { code?: string }).code, "invalid_json");
      client.sendJson({ type: "after" });
      assert.deepEqual(await client.next(), { type: "echo", payload: { type: "after" } });
      await client.close();
    });
  });

  test(`${kind}: an oversize message closes with 1009, seen by the client`, async () => {
    const server = await startServer(kind, { ...echo, maxMessageBytes: 1024 });
    await withServer(server, async () => {
      const client = await openClient(server.url);
      client.sendJson({ type: "small", payload: "x".repeat(900) });
      assert.equal((await client.next()).type, "echo");
      client.sendJson({ type: "big", payload: "x".repeat(4096) });
      assert.equal((await client.closedWithin()).code, 1009);
      await server.closes.reach(1, 5_000, "the close handler");
      assert.equal(server.closeInfos[0].code, 1009);
      assert.equal(server.endpoint.stats().closedByCode["1009"], 1);
      assert.equal(server.endpoint.hub.size, 0);
    });
  });

  test(`${kind}: a binary frame closes with 1003 unless the endpoint opts in`, async () => {
    const server = await startServer(kind, echo);
    await withServer(server, async () => {
      const client = await openClient(server.url);
      client.send(new Uint8Array([1, 2, 3]));
      assert.equal((await client.closedWithin()).code, 1003);
      await server.closes.reach(1, 5_000, "the close handler");
      assert.equal(server.endpoint.hub.size, 0);
    });
  });

  test(`${kind}: binary frames pass through byte-exact when the endpoint opts in`, async () => {
    const server = await startServer(kind, {
      binary(conn, data) {
        conn.send(data);
      },
      message(conn, msg) {
        conn.sendJson(msg);
      },
    });
    await withServer(server, async () => {
      const client = await openClient(server.url);
      const bytes = new Uint8Array(70_000);
      for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 31 + 7) & 0xff;
      client.send(bytes);
      client.send(new Uint8Array(0));
      client.sendJson({ type: "text-stays-text" });
      const first = await client.nextRaw();
      assert.ok(first instanceof ArrayBuffer, "binary comes back as binary");
      assert.deepEqual(new Uint8Array(first), bytes);
      const empty = await client.nextRaw();
      assert.ok(empty instanceof ArrayBuffer);
      assert.equal(empty.byteLength, 0);
      assert.equal(typeof (await client.nextRaw()), "string");
      await client.close();
    });
  });

  test(`${kind}: a burst over the rate limit closes with 1008, seen by the client`, async () => {
    const server = await startServer(kind, { ...echo, rateLimit: { perSecond: 1, burst: 5 } });
    await withServer(server, async () => {
      const flooder = await openClient(server.url);
      const calm = await openClient(server.url);
      // One message past the burst; nothing is sent after it (see the next test).
      for (let i = 0; i < 6; i++) flooder.sendJson({ type: "spam", payload: i });
      assert.equal((await flooder.closedWithin()).code, 1008);
      calm.sendJson({ type: "calm" });
      assert.deepEqual(await calm.nextOfType("echo"), { type: "echo", payload: { type: "calm" } });
      await calm.close();
      await server.closes.reach(2, 5_000, "both close handlers");
      assert.equal(server.endpoint.stats().closedByCode["1008"], 1);
      assert.equal(server.endpoint.hub.size, 0);
    });
  });

  test(`${kind}: a client that keeps flooding is closed with 1008 and cleaned up once`, async () => {
    const server = await startServer(kind, { ...echo, rateLimit: { perSecond: 1, burst: 5 } });
    await withServer(server, async () => {
      const flooder = await openClient(server.url);
      for (let i = 0; i < 200; i++) flooder.sendJson({ type: "spam", payload: i });
      const seen = await flooder.closedWithin();
      await server.closes.reach(1, 5_000, "the flooder's close handler");
      assert.equal(server.closeInfos[0].code, 1008);
      assert.equal(server.closeInfos[0].initiator, "server");
      assert.equal(server.endpoint.stats().closedByCode["1008"], 1);
      assert.equal(server.endpoint.hub.size, 0);
      if (runtime === "bun") {
        assert.equal(seen.code, 1008);
      } else {
        // Deno drops the TCP connection when data frames arrive after its
        // Close frame was queued, and the Close frame is lost: the client
        // sees an abnormal close (1006; Deno's own client reports 0).
        assert.ok(
          [1008, 1006, 0].includes(seen.code),
          `expected 1008 or an abnormal close, got ${seen.code}`,
        );
      }
    });
  });

  test(`${kind}: refused origin (403) and credentials (401, 403) register nothing`, async () => {
    const server = await startServer<{ user: string } | null>(kind, {
      origins: ["http://good.example"],
      authenticate(request) {
        const token = new URL(request.url).searchParams.get("token");
        if (token === "banned") throw new UpgradeRefused(403, "account suspended");
        return token === "secret" ? { user: "ann" } : null;
      },
      open(conn) {
        conn.sendJson({ type: "hello", payload: conn.data });
      },
    });
    await withServer(server, async () => {
      const origin = await rawStatus(server.port, {
        path: "/ws?token=secret",
        headers: { Origin: "http://evil.example" },
      });
      assert.equal(origin.status, 403);
      const noToken = await rawStatus(server.port, { headers: { Origin: "http://good.example" } });
      assert.equal(noToken.status, 401);
      const banned = await rawStatus(server.port, {
        path: "/ws?token=banned",
        headers: { Origin: "http://good.example" },
      });
      assert.equal(banned.status, 403);
      const stats = server.endpoint.stats();
      assert.equal(server.endpoint.hub.size, 0);
      assert.equal(stats.open, 0);
      assert.equal(stats.opened, 0);
      assert.equal(server.opens.value, 0);
      assert.equal(server.sockets.length, 0);
      const refused = Object.values(stats.upgradesRefused).reduce((sum, n) => sum + n, 0);
      assert.equal(refused, 3, `expected 3 refusals counted, got ${JSON.stringify(stats.upgradesRefused)}`);

      // The right credentials still get in, with their data.
      const ok = await openClient(`${server.url}?token=secret`);
      assert.deepEqual(await ok.next(), { type: "hello", payload: { user: "ann" } });
      await ok.close();
    });
  });

  test(`${kind}: a client that stops answering pings is closed with 4000`, async () => {
    const server = await startServer(kind, {
      ...echo,
      heartbeat: { pingAfterMs: 100, timeoutMs: 400, sweepMs: 25 },
    });
    await withServer(server, async () => {
      const silent = await openClient(server.url);
      const lively = await openClient(server.url);
      // The lively client answers every ping; the silent one never does.
      let answered = 0;
      lively.ws.addEventListener("message", (event) => {
        if (event.data === '{"type":"ping"}') {
          answered++;
          lively.sendJson({ type: "pong" });
        }
      });
      const closed = await silent.closedWithin(5_000);
      assert.equal(closed.code, 4000);
      assert.ok(silent.messages.includes('{"type":"ping"}'), "the silent client was pinged first");
      await server.closes.reach(1, 5_000, "the stale connection's close handler");
      assert.equal(server.closeInfos[0].code, 4000);
      assert.equal(server.closeInfos[0].initiator, "server");
      const stats = server.endpoint.stats();
      assert.equal(stats.heartbeatTimeouts, 1);
      assert.ok(stats.pingsSent >= 2);
      assert.ok(answered >= 1, "the lively client was pinged too");
      assert.equal(lively.ws.readyState, WebSocket.OPEN, "a client that answers stays open");
      assert.equal(server.endpoint.hub.size, 1);
      await lively.close();
    });
  });

  test(`${kind}: shutdown closes everyone with 1001, refuses new upgrades, reports`, async () => {
    const server = await startServer(kind, echo);
    await withServer(server, async () => {
      const clients = [
        await openClient(server.url),
        await openClient(server.url),
        await openClient(server.url),
      ];
      const report = await server.endpoint.shutdown({ deadlineMs: 3_000 });
      for (const client of clients) assert.equal((await client.closedWithin()).code, 1001);
      assert.equal(report.connections, 3);
      assert.equal(report.closedCleanly, 3);
      assert.equal(report.dropped, 0);
      assert.ok(report.durationMs >= 0 && report.durationMs < 3_000);
      assert.equal(server.endpoint.hub.size, 0);
      assert.equal(server.closes.value, 3);
      assert.ok(server.closeInfos.every((info) => info.code === 1001 && info.initiator === "server"));
      assert.equal((await rawStatus(server.port)).status, 503);
    });
  });

  test(`${kind}: "Upgrade: WebSocket" in mixed case is accepted; no subprotocol is echoed blindly`, async () => {
    const server = await startServer(kind, echo, { protocols: ["chat.v1"] });
    await withServer(server, async () => {
      const mixed = await rawRequest(server.port, {
        upgrade: "WebSocket",
        headers: { "Sec-WebSocket-Protocol": "secret-token" },
      });
      assert.equal(mixed.status, 101);
      assert.equal(mixed.headers.get("sec-websocket-protocol"), undefined, "the token is not reflected");
      await server.opens.reach(1, 5_000, "the mixed-case connection to open");
      await destroy(mixed.socket);

      const chosen = await rawRequest(server.port, {
        headers: { "Sec-WebSocket-Protocol": "secret-token, chat.v1" },
      });
      assert.equal(chosen.status, 101);
      assert.equal(chosen.headers.get("sec-websocket-protocol"), "chat.v1");
      await destroy(chosen.socket);

      const client = new TestClient(server.url, ["chat.v1"]);
      await client.opened();
      assert.equal(client.ws.protocol, "chat.v1");
      await client.close();
      await server.closes.reach(3, 5_000, "every close handler");
      assert.equal(server.endpoint.hub.size, 0);
    });
  });

  test(`${kind}: an admitted request the runtime cannot upgrade releases its slot`, async () => {
    const server = await startServer(kind, { ...echo, maxConnections: 1, maxConnectionsPerAddress: 1 });
    await withServer(server, async () => {
      const broken = await rawStatus(server.port, { noKey: true });
      assert.ok(broken.status >= 400 && broken.status < 500, `expected a 4xx, got ${broken.status}`);
      assert.equal(server.endpoint.hub.size, 0);
      // The one slot is free again.
      const client = await openClient(server.url);
      client.sendJson({ type: "x" });
      assert.equal((await client.next()).type, "echo");
      await client.close();
    });
  });

  test(`${kind}: plain HTTP goes to the fallback, or gets 426 on the WebSocket route`, async () => {
    const server = await startServer(kind, echo, {
      fallback: (request) => new Response(`page ${new URL(request.url).pathname}`, { status: 200 }),
    });
    await withServer(server, async () => {
      const base = `http://127.0.0.1:${server.port}`;
      const page = await fetch(`${base}/metrics`);
      assert.equal(page.status, 200);
      assert.equal(await page.text(), "page /metrics");
      const wsRoute = await rawStatus(server.port, { upgrade: null });
      if (kind === "hono") assert.equal(wsRoute.status, 426, "Hono's /ws route answers a plain GET with 426");
      else {assert.equal(
          wsRoute.status,
          200,
          "without an Upgrade header the adapter hands over to the fallback",
        );}
      assert.equal(server.endpoint.hub.size, 0);
      // An upgrade still upgrades.
      const client = await openClient(server.url);
      await client.close();
    });
    const bare = await startServer(kind, echo);
    await withServer(bare, async () => {
      const plain = await rawStatus(bare.port, { upgrade: null });
      assert.equal(plain.status, 426, "without a fallback a plain request gets 426");
      assert.equal(bare.endpoint.stats().upgradesRefused["not_upgrade"], 1);
    });
  });

  test(`${kind}: a peer that stops reading is closed with 1013 before its buffer grows without bound`, async () => {
    const limit = 256 * 1024;
    const server = await startServer(kind, { maxBufferedBytes: limit });
    await withServer(server, async () => {
      const raw = await rawRequest(server.port);
      assert.equal(raw.status, 101);
      raw.socket.pause(); // reads nothing more: the server's writes pile up
      await server.opens.reach(1, 5_000, "the connection to open");
      const conn = server.endpoint.hub.connections()[0];
      const chunk = "x".repeat(64 * 1024);
      let sent = 0;
      // Bounded: 4 000 × 64 KiB would be 250 MiB if nothing stopped it.
      while (sent < 4_000 && conn.send(chunk)) sent++;
      assert.ok(sent < 4_000, "sending stopped");
      assert.equal(conn.readyState >= 2, true, "the slow consumer is being closed");
      await server.closes.reach(1, 5_000, "the slow consumer's close handler");
      assert.equal(server.closeInfos[0].code, 1013);
      assert.equal(server.closeInfos[0].initiator, "server");
      assert.equal(server.endpoint.stats().slowConsumers, 1);
      assert.equal(server.endpoint.hub.size, 0);
      await destroy(raw.socket);
    });
  });
}
