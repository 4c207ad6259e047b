// Fan-out in one process: the raw runtime's servers and steadysocket's side by
// side in the same process, the same clients (a child process) connected to
// each, measured in alternating windows as server CPU per delivered frame.
// The servers share the process's heap, JIT, scheduler and the machine's
// noise in the same seconds, so the ratio shows what the library adds per
// frame more precisely than separate server processes can (whose windows on
// this kind of machine differ by ±15 % between two copies of one server).
// A window ends once every client has answered a ping sent after its last
// frame, so it counts delivered frames and the CPU of writing them. Prints
// one JSON line.
//
//   deno run -A bench/same_process.ts [clients=1000] [bytes=20] [reps=9] [ms=1000]
//   bun bench/same_process.ts [clients=1000] [bytes=20] [reps=9] [ms=1000]
//
// Bun: raw `Bun.serve` with a JS send loop and with `publish()`, against
// steadysocket's native fan-out (a room). Deno: raw `Deno.serve` at its
// default `idleTimeout` and with `idleTimeout: 0` (the setting our adapter
// uses), against steadysocket (a room). CLIENT_PIN (e.g.
// "taskset -c 1") pins the clients' process; the runner pins this one.
//
// A fourth side, "direct", writes to steadysocket's own server and sockets
// without the library's broadcast: Bun's `publish()` to the room's topic, or
// on Deno a send loop over the raw sockets. Two server instances differ by
// up to ±10 % per frame for their whole life even in one process, so only
// this side, the same server and sockets in alternate windows, tells what
// the broadcast itself costs from what the instance does.
import { spawn } from "node:child_process";
import process from "node:process";
import { bunHandlers } from "../server/adapters/bun.ts";
import { denoHandler } from "../server/adapters/deno.ts";
import { wholeArg } from "./_args.ts";
import { median, rotate } from "./_stats.ts";
import { fanoutFrame, maxOf, now, PING, PONG } from "./servers/_control.js";
import { openConnections, steadyEndpoint, worstBacklog } from "./servers/_steady.ts";

// deno-lint-ignore no-explicit-any
const g = globalThis as any;
const argv: string[] = g.Deno ? g.Deno.args : process.argv.slice(2);

if (argv[0] === "--clients") {
  // The clients: N sockets to each port; answer every ping envelope with a pong.
  const n = Number(argv[1]);
  for (const port of argv.slice(2).map(Number)) {
    for (let i = 0; i < n; i++) {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
      ws.onmessage = (event) => {
        if (event.data === PING) ws.send(PONG);
      };
    }
  }
  setInterval(() => {}, 1 << 30);
} else {
  await main();
}

/** A server of the comparison: how it broadcasts, its worst backlog, and pongs received. */
interface Side {
  id: string;
  port: number;
  size(): number;
  sendAll(frame: string): void;
  maxBacklog(): number;
  pongs(): number;
}

async function main(): Promise<void> {
  const clients = wholeArg(argv, 0, "clients", 1000);
  const bytes = wholeArg(argv, 1, "bytes", 20);
  const reps = wholeArg(argv, 2, "reps", 9);
  const ms = wholeArg(argv, 3, "ms", 1000);
  const sides = g.Bun ? bunSides() : denoSides();
  const self = new URL(import.meta.url).pathname;
  const [cmd, ...args] = [
    ...(process.env.CLIENT_PIN ?? "").split(" ").filter(Boolean),
    ...(g.Bun ? [process.execPath, self] : [g.Deno.execPath(), "run", "-A", self]),
    "--clients",
    String(clients),
    // One set of clients per server: "direct" shares steadysocket's.
    ...new Set(sides.map((s) => String(s.port))),
  ];
  const child = spawn(cmd, args, { stdio: "ignore" });
  try {
    await until(() => sides.every((s) => s.size() === clients), 30_000, "every client to connect");
    const pad = "x".repeat(bytes);
    const cpuPerFrame: Record<string, number[]> = Object.fromEntries(sides.map((s) => [s.id, []]));
    for (let rep = -1; rep < reps; rep++) {
      // Rotated and reversed from one repetition to the next, as in the runner.
      for (const side of rotate(sides, rep + 1)) {
        // A heartbeat round first: every client answers a ping, so all peers
        // acknowledge alike (see bench/README.md).
        await pingRound(side, clients);
        const us = await window(side, pad, clients, ms);
        if (rep >= 0) cpuPerFrame[side.id].push(us); // rep -1 warms up
      }
    }
    const ours = cpuPerFrame["steady"];
    const vs: Record<string, number> = {};
    for (const side of sides) {
      if (side.id === "steady") continue;
      // baseline ÷ ours per repetition (≥ 1: we spend no more CPU per frame), then the median.
      vs[side.id] = median(cpuPerFrame[side.id].map((base, i) => base / ours[i]));
    }
    console.log(JSON.stringify({
      runtime: g.Bun ? "bun" : "deno",
      clients,
      bytes,
      reps,
      ms,
      cpuUsPerFrame: Object.fromEntries(Object.entries(cpuPerFrame).map(([id, v]) => [id, median(v)])),
      samples: cpuPerFrame,
      baselineOverOurs: vs,
    }));
  } finally {
    child.kill();
  }
  process.exit(0);
}

