// In-process: the heartbeat sweep over N synthetic connections, and proof that
// received messages cost no timer work. Runs on Deno and Bun through the
// public API (createEndpoint + admit + Session) with fake sockets and an
// injected clock. Prints one JSON line.
//
//   deno run -A bench/sweep.ts [connections=100000] [sweeps=20]
//   bun bench/sweep.ts [connections=100000] [sweeps=20]
import { createEndpoint } from "../server/mod.ts";
import type { Clock, Session, SocketLike } from "../server/mod.ts";
import { upgradeRequest } from "../tests/unit/_fake_socket.ts";
import { wholeArg } from "./_args.ts";

// deno-lint-ignore no-explicit-any
const g = globalThis as any;
const argv: string[] = g.Deno ? g.Deno.args : g.process.argv.slice(2);
const N = wholeArg(argv, 0, "connections", 100_000);
const SWEEPS = wholeArg(argv, 1, "sweeps", 20);

let time = 1_000_000;
let tick: (() => void) | undefined;
const clock: Clock = {
  now: () => time,
  setInterval(fn: () => void) {
    tick = fn;
    return 1;
  },
  clearInterval() {
    tick = undefined;
  },
};

let sent = 0;
class FakeSocket implements SocketLike {
  readyState = 1;
  bufferedAmount = 0;
  send(_data: string | Uint8Array | ArrayBuffer): number {
    sent++;
    return 1;
  }
  close(): void {
    this.readyState = 3;
  }
}

const endpoint = createEndpoint({
  origins: "any",
  maxConnections: N + 1,
  maxConnectionsPerAddress: N + 1,
  rateLimit: false,
  clock,
  heartbeat: { pingAfterMs: 25_000, timeoutMs: 20_000, sweepMs: 5_000 },
  logger: { debug() {}, info() {}, warn() {}, error() {} },
  message() {},
});

const request = () => upgradeRequest("http://127.0.0.1/ws");

const sessions: Session[] = [];
const t0 = performance.now();
for (let i = 0; i < N; i++) {
  const a = await endpoint.admit(request(), { remoteAddress: "127.0.0.1" });
  if (!a.ok) {
    throw new Error(
      `admission ${i} refused: ${a.response.status} ${await a.response.text()}`,
    );
  }
  a.session.attach(new FakeSocket());
  a.session.opened();
  sessions.push(a.session);
}
const setupMs = performance.now() - t0;
if (!tick) {
  throw new Error(
    "expected the endpoint to set its sweep timer through the injected clock",
  );
}
if (endpoint.hub.size !== N) {
  throw new Error(`expected ${N} open connections, found ${endpoint.hub.size}`);
}

function timeSweeps(count: number, advance: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    time += advance;
    const s = performance.now();
    tick!();
    out.push(performance.now() - s);
  }
  return out;
}
const med = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1];

// Warm-up, then the common case: nobody is due (every connection spoke recently).
timeSweeps(5, 0);
const quiet = timeSweeps(SWEEPS, 0);
// Every connection due for a ping at once (the worst case), then answered.
time += 25_000;
sent = 0;
const pingStart = performance.now();
tick!();
const pingSweepMs = performance.now() - pingStart;
const pingsSent = sent;

// Timer work per received message: count timer calls while feeding messages.
const counts = {
  setTimeout: 0,
  clearTimeout: 0,
  setInterval: 0,
  clearInterval: 0,
};
const orig = {
  setTimeout: g.setTimeout,
  clearTimeout: g.clearTimeout,
  setInterval: g.setInterval,
  clearInterval: g.clearInterval,
};
for (const k of Object.keys(counts) as (keyof typeof counts)[]) {
  g[k] = (...args: unknown[]) => {
    counts[k]++;
    return orig[k](...args);
  };
}
const MESSAGES = Math.max(N * 5, 500_000);
const frame = '{"type":"chat","payload":1}';
const pong = '{"type":"pong"}';
const feedStart = performance.now();
for (let i = 0; i < MESSAGES; i++) {
  sessions[i % N].received(i % 10 === 0 ? pong : frame);
}
const feedMs = performance.now() - feedStart;
for (const k of Object.keys(counts) as (keyof typeof counts)[]) g[k] = orig[k];
const stats = endpoint.stats();

console.log(JSON.stringify({
  runtime: g.Deno ? "deno" : "bun",
  connections: N,
  setupMs,
  quietSweepMsMedian: med(quiet),
  quietSweepMsMax: Math.max(...quiet),
  pingSweepMs,
  pingsSent,
  messages: MESSAGES,
  messagesIn: stats.messagesIn,
  feedNsPerMessage: (feedMs * 1e6) / MESSAGES,
  timerCallsDuringMessages: counts,
}));
g.Deno ? g.Deno.exit(0) : g.process.exit(0);
