// The load generator: one Bun process (pinned to its own core by the runner)
// holding many client connections, driven by JSON lines on stdin and answering
// JSON lines on stdout. It does as little as possible per message so that the
// server, not this process, is the bottleneck.
//
// kind "ws": our envelopes; answers {"type":"ping"} with a pong.
// kind "eio": Socket.IO over engine.io frames (open, "40" connect, "2"/"3" ping).
import net from "node:net";

const EPOCH = Number(process.env.EPOCH ?? 0);
const now = () => performance.timeOrigin + performance.now() - EPOCH;
const PONG = '{"type":"pong"}';

interface Group {
  kind: "ws" | "eio";
  sockets: WebSocket[];
  received: number;
  first: number;
  last: number;
  /** Record the latency of every n-th message (0: none). */
  every: number;
  tick: number;
  samples: number[];
  closed: number;
  closeCodes: Record<string, number>;
  echo?: (ws: WebSocket, data: string) => void;
}

const groups = new Map<string, Group>();
const raws = new Map<string, net.Socket[]>();

function group(name: string): Group {
  let g = groups.get(name);
  if (!g) {
    g = {
      kind: "ws",
      sockets: [],
      received: 0,
      first: 0,
      last: 0,
      every: 0,
      tick: 0,
      samples: [],
      closed: 0,
      closeCodes: {},
    };
    groups.set(name, g);
  }
  return g;
}

function onWsMessage(g: Group, ws: WebSocket, data: string) {
  // '{"type":"ping"}' has a 'p' at index 9; fan-out frames have 'f', echo 'e'.
  if (data.charCodeAt(9) === 112 && data.startsWith('{"type":"ping"')) {
    ws.send(PONG);
    return;
  }
  if (g.echo) return g.echo(ws, data);
  const t = now();
  if (g.received++ === 0) g.first = t;
  g.last = t;
  if (g.every && ++g.tick >= g.every) {
    g.tick = 0;
    g.samples.push(t - parseFloat(data.substring(16, 34)));
  }
}

function onEioMessage(g: Group, ws: WebSocket, data: string) {
  if (data === "2") {
    ws.send("3");
    return;
  }
  if (g.echo) return g.echo(ws, data);
  if (data.charCodeAt(0) !== 52 || data.charCodeAt(1) !== 50) return; // not "42"
  const t = now();
  if (g.received++ === 0) g.first = t;
  g.last = t;
  // 42["f",123.456,"xxx"]
  if (g.every && ++g.tick >= g.every) {
    g.tick = 0;
    g.samples.push(t - parseFloat(data.substring(7, 25)));
  }
}

function open(g: Group, url: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (ok: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(ok);
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    let ws: WebSocket;
    try {
      ws = new WebSocket(url);
    } catch {
      return finish(false);
    }
    if (g.kind === "ws") {
      ws.onopen = () => {
        g.sockets.push(ws);
        finish(true);
      };
      ws.onmessage = (e) => onWsMessage(g, ws, e.data as string);
    } else {
      ws.onmessage = (e) => {
        const data = e.data as string;
        if (data.charCodeAt(0) === 48) { // "0{...}" engine.io open
          ws.send("40");
          return;
        }
        if (data.startsWith("40")) {
          g.sockets.push(ws);
          ws.onmessage = (e2) => onEioMessage(g, ws, e2.data as string);
          finish(true);
        }
      };
    }
    ws.onerror = () => finish(false);
    ws.onclose = (e) => {
      g.closed++;
      g.closeCodes[e.code] = (g.closeCodes[e.code] ?? 0) + 1;
      finish(false);
    };
  });
}

/** Opens `n` connections over `urls` (round robin), at most `parallel` at once. */
async function connect(
  name: string,
  kind: "ws" | "eio",
  urls: string[],
  n: number,
  parallel: number,
) {
  const g = group(name);
  g.kind = kind;
  const start = now();
  let next = 0;
  let ok = 0;
  let failed = 0;
  const lane = async () => {
    while (next < n) {
      const i = next++;
      if (await open(g, urls[i % urls.length], 10_000)) ok++;
      else failed++;
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, n) }, lane));
  return { ok, failed, ms: now() - start };
}

function reset(name: string, every: number) {
  const g = group(name);
  g.received = 0;
  g.first = 0;
  g.last = 0;
  g.every = every;
  g.tick = 0;
  g.samples = [];
  return { ok: true };
}

function percentiles(samples: number[]) {
  if (samples.length === 0) return { p50: NaN, p99: NaN, n: 0 };
  const s = Float64Array.from(samples).sort();
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))];
  return { p50: at(0.5), p99: at(0.99), n: s.length };
}

function stats(name: string) {
  const g = group(name);
  return {
    received: g.received,
    first: g.first,
    last: g.last,
    open: g.sockets.filter((s) => s.readyState === 1).length,
    closed: g.closed,
    closeCodes: g.closeCodes,
    ...percentiles(g.samples),
  };
}

