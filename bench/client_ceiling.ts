// `deno run -A bench/client_ceiling.ts`: shows what bounds a saturating
// fan-out where the one load-generator core keeps up with the server only
// just (32 clients × 1 KiB on Bun, where a publish()-based server writes
// about as fast as one core reads). Each target broadcasts as in the full
// run's saturating windows (a batch, a turn of the event loop, no new batch
// while a reader is 64 KiB behind), in alternation, after a heartbeat round.
// Per target, medians over the windows:
// the delivered rate; the server's CPU and its CPU per frame, and the rate
// one server core could write at that cost; the client's user and system CPU
// per frame, how much of its user time its own frame scanning took (the rest
// is the runtime's socket reads), frames per read, and how often the server
// waited for a reader more than 64 KiB behind. The client's system time is
// the kernel receiving the bytes, which no load generator avoids:
// 1 ÷ (system time per frame) is what one core would read if the kernel were
// all it did. Where the client's core is busy and the server's is not, the
// delivered rate is the one reading core's, and a ratio of two such rates
// compares how the client's windows went, not what the servers cost.
//
// Options: --clients=N (32), --bytes=N (1024), --windows=N (6), --ms=N (1500),
// --batch=N (broadcasts per turn, 2048 ÷ clients as in the runner),
// --limit=N (the backlog in bytes that makes the server wait, 65536),
// --targets=bun-publish,bun-steady,bun-crossws (ids of bench/_targets.ts).
import { cliOptions } from "./_args.ts";
import { cpuTimes, pinning, Server, Worker } from "./_proc.ts";
import { heartbeatRound, urls, waitDelivered } from "./_scenarios.ts";
import { median } from "./_stats.ts";
import { TARGETS } from "./_targets.ts";

const opts = cliOptions(
  { values: ["clients", "bytes", "windows", "ms", "batch", "limit", "targets"] },
  "deno run -A bench/client_ceiling.ts [--clients=N] [--bytes=N] [--windows=N] [--ms=N] [--batch=N] " +
    "[--limit=N] [--targets=bun-publish,...]",
);
const clients = opts.int("clients", 32);
const bytes = opts.int("bytes", 1024);
const windows = opts.int("windows", 6);
const ms = opts.int("ms", 1500);
const ids = opts.list("targets", Object.keys(TARGETS)) ?? ["bun-publish", "bun-steady", "bun-crossws"];
const batch = opts.int("batch", Math.max(1, Math.round(2048 / clients)));
const limit = opts.int("limit", 65536);

interface Window {
  rate: number;
  serverBusy: number;
  serverUsPerFrame: number;
  clientBusy: number;
  clientUserUsPerFrame: number;
  clientSystemUsPerFrame: number;
  scanUsPerFrame: number;
  framesPerRead: number;
  waitsPerBatch: number;
}

const env = { ...Deno.env.toObject(), EPOCH: String(Date.now()), HOST: "0.0.0.0" };
const worker = new Worker(env);
const servers = new Map<string, Server>();
const measured = new Map<string, Window[]>(ids.map((id) => [id, []]));

async function once(id: string, server: Server): Promise<Window> {
  const answered = await heartbeatRound(worker, server, id, clients);
  if (answered < clients) throw new Error(`${id}: ${answered} of ${clients} answered the heartbeat`);
  await worker.request({ op: "reset", group: id, every: 0, timeScans: true });
  const s0 = server.cpu();
  const c0 = cpuTimes(worker.pid);
  const t0 = performance.now();
  const op = await server.ctl(
    `/ctl/fanout?ms=${ms}&bytes=${bytes}&batch=${batch}&limit=${limit}&rate=0`,
  ) as { broadcasts: number; waits: number; start: number };
  const s = await waitDelivered(worker, id, op.broadcasts * clients);
  const wall = (performance.now() - t0) / 1000;
  const serverCpu = server.cpu() - s0;
  const c1 = cpuTimes(worker.pid);
  const frames = s.received as number;
  return {
    rate: frames / ((s.last - op.start) / 1000),
    serverBusy: serverCpu / wall,
    serverUsPerFrame: (serverCpu * 1e6) / frames,
    clientBusy: (c1.user - c0.user + c1.system - c0.system) / wall,
    clientUserUsPerFrame: ((c1.user - c0.user) * 1e6) / frames,
    clientSystemUsPerFrame: ((c1.system - c0.system) * 1e6) / frames,
    scanUsPerFrame: ((s.scanMs as number) * 1e3) / frames,
    framesPerRead: frames / (s.reads as number),
    waitsPerBatch: op.waits / Math.max(1, op.broadcasts / batch),
  };
}

try {
  for (const id of ids) {
    const target = TARGETS[id];
    const server = await Server.start(target.cmd, { ...env, ...(target.env ?? {}) });
    servers.set(id, server);
    const res = await worker.request({
      op: "connect",
      group: id,
      kind: target.kind,
      urls: urls(target, server),
      n: clients,
      lean: true,
    });
    if (res.failed) throw new Error(`${id}: ${res.failed} of ${clients} connections failed`);
  }
  // A warm-up window each, not counted; then the targets in rotating order.
  for (const id of ids) await once(id, servers.get(id)!);
  for (let w = 0; w < windows; w++) {
    const order = ids.map((_, i) => ids[(i + w) % ids.length]);
    for (const id of order) measured.get(id)!.push(await once(id, servers.get(id)!));
  }
} finally {
  await worker.stop();
  for (const server of servers.values()) await server.stop();
}

console.log(
  `saturating fan-out, ${clients} clients × ${bytes} B, ${windows} windows of ${ms} ms per target ` +
    `(${pinning.note}); medians over the windows; CPU from /proc/<pid>/stat`,
);
console.log(
  [
    "target",
    "delivered msg/s",
    "server busy",
    "server µs/frame",
    "one server core's rate",
    "client busy",
    "client user µs/frame",
    "client system µs/frame",
    "client system share",
    "of the user µs: scanning frames",
    "one client core's rate in the kernel alone",
    "frames per read",
    "backlog waits per batch",
  ].join(" | "),
);
for (const id of ids) {
  const ws = measured.get(id)!;
  const m = (f: (w: Window) => number) => median(ws.map(f));
  const user = m((w) => w.clientUserUsPerFrame);
  const system = m((w) => w.clientSystemUsPerFrame);
  const serverUs = m((w) => w.serverUsPerFrame);
  console.log(
    [
      TARGETS[id].label,
      `${(m((w) => w.rate) / 1e6).toFixed(2)} M`,
      m((w) => w.serverBusy).toFixed(2),
      serverUs.toFixed(3),
      `${(1 / serverUs).toFixed(2)} M`,
      m((w) => w.clientBusy).toFixed(2),
      user.toFixed(3),
      system.toFixed(3),
      `${((100 * system) / (user + system)).toFixed(0)} %`,
      m((w) => w.scanUsPerFrame).toFixed(3),
      `${(1 / system).toFixed(2)} M`,
      m((w) => w.framesPerRead).toFixed(1),
      m((w) => w.waitsPerBatch).toFixed(3),
    ].join(" | "),
  );
}
