import assert from "node:assert/strict";
import { runtime, test } from "../_harness.ts";
import { ClientError } from "../../server/mod.ts";
import type { Connection, Envelope, Logger } from "../../server/mod.ts";
import { ReportTable } from "../fault/report.ts";
import { waitUntil } from "../fault/wait.ts";
import { adapterLabel, ADAPTERS, startServer } from "./_servers.ts";
import { watchUnhandled } from "./_unhandled.ts";
import { openClient } from "../fault/plain_client.ts";

const table = new ReportTable("chaos: failing handlers");

const FAILURES = [
  "throw",
  "reject",
  "throw-string",
  "reject-undefined",
  "client-throw",
  "client-reject",
] as const;
const GENERIC = new Set(["throw", "reject", "throw-string", "reject-undefined"]);

function handle(conn: Connection, m: Envelope): void | Promise<void> {
  switch (m.type) {
    case "echo":
      conn.sendJson({ type: "echo", payload: m.payload });
      return;
    case "throw":
      throw new Error("sync failure on purpose");
    case "reject":
      return Promise.reject(new Error("async failure on purpose"));
    case "throw-string":
      throw "a thrown string";
    case "reject-undefined":
      return Promise.reject(undefined);
    case "client-throw":
      throw new ClientError('bad "request"\non purpose', "bad_request");
    case "client-reject":
      return (async () => {
        await null;
        throw new ClientError("rejected on purpose", "bad_async");
      })();
  }
}