/** Closed loop: every socket of the group keeps one echo request in flight for `ms`. */
function echo(name: string, ms: number) {
  const g = group(name);
  const eio = g.kind === "eio";
  let count = 0;
  const samples: number[] = [];
  let sampleTick = 0;
  const sentAt = new Map<WebSocket, number>();
  const end = now() + ms;
  return new Promise((resolve) => {
    let stopped = false;
    const send = (ws: WebSocket) => {
      const t = now();
      sentAt.set(ws, t);
      const body = '{"type":"echo","payload":{"t":' + t.toFixed(3) + "}}";
      ws.send(eio ? '42["echo",' + body + "]" : body);
    };
    g.echo = (ws, _data) => {
      const t = now();
      count++;
      if (++sampleTick >= 4 || g.sockets.length === 1) {
        sampleTick = 0;
        samples.push(t - sentAt.get(ws)!);
      }
      if (t < end) send(ws);
      else if (!stopped) {
        stopped = true;
        setTimeout(() => {
          g.echo = undefined;
          resolve({ count, ms, ...percentiles(samples) });
        }, 50);
      }
    };
    const start = now();
    for (const ws of g.sockets) send(ws);
    // A server that stops answering must not hang the run.
    setTimeout(() => {
      if (stopped) return;
      stopped = true;
      g.echo = undefined;
      resolve({
        count,
        ms: now() - start,
        stuck: true,
        ...percentiles(samples),
      });
    }, ms + 5000);
  });
}

function close(name: string, timeoutMs = 5000) {
  const g = groups.get(name);
  const r = raws.get(name);
  if (r) {
    for (const s of r) s.destroy();
    raws.delete(name);
  }
  if (!g) return Promise.resolve({ closed: 0 });
  const target = g.closed + g.sockets.filter((s) => s.readyState < 2).length;
  for (const s of g.sockets) s.close(1000);
  const start = now();
  return new Promise((resolve) => {
    const poll = () => {
      if (g.closed >= target || now() - start > timeoutMs) {
        groups.delete(name);
        resolve({ closed: g.closed, ms: now() - start });
      } else setTimeout(poll, 10);
    };
    poll();
  });
}

/** Opens and closes `total` connections, `parallel` at a time; every one waits for its close. */
async function churn(url: string, total: number, parallel: number) {
  let next = 0;
  let ok = 0;
  let failed = 0;
  const start = now();
  const one = () =>
    new Promise<boolean>((resolve) => {
      const ws = new WebSocket(url);
      let opened = false;
      const timer = setTimeout(() => resolve(false), 10_000);
      ws.onopen = () => {
        opened = true;
        ws.close(1000);
      };
      ws.onerror = () => {};
      ws.onclose = () => {
        clearTimeout(timer);
        resolve(opened);
      };
    });
  const lane = async () => {
    while (next < total) {
      next++;
      if (await one()) ok++;
      else failed++;
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, total) }, lane));
  return { ok, failed, ms: now() - start };
}

/** Peers that complete the upgrade by hand over TCP and then never read again. */
async function stall(
  name: string,
  host: string,
  port: number,
  path: string,
  n: number,
) {
  const list: net.Socket[] = raws.get(name) ?? [];
  raws.set(name, list);
  let ok = 0;
  for (let i = 0; i < n; i++) {
    const done = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, host);
      const timer = setTimeout(() => resolve(false), 5000);
      s.on("error", () => resolve(false));
      s.on("connect", () => {
        s.write(
          `GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
            `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
        );
      });
      let head = "";
      const onData = (chunk: Buffer) => {
        head += chunk.toString("latin1");
        if (head.includes("\r\n\r\n")) {
          s.off("data", onData);
          // From here on nothing is read: the kernel buffers fill, then the server's.
          s.pause();
          clearTimeout(timer);
          resolve(head.startsWith("HTTP/1.1 101"));
        }
      };
      s.on("data", onData);
      list.push(s);
    });
    if (done) ok++;
  }
  return { ok };
}

// deno-lint-ignore no-explicit-any
async function dispatch(cmd: any): Promise<unknown> {
  switch (cmd.op) {
    case "connect":
      return await connect(
        cmd.group,
        cmd.kind ?? "ws",
        cmd.urls,
        cmd.n,
        cmd.parallel ?? 64,
      );
    case "reset":
      return reset(cmd.group, cmd.every ?? 0);
    case "stats":
      return stats(cmd.group);
    case "echo":
      return await echo(cmd.group, cmd.ms);
    case "close":
      return await close(cmd.group);
    case "churn":
      return await churn(cmd.url, cmd.total, cmd.parallel ?? 32);
    case "stall":
      return await stall(cmd.group, cmd.host, cmd.port, cmd.path, cmd.n);
    case "exit":
      setTimeout(() => process.exit(0), 10);
      return { ok: true };
    default:
      throw new Error(`unknown op ${cmd.op}`);
  }
}

// deno-lint-ignore no-explicit-any
for await (const line of (globalThis as any).console as AsyncIterable<string>) {
  if (!line.trim()) continue;
  const cmd = JSON.parse(line);
  dispatch(cmd).then(
    (result) => console.log(JSON.stringify({ id: cmd.id, result })),
    (error) =>
      console.log(
        JSON.stringify({ id: cmd.id, error: String(error?.stack ?? error) }),
      ),
  );
}
