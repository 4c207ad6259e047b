// `deno run -A bench/client_span.ts`: shows what sets the delivery latency
// of a paced fan-out to 1 000 clients on this machine, the server or the one
// load-generator core that reads every connection. Each target broadcasts a
// small envelope every 20 ms, as in the full run's paced windows; the load
// generator reads every frame and, per broadcast, notes when it read the
// first frame and when the last. Their distance (the "read span") is how
// long one client process took to read one broadcast on all its
// connections. Beside it: the server's and the client's CPU per broadcast.
// When the client's CPU per broadcast is above the server's, the client is
// the slower side, and the span, not the server, makes the tail.
//
// Options: --clients=N (1000), --bytes=N (20), --windows=N (6), --ms=N (1200),
// --targets=bun-loop,bun-publish,... (Bun's loop and publish(), ours on both
// runtimes, raw Deno).
import { cliOptions } from "./_args.ts";
import { pinning, Server, sleep, Worker } from "./_proc.ts";
import { heartbeatRound, urls, waitDelivered } from "./_scenarios.ts";
import { median } from "./_stats.ts";
import { merged, quantileOf, type TailHistogram } from "./_tail_histogram.ts";
import { TARGETS } from "./_targets.ts";

const opts = cliOptions(
  { values: ["clients", "bytes", "windows", "ms", "targets"] },
  "deno run -A bench/client_span.ts [--clients=N] [--bytes=N] [--windows=N] [--ms=N] [--targets=bun-loop,...]",
);
const clients = opts.int("clients", 1000);
const bytes = opts.int("bytes", 20);
const windows = opts.int("windows", 6);
const ms = opts.int("ms", 1200);
const ids = opts.list("targets", Object.keys(TARGETS)) ??
  ["bun-loop", "bun-publish", "bun-steady", "deno-raw", "deno-steady"];
const rate = clients >= 1000 ? 50 : 500;

interface Row {
  id: string;
  p50: number;
  p99: number;
  firstP50: number;
  spanP50: number;
  spanP99: number;
  serverMsPerBroadcast: number;
  clientMsPerBroadcast: number;
}

const env = { ...Deno.env.toObject(), EPOCH: String(Date.now()), HOST: "0.0.0.0" };
const worker = new Worker(env);
const rows: Row[] = [];
try {
  for (const id of ids) {
    const target = TARGETS[id];
    const server = await Server.start(target.cmd, { ...env, ...(target.env ?? {}) });
    try {
      const res = await worker.request({
        op: "connect",
        group: id,
        kind: target.kind,
        urls: urls(target, server),
        n: clients,
        lean: true,
      });
      if (res.failed) throw new Error(`${id}: ${res.failed} of ${clients} connections failed`);
      const histograms: TailHistogram[] = [];
      const firsts: number[] = [];
      const spans50: number[] = [];
      const spans99: number[] = [];
      const serverMs: number[] = [];
      const clientMs: number[] = [];
      // The first window warms the server up and is not counted.
      for (let w = 0; w <= windows; w++) {
        const answered = await heartbeatRound(worker, server, id, clients);
        if (answered < clients) throw new Error(`${id}: ${answered} of ${clients} answered the heartbeat`);
        await server.ctl("/ctl/gc");
        await worker.request({ op: "gc" });
        await sleep(300);
        await worker.request({ op: "reset", group: id, every: 1, spans: true });
        const cpu0 = server.cpu();
        const wcpu0 = worker.cpu();
        const op = await server.ctl(
          `/ctl/fanout?ms=${ms}&bytes=${bytes}&batch=1&limit=65536&rate=${rate}`,
        ) as { broadcasts: number };
        const s = await waitDelivered(worker, id, op.broadcasts * clients, { histogram: true });
        if (w === 0) continue;
        histograms.push(s.histogram);
        firsts.push(s.spans.firstP50);
        spans50.push(s.spans.spanP50);
        spans99.push(s.spans.spanP99);
        serverMs.push(((server.cpu() - cpu0) * 1000) / op.broadcasts);
        clientMs.push(((worker.cpu() - wcpu0) * 1000) / op.broadcasts);
      }
      const pooled = merged(histograms);
      rows.push({
        id,
        p50: quantileOf(pooled, 0.5),
        p99: quantileOf(pooled, 0.99),
        firstP50: median(firsts),
        spanP50: median(spans50),
        spanP99: median(spans99),
        serverMsPerBroadcast: median(serverMs),
        clientMsPerBroadcast: median(clientMs),
      });
      await worker.request({ op: "close", group: id });
    } finally {
      await server.stop();
    }
  }
} finally {
  await worker.stop();
}

console.log(
  `paced fan-out, ${clients} clients × ${bytes} B, a broadcast every ${1000 / rate} ms, ` +
    `${windows} windows of ${ms} ms per target (${pinning.note}); ms, medians over the windows, ` +
    "latency pooled over them",
);
console.log(
  [
    "target",
    "p50",
    "p99",
    "first read p50",
    "read span p50",
    "read span p99",
    "server CPU/broadcast",
    "client CPU/broadcast",
  ].join(" | "),
);
for (const r of rows) {
  console.log(
    [
      TARGETS[r.id].label,
      ...[r.p50, r.p99, r.firstP50, r.spanP50, r.spanP99, r.serverMsPerBroadcast, r.clientMsPerBroadcast]
        .map((v) => v.toFixed(2)),
    ].join(" | "),
  );
}
