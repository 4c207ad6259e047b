// Reconnect time after a server restart, on Bun: K clients of ours (and, with
// --partysocket, K bare partysocket clients at their defaults) connected to a
// steadysocket endpoint; the server shuts down (1001), stays down for a gap,
// comes back on the same port; we time each client from the server's return
// to its `open`. Prints one JSON line.
//
//   bun bench/client_reconnect.ts [restarts=3] [clients=20] [gapMs=300] [--partysocket]
import { WebSocket as ReconnectingWebSocket } from "partysocket";
import { connect } from "../client/mod.ts";
import { createEndpoint } from "../server/mod.ts";
import { bunHandlers } from "../server/adapters/bun.ts";

// deno-lint-ignore no-explicit-any
const g = globalThis as any;
const args = g.process.argv.slice(2).filter((a: string) => !a.startsWith("--"));
const withParty = g.process.argv.includes("--partysocket");
const RESTARTS = Number(args[0] ?? 3);
const K = Number(args[1] ?? 20);
const GAP = Number(args[2] ?? 300);

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
// deno-lint-ignore no-explicit-any
function start(port: number): { endpoint: any; server: any } {
  const endpoint = createEndpoint({ origins: "any", logger: quiet });
  const server = g.Bun.serve({
    port,
    hostname: "127.0.0.1",
    ...bunHandlers(endpoint),
  });
  return { endpoint, server };
}

let { endpoint, server } = start(0);
const port: number = server.port;
const url = `ws://127.0.0.1:${port}/ws`;

const openedAt = new Map<unknown, number>();
const ours = Array.from({ length: K }, () => {
  const c = connect(url, { pingIntervalMs: 0 });
  c.addEventListener("state", (e) => {
    if ((e as CustomEvent).detail.status === "open") {
      openedAt.set(c, performance.now());
    }
  });
  return c;
});
const party = withParty
  ? Array.from({ length: K }, () => {
    const ws = new ReconnectingWebSocket(url);
    ws.addEventListener("open", () => openedAt.set(ws, performance.now()));
    return ws;
  })
  : [];
const all: unknown[] = [...ours, ...party];

async function allOpenAfter(t: number, timeoutMs: number) {
  const end = performance.now() + timeoutMs;
  while (performance.now() < end) {
    if (all.every((c) => (openedAt.get(c) ?? 0) > t)) return true;
    await new Promise((r) => setTimeout(r, 5));
  }
  return false;
}

await allOpenAfter(0, 10_000);
const samples: {
  ours: number[];
  party: number[];
  downtimeOurs: number[];
  downtimeParty: number[];
} = {
  ours: [],
  party: [],
  downtimeOurs: [],
  downtimeParty: [],
};
let timeouts = 0;
for (let r = 0; r < RESTARTS; r++) {
  const down = performance.now();
  await endpoint.shutdown({ deadlineMs: 1000 });
  server.stop(true);
  await new Promise((res) => setTimeout(res, GAP));
  ({ endpoint, server } = start(port));
  const up = performance.now();
  if (!(await allOpenAfter(up - GAP, withParty ? 20_000 : 10_000))) timeouts++;
  for (const c of ours) {
    samples.ours.push((openedAt.get(c) ?? NaN) - up);
    samples.downtimeOurs.push((openedAt.get(c) ?? NaN) - down);
  }
  for (const c of party) {
    samples.party.push((openedAt.get(c) ?? NaN) - up);
    samples.downtimeParty.push((openedAt.get(c) ?? NaN) - down);
  }
  // Let the backoff reset (minimum uptime) before the next restart.
  await new Promise((res) => setTimeout(res, 200));
}
const q = (v: number[], p: number) => {
  const s = v.filter(Number.isFinite).sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))] : NaN;
};
for (const c of ours) await c.close();
for (const ws of party) ws.close();
await endpoint.shutdown({ deadlineMs: 200 });
server.stop(true);
console.log(JSON.stringify({
  restarts: RESTARTS,
  clients: K,
  gapMs: GAP,
  timeouts,
  oursAfterUpP50: q(samples.ours, 0.5),
  oursAfterUpP99: q(samples.ours, 0.99),
  oursDowntimeP50: q(samples.downtimeOurs, 0.5),
  partyAfterUpP50: q(samples.party, 0.5),
  partyAfterUpP99: q(samples.party, 0.99),
  partyDowntimeP50: q(samples.downtimeParty, 0.5),
}));
g.process.exit(0);
