// The network scenarios: fan-out, echo, idle, churn, stalled peers. Each one
// measures every target in the same run, alternating the order between
// repetitions, after a warm-up, and keeps every repetition so the report can
// take medians.
import {
  assembleBracketed,
  BRACKETED_FIELDS,
  bracketedOrder,
  measureBracketed,
  TAIL_FIELDS,
} from "./_bracket.ts";
import { median, rotate } from "./_stats.ts";
import { type Server, sleep, type Worker } from "./_proc.ts";
import { OURS, RAW, type Target } from "./_targets.ts";
import type { TailHistogram } from "./_tail_histogram.ts";

/** One measured repetition. */
export type Sample = Record<string, number>;
/** Samples by target id. */
export type Samples = Record<string, Sample[]>;

/** Medians of every field over the samples of each target. */
export function medians(samples: Samples): Record<string, Sample> {
  const out: Record<string, Sample> = {};
  for (const [id, list] of Object.entries(samples)) {
    const keys = new Set(list.flatMap((s) => Object.keys(s)));
    out[id] = Object.fromEntries(
      [...keys].map((k) => [k, median(list.map((s) => s[k]))]),
    );
    out[id].reps = list.length;
  }
  return out;
}

/** WebSocket URLs of a server, spread over `addresses` loopback addresses. */
export function urls(
  target: Target,
  server: Server,
  addresses = 1,
  query = "",
): string[] {
  const path = target.path +
    (query ? (target.path.includes("?") ? "&" : "?") + query : "");
  return Array.from(
    { length: addresses },
    (_, i) => `ws://127.0.0.${i + 1}:${server.port}${path}`,
  );
}

/**
 * Polls the group's counters until `expected` messages arrived or arrivals stopped. With `histogram`, the
 * answer carries the window's latency histogram, built once from the samples it ended with rather than on
 * every poll.
 */
export async function waitDelivered(
  worker: Worker,
  group: string,
  expected: number,
  { maxMs = 3000, histogram = false } = {},
) {
  const start = performance.now();
  let last = -1;
  let still = 0;
  let done;
  while (performance.now() - start < maxMs) {
    const s = await worker.request({ op: "stats", group });
    if (s.received >= expected || (s.received === last && ++still >= 4)) {
      done = s;
      break;
    }
    if (s.received !== last) still = 0;
    last = s.received;
    await sleep(25);
  }
  if (done && !histogram) return done;
  return await worker.request({ op: "stats", group, histogram });
}

/** Adds one latency window's histogram to a scenario's tails (none when the scenario keeps no tails). */
function addTail(
  tails: Tails | undefined,
  id: string,
  rep: number,
  histogram: TailHistogram | undefined,
  lateMs?: number,
) {
  if (!tails || !histogram) return;
  (tails[id] ??= []).push(Number.isFinite(lateMs) ? { rep, histogram, lateMs } : { rep, histogram });
}

/**
 * One heartbeat round: the server pings each of its clients once and they
 * answer at once. A client's TCP socket that answers like this enters the
 * kernel's interactive ("pingpong") mode, which changes how it acknowledges
 * and costs the sending server up to a third more CPU per frame
 * (bench/README.md); it stays there for seconds of fan-out, and a pause can
 * end it. Any server with a heartbeat puts its peers in that state again and
 * again, a server without one (raw Deno with `idleTimeout: 0`) never does:
 * so every fan-out window starts with a round for every target, and all of
 * them are measured with their peers in the same state. Returns how many
 * clients of `group` answered within `maxMs`.
 */
export async function heartbeatRound(
  worker: Worker,
  server: Server,
  group: string,
  clients: number,
  maxMs = 5000,
): Promise<number> {
  const before = (await worker.request({ op: "stats", group })).pongs as number;
  await server.ctl("/ctl/ping");
  const start = performance.now();
  let pongs = before;
  while (performance.now() - start < maxMs) {
    pongs = (await worker.request({ op: "stats", group })).pongs;
    if (pongs - before >= clients) break;
    await sleep(5);
  }
  return pongs - before;
}

/** A live server with its target. */
export interface Running {
  target: Target;
  server: Server;
}

