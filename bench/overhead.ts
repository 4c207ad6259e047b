// In-process: what the library adds per send, per received message and per
// connection, with fake sockets so that no network noise enters. Compares
// `hub.broadcast` with a plain loop over the same sockets, the endpoint's
// receive path (decode, handler, `sendJson`) with `JSON.parse` + `JSON.stringify`
// + `send`, and the heap held per admitted connection. Prints one JSON line.
//
//   deno run -A --v8-flags=--expose-gc bench/overhead.ts [connections=1000] [msPerTiming=300]
//   bun bench/overhead.ts [connections=1000] [msPerTiming=300]
import { createEndpoint } from "../server/mod.ts";
import type { Clock, Session, SocketLike } from "../server/mod.ts";
import { upgradeRequest } from "../tests/unit/_fake_socket.ts";
import { wholeArg } from "./_args.ts";

// deno-lint-ignore no-explicit-any
const g = globalThis as any;
const argv: string[] = g.Deno ? g.Deno.args : g.process.argv.slice(2);
const N = wholeArg(argv, 0, "connections", 1000);
const MS_PER_TIMING = wholeArg(argv, 1, "msPerTiming", 300);

function gc() {
  if (g.Bun) g.Bun.gc(true);
  else g.gc?.();
}
function heapUsed(): number {
  gc();
  gc();
  return g.Deno ? g.Deno.memoryUsage().heapUsed : g.process.memoryUsage().heapUsed;
}

let sink = 0;
class FakeSocket implements SocketLike {
  readyState = 1;
  bufferedAmount = 0;
  send(data: string | Uint8Array | ArrayBuffer): number {
    sink += (data as string).length;
    return (data as string).length;
  }
  close(): void {
    this.readyState = 3;
  }
}
// Deno's send returns nothing.
class FakeDenoSocket extends FakeSocket {
  override send(data: string | Uint8Array | ArrayBuffer): number {
    sink += (data as string).length;
    return undefined as unknown as number;
  }
}
const Socket = g.Deno ? FakeDenoSocket : FakeSocket;

const clock: Clock = {
  now: () => Date.now(),
  setInterval: () => 1,
  clearInterval() {},
};
const endpoint = createEndpoint({
  origins: "any",
  maxConnections: N + 10,
  maxConnectionsPerAddress: N + 10,
  rateLimit: { perSecond: 1e9, burst: 1e9 },
  clock,
  logger: { debug() {}, info() {}, warn() {}, error() {} },
  open(conn) {
    // NOJOIN=1 measures the per-connection heap without a room.
    if (!(g.Deno ? g.Deno.env.get("NOJOIN") : g.process.env.NOJOIN)) {
      conn.join("r");
    }
  },
  message(conn, message) {
    conn.sendJson(message);
  },
});
const request = () => upgradeRequest("http://127.0.0.1/ws");

// Heap per connection: the raw application's registry (a Set of sockets) vs the endpoint.
const h0 = heapUsed();
const rawSockets = new Set<FakeSocket>();
for (let i = 0; i < N; i++) rawSockets.add(new Socket());
const h1 = heapUsed();
const sessions: Session[] = [];
for (let i = 0; i < N; i++) {
  const a = await endpoint.admit(request(), { remoteAddress: "127.0.0.1" });
  if (!a.ok) throw new Error(`admission refused: ${a.response.status}`);
  a.session.attach(new Socket());
  a.session.opened();
  sessions.push(a.session);
}
const h2 = heapUsed();
const rawBytesPerConn = (h1 - h0) / N;
const endpointBytesPerConn = (h2 - h1) / N;

