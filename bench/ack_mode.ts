// `deno run -A bench/ack_mode.ts`: shows, on raw Deno alone, why every fan-out
// window of the benchmark starts with a heartbeat round. Raw `Deno.serve`
// with `idleTimeout: 0` (no heartbeat of its own) fans out to 1 000 clients
// that only read; then each client answers one ping, and the same fan-out is
// measured again. The clients' TCP sockets are read from /proc/net/tcp
// before and after: answering right after receiving puts a socket in the
// kernel's interactive ("pingpong") mode, which changes how it acknowledges,
// and the sending server's CPU per delivered frame follows.
//
// Options: --clients=N (1000), --bytes=N (1024), --windows=N (5).
import { cliOptions } from "./_args.ts";
import { Server, Worker } from "./_proc.ts";
import { heartbeatRound } from "./_scenarios.ts";

const opts = cliOptions(
  { values: ["clients", "bytes", "windows"] },
  "deno run -A bench/ack_mode.ts [--clients=N] [--bytes=N] [--windows=N]",
);
const clients = opts.int("clients", 1000);
const bytes = opts.int("bytes", 1024);
const windows = opts.int("windows", 5);

/** How many ESTABLISHED sockets towards `port` are in pingpong mode, of how many. */
async function pingpong(port: number): Promise<{ pingpong: number; of: number }> {
  const text = await Deno.readTextFile("/proc/net/tcp");
  let on = 0;
  let of = 0;
  for (const line of text.split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 15 || f[3] !== "01") continue;
    if (parseInt(f[2].split(":")[1], 16) !== port) continue; // the clients' side of each connection
    of++;
    // Field 15 is (icsk_ack.quick << 1) | pingpong.
    if (Number(f[14]) & 1) on++;
  }
  return { pingpong: on, of };
}

interface Spread {
  median: number;
  min: number;
  max: number;
}

const env = { ...Deno.env.toObject(), IDLE: "0" };
const server = await Server.start(["deno", "run", "-A", "bench/servers/deno_raw.ts"], env);
const worker = new Worker(env);
try {
  const url = `ws://127.0.0.1:${server.port}/ws`;
  const res = await worker.request({ op: "connect", group: "g", kind: "ws", urls: [url], n: clients });
  if (res.failed) throw new Error(`${res.failed} of ${clients} connections failed`);
  const batch = Math.max(1, Math.round(2048 / clients));
  const measure = async (): Promise<Spread> => {
    const list: number[] = [];
    for (let i = 0; i < windows; i++) {
      await worker.request({ op: "reset", group: "g", every: 0 });
      const cpu0 = server.cpu();
      const op = await server.ctl(`/ctl/fanout?ms=1000&bytes=${bytes}&batch=${batch}&limit=65536`) as {
        broadcasts: number;
      };
      list.push(((server.cpu() - cpu0) * 1e6) / (op.broadcasts * clients));
    }
    list.sort((a, b) => a - b);
    return { median: list[list.length >> 1], min: list[0], max: list[list.length - 1] };
  };
  const show = (label: string, r: Spread) =>
    console.log(
      `${label}: ${r.median.toFixed(2)} µs of server CPU per delivered frame ` +
        `(${r.min.toFixed(2)}–${r.max.toFixed(2)} over ${windows} windows)`,
    );
  console.log(`clients in pingpong mode before:`, await pingpong(server.port));
  const before = await measure();
  show("before", before);
  const answered = await heartbeatRound(worker, server, "g", clients);
  console.log(`${answered} of ${clients} clients answered one ping`);
  console.log(`clients in pingpong mode after:`, await pingpong(server.port));
  const after = await measure();
  show("after", after);
  console.log(`after ÷ before: ${(after.median / before.median).toFixed(2)}×`);
} finally {
  await worker.stop();
  await server.stop();
}