export interface FanoutConfig {
  clients: number;
  bytes: number;
  ms: number;
  reps: number;
  /** Repetitions with the paced latency phase (the first ones); default: all. */
  latencyReps?: number;
  /** The number of the first repetition, when a run is split over several sets of server processes. */
  firstRep?: number;
  /** Broadcasts per second of the paced latency phase (0: no such phase). */
  rate: number;
  latencyMs: number;
  /** Milliseconds of quiet before each paced window, after the load generator's collection too. Default 0: neither. */
  settleMs?: number;
  /** Frame-level clients (bench/load/worker.ts) instead of WebSocket objects. Default true. */
  lean?: boolean;
  /** Measure every target between two windows of its reference (bench/_bracket.ts). */
  bracket?: boolean;
  /** Where each paced window's latency histogram is added, by target id (bench/_tail_histogram.ts). */
  tails?: Tails;
}

/** One latency window's histogram, with the repetition it belongs to. */
export interface TailWindow {
  rep: number;
  histogram: TailHistogram;
  /** A paced fan-out window: how far the server's latest broadcast fell behind its schedule, in ms. */
  lateMs?: number;
}

/** The latency windows of a scenario by target id, pooled by the report. */
export type Tails = Record<string, TailWindow[]>;

/** Fan-out: N clients in one room, the server broadcasts as fast as its readers allow. */
export async function fanout(
  worker: Worker,
  running: Running[],
  cfg: FanoutConfig,
): Promise<Samples> {
  const samples: Samples = {};
  /** Per target, the server's clock offset the load generator corrects its latencies for (0: none). */
  const offsets = new Map<string, number>();
  const batch = Math.max(1, Math.round(2048 / cfg.clients));
  for (const r of running) {
    const res = await worker.request({
      op: "connect",
      group: r.target.id,
      kind: r.target.kind,
      urls: urls(r.target, r.server),
      n: cfg.clients,
      lean: cfg.lean ?? true,
    });
    if (res.failed) {
      throw new Error(
        `${r.target.id}: ${res.failed} of ${cfg.clients} connections failed`,
      );
    }
    samples[r.target.id] = [];
    offsets.set(r.target.id, res.clockOffsetMs ?? 0);
  }
  const once = async (r: Running, ms: number, rate: number) => {
    const group = r.target.id;
    const answered = await heartbeatRound(worker, r.server, group, cfg.clients);
    if (answered < cfg.clients) {
      throw new Error(`${group}: ${answered} of ${cfg.clients} clients answered the heartbeat round`);
    }
    await worker.request({ op: "reset", group, every: rate ? 1 : 16 });
    const cpu0 = r.server.cpu();
    const wcpu0 = worker.cpu();
    const t0 = performance.now();
    const q = `/ctl/fanout?ms=${ms}&bytes=${cfg.bytes}&batch=${batch}&limit=65536&rate=${rate}`;
    const op = await r.server.ctl(q) as { broadcasts: number; waits: number; start: number; lateMs?: number };
    const expected = op.broadcasts * cfg.clients;
    const s = await waitDelivered(worker, group, expected, { histogram: rate > 0 });
    if (Deno.env.get("BENCH_DEBUG")) {
      console.error(`expected ${expected} received ${s.received}`);
    }
    const wall = (performance.now() - t0) / 1000;
    const cpuSpent = r.server.cpu() - cpu0;
    const cpu = cpuSpent / wall;
    const wcpu = (worker.cpu() - wcpu0) / wall;
    const seconds = (s.last - op.start) / 1000;
    return {
      cpuUsPerMsg: (cpuSpent * 1e6) / s.received,
      rate: s.received / seconds,
      reach: s.received / expected,
      p50: s.p50,
      p99: s.p99,
      histogram: s.histogram as TailHistogram | undefined,
      cpu,
      clientCpu: wcpu,
      // Turns the saturating loop waited for a reader more than 64 KiB behind, per broadcast batch.
      waitsPerBatch: op.waits / Math.max(1, op.broadcasts / batch),
      lateMs: op.lateMs ?? NaN,
    };
  };
  const tw = performance.now();
  for (const r of running) await once(r, Math.max(200, cfg.ms / 2), 0); // warm-up
  if (Deno.env.get("BENCH_DEBUG")) {
    console.error(`warm-up ${performance.now() - tw} ms`);
  }
  const first = cfg.firstRep ?? 0;
  const saturating = async (r: Running): Promise<Sample> => {
    const t1 = performance.now();
    const t = await once(r, cfg.ms, 0);
    if (Deno.env.get("BENCH_DEBUG")) {
      console.error(`once ${r.target.id} ${performance.now() - t1} ms`);
    }
    return {
      rate: t.rate,
      cpuUsPerMsg: t.cpuUsPerMsg,
      reach: t.reach,
      satP50: t.p50,
      satP99: t.p99,
      cpu: t.cpu,
      clientCpu: t.clientCpu,
      waitsPerBatch: t.waitsPerBatch,
      clockOffsetMs: offsets.get(r.target.id)!,
    };
  };
  const paced = async (r: Running, rep: number): Promise<Sample> => {
    if (!cfg.rate || rep >= (cfg.latencyReps ?? first + cfg.reps)) return {};
    // From a collected heap on every server: a major collection owed to the saturating windows before
    // would otherwise land in some paced windows and be a p99, and ours, the reference of every bracketed
    // comparison, runs up to seven times as many saturating windows as any other target.
    await r.server.ctl("/ctl/gc");
    // The load generator's heap too, and then a pause with nothing running: the process of the window
    // before (a saturating one, or another runtime's) finishes what it does on going idle (its
    // collector's timers, freeing memory) on the server core before this window opens, not inside it.
    // A full run only: quick mode keeps to its two minutes.
    if (cfg.settleMs) {
      await worker.request({ op: "gc" });
      await sleep(cfg.settleMs);
    }
    const l = await once(r, cfg.latencyMs, cfg.rate);
    addTail(cfg.tails, r.target.id, rep, l.histogram, l.lateMs);
    return { p50: l.p50, p99: l.p99, pacedReach: l.reach };
  };
  for (let rep = first; rep < first + cfg.reps; rep++) {
    if (cfg.bracket) {
      // Every saturating window between two of its reference's, then the paced windows: each raw
      // baseline's between two of ours's on its runtime, since the latency target is ours ÷ raw and a
      // p99 too moves with the machine's state (the other targets' paced windows run once each, in turn).
      const repSamples = await measureBracketed(running, rep, saturating);
      // bracketedOrder() measures ours once, unbracketed, where its runtime's raw baseline is not running.
      const rawAndOurs = running.filter((r) =>
        [...Object.values(RAW), ...Object.values(OURS)].includes(r.target.id)
      );
      const rest = rotate(running.filter((r) => !rawAndOurs.includes(r)), rep);
      const pacedRep: Record<string, Sample> = {};
      const bracketRaw = async () =>
        Object.assign(pacedRep, await measureBracketed(rawAndOurs, rep, (r) => paced(r, rep), TAIL_FIELDS));
      // The raw baselines and their brackets first in one repetition, last in the next.
      if (rep % 2 === 0) await bracketRaw();
      for (const r of rest) pacedRep[r.target.id] = await paced(r, rep);
      if (rep % 2 === 1) await bracketRaw();
      for (const r of running) {
        samples[r.target.id].push({ ...repSamples[r.target.id], ...pacedRep[r.target.id] });
      }
      continue;
    }
    for (const r of rotate(running, rep)) {
      const t = await saturating(r);
      samples[r.target.id].push({ ...t, ...await paced(r, rep) });
    }
  }
  for (const r of running) {
    await worker.request({ op: "close", group: r.target.id });
  }
  return samples;
}

