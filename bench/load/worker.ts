// The load generator: one Bun process (pinned to its own core by the runner)
// holding many client connections, driven by JSON lines on stdin and answering
// JSON lines on stdout. It does as little as possible per message so that the
// server, not this process, is the bottleneck.
//
// kind "ws": our envelopes; answers {"type":"ping"} with a pong.
// kind "eio": Socket.IO over engine.io frames (open, "40" connect, "2"/"3" ping).
import net from "node:net";
import { histogramOf } from "../_tail_histogram.ts";

const EPOCH = Number(process.env.EPOCH ?? 0);
const now = () => performance.timeOrigin + performance.now() - EPOCH;
const PONG = '{"type":"pong"}';
/** The Socket.IO server's heartbeat round (`io.emit("hb")`), answered with the same event. */
const HEARTBEAT_EVENT = '42["hb"]';

interface Group {
  kind: "ws" | "eio";
  sockets: WebSocket[];
  /** Frame-level connections (`connect` with `lean`), counted like `sockets`. */
  leans: Lean[];
  received: number;
  /** Reads (a lean connection's chunks, a WebSocket's messages) that brought data frames. */
  reads: number;
  /** Time the lean connections' reads spent in this client's own frame scanning, when `timeScans`. */
  scanMs: number;
  timeScans: boolean;
  first: number;
  last: number;
  /** Record the latency of every n-th message (0: none). */
  every: number;
  tick: number;
  samples: number[];
  /**
   * The server's clock minus this process's, in ms, added to every latency sample: 0 unless the wall
   * clock stepped between the two processes' starts (see `clockOffset`).
   */
  clockOffset: number;
  /**
   * With `reset`'s `spans`: per broadcast (its send time), when this process read its first and its last
   * frame, and how many. Off in the benchmark's own windows (bench/client_span.ts asks for it).
   */
  spans: Map<number, { first: number; last: number; n: number }> | undefined;
  closed: number;
  closeCodes: Record<string, number>;
  /** Pings answered (our envelope's or engine.io's). */
  pongs: number;
}

const groups = new Map<string, Group>();
const raws = new Map<string, net.Socket[]>();

function group(name: string): Group {
  let g = groups.get(name);
  if (!g) {
    g = {
      kind: "ws",
      sockets: [],
      leans: [],
      received: 0,
      reads: 0,
      scanMs: 0,
      timeScans: false,
      first: 0,
      last: 0,
      every: 0,
      tick: 0,
      samples: [],
      clockOffset: 0,
      spans: undefined,
      closed: 0,
      closeCodes: {},
      pongs: 0,
    };
    groups.set(name, g);
  }
  return g;
}

function onWsMessage(g: Group, ws: WebSocket, data: string) {
  // '{"type":"ping"}' has a 'p' at index 9; fan-out frames have 'f', echo 'e'.
  if (data.charCodeAt(9) === 112 && data.startsWith('{"type":"ping"')) {
    ws.send(PONG);
    g.pongs++;
    return;
  }
  const t = now();
  arrived(g, 1, t);
  if (g.every && ++g.tick >= g.every) {
    g.tick = 0;
    g.samples.push(t - parseFloat(data.substring(16, 34)) + g.clockOffset);
  }
}

function onEioMessage(g: Group, ws: WebSocket, data: string) {
  if (data === "2") {
    ws.send("3");
    g.pongs++;
    return;
  }
  if (data === HEARTBEAT_EVENT) {
    ws.send(HEARTBEAT_EVENT);
    g.pongs++;
    return;
  }
  if (data.charCodeAt(0) !== 52 || data.charCodeAt(1) !== 50) return; // not "42"
  const t = now();
  arrived(g, 1, t);
  // 42["f",123.456,"xxx"]
  if (g.every && ++g.tick >= g.every) {
    g.tick = 0;
    g.samples.push(t - parseFloat(data.substring(7, 25)) + g.clockOffset);
  }
}

/** Counts `n` data frames of the group that arrived at `t`. */
function arrived(g: Group, n: number, t: number) {
  if (g.received === 0) g.first = t;
  g.received += n;
  g.reads++;
  g.last = t;
}

