// `deno task bench [--quick|--full] [--only=fanout,echo,...]`: runs every
// scenario against steadysocket, the raw runtimes and the peers in one run,
// and writes bench/RESULTS.md and bench/results/last_run.json (a full run), or
// bench/results/quick.md and quick.json (quick mode). An option it does not
// take, or a value of the wrong kind, stops it before anything starts, with
// exit status 2 (bench/README.md lists the options).
import { cliOptions } from "./_args.ts";
import { pinning, ROOT, run, Server, Worker } from "./_proc.ts";
import { ALL_IDS, type Target, TARGETS, withFixedYoungGeneration } from "./_targets.ts";
import {
  churn,
  echo,
  fanout,
  idle,
  medians,
  type Running,
  type Samples,
  stall,
  type Tails,
} from "./_scenarios.ts";
import { writeReport } from "./_report.ts";
import { encodeHistogram } from "./_tail_histogram.ts";

/** The scenarios `--only` can pick, in the order a run measures them. */
const SCENARIOS = [
  "fanout",
  "echo",
  "idle",
  "churn",
  "stall",
  "same_process",
  "sweep",
  "overhead",
  "client",
  "bundle",
];
const opts = cliOptions(
  {
    flags: ["quick", "full", "bracket"],
    values: ["only", "targets", "reps", "fanout-reps", "fanout", "churn-cycles", "paced-settle"],
  },
  "deno task bench [--quick|--full] [--bracket] [--only=fanout,echo,...] [--targets=bun-loop,...] " +
    "[--reps=N] [--fanout-reps=N] [--fanout=32x1024,...] [--churn-cycles=N] [--paced-settle=MS] " +
    "(bench/README.md)",
);
const full = opts.has("full");
if (full && opts.has("quick")) opts.fail("--quick and --full: expected one of them, got both");
const only = opts.list("only", SCENARIOS);
const want = (name: string) => !only || only.includes(name);
const pick = opts.list("targets", Object.keys(TARGETS));
/**
 * `--churn-cycles=N`: more churn cycles than the 5 of the targets, to tell a step of the allocator from a leak.
 * Drift is the last cycle's RSS less the first's, so it takes two at least.
 */
const churnCycles = opts.int("churn-cycles", 5, 2);

const CORE_MEM = ["bun-loop", "bun-steady", "deno-raw", "deno-steady"];
/** Idle memory also against Bun's publish() server: its sockets hold a topic subscription, as ours do. */
const IDLE_MEM = [
  "bun-loop",
  "bun-publish",
  "bun-steady",
  "bun-steady-loop",
  "deno-raw",
  "deno-steady",
];
const PEERS_MEM = [
  "bun-hono",
  "bun-crossws",
  "deno-hono",
  "deno-crossws",
  "node-ws",
  "node-sio",
];

/**
 * `--paced-settle=MS`: the quiet before each paced latency window of a full run, after its server's and the
 * load generator's collections (default 300). In the full run written at 03:46 UTC on Dec 2, ours's paced
 * window right before a raw baseline's, which followed another runtime's window or the saturating ones, read
 * a p99 1.38× its window right after at 32 × 1 KiB on Deno (median of 11 repetitions); the raw window in
 * between followed ours's, on the same runtime.
 */
const PACED_SETTLE_MS = opts.int("paced-settle", 300, 0);