export interface EchoConfig {
  conns: number;
  /** Requests in flight per connection. Default 1. */
  window?: number;
  ms: number;
  reps: number;
  /** Measure every target between two windows of its reference (bench/_bracket.ts). */
  bracket?: boolean;
  /** Where each window's round-trip histogram is added, by target id (bench/_tail_histogram.ts). */
  tails?: Tails;
}

/**
 * Echo: every connection keeps `window` JSON envelopes in flight (1: a strict
 * closed loop); the server parses each and sends it back. The clients are the
 * lean frame-level ones, so the server is the bottleneck.
 */
export async function echo(
  worker: Worker,
  running: Running[],
  cfg: EchoConfig,
): Promise<Samples> {
  const samples: Samples = {};
  for (const r of running) {
    const group = `${r.target.id}:echo`;
    const res = await worker.request({
      op: "connect",
      group,
      kind: r.target.kind,
      urls: urls(r.target, r.server),
      n: cfg.conns,
      lean: true,
    });
    if (res.failed) {
      throw new Error(
        `${r.target.id}: ${res.failed} of ${cfg.conns} connections failed`,
      );
    }
    samples[r.target.id] = [];
  }
  // The warm-up's windows (rep -1) are measured, not pooled.
  const once = async (r: Running, ms: number, rep = -1) => {
    const cpu0 = r.server.cpu();
    const wcpu0 = worker.cpu();
    const t0 = performance.now();
    const e = await worker.request({
      op: "echo",
      group: `${r.target.id}:echo`,
      ms,
      window: cfg.window ?? 1,
    });
    const wall = (performance.now() - t0) / 1000;
    const cpuSpent = r.server.cpu() - cpu0;
    if (rep >= 0) addTail(cfg.tails, r.target.id, rep, e.histogram);
    return {
      rate: e.count / (e.ms / 1000),
      cpuUsPerMsg: (cpuSpent * 1e6) / e.count,
      p50: e.p50,
      p99: e.p99,
      cpu: cpuSpent / wall,
      clientCpu: (worker.cpu() - wcpu0) / wall,
    };
  };
  for (const r of running) await once(r, Math.max(150, cfg.ms / 2));
  for (let rep = 0; rep < cfg.reps; rep++) {
    if (cfg.bracket) {
      const repSamples = await measureBracketed(running, rep, (r) => once(r, cfg.ms, rep), [
        ...BRACKETED_FIELDS,
        ...TAIL_FIELDS,
      ]);
      for (const r of running) samples[r.target.id].push(repSamples[r.target.id]);
      continue;
    }
    for (const r of rotate(running, rep)) {
      samples[r.target.id].push(await once(r, cfg.ms, rep));
    }
  }
  for (const r of running) {
    await worker.request({ op: "close", group: `${r.target.id}:echo` });
  }
  return samples;
}