/** Counts a connection of the group that closed, by its close code. */
function countClose(g: Group, code: number) {
  g.closed++;
  g.closeCodes[code] = (g.closeCodes[code] ?? 0) + 1;
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
      countClose(g, e.code);
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
  lean: boolean,
) {
  const g = group(name);
  g.kind = kind;
  g.clockOffset = await clockOffset(urls[0]);
  if (lean) return { ...await leanGroupConnect(g, urls, n), clockOffsetMs: g.clockOffset };
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
  return { ok, failed, ms: now() - start, clockOffsetMs: g.clockOffset };
}

/**
 * How far the server's clock (`/ctl/now`, the same `now()` as ours) is ahead of this process's, in ms.
 * Both read the wall clock once, at their start, and a monotonic one from there: a step of the wall
 * clock between the two starts would otherwise enter every latency sample whole (steps adding up to
 * 2.9 s were seen within one run). Estimated from the quickest of 20 requests: against servers
 * started with their clocks set 2 s ahead, 3 s behind and 0.5 ms ahead, it was 1.7–5.2 µs off. An
 * offset under 50 µs is taken as none, so that the estimate's own error never moves the latencies of
 * servers whose clocks agree.
 */
async function clockOffset(wsUrl: string): Promise<number> {
  const u = new URL(wsUrl);
  const url = `http://${u.host}/ctl/now`;
  let best = Infinity;
  let offset = 0;
  for (let i = 0; i < 20; i++) {
    const t0 = now();
    let server: number;
    try {
      server = (await (await fetch(url)).json()).now;
    } catch {
      return 0; // a server without the route: as before, no correction
    }
    const t1 = now();
    if (typeof server === "number" && t1 - t0 < best) {
      best = t1 - t0;
      offset = server - (t0 + t1) / 2;
    }
  }
  return Math.abs(offset) < 0.05 ? 0 : offset;
}

function reset(name: string, every: number, spans = false, timeScans = false) {
  const g = group(name);
  g.spans = spans ? new Map() : undefined;
  g.received = 0;
  g.reads = 0;
  g.scanMs = 0;
  g.timeScans = timeScans;
  g.first = 0;
  g.last = 0;
  g.every = every;
  g.tick = 0;
  g.samples = [];
  return { ok: true };
}

/** The `q` quantile of sorted values (the value at rank ⌊q·n⌋), or NaN for none. */
function quantile(sorted: Float64Array, q: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] : NaN;
}

/** Counts the frames of one read into the spans of the broadcasts they belong to. */
function spanned(spans: NonNullable<Group["spans"]>, sent: number[], t: number) {
  for (const key of sent) {
    const s = spans.get(key);
    if (s === undefined) spans.set(key, { first: t, last: t, n: 1 });
    else {
      s.last = t;
      s.n++;
    }
  }
}

/**
 * Over the broadcasts every client read: the latency of the first frame read, and the time from the first
 * frame read to the last (how long this one process took to read the broadcast on all its connections).
 */
function spanStats(g: Group) {
  if (!g.spans) return {};
  const complete = [...g.spans.entries()].filter(([, s]) => s.n === g.leans.length);
  const firsts = Float64Array.from(complete, ([sent, s]) => s.first - sent + g.clockOffset).sort();
  const spans = Float64Array.from(complete, ([, s]) => s.last - s.first).sort();
  return {
    spans: {
      broadcasts: complete.length,
      of: g.spans.size,
      firstP50: quantile(firsts, 0.5),
      spanP50: quantile(spans, 0.5),
      spanP99: quantile(spans, 0.99),
    },
  };
}

/** A window's percentiles, and with `withHistogram` its samples as a histogram the runner pools across windows. */
function percentiles(samples: number[], withHistogram = false) {
  if (samples.length === 0) return { p50: NaN, p99: NaN, n: 0 };
  const s = Float64Array.from(samples).sort();
  return {
    p50: quantile(s, 0.5),
    p99: quantile(s, 0.99),
    n: s.length,
    ...(withHistogram ? { histogram: histogramOf(s) } : {}),
  };
}

