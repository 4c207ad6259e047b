// The application logic every benchmark server shares, in plain JavaScript so
// that the Node servers can load it unchanged. A server supplies how to
// broadcast, how to read the worst send backlog, and its counters; this module
// answers the runner's `/ctl/*` requests with them.

const EPOCH = Number(
  globalThis.process?.env?.EPOCH ?? globalThis.Deno?.env.get("EPOCH") ?? 0,
);

/** Milliseconds since the run's shared epoch, with sub-millisecond precision. */
export function now() {
  return performance.timeOrigin + performance.now() - EPOCH;
}

/** The fan-out frame: a JSON envelope carrying the send time and `bytes` of padding. */
export function fanoutFrame(t, pad) {
  return '{"type":"f","t":' + t.toFixed(3) + ',"p":"' + pad + '"}';
}

const yieldNow = () => new Promise((resolve) => setImmediate(resolve));
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** The heartbeat ping of our protocol; the load generator answers it with a pong at once. */
export const PING = '{"type":"ping"}';
/** The answer to {@link PING}. */
export const PONG = '{"type":"pong"}';

/**
 * The largest `read(item)` over `items` (0 for none): a server's worst send backlog.
 * @template T
 * @param {Iterable<T>} items
 * @param {(item: T) => number} read
 * @returns {number}
 */
export function maxOf(items, read) {
  let max = 0;
  for (const item of items) {
    const value = read(item);
    if (value > max) max = value;
  }
  return max;
}

/**
 * Whether a received text is the answer to a heartbeat round's ping. The servers echo every other envelope;
 * a pong they read and drop, as steadysocket does, so that the round is the same exchange on every server
 * (an echoed pong is one more frame each way, and changes the acknowledgement pattern the round is there
 * to make equal).
 */
export function isPong(text) {
  return text === PONG;
}

/**
 * Builds the `/ctl/*` handler.
 *
 * impl: { sendAll(frame), maxBacklog(): number, stats(): object, gc?(): void }, where `sendAll` writes one text
 * frame to every client; a server whose clients speak another protocol (Socket.IO) gives `broadcast(t, pad)`
 * and `ping()` (a message every client answers at once) instead.
 */
export function createControl(impl) {
  let busy = false;
  const broadcast = impl.broadcast ?? ((t, pad) => impl.sendAll(fanoutFrame(t, pad)));

  async function fanout(q) {
    const ms = Number(q.get("ms") ?? 1000);
    const bytes = Number(q.get("bytes") ?? 20);
    const batch = Number(q.get("batch") ?? 16);
    const limit = Number(q.get("limit") ?? 65536);
    const rate = Number(q.get("rate") ?? 0);
    const pad = "x".repeat(bytes);
    let broadcasts = 0;
    let waits = 0;
    // Paced: how far the latest broadcast fell behind its schedule, in ms. A delivery's latency is counted from
    // its send time, so this is not in it; but an event loop that stalled here stalled the writes queued before.
    let lateMs = 0;
    const start = now();
    const end = start + ms;
    if (rate > 0) {
      // Paced: one broadcast every 1/rate s, for latency without queueing.
      const step = 1000 / rate;
      let next = start;
      while (now() < end) {
        const late = now() - next;
        if (late > lateMs) lateMs = late;
        broadcast(now(), pad);
        broadcasts++;
        next += step;
        const wait = next - now();
        if (wait > 1) await sleep(wait);
        else await yieldNow();
      }
    } else {
      // Saturating, with flow control: a batch, then a turn of the event loop so
      // the runtime can write; no new batch while any reader is behind by more
      // than `limit` bytes (the same rule for every server).
      while (now() < end) {
        if (impl.maxBacklog() > limit) {
          waits++;
          await sleep(1);
          continue;
        }
        for (let i = 0; i < batch; i++) broadcast(now(), pad);
        broadcasts += batch;
        await yieldNow();
      }
    }
    return { broadcasts, waits, start, ms: now() - start, lateMs };
  }

  return async function handle(url) {
    const q = url.searchParams;
    switch (url.pathname) {
      case "/ctl/fanout": {
        if (busy) return { error: "busy" };
        busy = true;
        try {
          return await fanout(q);
        } finally {
          busy = false;
        }
      }
      case "/ctl/ping":
        // One heartbeat round: every client answers, which puts its TCP socket in the
        // kernel's interactive ("pingpong") mode (see bench/README.md), as a heartbeat of
        // any server does; the runner asks every server for one before each fan-out
        // window so that all of them are compared with their peers in the same state.
        if (impl.ping) impl.ping();
        else impl.sendAll(PING);
        return { ok: true };
      case "/ctl/now":
        // This process's clock, for the load generator to tell a step of the wall clock between
        // the two processes' starts from a latency.
        return { now: now() };
      case "/ctl/stats":
        return impl.stats();
      case "/ctl/gc":
        impl.gc?.();
        return { ok: true, heap: heapBytes() };
      default:
        return { error: `unknown control path ${url.pathname}` };
    }
  };
}

/** Calls the engine's collector where it is exposed. */
export function collectGarbage() {
  const g = globalThis;
  if (g.Bun) g.Bun.gc(true);
  else if (typeof g.gc === "function") g.gc();
}

/**
 * The engine's heap: bytes its live objects use and bytes it holds for them (from `Deno.memoryUsage()`,
 * or `process.memoryUsage()` on Bun and Node).
 * @returns {{ used: number, held: number } | undefined}
 */
export function heapBytes() {
  const g = globalThis;
  const m = g.Deno?.memoryUsage?.() ?? g.process?.memoryUsage?.();
  return m ? { used: m.heapUsed, held: m.heapTotal } : undefined;
}

/** A counter of close codes shared by the raw servers. */
export function closeCounter() {
  const counts = { open: 0, opened: 0, closed: 0, closedByCode: {} };
  return {
    counts,
    opened() {
      counts.open++;
      counts.opened++;
    },
    closed(code) {
      counts.open--;
      counts.closed++;
      counts.closedByCode[code] = (counts.closedByCode[code] ?? 0) + 1;
    },
  };
}
