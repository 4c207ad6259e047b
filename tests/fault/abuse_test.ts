import assert from "node:assert/strict";
import { runtime, test } from "../_harness.ts";
import { UpgradeRefused } from "../../server/mod.ts";
import type { Logger } from "../../server/types.ts";
import { adapterLabel, ADAPTERS, startServer } from "../chaos/_servers.ts";
import { watchUnhandled } from "../chaos/_unhandled.ts";
import { closePayload, Opcode, rawConnect, type RawSocket } from "./raw_ws.ts";
import { ReportTable } from "./report.ts";
import { waitUntil } from "./wait.ts";
import { closeClient, openClient } from "./plain_client.ts";

const table = new ReportTable("abuse");
const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** A logger that keeps every line, fields included (errors with their stacks), at every level. */
function capturingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const render = (v: unknown): string => {
    if (v instanceof Error) return `${v.name}: ${v.message}\n${v.stack ?? ""}`;
    if (v instanceof Request) return `${v.method} ${v.url} ${JSON.stringify([...v.headers])}`;
    if (v !== null && typeof v === "object") {
      return "{" + Object.entries(v).map(([k, x]) => `${k}=${render(x)}`).join(", ") + "}";
    }
    return String(v);
  };
  const at = (level: string) => (message: string, fields?: Record<string, unknown>) =>
    lines.push(`${level} ${message} ${fields ? render(fields) : ""}`);
  return { lines, debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

/** Sends a numbered echo request and resolves with the round-trip time. */
function echoRtt(ws: WebSocket, n: number, timeoutMs = 5_000): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`expected echo ${n} within ${timeoutMs} ms`)), timeoutMs);
    const on = (e: MessageEvent) => {
      const m = JSON.parse(String(e.data));
      if (m.type !== "echo" || m.payload !== n) return;
      clearTimeout(t);
      ws.removeEventListener("message", on);
      resolve(performance.now() - started);
    };
    ws.addEventListener("message", on);
    ws.send(JSON.stringify({ type: "echo", payload: n }));
  });
}

const p99 = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.min(s.length - 1, Math.floor(s.length * 0.99))] * 10) / 10;
};