function stats(name: string, withHistogram = false) {
  const g = group(name);
  return {
    received: g.received,
    reads: g.reads,
    scanMs: g.scanMs,
    first: g.first,
    last: g.last,
    open: g.sockets.filter((s) => s.readyState === 1).length +
      g.leans.filter((c) => !c.sock.closed).length,
    closed: g.closed,
    closeCodes: g.closeCodes,
    pongs: g.pongs,
    ...percentiles(g.samples, withHistogram),
    ...spanStats(g),
  };
}

function close(name: string, timeoutMs = 5000) {
  const g = groups.get(name);
  const r = raws.get(name);
  if (r) {
    for (const s of r) s.destroy();
    raws.delete(name);
  }
  if (!g) return Promise.resolve({ closed: 0 });
  const target = g.closed + g.sockets.filter((s) => s.readyState < 2).length +
    g.leans.filter((c) => !c.sock.closed).length;
  for (const s of g.sockets) s.close(1000);
  // A lean connection says goodbye with a Close frame (1000) and half-closes.
  for (const c of g.leans) c.sock.end(clientClose(1000));
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

/**
 * Opens and closes `total` connections, `parallel` at a time; every one waits
 * for its close. `lean`: frame-level connections, which upgrade, send a Close
 * frame (1000) and wait for the server to close the TCP connection; else
 * WebSocket objects.
 */
async function churn(url: string, total: number, parallel: number, kind: "ws" | "eio", lean: boolean) {
  let next = 0;
  let ok = 0;
  let failed = 0;
  const start = now();
  const one = lean ? () => leanChurnOne(url, kind) : () =>
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

// ---- Lean frame-level client over TCP: no WebSocket object, no event and no
// string per message. Frames are scanned in the chunk they arrived in and
// decoded only when something must be read from them (a ping, a latency
// sample); what the client writes is pre-encoded (masked with a zero key,
// which leaves the payload as is). With a WebSocket object each message costs
// the client about ten times what Bun's publish() costs the server, so
// without this a publish()-based server is measured by its client.

/** The few calls of a lean connection's TCP socket. */
interface Tcp {
  write(bytes: Uint8Array): void;
  /** Writes `bytes` (if any), then half-closes. */
  end(bytes?: Uint8Array): void;
  destroy(): void;
  readonly closed: boolean;
}

/** The part of Bun's TCP socket (`Bun.connect`) used here, declared so Deno type-checks this file. */
interface BunTcpSocket {
  write(bytes: Uint8Array): number;
  end(): void;
  terminate(): void;
  setNoDelay?(on: boolean): void;
}
declare const Bun: {
  connect(options: {
    hostname: string;
    port: number;
    socket: {
      open(s: BunTcpSocket): void;
      data(s: BunTcpSocket, chunk: Buffer): void;
      drain(s: BunTcpSocket): void;
      close(s: BunTcpSocket): void;
      error(s: BunTcpSocket, e: Error): void;
      connectError(s: BunTcpSocket, e: Error): void;
    };
  }): Promise<BunTcpSocket>;
  /** A collection now; `true`: a full, synchronous one. */
  gc(force: boolean): void;
};

/**
 * A TCP connection over Bun's own sockets: one callback per read with no
 * stream or event emitter in between, which at 1 000 connections halves
 * what `node:net` costs the client per read.
 */
function tcp(
  host: string,
  port: number,
  on: { open(): void; data(chunk: Buffer): void; close(): void },
): Tcp {
  let sock: BunTcpSocket | undefined;
  let queued: Uint8Array | undefined;
  let ending = false;
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    on.close();
  };
  // What the kernel did not take is written on "drain", in order.
  const flush = () => {
    if (!sock || !queued) return;
    const n = sock.write(queued);
    queued = n < queued.length ? queued.subarray(n) : undefined;
    if (!queued && ending) sock.end();
  };
  Bun.connect({
    hostname: host,
    port,
    socket: {
      open(s) {
        sock = s;
        s.setNoDelay?.(true);
        on.open();
      },
      data: (_s, chunk) => on.data(chunk),
      drain: flush,
      close,
      error: close,
      connectError: close,
    },
  }).catch(close);
  return {
    write(bytes) {
      if (closed || ending || !sock) return;
      if (queued) queued = Buffer.concat([queued, bytes]);
      else {
        queued = bytes;
        flush();
      }
    },
    end(bytes) {
      if (closed || ending) return;
      if (bytes) this.write(bytes);
      ending = true;
      if (!queued) sock?.end();
    },
    destroy() {
      if (closed) return;
      sock?.terminate();
      close();
    },
    get closed() {
      return closed;
    },
  };
}

interface Lean {
  sock: Tcp;
  /** Called when the connection ends, however it ends. */
  closed: () => void;
  rest: Buffer | undefined;
  /** Called for every complete data frame, with the payload at `buf[start, end)`. */
  frame: (buf: Buffer, start: number, end: number) => void;
  /** Called after the frames of one chunk. */
  chunk: () => void;
  /** engine.io: a "2" (its heartbeat ping) is answered with "3" and not counted as a frame. */
  eio: boolean;
  /** The code of the server's Close frame, once one came. */
  closeCode?: number;
  /** The group this connection counts into (`countInto`), whose `timeScans` times its reads. */
  group?: Group;
}

/** engine.io's pong, answering its server's "2". */
let eioPong: Buffer | undefined;

function clientFrame(text: string, opcode = 1): Buffer {
  const body = Buffer.from(text);
  if (body.length >= 126) throw new Error("lean frames are short");
  return Buffer.concat([
    Buffer.from([0x80 | opcode, 0x80 | body.length, 0, 0, 0, 0]),
    body,
  ]);
}

/** A masked Close frame with `code`. */
function clientClose(code: number): Buffer {
  return Buffer.from([0x88, 0x82, 0, 0, 0, 0, code >> 8, code & 0xff]);
}

/** The size of the frame at `buf[i]`, header included, or -1 while its header is incomplete. */
function frameSize(buf: Buffer, i: number): number {
  if (i + 2 > buf.length) return -1;
  const len = buf[i + 1] & 0x7f;
  if (len < 126) return 2 + len;
  if (len === 126) return i + 4 > buf.length ? -1 : 4 + buf.readUInt16BE(i + 2);
  return i + 10 > buf.length ? -1 : 10 + Number(buf.readBigUInt64BE(i + 2));
}

/** Handles the complete frames in `buf`; returns where the first incomplete one starts. */
function scanBuffer(c: Lean, buf: Buffer): number {
  let i = 0;
  for (let size = frameSize(buf, 0); size >= 0 && i + size <= buf.length; size = frameSize(buf, i)) {
    const len = buf[i + 1] & 0x7f;
    const opcode = buf[i] & 0x0f;
    const start = i + (len < 126 ? 2 : len === 126 ? 4 : 10);
    i += size;
    if (opcode === 8) {
      // The server closes: answer with its code, as a WebSocket would, and half-close.
      c.closeCode = i - start >= 2 ? buf.readUInt16BE(start) : 1005;
      c.sock.end(clientClose(c.closeCode));
    } else if (opcode === 9) {
      // A protocol ping (the runtimes' idle timeout) is answered as a browser would.
      c.sock.write(clientFrame(buf.toString("latin1", start, i), 10));
    } else if (c.eio && opcode === 1 && i - start === 1 && buf[start] === 0x32) {
      // Socket.IO pings every 25 s and drops a client that does not answer within 20 s.
      c.sock.write(eioPong ??= clientFrame("3"));
    } else if (opcode === 1 || opcode === 2) {
      c.frame(buf, start, i);
    }
  }
  return i;
}

/**
 * Handles the frames of one read. A frame cut by the previous read is
 * completed with just the bytes it lacks, and the rest of the read is
 * scanned in place: joining every read to the previous one's tail would copy
 * each byte twice, which at 1 KiB frames cost the client as much as the read.
 */
function scanFrames(c: Lean, chunk: Buffer) {
  let buf = chunk;
  const rest = c.rest;
  if (rest !== undefined) {
    const size = frameSize(rest.length >= 10 ? rest : Buffer.concat([rest, chunk.subarray(0, 10)]), 0);
    if (size < 0 || size > rest.length + chunk.length) {
      c.rest = Buffer.concat([rest, chunk]);
      return;
    }
    const lacking = size - rest.length;
    scanBuffer(c, Buffer.concat([rest, chunk.subarray(0, lacking)]));
    buf = chunk.subarray(lacking);
  }
  const end = scanBuffer(c, buf);
  // A copy: the tail must not depend on the runtime leaving the read's buffer alone.
  c.rest = end < buf.length ? Buffer.from(buf.subarray(end)) : undefined;
  c.chunk();
}

function leanOpen(url: string, kind: "ws" | "eio"): Promise<Lean | undefined> {
  const u = new URL(url);
  return new Promise((resolve) => {
    let head: Buffer | undefined = Buffer.alloc(0);
    const sock = tcp(u.hostname, Number(u.port), {
      open() {
        sock.write(Buffer.from(
          `GET ${u.pathname}${u.search} HTTP/1.1\r\nHost: ${u.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
            `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
        ));
      },
      data(chunk) {
        if (!head) {
          if (c.group?.timeScans) {
            const t0 = performance.now();
            scanFrames(c, chunk);
            c.group.scanMs += performance.now() - t0;
          } else scanFrames(c, chunk);
          return;
        }
        head = Buffer.concat([head, chunk]);
        const end = head.indexOf("\r\n\r\n");
        if (end < 0) return;
        if (!head.subarray(0, 12).toString().startsWith("HTTP/1.1 101")) {
          return finish(undefined);
        }
        const rest = head.subarray(end + 4);
        head = undefined;
        if (kind === "ws") {
          finish(c);
        } else {
          // engine.io: "0{...}" open, we answer "40", the server confirms "40{...}".
          c.frame = (buf, start, end) => {
            if (buf[start] !== 0x30 && buf[start] !== 0x34) return;
            const text = buf.toString("utf8", start, end);
            if (text.startsWith("0")) sock.write(clientFrame("40"));
            else if (text.startsWith("40")) {
              c.frame = () => {};
              finish(c);
            }
          };
        }
        if (rest.length) scanFrames(c, rest);
      },
      close() {
        finish(undefined);
        c.closed();
      },
    });
    const c: Lean = {
      sock,
      closed: () => {},
      rest: undefined,
      frame: () => {},
      chunk: () => {},
      eio: kind === "eio",
    };
    const timer = setTimeout(() => finish(undefined), 10_000);
    let done = false;
    const finish = (v: Lean | undefined) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (!v) sock.destroy();
      resolve(v);
    };
  });
}