// Parts of that, each measured alone: an entry of a Set of connections (what
// the hub's two membership lists would cost per connection as Sets) against a
// slot of an array (what they cost as arrays), and on Bun the adapter's socket
// wrapper (which is also the socket's `data`).
const keep: unknown[] = [];
const members = Array.from({ length: N }, () => ({}));
const h3 = heapUsed();
keep.push(new Set(members));
const h4 = heapUsed();
keep.push([...members]);
const h5 = heapUsed();
const setEntryBytes = (h4 - h3) / N;
const arraySlotBytes = (h5 - h4) / N;
let wrapperBytes = NaN;
if (g.Bun) {
  const { bunSocket } = await import("../server/adapters/_bun_socket.ts");
  const fakes = Array.from({ length: N }, () => ({
    data: {},
    readyState: 1,
    send: () => 1,
    close() {},
    getBufferedAmount: () => 0,
  }));
  const h6 = heapUsed();
  for (const ws of fakes) keep.push(bunSocket(ws));
  const h7 = heapUsed();
  wrapperBytes = (h7 - h6) / N;
}

function bench(fn: () => void, minMs = MS_PER_TIMING): number {
  for (let i = 0; i < 20; i++) fn(); // warm-up
  let runs = 0;
  const start = performance.now();
  while (performance.now() - start < minMs) {
    fn();
    runs++;
  }
  return (performance.now() - start) / runs;
}

const frame = '{"type":"f","t":123456.789,"p":"xxxxxxxxxxxxxxxxxxxx"}';
const list = [...rawSockets];
const rounds = 5;
const loopMs: number[] = [];
const hubMs: number[] = [];
for (let r = 0; r < rounds; r++) {
  loopMs.push(bench(() => {
    for (const s of rawSockets) s.send(frame);
  }));
  hubMs.push(bench(() => endpoint.hub.broadcast(frame, { room: "r" })));
}
const med = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1];

// Receive path: raw parse + stringify + send vs session.received → handler → sendJson.
const text = '{"type":"echo","payload":{"t":123456.789}}';
const rawEcho: number[] = [];
const ourEcho: number[] = [];
const M = 2000;
for (let r = 0; r < rounds; r++) {
  rawEcho.push(bench(() => {
    for (let i = 0; i < M; i++) {
      list[i % N].send(JSON.stringify(JSON.parse(text)));
    }
  }));
  ourEcho.push(bench(() => {
    for (let i = 0; i < M; i++) sessions[i % N].received(text);
  }));
}
// Churn in process: cycles of connections admitted, opened, given a message
// and closed, each from its own address; the heap after each cycle tells
// whether anything is retained per closed connection.
const churnHeapKiB: number[] = [];
for (let cycle = 0; cycle < 6; cycle++) {
  for (let i = 0; i < 5000; i++) {
    const a = await endpoint.admit(request(), {
      remoteAddress: `10.${cycle}.${i >> 8}.${i & 255}`,
    });
    if (!a.ok) throw new Error(`admission refused: ${a.response.status}`);
    a.session.attach(new Socket());
    a.session.opened();
    a.session.received('{"type":"x"}');
    a.session.closed(1000, "");
  }
  churnHeapKiB.push(heapUsed() / 1024);
}
const stats = endpoint.stats();
console.log(JSON.stringify({
  runtime: g.Deno ? "deno" : "bun",
  connections: N,
  rawRegistryBytesPerConn: rawBytesPerConn,
  endpointBytesPerConn,
  setEntryBytes,
  arraySlotBytes,
  bunWrapperBytes: wrapperBytes,
  kept: keep.length,
  loopNsPerSend: (med(loopMs) * 1e6) / N,
  hubNsPerSend: (med(hubMs) * 1e6) / N,
  rawEchoNsPerMessage: (med(rawEcho) * 1e6) / M,
  ourEchoNsPerMessage: (med(ourEcho) * 1e6) / M,
  messagesIn: stats.messagesIn,
  churnHeapKiB,
  churnHeapDriftKiB: churnHeapKiB[churnHeapKiB.length - 1] - churnHeapKiB[1],
  openAfterChurn: stats.open - N,
  sink: sink > 0,
}));
g.Deno ? g.Deno.exit(0) : g.process.exit(0);
