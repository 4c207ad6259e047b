import assert from "node:assert/strict";
import { test } from "../_harness.ts";
import type { EndpointOptions } from "../../server/types.ts";
import { startFaultProxy } from "../fault/proxy.ts";
import { ReportTable } from "../fault/report.ts";
import { waitUntil } from "../fault/wait.ts";
import { account, closeFleet, Ledger, sendNext, startFleet } from "./_fleet.ts";
import { adapterLabel, ADAPTERS, startServer, type TestServer } from "./_servers.ts";
import { watchUnhandled } from "./_unhandled.ts";

const table = new ReportTable("chaos: nothing lost that was accepted");
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

for (const adapter of ADAPTERS) {
  const label = adapterLabel(adapter);

  test(`delivery (${label}): messages sent while disconnected arrive once, in order, or are reported dropped`, async () => {
    const watch = watchUnhandled();
    const ledger = new Ledger();
    const options: EndpointOptions<undefined> = {
      heartbeat: false,
      logger: quiet,
      message: (conn, msg) => void ledger.record(conn, msg),
    };
    let server: TestServer<undefined> = await startServer<undefined>(options, { adapter });
    const port = server.port;
    const queueLimit = 20;
    const [m] = startFleet(1, server.url, { minDelayMs: 100, maxDelayMs: 300, queueLimit });
    try {
      await waitUntil(() => m.client.state.status === "open", "the client to open");
      for (let i = 0; i < 10; i++) assert.equal(sendNext(m), "sent");
      await waitUntil(() => (ledger.received.get(0)?.length ?? 0) === 10, "the first ten");
      await server.close();
      await waitUntil(() => m.client.state.status !== "open", "the client to notice the restart");
      const offline = Array.from({ length: queueLimit + 5 }, () => sendNext(m));
      assert.deepEqual(offline.slice(0, queueLimit), Array(queueLimit).fill("queued"));
      assert.deepEqual(offline.slice(queueLimit), Array(5).fill("dropped"));
      assert.equal(m.dropped.size, 5, "expected a drop event for each dropped message");
      server = await startServer<undefined>(options, { adapter, port });
      await waitUntil(() => m.client.state.status === "open", "the client to reconnect", 10_000);
      for (let i = 0; i < 10; i++) sendNext(m);
      const total = 10 + queueLimit + 10;
      await waitUntil(() => (ledger.received.get(0)?.length ?? 0) === total, `${total} messages`, 10_000);
      const got = ledger.received.get(0)!;
      const expected = [
        ...Array.from({ length: 10 }, (_, i) => i),
        ...Array.from({ length: queueLimit }, (_, i) => 10 + i),
        ...Array.from({ length: 10 }, (_, i) => 10 + queueLimit + 5 + i),
      ];
      const totals = account([m], ledger);
      table.add({
        scenario: "queued while disconnected, server restart",
        adapter: label,
        connections: 1,
        faults: 1,
        leaks: server.endpoint.hub.size - 1,
        lost: totals.lostQueued,
        unhandled: watch.seen.length,
        notes:
          `sent ${totals.sent}, queued ${totals.queued}, dropped (reported) ${totals.droppedReported}, ` +
          `delivered ${totals.delivered}, dup ${totals.duplicates}`,
      });
      assert.deepEqual(got, expected, "expected the queued messages once, in order, after the first ten");
      assert.equal(totals.lostQueued, 0);
      assert.equal(watch.seen.length, 0);
    } finally {
      watch.stop();
      await closeFleet([m]);
      await server.close(500);
    }
  });

  test(
    `delivery (${label}): how many in-flight messages a cut or a black hole loses today (measured)`,
    async () => {
      const watch = watchUnhandled();
      const ledger = new Ledger();
      const server = await startServer<undefined>({
        heartbeat: { pingAfterMs: 300, timeoutMs: 300, sweepMs: 100 },
        rateLimit: false,
        logger: quiet,
        message: (conn, msg) => void ledger.record(conn, msg),
      }, { adapter });
      const proxy = await startFaultProxy({ target: { port: server.port } });
      const serverTimeoutMs = 800;
      const [m] = startFleet(1, `ws://127.0.0.1:${proxy.port}/ws`, {
        minDelayMs: 50,
        maxDelayMs: 200,
        pingIntervalMs: 200,
        serverTimeoutMs,
        queueLimit: 1_000,
      });
      let sender: ReturnType<typeof setInterval> | undefined;
      const perFault: Array<{ kind: string; lost: number }> = [];
      try {
        await waitUntil(() => m.client.state.status === "open", "the client to open");
        sender = setInterval(() => sendNext(m), 5); // ~200 messages/s
        for (const kind of ["cut-to-server", "reset", "cut-to-client", "blackhole"] as const) {
          for (let round = 0; round < 3; round++) {
            await waitUntil(() => m.client.state.status === "open", "the client to be open", 10_000);
            await new Promise((r) => setTimeout(r, 100));
            const from = m.results.length;
            const opensBefore = m.opens;
            const [conn] = proxy.live().filter((p) => !p.done && p.tag === undefined);
            conn.tag = kind;
            if (kind === "blackhole") conn.setMode({ kind: "blackhole" });
            else conn.act(kind);
            await waitUntil(() => m.opens > opensBefore, "the client to reconnect", serverTimeoutMs + 5_000);
            // Everything sent up to the reconnect, and delivered by a marker behind it.
            const to = m.results.length;
            m.client.send("marker", { c: 0, s: to });
            await waitUntil(() => ledger.markers.get(0) === to, "the marker", 5_000);
            const got = new Set(ledger.received.get(0));
            let lost = 0;
            for (let s = from; s < to; s++) if (m.results[s] === "sent" && !got.has(s)) lost++;
            perFault.push({ kind, lost });
          }
        }
        clearInterval(sender);
        sender = undefined;
        const totals = account([m], ledger);
        const byKind = (k: string) => perFault.filter((p) => p.kind === k).map((p) => p.lost);
        table.add({
          scenario: "in-flight loss per fault at ~200 msg/s",
          adapter: label,
          connections: 1,
          faults: perFault.length,
          leaks: 0,
          lost: totals.lostQueued,
          unhandled: watch.seen.length,
          notes:
            `lost per cut-to-server ${byKind("cut-to-server")}, reset ${byKind("reset")}, cut-to-client ${
              byKind("cut-to-client")
            }, black hole ${byKind("blackhole")} (watchdog ${serverTimeoutMs} ms); ` +
            `total sent ${totals.sent}, queued ${totals.queued}, delivered ${totals.delivered}, lost in flight ${totals.lostInFlight}, dup ${totals.duplicates}`,
        });
        assert.equal(totals.duplicates, 0);
        assert.equal(totals.outOfOrder, 0);
        assert.equal(totals.lostQueued, 0, "expected no queued message lost");
        assert.equal(watch.seen.length, 0);
      } finally {
        clearInterval(sender);
        watch.stop();
        await proxy.close();
        await closeFleet([m]);
        await server.close(500);
      }
    },
    { timeoutMs: 60_000 },
  );
}

test("chaos: delivery report", () => {
  table.print();
  assert.ok(table.rows.length > 0);
});