/** Our pong and the Socket.IO server's heartbeat event, pre-encoded. */
let leanPong: Buffer | undefined;
let leanHeartbeat: Buffer | undefined;

/**
 * Answers a heartbeat of the server's own protocol on a lean connection (our
 * `ping` envelope, the Socket.IO server's heartbeat event); `false` for any
 * other frame.
 */
function answeredPing(g: Group, c: Lean, buf: Buffer, start: number, end: number): boolean {
  if (g.kind === "eio") {
    if (end - start !== 8 || buf.toString("latin1", start, end) !== HEARTBEAT_EVENT) return false;
    c.sock.write(leanHeartbeat ??= clientFrame(HEARTBEAT_EVENT));
  } else {
    // '{"type":"ping"': fan-out frames have an 'f' at index 9, echo answers an 'e'.
    if (buf[start + 9] !== 0x70 || buf[start + 10] !== 0x69) return false;
    c.sock.write(leanPong ??= clientFrame(PONG));
  }
  g.pongs++;
  return true;
}

/**
 * Makes a lean connection count into its group as `onWsMessage` and
 * `onEioMessage` do for a WebSocket: pings answered, data frames counted, the
 * time taken once per chunk (its frames arrived together), and every n-th
 * frame's send time read for a latency sample.
 */
