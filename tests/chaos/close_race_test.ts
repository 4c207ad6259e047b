import assert from "node:assert/strict";
import { test } from "../_harness.ts";
import { createEndpoint } from "../../server/mod.ts";
import type { Connection, Session, SocketLike } from "../../server/types.ts";
import { seededRandom, seedFromEnv } from "../fault/prng.ts";
import { ReportTable } from "../fault/report.ts";
import { watchUnhandled } from "./_unhandled.ts";
import { adapterLabel, ADAPTERS, startServer } from "./_servers.ts";
import { waitUntil } from "../fault/wait.ts";
import { upgradeRequest } from "../unit/_fake_socket.ts";
import process from "node:process";

const SOAK = process.env.STEADY_SOAK === "1";
const table = new ReportTable("close races");

/** A socket whose events the test fires by hand, in any order, re-entrantly if it likes. */
class FakeSocket implements SocketLike {
  readyState = 1;
  bufferedAmount = 0;
  sent = 0;
  closeCalls = 0;
  onSend: (() => void) | undefined;
  /** Set to fire the close event synchronously inside close(), as Bun's ServerWebSocket does. */
  onClose: ((code?: number, reason?: string) => void) | undefined;
  sendResult: (() => void | number) | undefined;
  send(): void | number {
    if (this.readyState !== 1) throw new Error("expected an open socket, the connection is closed");
    this.sent++;
    const hook = this.onSend;
    this.onSend = undefined;
    hook?.();
    return this.sendResult?.();
  }
  close(code?: number, reason?: string): void {
    this.closeCalls++;
    if (this.readyState < 2) this.readyState = 2;
    const hook = this.onClose;
    this.onClose = undefined;
    if (hook) {
      this.readyState = 3;
      hook(code, reason);
    }
  }
}

type Race = (
  s: Session,
  socket: FakeSocket,
  conn: () => Connection | undefined,
  broadcast: (data: string) => void,
) => void;

const RACES: Record<string, Race> = {
  "double close event (1001 then 1005)": (s, socket) => {
    socket.readyState = 3;
    s.closed(1001, "");
    s.closed(1005, "");
  },
  "error then close": (s, socket) => {
    s.errored(new Error("connection reset"));
    socket.readyState = 3;
    s.closed(1006, "");
  },
  "close then error": (s, socket) => {
    socket.readyState = 3;
    s.closed(1006, "");
    s.errored(new Error("late error"));
  },
  "error without close (Deno's failed upgrade)": (s) => {
    s.errored(new Error("upgrade failed"));
  },
  "server close then peer close": (s, socket, conn) => {
    conn()?.close(1000, "bye");
    conn()?.close(1000, "again");
    socket.readyState = 3;
    s.closed(1000, "bye");
  },
  "peer close during send": (s, socket, conn) => {
    socket.onSend = () => {
      socket.readyState = 3;
      s.closed(1006, "");
    };
    conn()?.send("x");
    conn()?.send("y");
  },
  "server close during send": (_s, socket, conn) => {
    socket.onSend = () => conn()?.close(1011, "inside send");
    conn()?.send("x");
  },
  "send after close": (s, socket, conn) => {
    const c = conn();
    socket.readyState = 3;
    s.closed(1000, "");
    assert.equal(c?.send("late"), false);
    assert.equal(c?.sendJson({ type: "late" }), false);
    c?.close();
  },
  "send throws": (s, socket, conn) => {
    socket.onSend = () => {
      socket.readyState = 3;
      throw new Error("socket is closed");
    };
    assert.equal(conn()?.send("x"), false);
    s.closed(1006, "");
  },
  "Bun send returns 0 then close": (s, socket, conn) => {
    socket.sendResult = () => 0;
    assert.equal(conn()?.send("x"), false, "expected a send that returned 0 not to count as delivered");
    socket.readyState = 3;
    s.closed(1006, "");
  },
  "close event fired synchronously inside close() (Bun)": (s, socket, conn) => {
    socket.onClose = (code, reason) => s.closed(code ?? 1005, reason ?? "");
    conn()?.close(4001, "first");
    conn()?.close(4002, "second");
  },
  "close event inside close() during a broadcast": (s, socket, conn, broadcast) => {
    socket.onClose = (code, reason) => s.closed(code ?? 1005, reason ?? "");
    socket.sendResult = () => 0; // dropped: the hub closes it as a slow consumer after the loop
    broadcast("to everyone");
    assert.equal(conn()?.send("late"), false);
  },
  "message after close": (s, socket) => {
    socket.readyState = 3;
    s.closed(1000, "");
    s.received('{"type":"late"}');
  },
  "abandon after open": (s, socket) => {
    s.abandon();
    socket.readyState = 3;
    s.closed(1006, "");
  },
};