/** What each mode runs; quick keeps every scenario but fewer sizes, targets and seconds. */
const PLAN = full
  ? {
    reps: 7,
    // Saturating fan-out windows are short and vary by ±15 % on this kind of machine: more of them, each
    // followed by a paced latency window (whose p99 varies even more from window to window).
    fanoutReps: 11,
    latencyInEveryRep: true,
    // Identical server processes differ by up to ±10 % in CPU per frame for their whole life (see
    // bench/README.md), which is the largest error of a fan-out ratio: six sets of processes, not three.
    fanoutGenerations: 6,
    fanout: [
      {
        clients: 32,
        bytes: 20,
        // Ours through the send loop too: publish()'s latency tail against the loop's.
        ids: [...ALL_IDS, "bun-steady-loop"],
        ms: 500,
        rate: 500,
        latencyMs: 1200,
        settleMs: PACED_SETTLE_MS,
      },
      {
        clients: 32,
        bytes: 1024,
        ids: [...ALL_IDS, "bun-steady-loop"],
        ms: 500,
        rate: 500,
        latencyMs: 1200,
        settleMs: PACED_SETTLE_MS,
      },
      {
        clients: 1000,
        bytes: 20,
        ids: ALL_IDS,
        ms: 500,
        rate: 50,
        latencyMs: 1200,
        settleMs: PACED_SETTLE_MS,
      },
      {
        clients: 1000,
        bytes: 1024,
        ids: ALL_IDS,
        ms: 500,
        rate: 50,
        latencyMs: 1200,
        settleMs: PACED_SETTLE_MS,
      },
    ],
    echo: [
      // Echo 1 is bound by round-trip latency, not by the server's CPU: its
      // windows vary by ±10 % with the machine's scheduling, hence more of them.
      { conns: 1, ids: ALL_IDS, ms: 800, reps: 11 },
      { conns: 100, ids: ALL_IDS, ms: 500, reps: 7 },
    ],
    idle: [
      {
        conns: 1000,
        ids: [...IDLE_MEM, ...PEERS_MEM],
        reps: 3,
        settleMs: 500,
        cpuMs: 1000,
      },
      {
        conns: 5000,
        ids: [...IDLE_MEM, ...PEERS_MEM],
        reps: 3,
        settleMs: 800,
        cpuMs: 1000,
      },
      { conns: 15000, ids: IDLE_MEM, reps: 3, settleMs: 1500, cpuMs: 1000 },
    ],
    churn: {
      // With the calibration server: its rate against raw's shows what the client-bound rate can rank.
      ids: [...CORE_MEM, ...PEERS_MEM, "bun-loop-slow"],
      // A cycle of 1 000 lasts 40 ms on Bun: too short a window for a rate.
      perCycle: 4000,
      cycles: churnCycles,
      parallel: 32,
    },
    stall: {
      // With Bun's publish() server, the ceiling of a native fan-out, and ours with its send loop.
      ids: [
        ...CORE_MEM,
        "bun-publish",
        "bun-steady-loop",
        "bun-hono",
        "bun-crossws",
        "deno-hono",
        "deno-crossws",
      ],
      clients: 1000,
      stalled: 100,
      bytes: 16384,
      // Long enough for a stalled reader to fill the kernel's buffers (several MB on loopback) and then the
      // 1 MiB bound on a slower machine too: at 4 s, Deno's stalled readers here had 0.87 MiB buffered each
      // when the window ended (its live rate was 66 k msg/s, against 117 k on a faster day).
      ms: 8000,
      // A window's live rate varies by ±15 % between repetitions of one server.
      reps: 5,
    },
    // Fan-out with the baseline and ours in one process (bench/same_process.ts).
    sameProcess: {
      sizes: [[32, 20], [32, 1024], [1000, 20], [1000, 1024]],
      reps: 9,
      ms: 700,
    },
    sweep: { conns: 100_000, sweeps: 50 },
    overhead: { conns: 20_000, ms: 300 },
    client: {
      runtimes: ["bun", "deno"],
      messages: 200_000,
      rounds: 9,
      restarts: 3,
      partysocket: true,
    },
  }
  : {
    reps: 3,
    fanoutReps: 3,
    fanoutGenerations: 1,
    // One size: many clients are exercised by idle (1 000) and stalled peers (500), and connecting a thousand
    // to every fan-out target again would cost a quick run a tenth of its two minutes.
    fanout: [
      {
        clients: 32,
        bytes: 20,
        ids: ALL_IDS,
        ms: 150,
        rate: 500,
        latencyMs: 150,
      },
    ],
    echo: [
      { conns: 1, ids: CORE_MEM, ms: 150, reps: 3 },
      { conns: 100, ids: ALL_IDS, ms: 150, reps: 3 },
    ],
    idle: [{
      conns: 1000,
      ids: CORE_MEM,
      // One window each: RSS per connection varies by a few percent between windows, the two minutes do not allow more.
      reps: 1,
      settleMs: 200,
      cpuMs: 300,
    }],
    churn: { ids: CORE_MEM, perCycle: 200, cycles: churnCycles, parallel: 32 },
    // One repetition here: a stalled reader is closed only once the kernel's
    // buffers (several MB) and then the 1 MiB bound are full, which takes seconds;
    // half the readers of the full run broadcast twice as fast and fill them sooner.
    stall: {
      ids: CORE_MEM,
      clients: 500,
      stalled: 50,
      bytes: 16384,
      ms: 2500,
      reps: 1,
    },
    // 32 clients: connecting 4 × 1 000 in one Deno process takes seconds of a quick run's two minutes.
    sameProcess: { sizes: [[32, 1024]], reps: 3, ms: 200 },
    sweep: { conns: 100_000, sweeps: 20 },
    overhead: { conns: 5_000, ms: 100 },
    client: {
      runtimes: ["bun"],
      messages: 60_000,
      rounds: 3,
      // A restart waits out the clients' jittered backoff (seconds): one shows the reconnect path.
      restarts: 1,
      partysocket: false,
    },
  };