function countInto(g: Group, c: Lean) {
  const eio = g.kind === "eio";
  // The send time's offset: {"type":"f","t":<t>,... or 42["f",<t>,...
  const at = eio ? 7 : 16;
  let frames = 0;
  let sampled: number[] = [];
  c.group = g;
  c.frame = (buf, start, end) => {
    if (answeredPing(g, c, buf, start, end)) return;
    if (eio && (buf[start] !== 0x34 || buf[start + 1] !== 0x32)) return; // not "42"
    frames++;
    if (g.every && ++g.tick >= g.every) {
      g.tick = 0;
      sampled.push(parseFloat(buf.toString("latin1", start + at, start + at + 18)));
    }
  };
  c.chunk = () => {
    if (frames === 0) return;
    const t = now();
    arrived(g, frames, t);
    frames = 0;
    if (sampled.length) {
      for (const sent of sampled) g.samples.push(t - sent + g.clockOffset);
      if (g.spans) spanned(g.spans, sampled, t);
      sampled = [];
    }
  };
  c.closed = () => countClose(g, c.closeCode ?? 1006);
}

/** One lean connection opened, closed with 1000, and waited for until the server has closed it. */
async function leanChurnOne(url: string, kind: "ws" | "eio"): Promise<boolean> {
  const c = await leanOpen(url, kind);
  if (!c) return false;
  return await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => {
      c.sock.destroy();
      resolve(false);
    }, 10_000);
    c.closed = () => {
      clearTimeout(timer);
      resolve(true);
    };
    c.sock.end(clientClose(1000));
  });
}

