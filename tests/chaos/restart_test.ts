import assert from "node:assert/strict";
import process from "node:process";
import { test } from "../_harness.ts";
import { ReportTable } from "../fault/report.ts";
import { waitUntil } from "../fault/wait.ts";
import { closeFleet, type Member, startFleet } from "./_fleet.ts";
import { adapterLabel, ADAPTERS, startServer, type TestServer } from "./_servers.ts";
import { watchUnhandled } from "./_unhandled.ts";

const SOAK = process.env.STEADY_SOAK === "1";
const table = new ReportTable("chaos: server restart");
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

/** The client's default backoff cap (client/client.ts); the test uses the defaults on purpose. */
const MAX_BACKOFF_MS = 10_000;

for (const adapter of ADAPTERS) {
  const label = adapterLabel(adapter);
  // 200 in CI: the busiest-window share of a smaller fleet is mostly sampling noise.
  const clients = SOAK ? 1_000 : 200;

  test(
    `restart (${label}): ${clients} clients come back within the backoff cap, spread out (jitter)`,
    async () => {
      const watch = watchUnhandled();
      const opens: number[] = [];
      const options = {
        heartbeat: false as const,
        logger: quiet,
        maxConnectionsPerAddress: clients + 10,
        open: () => void opens.push(performance.now()),
      };
      let server: TestServer<undefined> = await startServer<undefined>(options, { adapter });
      const port = server.port;
      // Default backoff settings: the spread is the library's, not the test's.
      const fleet: Member[] = startFleet(clients, server.url, {});
      try {
        await waitUntil(() => server.endpoint.hub.size === clients, "every client connected", 30_000);
        const downMs = 1_000;
        const report = await server.endpoint.shutdown({ deadlineMs: 2_000 });
        await server.close();
        await waitUntil(
          () =>
            fleet.every((m) =>
              m.client.state.status === "reconnecting" || m.client.state.status === "connecting"
            ),
          "every client to notice",
        );
        await new Promise((r) => setTimeout(r, downMs));
        opens.length = 0;
        const restartedAt = performance.now();
        server = await startServer<undefined>(options, { adapter, port });
        await waitUntil(
          () => server.endpoint.hub.size === clients && fleet.every((m) => m.client.state.status === "open"),
          "every client back",
          MAX_BACKOFF_MS + 5_000,
          20,
        );
        const allBackMs = Math.round(performance.now() - restartedAt);
        const times = opens.map((t) => t - restartedAt).sort((a, b) => a - b);
        let worstWindow = 0;
        for (let i = 0, j = 0; i < times.length; i++) {
          while (times[i] - times[j] > 250) j++;
          worstWindow = Math.max(worstWindow, i - j + 1);
        }
        const share = Math.round((worstWindow / clients) * 1000) / 10;
        table.add({
          scenario: "server restart, default backoff",
          adapter: label,
          connections: clients,
          faults: 1,
          leaks: server.endpoint.hub.size - clients,
          lost: 0,
          unhandled: watch.seen.length,
          notes:
            `shutdown closed ${report.closedCleanly}/${report.connections} cleanly in ${report.durationMs} ms; ` +
            `down ${downMs} ms; all back ${allBackMs} ms after restart; busiest 250 ms window ${worstWindow} (${share} %); ` +
            `first ${Math.round(times[0])} ms, median ${Math.round(times[Math.floor(times.length / 2)])} ms`,
        });
        assert.equal(report.connections, clients);
        assert.ok(
          allBackMs <= MAX_BACKOFF_MS + 3_000,
          `expected all back within the cap + 3 s, took ${allBackMs} ms`,
        );
        assert.ok(
          share <= 15,
          `expected no 250 ms window with more than 15 % of the reconnects, saw ${share} %`,
        );
        assert.equal(server.endpoint.stats().opened, clients, "expected each client back exactly once");
        assert.equal(watch.seen.length, 0);
      } finally {
        watch.stop();
        await closeFleet(fleet);
        await server.close(500);
      }
    },
    { timeoutMs: 90_000 },
  );
}

test("chaos: restart report", () => {
  table.print();
  assert.ok(table.rows.length > 0);
});
