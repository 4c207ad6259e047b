/**
 * The reconnecting client: partysocket's reconnecting WebSocket, plus the
 * protocol's heartbeat, a watchdog, liveness checks on wake-up, network
 * awareness, the close-code policy, typed JSON messages and a bounded queue.
 *
 * @module
 */

import { WebSocket as ReconnectingWebSocket } from "partysocket";
import { CloseCode, MessageType, PING_FRAME, PONG_FRAME, shouldReconnect } from "../protocol.ts";
import type { Envelope, ErrorPayload } from "../protocol.ts";
import { holdCloseWhileConnecting, isDenoWebSocket } from "./_deno_close.ts";
import { backoffDelay } from "./backoff.ts";
import { watchEnvironment } from "./liveness.ts";
import type { EnvironmentWatch } from "./liveness.ts";
import type {
  ClientEventMap,
  ClientOptions,
  ClientState,
  DroppedMessage,
  MessageHandler,
  OutgoingData,
  SendResult,
} from "./types.ts";

type Timer = ReturnType<typeof setTimeout>;

const DEFAULTS = {
  minDelayMs: 250,
  spreadMs: 4_000,
  maxDelayMs: 10_000,
  growth: 2,
  minUptimeMs: 5_000,
  connectTimeoutMs: 4_000,
  pingIntervalMs: 20_000,
  serverTimeoutMs: 50_000,
  probeTimeoutMs: 4_000,
  lateTimerMs: 5_000,
  queueLimit: 100,
  closeTimeoutMs: 3_000,
  shouldReconnect: (code: number, _reason: string): boolean => shouldReconnect(code),
};

type Settings = typeof DEFAULTS & ClientOptions;

/** Resolves `url` against the page (a path like `/ws` works in a browser) and maps http(s) to ws(s). */
function resolveUrl(url: string | URL): string {
  // deno-lint-ignore no-explicit-any
  const u = new URL(url, (globalThis as any).location?.href);
  u.protocol = u.protocol.replace(/^http/, "ws");
  return u.href;
}

function report(error: unknown): void {
  // A throwing message handler is the application's bug, and it must not
  // stop delivery to the other handlers nor end the process. In a page,
  // report it as the platform reports a throwing event listener (console and
  // `window.onerror`); in Deno and Bun an unhandled report ends the process,
  // so log it instead.
  // deno-lint-ignore no-explicit-any
  const g = globalThis as any;
  if (g.document !== undefined && typeof g.reportError === "function") g.reportError(error);
  else console.error("steadysocket: a message handler threw", error);
}

/**
 * A reconnecting WebSocket client that speaks the steadysocket protocol.
 * Create it with {@linkcode connect}.
 *
 * Events (each a `CustomEvent`, see {@linkcode ClientEventMap}): `state`,
 * `drop`, `error` (the server's error envelope), `rtt`, `raw`.
 *
 * @example
 * ```ts ignore
 * import { connect } from "./mod.ts";
 *
 * const client = connect("ws://localhost:8080/ws");
 * client.addEventListener("state", (e) => console.log(e.detail.status));
 * client.on<{ text: string }>("chat", (payload) => console.log(payload.text));
 * client.send("chat", { text: "hello" }); // "sent" | "queued" | "dropped"
 * await client.close();
 * ```
 */
export class SteadyClient extends EventTarget {
  #url: string;
  #o: Settings;
  #rws: ReconnectingWebSocket;
  #env: EnvironmentWatch;
  /** The newest underlying socket, and every one not yet closed. */
  #ws: WebSocket | undefined;
  #sockets = new Set<WebSocket>();
  #handlers = new Map<string, Set<MessageHandler>>();
  #queue: OutgoingData[] = [];
  #state: ClientState = { status: "connecting", attempt: 0 };
  #rtt: number | undefined;

  #open = false;
  #closed = false;
  #errored = false;
  /** The next connect skips the backoff (first connect, forced reconnect). */
  #immediate = true;
  /** A close we cause ourselves is always followed by a new attempt. */
  #forcing = false;
  /** Set when the policy refused to retry a close. */
  #final: { code: number; reason: string } | undefined;
  #lastClose = { code: CloseCode.Abnormal as number, reason: "" };
  #failures = 0;
  #openedAt = 0;

