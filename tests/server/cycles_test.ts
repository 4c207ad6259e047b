/**
 * 1 000 connect/drop cycles per adapter, half of them abrupt (the TCP socket
 * destroyed after the 101, no Close frame): the hub ends empty, the
 * per-address count returns to zero, and (under Deno's sanitizers) no timer
 * or socket is left behind.
 */

import assert from "node:assert/strict";
import { test } from "../_harness.ts";
import { adapters, startServer } from "./_servers.ts";
import { destroy, openClient, rawRequest } from "./_clients.ts";

const CYCLES = 1_000;
const BATCH = 50;

for (const kind of adapters) {
  test(`${kind}: ${CYCLES} connect/drop cycles, half abrupt, leave nothing behind`, async () => {
    // The per-address cap equals the batch: a single leaked reservation would
    // make a later batch fail with 503.
    const server = await startServer(kind, {
      maxConnections: BATCH,
      maxConnectionsPerAddress: BATCH,
      message(conn, msg) {
        conn.sendJson(msg);
      },
    });
    try {
      for (let done = 0; done < CYCLES; done += BATCH) {
        await Promise.all(
          Array.from({ length: BATCH }, (_, i) => cycle(server.url, server.port, i % 2 === 0)),
        );
        await server.closes.reach(done + BATCH, 10_000, `close handlers after ${done + BATCH} cycles`);
      }
      assert.equal(server.opens.value, CYCLES);
      assert.equal(server.closes.value, CYCLES, "the close handler ran exactly once per connection");
      assert.equal(server.endpoint.hub.size, 0);
      const stats = server.endpoint.stats();
      assert.equal(stats.open, 0);
      assert.equal(stats.opened, CYCLES);
      assert.equal(stats.closed, CYCLES);
      const refused = Object.values(stats.upgradesRefused).reduce((sum, n) => sum + n, 0);
      assert.equal(refused, 0, `expected no refusal, got ${JSON.stringify(stats.upgradesRefused)}`);

      // Every per-address slot is free again: a full batch fits at once.
      const again = await Promise.all(Array.from({ length: BATCH }, () => openClient(server.url)));
      assert.equal(server.endpoint.hub.size, BATCH);
      await Promise.all(again.map((client) => client.close()));
      await server.closes.reach(CYCLES + BATCH, 10_000, "the last batch's close handlers");
      assert.equal(server.endpoint.hub.size, 0);
    } finally {
      await server.stop();
    }
  }, { timeoutMs: 120_000 });
}

async function cycle(url: string, port: number, abrupt: boolean): Promise<void> {
  if (abrupt) {
    const response = await rawRequest(port);
    assert.equal(response.status, 101);
    await destroy(response.socket);
    return;
  }
  const client = await openClient(url);
  client.sendJson({ type: "hi" });
  assert.equal((await client.next()).type, "hi");
  assert.equal((await client.close()).code, 1000);
}