export interface IdleConfig {
  conns: number;
  reps: number;
  settleMs: number;
  cpuMs: number;
}

/** Collects the server's garbage; its engine's heap after, where the runtime tells. */
async function collectedHeap(server: Server): Promise<{ used: number; held: number } | undefined> {
  return (await server.ctl("/ctl/gc")).heap as { used: number; held: number } | undefined;
}

/** Idle: a fresh server, N connections that send nothing; memory per connection and idle CPU. */
export async function idle(
  worker: Worker,
  targets: Target[],
  start: (t: Target) => Promise<Server>,
  cfg: IdleConfig,
): Promise<Samples> {
  const samples: Samples = Object.fromEntries(targets.map((t) => [t.id, []]));
  const addresses = Math.max(1, Math.ceil(cfg.conns / 5000));
  for (let rep = 0; rep < cfg.reps; rep++) {
    for (const t of rotate(targets, rep)) {
      const server = await start(t);
      try {
        // Run the connection paths once first, so that code compiled and pools
        // grown on first use are not counted per connection.
        await worker.request({
          op: "churn",
          url: urls(t, server)[0],
          total: 200,
          parallel: 32,
        });
        const heap0 = await collectedHeap(server);
        await sleep(200);
        const rss0 = server.rssKiB();
        const file0 = server.rssFileKiB();
        const group = `${t.id}:idle`;
        const res = await worker.request({
          op: "connect",
          group,
          kind: t.kind,
          urls: urls(t, server, addresses),
          n: cfg.conns,
          parallel: 128,
        });
        await sleep(cfg.settleMs);
        const heap1 = await collectedHeap(server);
        await sleep(200);
        const rss1 = server.rssKiB();
        const file1 = server.rssFileKiB();
        const cpu0 = server.cpu();
        await sleep(cfg.cpuMs);
        const cpu = (server.cpu() - cpu0) / (cfg.cpuMs / 1000);
        // Then one broadcast to the room (a heartbeat round, answered by every
        // client): from here on each connection holds what a server that
        // publishes to it holds, such as a Bun topic subscription, which
        // steadysocket makes at a room's first broadcast rather than at join.
        const answered = await heartbeatRound(worker, server, group, res.ok, 20_000);
        await server.ctl("/ctl/gc");
        await sleep(200);
        const rss2 = server.rssKiB();
        samples[t.id].push({
          perConnKiB: (rss1 - rss0) / res.ok,
          // Code of the runtime's binary run for the first time while the connections opened (a JIT tier's
          // compiler, say): paid once per process, whatever N is.
          perConnFileKiB: (file1 - file0) / res.ok,
          // What the engine's heap adds per connection: its live objects, and what it holds for them.
          heapUsedPerConnB: heap0 && heap1 ? (heap1.used - heap0.used) / res.ok : NaN,
          heapHeldPerConnB: heap0 && heap1 ? (heap1.held - heap0.held) / res.ok : NaN,
          perConnAfterBroadcastKiB: (rss2 - rss0) / res.ok,
          answered,
          rssMiB: rss1 / 1024,
          idleCpu: cpu,
          opened: res.ok,
          failed: res.failed,
          connectPerSec: res.ok / (res.ms / 1000),
        });
        await worker.request({ op: "close", group });
      } finally {
        await server.stop();
      }
    }
  }
  return samples;
}