for (const adapter of ADAPTERS) {
  const label = adapterLabel(adapter);

  test(`abuse (${label}): Origin is judged by the allow-list with 403 before the upgrade`, async () => {
    const watch = watchUnhandled();
    const server = await startServer<undefined>({
      origins: ["http://example.com", "https://app.example.com:8443"],
      heartbeat: false,
      logger: quiet,
      message: (conn, m) => void conn.sendJson({ type: "echo", payload: m.payload }),
    }, { adapter });
    try {
      const cases: Array<[string | false, number]> = [
        ["http://example.com", 101],
        ["http://EXAMPLE.com:80", 101],
        ["https://app.example.com:8443", 101],
        [false, 101], // no Origin: a non-browser client, allowed by a list
        ["http://evil.test", 403],
        ["null", 403],
        ["http://example.com.evil.test", 403],
        ["http://evil.test/http://example.com", 403],
        ["https://example.com", 403],
        ["http://example.com:8080", 403],
        ["http://sub.example.com", 403],
        ["http://examplexcom", 403],
        ["https://app.example.com", 403],
        ["http://example.com@evil.test", 403],
        ["", 403],
        ["not a url", 403],
      ];
      const got: string[] = [];
      const wrong: string[] = [];
      let upgraded = 0;
      for (const [origin, expected] of cases) {
        const raw = await rawConnect({
          port: server.port,
          headers: origin === false ? [] : [["Origin", origin]],
        });
        got.push(`${origin === false ? "(none)" : JSON.stringify(origin)}:${raw.status}`);
        if (raw.status !== expected) wrong.push(`${origin} → ${raw.status}, expected ${expected}`);
        if (raw.status === 101) upgraded++;
        if (raw.status === 403) {
          assert.equal(raw.headers["upgrade"], undefined, "expected no upgrade on a 403");
        }
        raw.destroy();
      }
      await waitUntil(() => server.endpoint.hub.size === 0, "every admitted raw peer to leave");
      const stats = server.endpoint.stats();
      table.add({
        scenario: "origin allow-list",
        adapter: label,
        connections: cases.length,
        faults: cases.filter(([, e]) => e === 403).length,
        leaks: stats.open,
        lost: 0,
        unhandled: watch.seen.length,
        notes: `refused ${stats.upgradesRefused.origin ?? 0}`,
      });
      assert.deepEqual(wrong, [], got.join(", "));
      assert.equal(stats.opened, upgraded, "expected nothing registered for a 403");
      assert.equal(stats.upgradesRefused.origin, cases.length - upgraded);
    } finally {
      watch.stop();
      await server.close();
    }
  });

  test(`abuse (${label}): same-origin default refuses foreign and null origins`, async () => {
    const server = await startServer<undefined>({ heartbeat: false, logger: quiet }, { adapter });
    try {
      const own = `http://127.0.0.1:${server.port}`;
      const expectations: Array<[string | false, number]> = [
        [own, 101],
        [false, 101],
        ["http://localhost:" + server.port, 403],
        ["null", 403],
        [`http://127.0.0.1:${server.port}.evil.test`, 403],
        ["http://evil.test", 403],
      ];
      const got: string[] = [];
      for (const [origin, expected] of expectations) {
        const raw = await rawConnect({
          port: server.port,
          headers: origin === false ? [] : [["Origin", origin]],
        });
        got.push(`${origin}:${raw.status}`);
        raw.destroy();
        assert.equal(raw.status, expected, `Origin ${origin}: ${got.join(", ")}`);
      }
      await waitUntil(() => server.endpoint.hub.size === 0, "the raw peers to leave");
      assert.equal(server.endpoint.stats().opened, 2);
    } finally {
      await server.close();
    }
  });

  test(`abuse (${label}): unauthenticated upgrades get 401 before the upgrade; tokens never reach the logs`, async () => {
    const watch = watchUnhandled();
    const logger = capturingLogger();
    const TOKEN = "tok_s3cr3t_8a7f2e91c4";
    const WRONG = "tok_wr0ng_55d1e0aa";
    const server = await startServer<{ user: string }>({
      heartbeat: { pingAfterMs: 100, timeoutMs: 100 },
      rateLimit: { perSecond: 5, burst: 5 },
      logger,
      maxMessageBytes: 1024,
      authenticate(request) {
        const url = new URL(request.url);
        const token = url.searchParams.get("token") ??
          request.headers.get("authorization")?.replace(/^Bearer /, "") ??
          request.headers.get("sec-websocket-protocol")?.split(",")[0].trim();
        if (token === WRONG) throw new UpgradeRefused(403, "token not accepted");
        return token === TOKEN ? { user: "alice" } : (undefined as unknown as { user: string });
      },
      message(conn, m) {
        if (m.type === "boom") throw new Error("handler failed on purpose");
        conn.sendJson({ type: "echo", payload: conn.data.user });
      },
    }, { adapter });
    const raws: RawSocket[] = [];
    try {
      const base = `ws://127.0.0.1:${server.port}/ws`;
      const noToken = await rawConnect({ port: server.port });
      raws.push(noToken);
      const wrongQuery = await rawConnect({ port: server.port, path: `/ws?token=${WRONG}` });
      raws.push(wrongQuery);
      const wrongHeader = await rawConnect({
        port: server.port,
        headers: [["Authorization", `Bearer nope_${TOKEN}x`]],
      });
      raws.push(wrongHeader);
      const wrongProtocol = await rawConnect({
        port: server.port,
        headers: [["Sec-WebSocket-Protocol", `${WRONG}, chat`]],
      });
      raws.push(wrongProtocol);
      assert.equal(noToken.status, 401);
      assert.equal(wrongQuery.status, 403);
      assert.equal(wrongHeader.status, 401);
      assert.equal(wrongProtocol.status, 403);
      for (const r of raws) assert.equal(r.headers["upgrade"], undefined);
      assert.equal(server.endpoint.stats().opened, 0, "expected nothing registered for refused upgrades");

      // Admitted with the token in every place a client puts one, then made to fail in every way.
      const viaQuery = await openClient(`${base}?token=${TOKEN}`);
      // Raw, because Bun's client gives up when a requested subprotocol is not answered.
      const viaProtocol = await rawConnect({
        port: server.port,
        headers: [["Sec-WebSocket-Protocol", TOKEN]],
      });
      raws.push(viaProtocol);
      assert.equal(viaProtocol.status, 101);
      assert.equal(
        JSON.stringify(viaProtocol.headers).includes(TOKEN),
        false,
        "expected the token not to be reflected",
      );
      const viaHeader = await rawConnect({
        port: server.port,
        path: `/ws?x=${TOKEN}`,
        headers: [["Authorization", `Bearer ${TOKEN}`]],
      });
      raws.push(viaHeader);
      assert.equal(viaHeader.status, 101);
      assert.equal(
        JSON.stringify(viaHeader.headers).includes(TOKEN),
        false,
        "expected no token in the 101 headers",
      );
      viaHeader.sendFrame({ opcode: Opcode.Text, payload: "not json " + TOKEN });
      viaHeader.sendFrame({ opcode: Opcode.Text, payload: JSON.stringify({ type: "boom", payload: TOKEN }) });
      viaHeader.sendFrame({
        opcode: Opcode.Text,
        payload: JSON.stringify({ type: "x", payload: TOKEN.repeat(100) }),
      });
      await viaHeader.closed(5_000); // 1009
      viaQuery.send(JSON.stringify({ type: "echo", payload: TOKEN }));
      for (let i = 0; i < 20; i++) viaQuery.send(JSON.stringify({ type: "flood", payload: TOKEN })); // 1008
      await waitUntil(() => viaQuery.readyState === WebSocket.CLOSED, "the flooder to be closed");
      viaProtocol.sendFrame({
        opcode: Opcode.Text,
        payload: JSON.stringify({ type: "boom", payload: TOKEN }),
      });
      await waitUntil(() => server.endpoint.stats().handlerErrors >= 2, "both handler failures");
      const closedBefore = server.endpoint.stats().closed;
      await server.close(500);
      await waitUntil(
        () => server.endpoint.stats().closed >= closedBefore + 1,
        "shutdown to close the last peer",
      );
      const leaked = logger.lines.filter((l) =>
        l.includes(TOKEN) || l.includes(WRONG) || l.includes("s3cr3t")
      );
      table.add({
        scenario: "auth 401/403 + token in logs",
        adapter: label,
        connections: 7,
        faults: 4,
        leaks: server.endpoint.hub.size,
        lost: 0,
        unhandled: watch.seen.length,
        notes: `${logger.lines.length} log lines captured, ${leaked.length} with a token`,
      });
      assert.ok(logger.lines.length > 5, "expected the capturing logger to have seen the events");
      assert.deepEqual(leaked, [], "expected no token in any log line");
      assert.equal(watch.seen.length, 0);
    } finally {
      watch.stop();
      for (const r of raws) r.destroy();
      await server.close();
    }
  });

  test(`abuse (${label}): a message flood ends in 1008 while other clients keep being served`, async () => {
    const watch = watchUnhandled();
    const server = await startServer<undefined>({
      heartbeat: false,
      rateLimit: { perSecond: 100, burst: 200 },
      logger: quiet,
      message: (conn, m) => void conn.sendJson({ type: "echo", payload: m.payload }),
    }, { adapter });
    const others: WebSocket[] = [];
    try {
      for (let i = 0; i < 5; i++) others.push(await openClient(server.url));
      const baseline: number[] = [];
      for (let r = 0; r < 20; r++) for (const ws of others) baseline.push(await echoRtt(ws, r));
      const flooder = await openClient(server.url);
      const code = new Promise<number>((resolve) =>
        flooder.addEventListener("close", (e) => resolve(e.code))
      );
      const during: number[] = [];
      let sent = 0;
      const flood = (async () => {
        while (flooder.readyState === WebSocket.OPEN && sent < 20_000) {
          for (let i = 0; i < 100 && flooder.readyState === WebSocket.OPEN; i++) {
            flooder.send('{"type":"flood","payload":0}');
            sent++;
          }
          await new Promise((r) => setTimeout(r, 0));
        }
      })();
      for (let r = 0; r < 20; r++) for (const ws of others) during.push(await echoRtt(ws, 100 + r));
      await flood;
      const closeCode = await code;
      for (const ws of others) await echoRtt(ws, 999);
      table.add({
        scenario: "message flood",
        adapter: label,
        connections: 6,
        faults: sent,
        leaks: server.endpoint.hub.size - others.length,
        lost: 0,
        unhandled: watch.seen.length,
        notes:
          `server closed it ${
            JSON.stringify(server.endpoint.stats().closedByCode)
          }, flooder saw ${closeCode}; ` +
          `others p99 ${p99(baseline)} ms before, ${p99(during)} ms during`,
      });
      assert.deepEqual(
        server.endpoint.stats().closedByCode,
        { "1008": 1 },
        "expected the server to close the flooder with 1008",
      );
      if (runtime === "deno" && closeCode !== 1008) {
        // Deno's server drops TCP right after its Close frame while the flood is still arriving: the kernel
        // answers the unread bytes with an RST, which can discard the Close frame before the client reads it.
        console.log(`runtime gap on Deno: the flooder saw ${closeCode} instead of the 1008 the server sent`);
        assert.ok(
          closeCode === 0 || closeCode === 1006,
          `expected 1008, or an abnormal close on Deno, got ${closeCode}`,
        );
      } else {
        assert.equal(closeCode, 1008);
      }
      assert.equal(server.endpoint.hub.size, others.length);
      assert.equal(watch.seen.length, 0);
    } finally {
      watch.stop();
      await Promise.all(others.map(closeClient));
      await server.close();
    }
  });

  test(
    `abuse (${label}): a connection flood past the caps gets 503 while existing clients are served`,
    async () => {
      const watch = watchUnhandled();
      const server = await startServer<undefined>({
        heartbeat: false,
        logger: quiet,
        maxConnections: 40,
        maxConnectionsPerAddress: 8,
        message: (conn, m) => void conn.sendJson({ type: "echo", payload: m.payload }),
      }, { adapter });
      const raws: RawSocket[] = [];
      const existing: WebSocket[] = [];
      try {
        for (let i = 0; i < 4; i++) existing.push(await openClient(server.url)); // from 127.0.0.1
        // Per address: 127.0.0.2 may open 8, the rest of 30 attempts get 503.
        const perAddress = await Promise.all(
          Array.from({ length: 30 }, () => rawConnect({ port: server.port, localAddress: "127.0.0.2" })),
        );
        raws.push(...perAddress);
        const perAddressOk = perAddress.filter((r) => r.status === 101).length;
        const perAddress503 = perAddress.filter((r) => r.status === 503).length;
        // In all: 40 - 4 - 8 = 28 slots left, 120 attempts from 30 other addresses (4 each, under the per-address cap).
        const total = await Promise.all(
          Array.from(
            { length: 120 },
            (_, i) => rawConnect({ port: server.port, localAddress: `127.0.1.${1 + (i % 30)}` }),
          ),
        );
        raws.push(...total);
        const totalOk = total.filter((r) => r.status === 101).length;
        const total503 = total.filter((r) => r.status === 503).length;
        for (let r = 0; r < 5; r++) for (const ws of existing) await echoRtt(ws, r);
        assert.equal(server.endpoint.hub.size, 40);
        for (const r of raws) {
          if (r.status === 101) r.sendFrame({ opcode: Opcode.Close, payload: closePayload(1000) });
          else r.destroy();
        }
        await waitUntil(
          () => server.endpoint.hub.size === existing.length,
          "the flood's connections to be released",
        );
        // Exact counters: the cap is free again, per address and in all.
        const again = await Promise.all(
          Array.from({ length: 8 }, () => rawConnect({ port: server.port, localAddress: "127.0.0.2" })),
        );
        raws.push(...again);
        const againOk = again.filter((r) => r.status === 101).length;
        const ninth = await rawConnect({ port: server.port, localAddress: "127.0.0.2" });
        raws.push(ninth);
        table.add({
          scenario: "connection flood past caps",
          adapter: label,
          connections: 4 + 30 + 120 + 9,
          faults: perAddress503 + total503,
          leaks: 0,
          lost: 0,
          unhandled: watch.seen.length,
          notes:
            `per address ${perAddressOk} ok/${perAddress503}×503; in all ${totalOk} ok/${total503}×503; after release ${againOk}/8 ok, 9th ${ninth.status}`,
        });
        assert.equal(perAddressOk, 8);
        assert.equal(perAddress503, 22);
        assert.equal(totalOk, 28);
        assert.equal(total503, 92);
        assert.equal(againOk, 8, "expected the per-address counter back to 0 after the flood");
        assert.equal(ninth.status, 503);
        assert.equal(watch.seen.length, 0);
      } finally {
        watch.stop();
        for (const r of raws) r.destroy();
        await Promise.all(existing.map(closeClient));
        await server.close();
      }
    },
    { timeoutMs: 60_000 },
  );
}

test("abuse: report", () => {
  table.print();
  assert.ok(table.rows.length > 0);
});