for (const adapter of ADAPTERS) {
  for (const policy of ["continue", "close"] as const) {
    const label = adapterLabel(adapter);

    test(
      `failing handlers (${label}, onHandlerError "${policy}"): only the failing connection is affected`,
      async () => {
        const watch = watchUnhandled();
        const errors: string[] = [];
        const logger: Logger = {
          debug() {},
          info() {},
          warn() {},
          error: (message, fields) =>
            void errors.push(`${message} ${String(fields?.stack ?? fields?.error ?? "")}`),
        };
        let openThrows = 0;
        let closeThrows = 0;
        const closeCodes = new Map<string, number>();
        const server = await startServer<undefined>({
          heartbeat: false,
          rateLimit: false,
          logger,
          onHandlerError: policy,
          message: handle,
          open(conn) {
            // Every 7th connection's open handler fails; under "continue" that alone must not end it.
            if (policy === "continue" && Number.parseInt(conn.id, 36) % 7 === 0) {
              openThrows++;
              throw new Error("open failed on purpose");
            }
          },
          close(conn, info) {
            closeCodes.set(conn.id, info.code);
            if (Number.parseInt(conn.id, 36) % 5 === 0) {
              closeThrows++;
              return Promise.reject(new Error("close failed on purpose"));
            }
          },
        }, { adapter });
        const others: WebSocket[] = [];
        const bad: WebSocket[] = [];
        try {
          for (let i = 0; i < 100; i++) others.push(await openClient(server.url));
          const badIds: string[] = [];
          for (let i = 0; i < FAILURES.length; i++) {
            const known = new Set(server.endpoint.hub.connections().map((c) => c.id));
            bad.push(await openClient(server.url));
            await waitUntil(
              () => server.endpoint.hub.size === known.size + 1,
              "the failing client registered",
            );
            badIds.push(server.endpoint.hub.connections().find((c) => !known.has(c.id))!.id);
          }
          const echoes = new Array(others.length).fill(0);
          others.forEach((ws, i) => ws.onmessage = () => echoes[i]++);
          const badSeen: Array<{ types: string[]; codes: string[]; closed?: number }> = bad.map(() => ({
            types: [],
            codes: [],
          }));
          bad.forEach((ws, i) => {
            ws.onmessage = (e) => {
              const m = JSON.parse(String(e.data));
              badSeen[i].types.push(m.type);
              if (m.type === "error") badSeen[i].codes.push(m.payload.code);
            };
            ws.onclose = (e) => badSeen[i].closed = e.code;
          });
          const rounds = 20;
          for (let r = 0; r < rounds; r++) {
            for (const ws of others) ws.send(JSON.stringify({ type: "echo", payload: r }));
            bad.forEach((ws, i) => {
              if (ws.readyState !== WebSocket.OPEN) return;
              ws.send(JSON.stringify({ type: FAILURES[i] }));
              ws.send(JSON.stringify({ type: "echo", payload: r }));
            });
          }
          await waitUntil(() => echoes.every((n) => n === rounds), "every echo to the 100 others", 15_000);
          await waitUntil(
            () =>
              bad.every((_ws, i) =>
                GENERIC.has(FAILURES[i]) && policy === "close"
                  ? badSeen[i].closed !== undefined
                  : badSeen[i].types.filter((t) => t === "echo").length === rounds
              ),
            "the failing clients' answers",
            10_000,
          );
          const stats = server.endpoint.stats();
          const expectedGeneric = policy === "close" ? GENERIC.size : GENERIC.size * rounds;
          table.add({
            scenario: `failing handlers, ${policy}`,
            adapter: label,
            connections: others.length + bad.length,
            faults: bad.length * rounds + openThrows,
            leaks: 0,
            lost: 0,
            unhandled: watch.seen.length,
            notes: `handlerErrors ${stats.handlerErrors} (open throws ${openThrows}); ` +
              bad.map((_, i) =>
                `${FAILURES[i]}: ${badSeen[i].closed ?? "open"}/${badSeen[i].codes.length} err/${
                  badSeen[i].types.filter((t) => t === "echo").length
                } echo`
              ).join(", "),
          });
          let denoGaps = 0;
          bad.forEach((_, i) => {
            const kind = FAILURES[i];
            if (kind === "client-throw" || kind === "client-reject") {
              assert.equal(badSeen[i].closed, undefined, `${kind}: expected the connection to go on`);
              assert.equal(
                badSeen[i].codes.length,
                rounds,
                `${kind}: expected one error envelope per failure`,
              );
              assert.ok(
                badSeen[i].codes.every((c) => c === (kind === "client-throw" ? "bad_request" : "bad_async")),
              );
            } else if (policy === "continue") {
              assert.equal(badSeen[i].closed, undefined, `${kind}: expected the connection to go on`);
              assert.deepEqual(
                badSeen[i].codes,
                [],
                `${kind}: expected nothing sent for an internal failure`,
              );
              assert.equal(badSeen[i].types.filter((t) => t === "echo").length, rounds);
            } else if (runtime === "deno" && badSeen[i].closed !== 1011) {
              // Deno's server drops TCP after its Close frame while the peer is still sending; the RST can
              // discard the Close frame before the client reads it (measured: every time across processes).
              assert.ok(
                badSeen[i].closed === 0 || badSeen[i].closed === 1006,
                `${kind}: got ${badSeen[i].closed}`,
              );
              denoGaps++;
            } else {
              assert.equal(badSeen[i].closed, 1011, `${kind}: expected 1011 under onHandlerError "close"`);
            }
          });
          if (denoGaps > 0) {
            console.log(`runtime gap on Deno: ${denoGaps} clients saw an abnormal close instead of 1011`);
          }
          if (policy === "close") {
            const serverCodes = new Set(
              bad.map((_, i) => i).filter((i) => GENERIC.has(FAILURES[i])).map((i) =>
                closeCodes.get(badIds[i])
              ),
            );
            assert.deepEqual(
              [...serverCodes],
              [1011],
              "expected the server to close each failing connection with 1011",
            );
          }
          if (policy === "continue") assert.equal(stats.handlerErrors, expectedGeneric + openThrows);
          // Under "close", an async rejection settles after messages already received may have failed too.
          else {assert.ok(
              stats.handlerErrors >= expectedGeneric && stats.handlerErrors <= GENERIC.size * rounds,
            );}
          assert.ok(
            errors.some((e) => e.includes("sync failure on purpose")),
            "expected the failure logged with its stack",
          );
          assert.equal(
            server.endpoint.hub.size,
            others.length + bad.length - (policy === "close" ? GENERIC.size : 0),
          );
          // Leaving runs the close handlers, some of which reject.
          for (const ws of [...others, ...bad]) ws.close();
          await waitUntil(() => server.endpoint.hub.size === 0, "everyone to leave");
          await new Promise((r) => setTimeout(r, 0));
          assert.ok(closeThrows > 0, "expected some close handlers to have rejected");
          assert.equal(watch.seen.length, 0, `unhandled: ${watch.seen.map(String).join("; ")}`);
        } finally {
          watch.stop();
          for (const ws of [...others, ...bad]) ws.close();
          await server.close(500);
        }
      },
      { timeoutMs: 60_000 },
    );
  }
}

test("chaos: failing handlers report", () => {
  table.print();
  assert.ok(table.rows.length > 0);
});