  /** Ends the wait before the next attempt (backoff or offline pause). */
  #release: (() => void) | undefined;
  #waitAt = 0;

  // One timer per client, armed for the earliest of: end of backoff, next
  // ping, probe deadline, watchdog deadline. A frame only counts itself; the
  // timer re-arms lazily, so receiving costs no timer work.
  #timer: Timer | undefined;
  #due = 0;
  /** Frames received: one increment per message, no clock read. */
  #frames = 0;
  /** When a frame was last known to have arrived: updated from `#frames` when the timer runs. */
  #heard = 0;
  #heardFrames = 0;
  /** `#frames` when the pending liveness check began. */
  #probeFrames = 0;
  #pingAt = 0;
  #pingSentAt = 0;
  #probeAt = 0;
  #reprobed = false;

  #done: Promise<void>;
  #ended = false;
  #settled!: () => void;

  /**
   * Starts connecting at once; prefer {@linkcode connect}.
   *
   * @example
   * ```ts ignore
   * const client = new SteadyClient("ws://localhost:8080/ws", { queueLimit: 10 });
   * ```
   */
  constructor(url: string | URL, options: ClientOptions = {}) {
    super();
    const o = { ...DEFAULTS } as Settings;
    for (const [k, v] of Object.entries(options)) {
      if (v !== undefined) (o as unknown as Record<string, unknown>)[k] = v;
    }
    this.#o = o;
    this.#url = resolveUrl(url);
    this.#done = new Promise((resolve) => this.#settled = resolve);

    const WS = o.WebSocket ?? globalThis.WebSocket;
    // deno-lint-ignore no-this-alias
    const self = this;
    // partysocket calls `new options.WebSocket(url, protocols)`: this factory
    // lets us see every socket it creates, to know when each has really closed.
    // Deno's client leaves a rejection unhandled on a close during the handshake (see _deno_close.ts).
    // A held close ends within both timeouts, so `close()` finds the socket settled when it gives up waiting.
    const guardClose = isDenoWebSocket(WS);
    const graceMs = Math.min(o.connectTimeoutMs, o.closeTimeoutMs);
    const factory = function (url: string, protocols?: string | string[]) {
      const ws = protocols ? new WS(url, protocols) : new WS(url);
      if (guardClose) holdCloseWhileConnecting(ws, graceMs);
      self.#track(ws);
      return ws;
    };
    const aborted = o.signal?.aborted ?? false;
    // partysocket's own delays are set to 0: it awaits the `url` function
    // after its delay, and ours waits the jittered backoff there (partysocket's
    // delays have no randomness). One place then owns the delay: it can be
    // shown as a countdown, cut short by `online` or `reconnect()`, paused
    // while offline, and cancelled by `close()`.
    this.#rws = new ReconnectingWebSocket(this.#nextUrl as () => Promise<string>, o.protocols ?? null, {
      WebSocket: factory,
      minReconnectionDelay: 0,
      maxReconnectionDelay: 0,
      connectionTimeout: o.connectTimeoutMs,
      // Our own queue: partysocket's send() answers `false` for queued and
      // dropped alike, and we must tell the caller which.
      maxEnqueuedMessages: 0,
      startClosed: aborted,
      shouldReconnectOnClose: this.#decide,
    });
    this.#rws.binaryType = o.binaryType ?? "arraybuffer";
    // partysocket copies every message event before dispatching it (a
    // quarter of the raw receive rate). Its per-socket message listener is an
    // instance field that it attaches to each new socket and detaches on
    // disconnect: replacing it puts our handler directly on the real socket.
    const inner = this.#rws as unknown as { _handleMessage?: unknown };
    if (typeof inner._handleMessage === "function") inner._handleMessage = this.#onMessage;
    else this.#rws.addEventListener("message", this.#onMessage);
    this.#rws.addEventListener("open", this.#onOpen);
    this.#rws.addEventListener("close", this.#onClose);
    this.#env = watchEnvironment(o.env, {
      online: () => this.#release ? this.#release() : this.#probe(),
      offline: () => {
        if (this.#release && this.#waitAt) this.#pause();
        this.#probe();
      },
      wake: () => this.#probe(),
    });
    o.signal?.addEventListener("abort", this.#abort);
    if (aborted) this.#finish(CloseCode.Normal, "aborted");
  }

  /**
   * The current connection state.
   *
   * @example
   * ```ts ignore
   * if (client.state.status === "open") client.send("hello");
   * ```
   */
  get state(): ClientState {
    return this.#state;
  }

  /**
   * The last measured round-trip time in ms, or `undefined` before the first pong.
   *
   * @example
   * ```ts ignore
   * console.log(`${client.rtt ?? "?"} ms`);
   * ```
   */
  get rtt(): number | undefined {
    return this.#rtt;
  }

  /**
   * How many messages wait in the queue for the next connection.
   *
   * @example
   * ```ts ignore
   * console.log(`${client.queued} waiting`);
   * ```
   */
  get queued(): number {
    return this.#queue.length;
  }

  /**
   * Calls `handler` for every envelope of this `type` (`"*"`: every type).
   * The server's `error` envelopes reach `on("error")` and the `error` event.
   * Returns a function that removes the handler.
   *
   * @example
   * ```ts ignore
   * const stop = client.on<{ text: string }>("chat", (payload, envelope) => console.log(payload.text));
   * stop();
   * ```
   */
  on<P = unknown>(type: string, handler: MessageHandler<P>): () => void {
    let set = this.#handlers.get(type);
    if (!set) this.#handlers.set(type, set = new Set());
    set.add(handler as MessageHandler);
    return () => this.off(type, handler);
  }

  /**
   * Removes a handler added with {@linkcode SteadyClient.on}.
   *
   * @example
   * ```ts ignore
   * client.off("chat", onChat);
   * ```
   */
  off<P = unknown>(type: string, handler: MessageHandler<P>): void {
    this.#handlers.get(type)?.delete(handler as MessageHandler);
  }

  /**
   * Sends `{"type": type, "payload": payload}`. Returns `"sent"` if it was
   * written to the open socket, `"queued"` if it waits for the next connection,
   * `"dropped"` if the queue is full or the client is closed (a `drop` event
   * says so too).
   *
   * @example
   * ```ts ignore
   * if (client.send("chat", { text: "hi" }) === "dropped") console.warn("not sent");
   * ```
   */
  send(type: string, payload?: unknown): SendResult {
    return this.sendRaw(JSON.stringify(payload === undefined ? { type } : { type, payload }));
  }

  /**
   * Sends a frame as it is (text or binary), with the same queueing as
   * {@linkcode SteadyClient.send}.
   *
   * @example
   * ```ts ignore
   * client.sendRaw(new Uint8Array([1, 2, 3]));
   * ```
   */
  sendRaw(data: OutgoingData): SendResult {
    if (this.#closed) return this.#drop(data, "closed");
    const ws = this.#ws;
    if (this.#open && ws?.readyState === 1) {
      ws.send(data as string);
      return "sent";
    }
    if (this.#queue.length >= this.#o.queueLimit) return this.#drop(data, "queue_full");
    this.#queue.push(data);
    return "queued";
  }

  /**
   * Drops the current connection (or cuts the wait) and connects again at once.
   * Does nothing once closed.
   *
   * @example
   * ```ts ignore
   * client.reconnect();
   * ```
   */
  reconnect(): void {
    if (this.#closed) return;
    if (this.#release) return this.#release();
    this.#immediate = true;
    this.#restart(CloseCode.Normal, "reconnect");
  }

  /**
   * Closes for good: no timer, listener or socket is left behind, and queued
   * messages are reported as dropped. The promise resolves once every
   * underlying socket has finished closing, or after `closeTimeoutMs` if one
   * cannot (its closing handshake is lost in a dead network).
   *
   * @example
   * ```ts ignore
   * await client.close();
   * ```
   */
  close(code: number = CloseCode.Normal, reason = ""): Promise<void> {
    if (!this.#closed) this.#finish(code, reason);
    return this.#done;
  }

  /** Typed listeners for the events of {@linkcode ClientEventMap}. */
  override addEventListener<K extends keyof ClientEventMap>(
    type: K,
    listener: (event: ClientEventMap[K]) => void,
    options?: boolean | AddEventListenerOptions,
  ): void;
  /** Any other listener. */
  override addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | AddEventListenerOptions,
  ): void;
  /**
   * Adds a listener of a client event.
   *
   * @example
   * ```ts ignore
   * client.addEventListener("drop", (e) => console.warn("dropped", e.detail.reason));
   * ```
   */
  override addEventListener(
    type: string,
    // deno-lint-ignore no-explicit-any
    listener: any,
    options?: boolean | AddEventListenerOptions,
  ): void {
    super.addEventListener(type, listener, options);
  }

  /** Removes a typed listener. */
  override removeEventListener<K extends keyof ClientEventMap>(
    type: K,
    listener: (event: ClientEventMap[K]) => void,
    options?: boolean | EventListenerOptions,
  ): void;
  /** Removes any other listener. */
  override removeEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | EventListenerOptions,
  ): void;
  /**
   * Removes a listener of a client event.
   *
   * @example
   * ```ts ignore
   * client.removeEventListener("state", onState);
   * ```
   */
  override removeEventListener(
    type: string,
    // deno-lint-ignore no-explicit-any
    listener: any,
    options?: boolean | EventListenerOptions,
  ): void {
    super.removeEventListener(type, listener, options);
  }

  // --- receiving -----------------------------------------------------------

  #onMessage = (event: MessageEvent): void => {
    this.#frames++;
    const data = event.data;
    if (typeof data === "string") {
      let envelope: Envelope | undefined;
      try {
        envelope = JSON.parse(data);
      } catch { /* not JSON: a raw frame */ }
      const type = envelope?.type;
      if (typeof type === "string") {
        if (type === MessageType.Ping) {
          // Answer on the socket the ping came from, at once.
          (event.target as WebSocket).send(PONG_FRAME);
        } else if (type === MessageType.Pong) {
          if (this.#pingSentAt) {
            this.#rtt = Date.now() - this.#pingSentAt;
            this.#pingSentAt = 0;
            this.#emit("rtt", this.#rtt);
          }
        } else {
          if (type === MessageType.Error) this.#emit("error", envelope!.payload as ErrorPayload);
          this.#deliver(type, envelope!);
        }
        return;
      }
    }
    this.#emit("raw", data);
  };

  #deliver(type: string, envelope: Envelope): void {
    const exact = this.#handlers.get(type);
    const any = this.#handlers.get("*");
    if (exact) { for (const handler of exact) this.#call(handler, envelope); }
    if (any) { for (const handler of any) this.#call(handler, envelope); }
  }

  #call(handler: MessageHandler, envelope: Envelope): void {
    try {
      handler(envelope.payload, envelope);
    } catch (error) {
      report(error);
    }
  }

  // --- connection lifecycle ------------------------------------------------

  #track(ws: WebSocket): void {
    this.#ws = ws;
    this.#errored = false;
    this.#sockets.add(ws);
    // Registered before partysocket's own listeners, so an error is known
    // when partysocket turns it into a synthetic close with code 1000.
    ws.addEventListener("error", () => {
      if (ws === this.#ws) this.#errored = true;
    });
    ws.addEventListener("close", () => {
      this.#sockets.delete(ws);
      this.#settle();
    });
  }

  #nextUrl = (): string | Promise<string> => {
    if (this.#closed) return this.#url;
    if (this.#immediate) {
      this.#immediate = false;
      this.#set({ status: "connecting", attempt: this.#failures });
      return this.#url;
    }
    const attempt = this.#failures;
    const delayMs = backoffDelay(attempt, this.#o);
    return new Promise<string>((resolve) => {
      this.#release = () => {
        this.#release = undefined;
        this.#waitAt = 0;
        if (!this.#closed) this.#set({ status: "connecting", attempt });
        this.#arm();
        resolve(this.#url);
      };
      if (!this.#env.isOnline()) return this.#pause(delayMs);
      this.#waitAt = Date.now() + delayMs;
      this.#waiting(delayMs, false);
      this.#arm();
    });
  };

  /** While offline no attempt is made: the wait ends on `online` (or `reconnect()`). */
  #pause(delayMs = 0): void {
    this.#waitAt = 0;
    this.#waiting(delayMs, true);
    this.#arm();
  }

  #waiting(delayMs: number, offline: boolean): void {
    this.#set({
      status: "reconnecting",
      attempt: this.#failures,
      delayMs,
      nextAttemptAt: this.#waitAt,
      offline,
      ...this.#lastClose,
    });
  }

  // partysocket asks this before it dispatches `close`, with the event itself.
  // The dispatched copy is not to be read: in browsers partysocket re-creates
  // it as `new CloseEvent("close", event)`, which loses the code and reason of
  // the closes it synthesizes (connect timeout, errors, our own restarts).
  #decide = (event: CloseEvent): boolean => {
    const info = this.#describe(event);
    this.#lastClose = info;
    if (this.#forcing) return true;
    if (this.#closed) return false;
    if (this.#o.shouldReconnect(info.code, info.reason)) return true;
    this.#final = info;
    return false;
  };

  /** partysocket reports a failed attempt or a socket error as a close with 1000; we report 1006. */
  #describe(event: CloseEvent): { code: number; reason: string } {
    const failed = !this.#forcing && (!this.#open || this.#errored);
    const code = typeof event.code === "number" ? event.code : CloseCode.Abnormal;
    return {
      code: failed ? CloseCode.Abnormal : code,
      reason: typeof event.reason === "string" ? event.reason : "",
    };
  }

  #onOpen = (): void => {
    if (this.#closed) return;
    const ws = this.#ws!;
    this.#open = true;
    this.#openedAt = this.#heard = Date.now();
    this.#heardFrames = this.#frames;
    // Queued messages go first, in order, before the application hears `open`.
    const queue = this.#queue;
    this.#queue = [];
    for (const data of queue) ws.send(data as string);
    this.#set({ status: "open" });
    if (this.#o.pingIntervalMs > 0) this.#ping();
    this.#arm();
  };

  #onClose = (): void => {
    if (this.#closed) return;
    const wasOpen = this.#open;
    this.#open = false;
    this.#errored = false;
    this.#probeAt = this.#pingAt = this.#pingSentAt = 0;
    if (this.#final) return this.#finish(this.#final.code, this.#final.reason);
    if (wasOpen && Date.now() - this.#openedAt >= this.#o.minUptimeMs) this.#failures = 0;
    if (!this.#immediate) this.#failures++;
    this.#arm();
  };

  /** Closes the current socket ourselves and lets partysocket connect again. */
  #restart(code: number, reason: string): void {
    this.#forcing = true;
    try {
      this.#rws.reconnect(code, reason);
    } finally {
      this.#forcing = false;
    }
    // partysocket reconnects a socket that is already closing (the server's
    // Close frame came, the handshake has not finished) without a close event:
    // it only detaches it. The connection is over all the same; without this,
    // `#open` stays true, the next tick kills again, partysocket (waiting for
    // our backoff) does nothing, and no timer is left to end that wait.
    if (this.#open) this.#onClose();
  }

  #finish(code: number, reason: string): void {
    this.#closed = true;
    this.#open = false;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#waitAt = 0;
    this.#env.stop();
    this.#o.signal?.removeEventListener("abort", this.#abort);
    // A client may only send 1000 or 3000–4999; anything else would throw.
    const sent = code === 1000 || (code >= 3000 && code <= 4999) ? code : 1000;
    this.#rws.close(sent, reason);
    // partysocket sees it is closed when our wait ends, and stops.
    this.#release?.();
    const queue = this.#queue;
    this.#queue = [];
    this.#set({ status: "closed", code, reason });
    for (const data of queue) this.#drop(data, "closed");
    this.#settle();
    if (this.#sockets.size > 0) {
      this.#timer = setTimeout(() => {
        this.#sockets.clear();
        this.#settle();
      }, this.#o.closeTimeoutMs);
    }
  }

  #abort = (): void => {
    this.close(CloseCode.Normal, "aborted");
  };

  #settle(): void {
    if (!this.#closed || this.#sockets.size > 0 || this.#ended) return;
    this.#ended = true;
    clearTimeout(this.#timer);
    // One macrotask more lets partysocket's zero-delay timer, if pending, run out.
    setTimeout(this.#settled, 0);
  }

  // --- heartbeat, watchdog, liveness ----------------------------------------

  #ping(): void {
    const now = Date.now();
    this.#pingAt = this.#o.pingIntervalMs > 0 ? now + this.#o.pingIntervalMs : 0;
    // While a ping is unanswered, the round trip is timed from the first one.
    if (!this.#pingSentAt) this.#pingSentAt = now;
    this.#ws?.send(PING_FRAME);
  }

  /** A liveness check: a ping, and any frame within `probeTimeoutMs` proves the socket alive. */
  #probe(again = false): void {
    // A check already waiting for its answer covers this one too.
    if (!this.#open || (this.#probeAt && this.#frames === this.#probeFrames && !again)) return;
    this.#probeFrames = this.#frames;
    this.#probeAt = Date.now() + this.#o.probeTimeoutMs;
    this.#reprobed = again;
    this.#ping();
    this.#arm();
  }

  #tick = (): void => {
    this.#timer = undefined;
    const now = Date.now();
    // Far later than planned: the page was throttled, frozen or asleep. Silence
    // measured across that gap proves nothing, so check instead of judging.
    const late = now - this.#due >= this.#o.lateTimerMs;
    if (this.#waitAt && now >= this.#waitAt) {
      if (this.#env.isOnline()) this.#release?.();
      else this.#pause();
    }
    if (this.#open) {
      if (this.#frames !== this.#heardFrames) {
        this.#heardFrames = this.#frames;
        this.#heard = now;
      }
      // Any frame since the check began answers it.
      if (this.#probeAt && this.#frames !== this.#probeFrames) this.#probeAt = 0;
      if (this.#probeAt) {
        if (now >= this.#probeAt) {
          // A deadline that itself fired late gets one more chance: the answer
          // may be waiting behind the wake-up.
          if (late && !this.#reprobed) this.#probe(true);
          else return this.#kill("no answer to a liveness check");
        }
      } else if (late) {
        this.#probe();
      } else if (this.#o.serverTimeoutMs > 0 && now - this.#heard >= this.#o.serverTimeoutMs) {
        return this.#kill("server silent");
      }
      if (this.#pingAt && now >= this.#pingAt) this.#ping();
    }
    this.#arm();
  };

  #kill(reason: string): void {
    this.#restart(CloseCode.HeartbeatTimeout, reason);
  }

  #arm(): void {
    if (this.#closed) return;
    let due = this.#waitAt || Infinity;
    if (this.#open) {
      if (this.#probeAt) due = Math.min(due, this.#probeAt);
      if (this.#pingAt) due = Math.min(due, this.#pingAt);
      const timeout = this.#o.serverTimeoutMs;
      // `#heard` lags behind the newest frame until the timer runs: waking at
      // least every quarter timeout keeps a verdict within 1.25 timeouts of it.
      if (timeout > 0) due = Math.min(due, this.#heard + timeout, Date.now() + timeout / 4);
    }
    if (this.#timer !== undefined && due === this.#due) return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (due === Infinity) return;
    this.#due = due;
    this.#timer = setTimeout(this.#tick, Math.max(0, due - Date.now()));
  }

  // --- events ----------------------------------------------------------------

  #set(state: ClientState): void {
    const prev = this.#state;
    if (
      state.status === "connecting" && prev.status === "connecting" && prev.attempt === state.attempt
    ) return;
    this.#state = state;
    this.#emit("state", state);
  }

  #drop(data: OutgoingData, reason: DroppedMessage["reason"]): "dropped" {
    this.#emit("drop", { data, reason });
    return "dropped";
  }

  #emit(type: string, detail: unknown): void {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}

/**
 * Opens a reconnecting client to a steadysocket endpoint. In a browser, `url`
 * may be a path (`"/ws"`), resolved against the page with `ws:`/`wss:`.
 *
 * @example
 * ```ts ignore
 * import { connect } from "./mod.ts";
 *
 * const client = connect("ws://localhost:8080/ws", { maxDelayMs: 30_000 });
 * client.on("welcome", (payload) => console.log(payload));
 * ```
 */
export function connect(url: string | URL, options?: ClientOptions): SteadyClient {
  return new SteadyClient(url, options);
}
