import assert from "node:assert/strict";
import process from "node:process";
import { test } from "../_harness.ts";
import { startFaultProxy } from "../fault/proxy.ts";
import { ReportTable } from "../fault/report.ts";
import { waitUntil } from "../fault/wait.ts";
import { closeFleet, startFleet } from "./_fleet.ts";
import { adapterLabel, ADAPTERS, startServer } from "./_servers.ts";
import { watchUnhandled } from "./_unhandled.ts";

const SOAK = process.env.STEADY_SOAK === "1";
const table = new ReportTable("chaos: black holes");
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

/** Scheduling allowance on a shared 2-core machine, on top of the documented bound. */
const SLACK_MS = 150;

for (const adapter of ADAPTERS) {
  const label = adapterLabel(adapter);
  const clients = SOAK ? 500 : 30;

  test(
    `black hole (${label}): the server closes silent peers within pingAfter + timeout + one sweep while broadcasting; clients reconnect`,
    async () => {
      const watch = watchUnhandled();
      const hb = { pingAfterMs: 300, timeoutMs: 300, sweepMs: 100 };
      const closedAt = new Map<string, { at: number; code: number }>();
      const server = await startServer<undefined>({
        heartbeat: hb,
        // Everything arrives from the proxy's one address.
        maxConnectionsPerAddress: clients * 2,
        logger: quiet,
        close(conn, info) {
          closedAt.set(conn.id, { at: performance.now(), code: info.code });
        },
      }, { adapter });
      const proxy = await startFaultProxy({ target: { port: server.port } });
      const clientTimeout = 800;
      const fleet = startFleet(clients, `ws://127.0.0.1:${proxy.port}/ws`, {
        minDelayMs: 50,
        maxDelayMs: 500,
        pingIntervalMs: 200,
        serverTimeoutMs: clientTimeout,
        probeTimeoutMs: 300,
      });
      let broadcaster: ReturnType<typeof setInterval> | undefined;
      let delivered = 0;
      try {
        await waitUntil(
          () => fleet.every((m) => m.client.state.status === "open"),
          "every client open",
          SOAK ? 120_000 : 20_000,
        );
        await waitUntil(() => server.endpoint.hub.size === clients, "the server to count every client");
        const before = new Set(server.endpoint.hub.connections().map((c) => c.id));
        // The server keeps pushing to everyone: a runtime timer re-armed on sends would never fire.
        broadcaster = setInterval(() => {
          delivered +=
            server.endpoint.hub.broadcastJson({ type: "news", payload: "y".repeat(200) }).delivered;
        }, 20);
        const t0 = performance.now();
        proxy.setMode({ kind: "blackhole" }, { applyToOpen: true });
        proxy.setMode({ kind: "pass" }); // new connections pass again
        await waitUntil(
          () => [...before].every((id) => closedAt.has(id)),
          "every black-holed peer closed by the server",
          10_000,
        );
        const delays = [...before].map((id) => closedAt.get(id)!.at - t0);
        const codes = new Set([...before].map((id) => closedAt.get(id)!.code));
        const worst = Math.round(Math.max(...delays));
        const bound = hb.pingAfterMs + hb.timeoutMs + hb.sweepMs;
        // The clients notice by themselves (watchdog), reconnect, and the server counts exactly them.
        await waitUntil(
          () => fleet.every((m) => m.client.state.status === "open" && m.opens >= 2),
          "every client to detect the dead server and reconnect",
          clientTimeout + 5_000,
        );
        const reconnectedIn = Math.round(performance.now() - t0);
        await waitUntil(
          () => server.endpoint.hub.size === clients,
          "the server to count the reconnected clients",
        );
        const stats = server.endpoint.stats();
        table.add({
          scenario: "black hole under broadcast",
          adapter: label,
          connections: clients,
          faults: clients,
          leaks: server.endpoint.hub.size - clients,
          lost: 0,
          unhandled: watch.seen.length,
          notes: `server closed all within ${worst} ms (bound ${bound} + ${SLACK_MS} slack), codes ${[
            ...codes,
          ]}; ` +
            `clients back in ${reconnectedIn} ms (watchdog ${clientTimeout}); broadcasts counted delivered ${delivered}; ` +
            `4000 closes ${stats.closedByCode["4000"] ?? 0}`,
        });
        assert.deepEqual([...codes], [4000], "expected the heartbeat close code for every black-holed peer");
        assert.ok(
          worst <= bound + SLACK_MS,
          `expected every close within ${bound} ms (+${SLACK_MS}), worst ${worst}`,
        );
        assert.equal(stats.open, clients);
        assert.equal(watch.seen.length, 0);
      } finally {
        clearInterval(broadcaster);
        watch.stop();
        await proxy.close();
        await closeFleet(fleet);
        await server.close(500);
      }
    },
    { timeoutMs: 60_000 },
  );
}

test("black hole: a client's close() resolves even when its server went silent", async () => {
  const server = await startServer<undefined>({ heartbeat: false, logger: quiet }, { adapter: "native" });
  const proxy = await startFaultProxy({ target: { port: server.port } });
  const [m] = startFleet(1, `ws://127.0.0.1:${proxy.port}/ws`, { serverTimeoutMs: 0, pingIntervalMs: 0 });
  try {
    await waitUntil(() => m.client.state.status === "open", "the client to open");
    proxy.setMode({ kind: "blackhole" }, { applyToOpen: true });
    const started = performance.now();
    let resolved = false;
    const closing = m.client.close().then(() => resolved = true);
    // The runtime's socket waits for a Close frame that never comes (Deno: never; Bun: about 36 s).
    await waitUntil(() => resolved, "client.close() to resolve", 10_000).catch(() => {});
    const ms = Math.round(performance.now() - started);
    table.add({
      scenario: "client close() over a black hole",
      adapter: adapterLabel("native"),
      connections: 1,
      faults: 1,
      leaks: resolved ? 0 : 1,
      lost: 0,
      unhandled: 0,
      notes: resolved ? `resolved after ${ms} ms` : `not resolved after ${ms} ms`,
    });
    await proxy.close(); // releases the hanging socket either way
    await closing;
    assert.ok(resolved, `expected close() to resolve within 10 s, it had not after ${ms} ms`);
  } finally {
    await proxy.close();
    await closeFleet([m]);
    await server.close(500);
  }
}, { timeoutMs: 30_000 });

test("chaos: black hole report", () => {
  table.print();
  assert.ok(table.rows.length > 0);
});