/**
 * Fan-out, echo, churn and stalled peers measure every target between two windows of ours (bench/_bracket.ts) in
 * full mode, or with `--bracket`: the machine's slow phases last seconds, and a repetition of a dozen targets tens
 * of seconds (of the stalled peers', minutes).
 */
const bracketed = full || opts.has("bracket");
/**
 * `--reps=N`: the repetitions of fan-out (its saturating and paced windows) and of echo, whose sizes have their
 * own otherwise.
 */
const repsGiven = opts.text("reps") !== undefined;
if (repsGiven) PLAN.reps = PLAN.fanoutReps = opts.int("reps", PLAN.reps);
/**
 * `--fanout-reps=N`: fan-out's repetitions (11 in a full run), spread over the same sets of fresh processes. A
 * fan-out ratio at equal cost (ours and `publish()` on Bun, ours and the peers on Deno) sits within a few
 * per cent of 1, and its interval narrows only with more repetitions.
 */
PLAN.fanoutReps = opts.int("fanout-reps", PLAN.fanoutReps);
/** `--fanout=32x1024,1000x20`: only these fan-out sizes (clients × bytes) of the mode's plan, for a partial run. */
const fanoutSizes = opts.list("fanout", PLAN.fanout.map((c) => `${c.clients}x${c.bytes}`));

const EPOCH = String(Date.now());
const baseEnv = { EPOCH, HOST: "0.0.0.0" };
const started = Date.now();
// deno-lint-ignore no-explicit-any
const results: Record<string, any> = {
  mode: full ? "full" : "quick",
  errors: [] as string[],
};
const log = (msg: string) => console.error(`[${((Date.now() - started) / 1000).toFixed(1)}s] ${msg}`);

async function startTarget(t: Target): Promise<Server> {
  return await Server.start(t.cmd, { ...baseEnv, ...(t.env ?? {}) });
}

/** Starts the targets in parallel; a target that fails to start is reported and left out. */
async function startAll(ids: string[]): Promise<Running[]> {
  if (pick) ids = ids.filter((id) => pick.includes(id));
  const out = await Promise.all(ids.map(async (id) => {
    const target = TARGETS[id];
    try {
      return { target, server: await startTarget(target) };
    } catch (e) {
      results.errors.push(
        `${id} did not start: ${(e as Error).message.split("\n")[0]}`,
      );
      return undefined;
    }
  }));
  return out.filter((r): r is Running => r !== undefined);
}

/** Keeps only targets that can start at all (the library may be missing on a partial checkout). */
const startable = new Map<string, boolean>();
async function usable(ids: string[]): Promise<Target[]> {
  if (pick) ids = ids.filter((id) => pick.includes(id));
  const out: Target[] = [];
  for (const id of ids) {
    if (!startable.has(id)) {
      try {
        const s = await startTarget(TARGETS[id]);
        await s.stop();
        startable.set(id, true);
      } catch (e) {
        startable.set(id, false);
        results.errors.push(
          `${id} did not start: ${(e as Error).message.split("\n")[0]}`,
        );
      }
    }
    if (startable.get(id)) out.push(TARGETS[id]);
  }
  return out;
}