/** One saturating window with the runner's flow-control rule; server CPU µs per delivered frame. */
async function window(side: Side, pad: string, clients: number, ms: number): Promise<number> {
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  let broadcasts = 0;
  while (performance.now() - start < ms) {
    if (side.maxBacklog() > 65536) {
      await sleep(1);
      continue;
    }
    for (let i = 0; i < 16; i++) side.sendAll(fanoutFrame(now(), pad));
    broadcasts += 16;
    await yieldNow();
  }
  // Until every client has answered a ping sent after the last frame: each
  // one has received the window's frames then, and the CPU of writing them
  // out (Bun queues small frames past the window) is in this window's figure.
  await pingRound(side, clients);
  const cpu = process.cpuUsage(cpu0);
  return (cpu.user + cpu.system) / (broadcasts * clients);
}

type SteadyEndpoint = ReturnType<typeof steadyEndpoint>["endpoint"];

/** steadysocket's side: the benchmark servers' endpoint (every connection in room "r"). */
function steadySide(endpoint: SteadyEndpoint, port: number): Side {
  return {
    id: "steady",
    port,
    size: () => endpoint.hub.size,
    sendAll: (frame) => void endpoint.hub.broadcast(frame, { room: "r" }),
    maxBacklog: () => worstBacklog(endpoint),
    pongs: () => endpoint.stats().messagesIn,
  };
}

function bunSides(): Side[] {
  // deno-lint-ignore no-explicit-any
  type WS = any;
  const raw = (mode: "loop" | "publish"): Side => {
    const sockets = new Set<WS>();
    let pongs = 0;
    const server = g.Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      fetch: (req: Request, srv: WS) =>
        srv.upgrade(req, { data: {} }) ? undefined : new Response("", { status: 400 }),
      websocket: {
        open(ws: WS) {
          sockets.add(ws);
          if (mode === "publish") ws.subscribe("r");
        },
        message(_ws: WS, data: string) {
          if (data === PONG) pongs++;
        },
        close(ws: WS) {
          sockets.delete(ws);
        },
      },
    });
    return {
      id: mode,
      port: server.port,
      size: () => sockets.size,
      sendAll(frame) {
        if (mode === "publish") server.publish("r", frame);
        else for (const ws of sockets) ws.send(frame);
      },
      maxBacklog: () => maxOf(sockets, (ws) => ws.getBufferedAmount()),
      pongs: () => pongs,
    };
  };
  const { endpoint } = steadyEndpoint();
  const steady = g.Bun.serve({ port: 0, hostname: "127.0.0.1", ...bunHandlers(endpoint) });
  const ours = steadySide(endpoint, steady.port);
  // The hub subscribes a room's sockets to its topic ("#" + the room's name)
  // at the room's first broadcast: one through the hub, then Bun's publish().
  let subscribed = false;
  const direct: Side = {
    ...ours,
    id: "direct",
    sendAll(frame) {
      if (!subscribed) {
        endpoint.hub.broadcast(frame, { room: "r" });
        subscribed = true;
        const count = steady.subscriberCount?.("#r");
        if (count !== undefined && count !== endpoint.hub.size) {
          throw new Error(`expected ${endpoint.hub.size} subscribers of the room's topic, saw ${count}`);
        }
      } else steady.publish("#r", frame);
    },
  };
  return [raw("loop"), raw("publish"), ours, direct];
}

function denoSides(): Side[] {
  const raw = (id: string, options: { idleTimeout?: number }): Side => {
    const sockets = new Set<WebSocket>();
    let pongs = 0;
    const server = g.Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, (req: Request) => {
      const { socket, response } = g.Deno.upgradeWebSocket(req, options);
      socket.onopen = () => sockets.add(socket);
      socket.onmessage = (event: MessageEvent) => {
        if (event.data === PONG) pongs++;
      };
      socket.onclose = () => sockets.delete(socket);
      return response;
    });
    return {
      id,
      port: server.addr.port,
      size: () => sockets.size,
      sendAll(frame) {
        for (const ws of sockets) ws.send(frame);
      },
      maxBacklog: () => maxOf(sockets, (ws) => ws.bufferedAmount),
      pongs: () => pongs,
    };
  };
  const { endpoint } = steadyEndpoint();
  const steady = g.Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, denoHandler(endpoint));
  const ours = steadySide(endpoint, steady.addr.port);
  // A send loop over the standard WebSockets the adapter hands the core.
  const direct: Side = {
    ...ours,
    id: "direct",
    sendAll(frame) {
      for (const conn of openConnections(endpoint)) conn.socket!.send(frame);
    },
  };
  return [raw("raw", {}), raw("raw0", { idleTimeout: 0 }), ours, direct];
}

/** Pings every client and waits for all of their answers. */
async function pingRound(side: Side, clients: number): Promise<void> {
  const before = side.pongs();
  side.sendAll(PING);
  await until(() => side.pongs() - before >= clients, 20_000, `${side.id}'s clients to answer a ping`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function yieldNow(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

async function until(done: () => boolean, ms: number, what: string): Promise<void> {
  const start = performance.now();
  while (!done()) {
    if (performance.now() - start > ms) throw new Error(`expected ${what} within ${ms} ms`);
    await sleep(5);
  }
}