test("close races: 10 000 orderings of close, error and send leave the counters exact (fake socket)", async () => {
  const seed = seedFromEnv();
  const rng = seededRandom(seed);
  const watch = watchUnhandled();
  const closes = new Map<string, number>();
  let opens = 0;
  let handlerCloses = 0;
  let lastOpened: Connection | undefined;
  const endpoint = createEndpoint<undefined>({
    heartbeat: false,
    rateLimit: false,
    maxConnections: 3,
    maxConnectionsPerAddress: 2,
    logger: { debug() {}, info() {}, warn() {}, error() {} },
    open: (conn) => {
      opens++;
      lastOpened = conn;
    },
    message: (conn) => {
      conn.send("echo");
    },
    close: (conn) => {
      handlerCloses++;
      closes.set(conn.id, (closes.get(conn.id) ?? 0) + 1);
    },
  });
  const names = Object.keys(RACES);
  const runs = SOAK ? 100_000 : 10_000;
  const perRace = new Map<string, number>();
  let refused = 0;
  try {
    for (let i = 0; i < runs; i++) {
      // Two peers from one address at a time: a leaked slot would refuse the next admission.
      const pair = await Promise.all(
        [0, 1].map(() => endpoint.admit(upgradeRequest(), { remoteAddress: "10.0.0.1" })),
      );
      for (const admission of pair) {
        if (!admission.ok) {
          refused++;
          continue;
        }
        const session = admission.session;
        const socket = new FakeSocket();
        const name = rng.pick(names);
        perRace.set(name, (perRace.get(name) ?? 0) + 1);
        if (name === "abandon after open" && rng.next() < 0.5) {
          // The other abandon: before any socket exists (the runtime refused the upgrade).
          session.abandon();
          session.abandon();
          continue;
        }
        lastOpened = undefined;
        session.attach(socket);
        session.opened();
        const opened = lastOpened as Connection | undefined;
        assert.ok(opened, "expected the open handler to run synchronously on opened()");
        if (rng.next() < 0.3) session.received('{"type":"hello"}');
        RACES[name](session, socket, () => opened, (data) => void endpoint.hub.broadcast(data));
      }
    }
    const stats = endpoint.stats();
    const twice = [...closes.values()].filter((n) => n !== 1).length;
    table.add({
      scenario: "close races (fake socket)",
      adapter: "core",
      connections: runs * 2,
      faults: runs * 2,
      leaks: endpoint.hub.size + stats.open,
      lost: 0,
      unhandled: watch.seen.length,
      notes: `seed ${seed}; opened ${stats.opened}, closed ${stats.closed}, close handler ${handlerCloses}`,
    });
    assert.equal(refused, 0, "expected every admission to succeed: a refusal means a leaked reservation");
    assert.equal(endpoint.hub.size, 0);
    assert.equal(stats.open, 0);
    assert.equal(stats.opened, opens);
    assert.equal(stats.closed, stats.opened, "expected closed == opened");
    assert.equal(handlerCloses, opens, "expected exactly one close handler call per opened connection");
    assert.equal(twice, 0, "expected no connection to be closed twice");
    const byCode = Object.values(stats.closedByCode).reduce((a, b) => a + b, 0);
    assert.equal(byCode, stats.closed, "expected closedByCode to sum to closed");
    assert.equal(watch.seen.length, 0, `unhandled: ${watch.seen.map(String).join("; ")}`);
  } finally {
    watch.stop();
    await endpoint.shutdown({ deadlineMs: 100 });
  }
});

for (const adapter of ADAPTERS) {
  test(
    `close races on real sockets (${
      adapterLabel(adapter)
    }): close during send, double close, send after close`,
    async () => {
      const watch = watchUnhandled();
      let handlerCloses = 0;
      let afterCloseSends = 0;
      let afterCloseTrue = 0;
      const server = await startServer<undefined>({
        heartbeat: false,
        rateLimit: false,
        maxConnectionsPerAddress: 1_000,
        logger: { debug() {}, info() {}, warn() {}, error() {} },
        message(conn, msg) {
          if (msg.type === "close-during-send") {
            for (let i = 0; i < 20; i++) {
              conn.send(String(i));
              if (i === 10) conn.close(1000, "mid-send");
            }
          } else if (msg.type === "double-close") {
            conn.close(4001, "first");
            conn.close(4002, "second");
          }
        },
        close(conn) {
          handlerCloses++;
          afterCloseSends++;
          if (conn.send("after close")) afterCloseTrue++;
          conn.close();
        },
      }, { adapter });
      const n = SOAK ? 2_000 : 300;
      try {
        const kinds = [
          "close-during-send",
          "double-close",
          "client-close",
          "client-close-while-server-sends",
        ];
        let done = 0;
        const batch = 50;
        for (let start = 0; start < n; start += batch) {
          await Promise.all(
            Array.from({ length: Math.min(batch, n - start) }, (_, j) =>
              new Promise<void>((resolve) => {
                const kind = kinds[(start + j) % kinds.length];
                const ws = new WebSocket(server.url);
                ws.onopen = () => {
                  if (kind === "client-close") {
                    ws.close();
                    ws.close();
                  } else if (kind === "client-close-while-server-sends") {
                    ws.send('{"type":"close-during-send"}');
                    ws.close(1000);
                  } else {
                    ws.send(JSON.stringify({ type: kind }));
                  }
                };
                ws.onclose = () => {
                  done++;
                  resolve();
                };
                ws.onerror = () => {};
              })),
          );
        }
        await waitUntil(
          () => server.endpoint.stats().closed >= n && server.endpoint.hub.size === 0,
          `${n} server-side closes`,
          10_000,
        );
        const stats = server.endpoint.stats();
        table.add({
          scenario: "close races (real sockets)",
          adapter: adapterLabel(adapter),
          connections: n,
          faults: n,
          leaks: server.endpoint.hub.size + stats.open,
          lost: 0,
          unhandled: watch.seen.length,
          notes: `opened ${stats.opened}, closed ${stats.closed}, handler ${handlerCloses}`,
        });
        assert.equal(done, n);
        assert.equal(stats.opened, n);
        assert.equal(stats.closed, n);
        assert.equal(stats.open, 0);
        assert.equal(server.endpoint.hub.size, 0);
        assert.equal(handlerCloses, n);
        assert.equal(
          afterCloseTrue,
          0,
          `expected send() in the close handler to return false ${afterCloseSends} times`,
        );
        assert.equal(watch.seen.length, 0, `unhandled: ${watch.seen.map(String).join("; ")}`);
      } finally {
        watch.stop();
        await server.close();
      }
    },
    { timeoutMs: 60_000 },
  );
}

test("close races: report", () => {
  table.print();
  assert.ok(table.rows.length >= 1);
});
