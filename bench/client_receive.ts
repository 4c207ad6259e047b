/**
 * Receive speed of the client against a raw `WebSocket`, in the same run.
 *
 * A bare server (this file with `--server`, in a child process of the same
 * runtime, so it has a core of its own) sends N small JSON envelopes as fast
 * as it can to each connection that asks. Each round receives them with:
 *
 * - `raw`: the runtime's `WebSocket`, `JSON.parse` and a type check per message
 *   (what an application on a bare socket does at least);
 * - `raw-noparse`: the same without parsing (an upper bound);
 * - `steadysocket`: `connect()` and `client.on("tick", ...)`;
 * - `partysocket`: partysocket's own `message` event plus `JSON.parse` (reference).
 *
 * The rate is messages per second between the first and the last message.
 * Rounds alternate the clients; the median of the rounds is reported, and as
 * the ratio to `raw` the median of the per-round ratios (each round's clients
 * run within the same second or two, so a slow phase of the machine hits a
 * round's clients alike rather than one client's median).
 *
 * Usage: `deno run -A bench/client_receive.ts [N] [rounds]`,
 *        `bun bench/client_receive.ts [N] [rounds]`.
 *
 * @module
 */

import { spawn } from "node:child_process";
import process from "node:process";
import { WebSocket as ReconnectingWebSocket } from "partysocket";
import { connect } from "../client/mod.ts";

// deno-lint-ignore no-explicit-any
const g = globalThis as any;
const runtime = g.Deno ? "deno" : "bun";
const args = process.argv.slice(runtime === "deno" ? 2 : 2).filter((a) => !a.startsWith("--"));

if (process.argv.includes("--server")) serve();
else await main();

function frame(i: number): string {
  return JSON.stringify({
    type: "tick",
    payload: { i, at: 1_700_000_000_000 + i },
  });
}

/** The bare server: on `go:N`, sends N frames, honouring backpressure where the runtime tells. */
function serve(): void {
  const onListen = (port: number) => console.log(`PORT ${port}`);
  if (runtime === "deno") {
    const server = g.Deno.serve({
      hostname: "127.0.0.1",
      port: 0,
      onListen: () => {},
    }, (req: Request) => {
      const { socket, response } = g.Deno.upgradeWebSocket(req, {
        idleTimeout: 0,
      });
      socket.onmessage = async (e: MessageEvent) => {
        const n = Number(String(e.data).slice(3));
        for (let i = 0; i < n; i++) {
          socket.send(frame(i));
          // Deno's buffer is unbounded: yield now and then so it drains.
          if (i % 1000 === 999 && socket.bufferedAmount > 4_000_000) {
            while (socket.bufferedAmount > 1_000_000) {
              await new Promise((r) => setTimeout(r, 1));
            }
          }
        }
      };
      return response;
    });
    onListen(server.addr.port);
  } else {
    const pump = (
      ws: { send(s: string): number; data: { i: number; n: number } },
    ) => {
      const d = ws.data;
      while (d.i < d.n) {
        const r = ws.send(frame(d.i));
        if (r === 0) return; // dropped: resent on drain
        d.i++;
        if (r === -1) return; // buffered under backpressure: wait for drain
      }
    };
    const server = g.Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch(req: Request, srv: { upgrade(r: Request, o: unknown): boolean }) {
        return srv.upgrade(req, { data: { i: 0, n: 0 } })
          ? undefined
          : new Response("upgrade", { status: 426 });
      },
      websocket: {
        message(
          ws: { send(s: string): number; data: { i: number; n: number } },
          msg: string,
        ) {
          ws.data.i = 0;
          ws.data.n = Number(String(msg).slice(3));
          pump(ws);
        },
        drain: pump,
      },
    });
    onListen(server.port);
  }
}

type Kind = "raw" | "raw-noparse" | "steadysocket" | "partysocket";