export interface ChurnConfig {
  perCycle: number;
  cycles: number;
  parallel: number;
  /**
   * Every other target's cycle between two of ours's on its runtime (bench/_bracket.ts): ours then opens and
   * closes that many more connections per cycle, and its drift is over all of them.
   */
  bracket?: boolean;
}

/** Churn: cycles of opening and closing connections; rate, and resident memory after each cycle. */
export async function churn(
  worker: Worker,
  targets: Target[],
  start: (t: Target) => Promise<Server>,
  cfg: ChurnConfig,
): Promise<Samples> {
  const servers = new Map<string, Server>();
  const rss = new Map<string, number[]>();
  /** Per cycle: rate, server and client CPU µs per connection (and the brackets' means, when bracketed). */
  const cycles = new Map<string, Sample[]>();
  const failed = new Map<string, number>();
  const openAfter = new Map<string, number>();
  try {
    for (const t of targets) {
      servers.set(t.id, await start(t));
      rss.set(t.id, []);
      cycles.set(t.id, []);
      failed.set(t.id, 0);
    }
    // Cycle 0 warms up (JIT, pools); cycles 1..n are measured.
    for (let cycle = 0; cycle <= cfg.cycles; cycle++) {
      const order = cfg.bracket
        ? bracketedOrder(targets.map((target) => ({ target })), cycle).map((x) => x.target)
        : rotate(targets, cycle);
      const windows: { id: string; sample: Sample }[] = [];
      const rssNow = new Map<string, number>();
      for (const [i, t] of order.entries()) {
        const server = servers.get(t.id)!;
        const [url] = urls(t, server);
        const cpu0 = server.cpu();
        const wcpu0 = worker.cpu();
        const r = await worker.request({
          op: "churn",
          url,
          kind: t.kind,
          total: cfg.perCycle,
          parallel: cfg.parallel,
          // The fan-out's frame-level clients. Churn stays bound by the client's side of the
          // TCP handshakes either way (as fast with WebSocket objects), hence the CPU figures below.
          lean: true,
        });
        const sample = {
          rate: r.ok / (r.ms / 1000),
          cpuUsPerConn: (server.cpu() - cpu0) * 1e6 / r.ok,
          clientCpuUsPerConn: (worker.cpu() - wcpu0) * 1e6 / r.ok,
        };
        await sleep(100);
        await server.ctl("/ctl/gc");
        await sleep(100);
        if (cycle === 0) continue;
        windows.push({ id: t.id, sample });
        // A server's RSS after its last window of the cycle.
        rssNow.set(t.id, server.rssKiB());
        failed.set(t.id, failed.get(t.id)! + r.failed);
        if (cycle === cfg.cycles && !order.slice(i + 1).includes(t)) {
          // Every connection closed: the server's own count must be back to 0.
          const st = await server.ctl("/ctl/stats") as { open?: number };
          openAfter.set(t.id, st.open ?? NaN);
        }
      }
      if (cycle === 0) continue;
      const cycleSamples = cfg.bracket
        ? assembleBracketed(windows, ["rate", "cpuUsPerConn"])
        : Object.fromEntries(windows.map((w) => [w.id, w.sample]));
      for (const t of targets) {
        cycles.get(t.id)!.push(cycleSamples[t.id]);
        rss.get(t.id)!.push(rssNow.get(t.id)!);
      }
    }
  } finally {
    for (const s of servers.values()) await s.stop();
  }
  const samples: Samples = {};
  for (const t of targets) {
    const r = rss.get(t.id)!;
    samples[t.id] = cycles.get(t.id)!.map((cycle) => ({
      ...cycle,
      driftMiB: (r[r.length - 1] - r[0]) / 1024,
      rssMiB: r[r.length - 1] / 1024,
      // RSS after each measured cycle, as rssAfterCycle1, rssAfterCycle2, ...
      ...Object.fromEntries(
        r.map((k, i) => [`rssAfterCycle${i + 1}`, k / 1024]),
      ),
      failed: failed.get(t.id)!,
      openAfter: openAfter.get(t.id) ?? NaN,
    }));
  }
  return samples;
}

