// The servers a run compares: steadysocket, the raw runtimes it is measured
// against, and its peers.

/** One server under test. */
export interface Target {
  id: string;
  label: string;
  runtime: "bun" | "deno" | "node";
  /** `calibration`: a server made slower on purpose, to show what a scenario can tell apart. */
  role: "ours" | "baseline" | "peer" | "calibration";
  cmd: string[];
  env?: Record<string, string>;
  /** Path of the WebSocket endpoint, with the query the protocol needs. */
  path: string;
  kind: "ws" | "eio";
}

/** The V8 flags every Deno server runs with. */
const DENO_V8_FLAGS = "--v8-flags=--expose-gc";
const DENO = ["deno", "run", "-A", DENO_V8_FLAGS];

/**
 * The V8 flags of a Deno server with its young generation fixed at 8 MiB. By
 * default V8 grows the young generation in steps of several MiB under churn
 * and keeps them: RSS then climbs in steps on raw Deno as on every library,
 * which hides a leak's slope. The churn scenario runs the Deno servers a
 * second time with these flags.
 */
export const DENO_FIXED_YOUNG_FLAGS =
  "--v8-flags=--expose-gc,--semi-space-growth-factor=1,--min-semi-space-size=8,--max-semi-space-size=8";

/** The same target, its V8 young generation fixed (Deno servers only; others unchanged). */
export function withFixedYoungGeneration(t: Target): Target {
  if (t.runtime !== "deno") return t;
  return {
    ...t,
    cmd: t.cmd.map((a) => (a === DENO_V8_FLAGS ? DENO_FIXED_YOUNG_FLAGS : a)),
  };
}

/** Every target, by id. */
export const TARGETS: Record<string, Target> = Object.fromEntries(
  ([
    {
      id: "bun-loop",
      label: "raw Bun.serve, JS send loop",
      runtime: "bun",
      role: "baseline",
      cmd: ["bun", "bench/servers/bun_raw.ts"],
      env: { MODE: "loop" },
    },
    {
      id: "bun-publish",
      label: "raw Bun.serve, publish()",
      runtime: "bun",
      role: "baseline",
      cmd: ["bun", "bench/servers/bun_raw.ts"],
      env: { MODE: "publish" },
    },
    {
      id: "bun-steady",
      label: "steadysocket on Bun",
      runtime: "bun",
      role: "ours",
      cmd: ["bun", "bench/servers/bun_steady.ts"],
    },
    {
      id: "bun-steady-loop",
      label: 'steadysocket on Bun, fanout: "loop"',
      runtime: "bun",
      role: "ours",
      cmd: ["bun", "bench/servers/bun_steady.ts"],
      env: { FANOUT: "loop" },
    },
    {
      id: "bun-loop-slow",
      label: "raw Bun.serve + 10 µs of work per upgrade (calibration)",
      runtime: "bun",
      role: "calibration",
      cmd: ["bun", "bench/servers/bun_raw.ts"],
      env: { MODE: "loop", UPGRADE_WORK_US: "10" },
    },
    {
      id: "bun-hono",
      label: "Hono helper on Bun",
      runtime: "bun",
      role: "peer",
      cmd: ["bun", "bench/servers/bun_hono.ts"],
    },
    {
      id: "bun-crossws",
      label: "crossws on Bun",
      runtime: "bun",
      role: "peer",
      cmd: ["bun", "bench/servers/bun_crossws.ts"],
    },
    {
      id: "deno-raw",
      label: "raw Deno.serve, default idleTimeout",
      runtime: "deno",
      role: "baseline",
      cmd: [...DENO, "bench/servers/deno_raw.ts"],
    },
    {
      id: "deno-raw0",
      label: "raw Deno.serve, idleTimeout 0",
      runtime: "deno",
      role: "baseline",
      cmd: [...DENO, "bench/servers/deno_raw.ts"],
      env: { IDLE: "0" },
    },
    {
      id: "deno-steady",
      label: "steadysocket on Deno",
      runtime: "deno",
      role: "ours",
      cmd: [...DENO, "bench/servers/deno_steady.ts"],
    },
    {
      id: "deno-hono",
      label: "Hono helper on Deno",
      runtime: "deno",
      role: "peer",
      cmd: [...DENO, "bench/servers/deno_hono.ts"],
    },
    {
      id: "deno-crossws",
      label: "crossws on Deno",
      runtime: "deno",
      role: "peer",
      cmd: [...DENO, "bench/servers/deno_crossws.ts"],
    },
    {
      id: "node-ws",
      label: "ws on Node",
      runtime: "node",
      role: "peer",
      cmd: ["node", "--expose-gc", "bench/servers/node_ws.mjs"],
    },
    {
      id: "node-sio",
      label: "Socket.IO 4 on Node",
      runtime: "node",
      role: "peer",
      cmd: ["node", "--expose-gc", "bench/servers/node_socketio.mjs"],
      path: "/socket.io/?EIO=4&transport=websocket",
      kind: "eio",
    },
  ] as Array<Omit<Target, "path" | "kind"> & Partial<Target>>).map((t) => [
    t.id,
    { path: "/ws", kind: "ws", ...t } as Target,
  ]),
);

/**
 * Every target of the throughput scenarios; the loop variant of ours is measured for idle memory only, the
 * calibration server in churn only.
 */
export const ALL_IDS: string[] = Object.keys(TARGETS).filter((id) =>
  id !== "bun-steady-loop" && TARGETS[id].role !== "calibration"
);

/** steadysocket's own target on each runtime. */
export const OURS: Record<string, string> = { bun: "bun-steady", deno: "deno-steady" };

/** The raw baseline of each runtime, which the targets' ratios are against. */
export const RAW: Record<string, string> = { bun: "bun-loop", deno: "deno-raw" };

/**
 * The server a target's throughput is compared with in brackets: ours on the same runtime (Node's servers:
 * ours on Deno), measured right before and right after the target in every repetition of a bracketed
 * scenario; `undefined` for ours itself.
 *
 * @example
 * ```ts
 * import { referenceOf } from "./_targets.ts";
 * console.log(referenceOf("deno-hono")); // "deno-steady"
 * ```
 */
export function referenceOf(id: string): string | undefined {
  const t = TARGETS[id];
  if (!t || id === OURS.bun || id === OURS.deno) return undefined;
  return t.runtime === "bun" ? OURS.bun : OURS.deno;
}