async function guarded(name: string, fn: () => Promise<void>) {
  if (!want(name)) return;
  const t0 = Date.now();
  log(`${name}…`);
  try {
    await fn();
  } catch (e) {
    results.errors.push(
      `${name}: ${(e as Error).stack?.split("\n").slice(0, 3).join(" / ")}`,
    );
    log(`${name} failed: ${(e as Error).message}`);
  }
  log(`${name} done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

async function machine() {
  const cpuinfo = await Deno.readTextFile("/proc/cpuinfo");
  const meminfo = await Deno.readTextFile("/proc/meminfo");
  const pkg = async (dir: string) => {
    try {
      return JSON.parse(await Deno.readTextFile(`${ROOT}${dir}/package.json`))
        .version;
    } catch {
      return "missing";
    }
  };
  const first = async (cmd: string[]) => {
    try {
      return (await run(cmd)).split("\n")[0].trim();
    } catch {
      return "missing";
    }
  };
  results.machine = {
    nproc: navigator.hardwareConcurrency,
    model: cpuinfo.match(/model name\s*:\s*(.*)/)?.[1] ?? "unknown",
    memGiB: Number(meminfo.match(/MemTotal:\s+(\d+)/)?.[1] ?? 0) / 1024 / 1024,
    kernel: await first(["uname", "-r"]),
    pinning: pinning.note,
  };
  results.versions = {
    deno: (await first(["deno", "--version"])).replace(/^deno /, ""),
    bun: await first(["bun", "--version"]),
    node: await first(["node", "--version"]),
    hono: await pkg("node_modules/hono"),
    partysocket: await pkg("node_modules/partysocket"),
    crossws: await pkg("bench/node_modules/crossws"),
    ws: await pkg("bench/node_modules/ws"),
    "socket.io": await pkg("bench/node_modules/socket.io"),
    "socket.io-client": await pkg("bench/node_modules/socket.io-client"),
    esbuild: await pkg("node_modules/esbuild"),
  };
}

/** An in-process benchmark script that prints one JSON line. */
async function script(cmd: string[], env: Record<string, string> = baseEnv): Promise<unknown> {
  const out = await run(cmd, env);
  const line = out.trim().split("\n").filter((l) => l.startsWith("{")).pop();
  if (!line) throw new Error(`${cmd.join(" ")} printed no JSON`);
  return JSON.parse(line);
}

// The runtimes the project pins, and the peers (installed for the benchmark only).
Deno.env.set(
  "PATH",
  `${ROOT}tools/node_modules/.bin:${Deno.env.get("PATH") ?? ""}`,
);
// The project's own dependencies, as `npm install` sets them up (partysocket and esbuild for the client and
// bundle scenarios; Deno and Bun in tools/, by its postinstall), when a fresh clone runs the benchmark first.
/** Whether every path exists. */
async function present(...paths: string[]): Promise<boolean> {
  try {
    for (const p of paths) await Deno.stat(`${ROOT}${p}`);
    return true;
  } catch {
    return false;
  }
}
// The two installs write to different directories: side by side, they cost a fresh clone's first run one wait.
await Promise.all([
  (async () => {
    if (
      await present("node_modules/partysocket", "node_modules/.bin/esbuild", "tools/node_modules/.bin/bun")
    ) return;
    log("installing the project's dependencies (npm ci)…");
    await run(["npm", "ci", "--no-audit", "--no-fund"]);
  })(),
  (async () => {
    if (await present("bench/node_modules/socket.io")) return;
    log("installing the peers into bench/node_modules (npm ci)…");
    await run(["npm", "ci", "--prefix", "bench", "--no-audit", "--no-fund"]);
  })(),
]);
log("dependencies present");

await machine();
// How the report reads ours's latency windows: bench/_bracket.ts combines them by their geometric mean.
results.plan = { ...PLAN, bracketed, tailMean: "geometric" };
const worker = new Worker(baseEnv);
try {
  await guarded("fanout", async () => {
    results.fanout = [];
    for (const cfg of PLAN.fanout) {
      if (fanoutSizes && !fanoutSizes.includes(`${cfg.clients}x${cfg.bytes}`)) continue;
      log(`fan-out ${cfg.clients} clients × ${cfg.bytes} B`);
      // The repetitions are split over PLAN.fanoutGenerations sets of fresh server processes and
      // connections: a server process (or its set of connections) can be a few percent faster or slower
      // than another running the same code for its whole life, which more repetitions of one process
      // cannot average out.
      const reps = PLAN.fanoutReps;
      const generations = Math.min(PLAN.fanoutGenerations, reps);
      const samples: Samples = {};
      const tails: Tails = {};
      const peak: Record<string, number> = {};
      for (let g = 0, first = 0; g < generations; g++) {
        const count = Math.round((reps * (g + 1)) / generations) - first;
        const running = await startAll(cfg.ids);
        try {
          const part = await fanout(worker, running, {
            ...cfg,
            reps: count,
            firstRep: first,
            latencyReps: "latencyInEveryRep" in PLAN ? reps : PLAN.reps,
            bracket: bracketed,
            tails,
          });
          for (const [id, list] of Object.entries(part)) (samples[id] ??= []).push(...list);
          for (const r of running) {
            peak[r.target.id] = Math.max(peak[r.target.id] ?? 0, r.server.hwmKiB() / 1024);
          }
        } finally {
          for (const r of running) await r.server.stop();
        }
        first += count;
      }
      results.fanout.push({
        ...cfg,
        med: medians(samples),
        samples,
        tails,
        peakMiB: peak,
      });
    }
  });
  await guarded("echo", async () => {
    results.echo = [];
    for (const cfg of PLAN.echo) {
      const running = await startAll(cfg.ids);
      try {
        log(`echo ${cfg.conns} connections`);
        const tails: Tails = {};
        const samples = await echo(worker, running, {
          ...cfg,
          reps: repsGiven ? PLAN.reps : cfg.reps,
          bracket: bracketed,
          tails,
        });
        results.echo.push({ ...cfg, med: medians(samples), samples, tails });
      } finally {
        for (const r of running) await r.server.stop();
      }
    }
  });
  await guarded("idle", async () => {
    results.idle = [];
    for (const cfg of PLAN.idle) {
      log(`idle ${cfg.conns} connections`);
      const samples = await idle(
        worker,
        await usable(cfg.ids),
        startTarget,
        cfg,
      );
      results.idle.push({ ...cfg, med: medians(samples), samples });
    }
  });
  await guarded("churn", async () => {
    const cfg = PLAN.churn;
    const samples = await churn(
      worker,
      await usable(cfg.ids),
      startTarget,
      { ...cfg, bracket: bracketed },
    );
    results.churn = { ...cfg, bracket: bracketed, med: medians(samples), samples };
    // Deno again with V8's young generation fixed: what is left is the slope a leak would show.
    const denoTargets = (await usable(cfg.ids)).filter((t) => t.runtime === "deno");
    if (denoTargets.length) {
      log("churn, Deno with a fixed young generation");
      const fixed = await churn(
        worker,
        denoTargets.map(withFixedYoungGeneration),
        startTarget,
        { ...cfg, bracket: bracketed },
      );
      results.churnFixedYoung = { ...cfg, bracket: bracketed, med: medians(fixed), samples: fixed };
    }
  });
  await guarded("stall", async () => {
    const cfg = PLAN.stall;
    const samples = await stall(worker, await usable(cfg.ids), startTarget, { ...cfg, bracket: bracketed });
    results.stall = { ...cfg, bracket: bracketed, med: medians(samples), samples };
  });
} finally {
  await worker.stop();
}
await guarded("same_process", async () => {
  const c = PLAN.sameProcess;
  const env = { ...baseEnv, CLIENT_PIN: pinning.clients.join(" ") };
  results.sameProcess = { bun: [], deno: [] };
  for (const [clients, bytes] of c.sizes) {
    const a = [String(clients), String(bytes), String(c.reps), String(c.ms)];
    log(`same process, ${clients} clients × ${bytes} B`);
    results.sameProcess.deno.push(
      await script([...pinning.server, "deno", "run", "-A", "bench/same_process.ts", ...a], env),
    );
    results.sameProcess.bun.push(
      await script([...pinning.server, "bun", "bench/same_process.ts", ...a], env),
    );
  }
});
await guarded("sweep", async () => {
  const a = [String(PLAN.sweep.conns), String(PLAN.sweep.sweeps)];
  results.sweep = {
    deno: await script([
      "deno",
      "run",
      "-A",
      "--v8-flags=--expose-gc",
      "bench/sweep.ts",
      ...a,
    ]),
    bun: await script(["bun", "bench/sweep.ts", ...a]),
  };
});
await guarded("overhead", async () => {
  const n = String(PLAN.overhead.conns);
  const ms = String(PLAN.overhead.ms);
  results.overhead = {
    deno: await script([
      "deno",
      "run",
      "-A",
      "--v8-flags=--expose-gc",
      "bench/overhead.ts",
      n,
      ms,
    ]),
    bun: await script(["bun", "bench/overhead.ts", n, ms]),
  };
});
await guarded("client", async () => {
  const c = PLAN.client;
  const receive: Record<string, unknown> = {};
  for (const rt of c.runtimes) {
    const cmd = rt === "bun" ? ["bun", "bench/client_receive.ts", String(c.messages), String(c.rounds)] : [
      "deno",
      "run",
      "-A",
      "bench/client_receive.ts",
      String(c.messages),
      String(c.rounds),
    ];
    receive[rt] = parseReceive(await run(cmd, baseEnv));
  }
  const rc = [
    "bun",
    "bench/client_reconnect.ts",
    String(c.restarts),
    "20",
    "300",
  ];
  results.client = {
    receive,
    reconnect: await script(c.partysocket ? [...rc, "--partysocket"] : rc),
  };
});

/** Reads bench/client_receive.ts's table: `  kind   1,234,567  0.97x   rounds: ...`. */
function parseReceive(
  text: string,
): Record<string, { rate: number; ratio: number }> {
  const out: Record<string, { rate: number; ratio: number }> = {};
  for (const m of text.matchAll(/^\s+(\S+)\s+([\d,]+)\s+([\d.]+)x/gm)) {
    out[m[1]] = { rate: Number(m[2].replaceAll(",", "")), ratio: Number(m[3]) };
  }
  if (!out.raw) {
    throw new Error(
      `client_receive.ts printed no table: ${text.slice(0, 300)}`,
    );
  }
  return out;
}
await guarded("bundle", async () => {
  results.bundle = await script(["deno", "run", "-A", "bench/bundle_size.ts"]);
});
/** Writes each latency window's histogram as one short line (bench/_tail_histogram.ts), not one line per bin. */
function compactHistograms(key: string, value: unknown): unknown {
  return key === "histogram" && value && typeof value === "object"
    ? encodeHistogram(value as Record<string, number>)
    : value;
}

results.durationS = (Date.now() - started) / 1000;
await Deno.mkdir(`${ROOT}bench/results`, { recursive: true });
// Only a full run replaces RESULTS.md and last_run.json, which hold the full run the README quotes: a quick or
// partial run writes its own report beside them.
const outName = only ? "partial" : full ? "last_run" : "quick";
results.rawPath = `bench/results/${outName}.json`;
results.writtenAt = new Date().toISOString();
await Deno.writeTextFile(`${ROOT}${results.rawPath}`, JSON.stringify(results, compactHistograms, 1));
const mdPath = full && !only ? "bench/RESULTS.md" : `bench/results/${outName}.md`;
await Deno.writeTextFile(`${ROOT}${mdPath}`, writeReport(results));
// Formatted as the repository formats Markdown, so `deno fmt` leaves it as is. The configuration is named:
// for a path under bench/ (which has a package.json of its own) deno fmt would not find the project's.
await run(["deno", "fmt", "--quiet", "--config", "deno.json", mdPath]).catch(() => {});
log(`${only ? "partial run (--only)" : full ? "full run" : "quick run"}: wrote ${mdPath}`);
log(`total ${results.durationS.toFixed(0)} s`);