export interface StallConfig {
  clients: number;
  stalled: number;
  bytes: number;
  ms: number;
  reps: number;
  /**
   * Measure every other target between two windows of ours on its runtime (bench/_bracket.ts): a window's
   * live rate varies by ±15 % from one window to the next, and a repetition of every target lasts minutes.
   */
  bracket?: boolean;
}

/** The stalled-peers fields bracketed with ours's windows: the live readers' rate and the server's CPU per frame. */
const STALL_BRACKETED: readonly string[] = ["liveRate", "cpuUsPerMsg"];

/** Stalled peers: some readers stop reading while the server keeps broadcasting. */
export async function stall(
  worker: Worker,
  targets: Target[],
  start: (t: Target) => Promise<Server>,
  cfg: StallConfig,
): Promise<Samples> {
  const samples: Samples = Object.fromEntries(targets.map((t) => [t.id, []]));
  const live = cfg.clients - cfg.stalled;
  /** One window: a fresh server, its live and stalled readers, one broadcast run. */
  const measure = async (t: Target, rep: number): Promise<Sample> => {
    const server = await start(t);
    const group = `${t.id}:stall`;
    try {
      const res = await worker.request({
        op: "connect",
        group,
        kind: t.kind,
        urls: urls(t, server),
        n: live,
        parallel: 128,
        lean: true,
      });
      const path = t.path + (t.path.includes("?") ? "&" : "?") + "stall=1";
      const st = await worker.request({
        op: "stall",
        group,
        host: "127.0.0.1",
        port: server.port,
        path,
        n: cfg.stalled,
      });
      await worker.request({ op: "reset", group, every: 0 });
      const rss0 = server.rssKiB();
      const cpu0 = server.cpu();
      const q = `/ctl/fanout?ms=${cfg.ms}&bytes=${cfg.bytes}&batch=1&limit=262144&rate=0`;
      const op = await server.ctl(q) as { broadcasts: number; start: number };
      const s = await waitDelivered(worker, group, op.broadcasts * res.ok);
      const cpuSpent = server.cpu() - cpu0;
      const stats = await server.ctl("/ctl/stats") as {
        closedByCode?: Record<string, number>;
        slowConsumers?: number;
        sendsDropped?: number;
      };
      const sample: Sample = {
        liveRate: s.received / ((s.last - op.start) / 1000),
        liveReach: s.received / (op.broadcasts * res.ok),
        // Server CPU per frame a live reader received (what was queued for the stalled ones included).
        cpuUsPerMsg: (cpuSpent * 1e6) / s.received,
        stalledConnected: st.ok,
        stalledClosed: Object.values(stats.closedByCode ?? {}).reduce((a, b) => a + b, 0),
        closed1013: stats.closedByCode?.["1013"] ?? 0,
        slowConsumers: stats.slowConsumers ?? NaN,
        sendsDropped: stats.sendsDropped ?? NaN,
        liveClosed: s.closed,
        rssGrowthMiB: (server.rssKiB() - rss0) / 1024,
        peakMiB: server.hwmKiB() / 1024,
      };
      await worker.request({ op: "close", group });
      return sample;
    } catch (error) {
      // Which server failed, in the run's log.
      throw new Error(`${t.id}, repetition ${rep + 1}: ${error instanceof Error ? error.message : error}`);
    } finally {
      await server.stop();
    }
  };
  const items = targets.map((target) => ({ target }));
  for (let rep = 0; rep < cfg.reps; rep++) {
    if (cfg.bracket) {
      const repSamples = await measureBracketed(items, rep, (x) => measure(x.target, rep), STALL_BRACKETED);
      for (const [id, sample] of Object.entries(repSamples)) samples[id].push(sample);
    } else {
      for (const t of rotate(targets, rep)) samples[t.id].push(await measure(t, rep));
    }
  }
  return samples;
}