/** Opens `n` lean connections over `urls` (round robin), 32 at a time. */
async function leanOpenMany(urls: string[], n: number, kind: "ws" | "eio") {
  const list: Lean[] = [];
  for (let i = 0; i < n; i += 32) {
    const batch = await Promise.all(
      Array.from(
        { length: Math.min(32, n - i) },
        (_, j) => leanOpen(urls[(i + j) % urls.length], kind),
      ),
    );
    for (const c of batch) if (c) list.push(c);
  }
  return list;
}

/** Adds `n` lean connections to group `g`, counted like its WebSocket ones. */
async function leanGroupConnect(g: Group, urls: string[], n: number) {
  const start = now();
  const list = await leanOpenMany(urls, n, g.kind);
  for (const c of list) {
    countInto(g, c);
    g.leans.push(c);
  }
  return { ok: list.length, failed: n - list.length, ms: now() - start };
}

/**
 * Closed loop over the group's lean connections: each keeps `window` echo
 * requests in flight for `ms`. Heartbeats are answered, not counted.
 */
function echo(name: string, ms: number, window: number) {
  const g = group(name);
  const list = g.leans;
  const body = '{"type":"echo","payload":{"t":1}}';
  const one = clientFrame(g.kind === "eio" ? `42["echo",${body}]` : body);
  const frame = Buffer.concat(Array.from({ length: window }, () => one));
  const samples: number[] = [];
  let count = 0;
  let active = list.length;
  const start = now();
  const end = start + ms;
  return new Promise((resolve) => {
    const finish = () => resolve({ count, ms: now() - start, ...percentiles(samples, true) });
    const timer = setTimeout(finish, ms + 5000);
    for (const c of list) {
      let outstanding = window;
      let sentAt = now();
      let n = 0;
      c.frame = (buf, start, end) => {
        if (!answeredPing(g, c, buf, start, end)) n++;
      };
      c.chunk = () => {
        if (n === 0) return;
        outstanding -= n;
        count += n;
        n = 0;
        if (outstanding > 0) return;
        const t = now();
        samples.push(t - sentAt);
        if (t < end) {
          outstanding = window;
          sentAt = t;
          c.sock.write(frame);
        } else if (--active === 0) {
          clearTimeout(timer);
          finish();
        }
      };
      c.sock.write(frame);
    }
  });
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
        cmd.lean ?? false,
      );
    case "reset":
      return reset(cmd.group, cmd.every ?? 0, cmd.spans ?? false, cmd.timeScans ?? false);
    case "stats":
      return stats(cmd.group, cmd.histogram ?? false);
    case "echo":
      return await echo(cmd.group, cmd.ms, cmd.window ?? 1);
    case "close":
      return await close(cmd.group);
    case "churn":
      return await churn(cmd.url, cmd.total, cmd.parallel ?? 32, cmd.kind ?? "ws", cmd.lean ?? false);
    case "stall":
      return await stall(cmd.group, cmd.host, cmd.port, cmd.path, cmd.n);
    case "gc":
      // A full collection of the load generator's heap, so that garbage from the windows before (a
      // saturating window receives millions of frames) is not collected inside a paced window.
      Bun.gc(true);
      return { ok: true };
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