async function main(): Promise<void> {
  const n = Number(args[0] ?? 200_000);
  const rounds = Math.max(3, Number(args[1] ?? 7));
  const self = new URL(import.meta.url).pathname;
  // The server runs on Bun when it is on the PATH (its sends are the fastest,
  // so the client under test stays the bottleneck); else on this runtime.
  const serverRuntime = process.env.BENCH_SERVER ??
    (hasBun() ? "bun" : runtime);
  const child = serverRuntime === "bun"
    ? spawn(runtime === "bun" ? process.execPath : "bun", [self, "--server"], {
      stdio: ["ignore", "pipe", "inherit"],
    })
    : spawn(runtime === "deno" ? process.execPath : "deno", [
      "run",
      "-A",
      self,
      "--server",
    ], {
      stdio: ["ignore", "pipe", "inherit"],
    });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      let out = "";
      child.stdout!.on("data", (chunk: Uint8Array) => {
        out += new TextDecoder().decode(chunk);
        const m = out.match(/PORT (\d+)/);
        if (m) resolve(Number(m[1]));
      });
      child.on(
        "exit",
        (code) =>
          reject(
            new Error(
              `expected the server to print its port, it exited with ${code}`,
            ),
          ),
      );
    });
    const url = `ws://127.0.0.1:${port}/`;
    const kinds: Kind[] = ["raw", "steadysocket", "raw-noparse", "partysocket"];
    const rates: Record<Kind, number[]> = {
      raw: [],
      "raw-noparse": [],
      steadysocket: [],
      partysocket: [],
    };
    await receive("raw", url, 20_000); // warm-up
    await receive("steadysocket", url, 20_000);
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 === 0 ? kinds : [...kinds].reverse();
      for (const kind of order) rates[kind].push(await receive(kind, url, n));
    }
    const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    console.log(
      `client receive on ${runtime} ${runtime === "deno" ? g.Deno.version.deno : g.Bun.version} ` +
        `(server on ${serverRuntime}), ${n} messages x ${rounds} rounds, median msg/s (ratio to raw):`,
    );
    for (const kind of kinds) {
      const m = med(rates[kind]);
      const ratio = kind === "raw" ? 1 : med(rates[kind].map((rate, i) => rate / rates.raw[i]));
      console.log(
        `  ${kind.padEnd(13)} ${Math.round(m).toLocaleString("en").padStart(11)}  ${ratio.toFixed(2)}x` +
          `   rounds: ${rates[kind].map((x) => Math.round(x / 1000) + "k").join(" ")}`,
      );
    }
  } finally {
    child.kill();
  }
}

function hasBun(): boolean {
  if (runtime === "bun") return true;
  const path = process.env.PATH ?? "";
  return path.split(":").some((dir) => {
    try {
      return g.Deno.statSync(`${dir}/bun`).isFile;
    } catch {
      return false;
    }
  });
}

/** Receives n messages with one client kind; returns messages per second. */
function receive(kind: Kind, url: string, n: number): Promise<number> {
  return new Promise((resolve, reject) => {
    let count = 0;
    let first = 0;
    const timer = setTimeout(
      () => reject(new Error(`expected ${n} messages within 60 s, got ${count}`)),
      60_000,
    );
    const tick = (): void => {
      if (count === 0) first = performance.now();
      if (++count === n) {
        const rate = (n - 1) / ((performance.now() - first) / 1000);
        clearTimeout(timer);
        done().then(() => resolve(rate));
      }
    };
    let done: () => Promise<void>;
    if (kind === "steadysocket") {
      const client = connect(url, { pingIntervalMs: 0, serverTimeoutMs: 0 });
      client.on("tick", tick);
      client.addEventListener("state", (e) => {
        if (e.detail.status === "open") client.sendRaw(`go:${n}`);
      });
      done = () => client.close();
    } else if (kind === "partysocket") {
      const ws = new ReconnectingWebSocket(url, undefined, { maxRetries: 0 });
      ws.addEventListener("message", (e: MessageEvent) => {
        if (JSON.parse(e.data).type === "tick") tick();
      });
      ws.addEventListener("open", () => ws.send(`go:${n}`));
      done = () => Promise.resolve(ws.close());
    } else {
      const ws = new WebSocket(url);
      if (kind === "raw") {
        ws.onmessage = (e) => {
          if (JSON.parse(e.data).type === "tick") tick();
        };
      } else ws.onmessage = tick;
      ws.onopen = () => ws.send(`go:${n}`);
      done = () =>
        new Promise<void>((r) => {
          ws.onclose = () => r();
          ws.close();
        });
    }
  });
}
