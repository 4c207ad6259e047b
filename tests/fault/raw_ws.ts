/**
 * A frame-level WebSocket client for crafting what a well-behaved client never
 * sends: odd upgrade headers, unmasked or unfinished frames, invalid UTF-8,
 * oversized payloads. It speaks raw TCP through `node:net` on both runtimes.
 *
 * @example
 * ```ts
 * const ws = await rawConnect({ port, path: "/ws" });
 * if (ws.status === 101) {
 *   ws.sendFrame({ opcode: Opcode.Text, payload: new Uint8Array([0xc3, 0x28]) });
 *   const closed = await ws.closed(5_000);
 *   console.log(closed.code); // 1007
 * }
 * ws.destroy();
 * ```
 *
 * @module
 */

import net from "node:net";

/** WebSocket opcodes (RFC 6455 §5.2). */
export const Opcode = {
  Continuation: 0x0,
  Text: 0x1,
  Binary: 0x2,
  Close: 0x8,
  Ping: 0x9,
  Pong: 0xa,
} as const;

/** A frame to send. */
export interface OutFrame {
  opcode: number;
  payload?: Uint8Array | string;
  /** Default true. */
  fin?: boolean;
  /** Client frames must be masked; default true. */
  mask?: boolean;
  /** RSV1–3 bits, 0–7. Default 0. */
  rsv?: number;
}

/** A frame received from the server. */
export interface InFrame {
  opcode: number;
  fin: boolean;
  payload: Uint8Array;
}

/** How the connection ended, as seen by the raw client. */
export interface RawClose {
  /** The code of the server's Close frame; 1005 if it had none; 1006 if there was no Close frame at all. */
  code: number;
  reason: string;
  /** Whether a Close frame arrived before the TCP connection ended. */
  closeFrame: boolean;
}

/** Options of {@linkcode rawConnect}. */
export interface RawConnectOptions {
  port: number;
  host?: string;
  path?: string;
  /**
   * Request headers, in order, exactly as written (case kept). When omitted,
   * a valid set is used; pass `false` as a value to leave a default header out.
   */
  headers?: Array<[string, string]>;
  /** Replaces the default headers instead of adding to them. */
  replaceHeaders?: boolean;
  /** Send this exact request instead (headers and all). */
  rawRequest?: string;
  /** Source address, e.g. `127.0.0.9`. */
  localAddress?: string;
  /** Deadline for the HTTP answer. Default 5 000 ms. */
  timeoutMs?: number;
}

/** A raw connection after the HTTP answer. */
export interface RawSocket {
  /** HTTP status of the answer (101 on a successful upgrade); 0 if the server closed without answering. */
  status: number;
  /** Answer headers, names lower-cased. */
  headers: Record<string, string>;
  /** The answer's body, for refused upgrades (what arrived before the connection ended or the deadline). */
  body: string;
  /** Writes one frame. Never throws. */
  sendFrame(frame: OutFrame): void;
  /** Writes raw bytes. Never throws. */
  sendRaw(bytes: Uint8Array): void;
  /** Frames received so far and not yet taken. */
  frames: InFrame[];
  /** Waits for the next data frame (text or binary), answering pings on the way. */
  next(timeoutMs?: number): Promise<InFrame>;
  /** Waits for the connection to end; answers the Close handshake as a client should. */
  closed(timeoutMs?: number): Promise<RawClose>;
  /** Destroys the socket at once. */
  destroy(): void;
  /** Whether the TCP connection has ended. */
  readonly ended: boolean;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Encodes a frame. The mask key is fixed per call site only through `maskKey`; by default it is random.
 *
 * @example
 * ```ts
 * encodeFrame({ opcode: Opcode.Text, payload: "hi" });
 * ```
 */
export function encodeFrame(frame: OutFrame, maskKey?: Uint8Array): Uint8Array {
  const payload = typeof frame.payload === "string"
    ? encoder.encode(frame.payload)
    : frame.payload ?? new Uint8Array();
  const mask = frame.mask ?? true;
  const len = payload.length;
  const extra = len < 126 ? 0 : len < 65536 ? 2 : 8;
  const out = new Uint8Array(2 + extra + (mask ? 4 : 0) + len);
  out[0] = ((frame.fin ?? true) ? 0x80 : 0) | ((frame.rsv ?? 0) << 4) | (frame.opcode & 0x0f);
  let o = 2;
  if (extra === 0) out[1] = len;
  else if (extra === 2) {
    out[1] = 126;
    out[2] = len >> 8;
    out[3] = len & 0xff;
    o = 4;
  } else {
    out[1] = 127;
    new DataView(out.buffer).setBigUint64(2, BigInt(len));
    o = 10;
  }
  if (mask) {
    out[1] |= 0x80;
    const key = maskKey ?? crypto.getRandomValues(new Uint8Array(4));
    out.set(key, o);
    o += 4;
    for (let i = 0; i < len; i++) out[o + i] = payload[i] ^ key[i & 3];
  } else {
    out.set(payload, o);
  }
  return out;
}

/** Encodes a Close frame payload. */
export function closePayload(code: number, reason = ""): Uint8Array {
  const r = encoder.encode(reason);
  const out = new Uint8Array(2 + r.length);
  out[0] = code >> 8;
  out[1] = code & 0xff;
  out.set(r, 2);
  return out;
}

function defaultHeaders(host: string, port: number): Array<[string, string]> {
  const key = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))));
  return [
    ["Host", `${host}:${port}`],
    ["Upgrade", "websocket"],
    ["Connection", "Upgrade"],
    ["Sec-WebSocket-Key", key],
    ["Sec-WebSocket-Version", "13"],
  ];
}

/**
 * Opens a TCP connection, sends an upgrade request and reads the answer.
 * Resolves with the status even when the upgrade is refused.
 *
 * @example
 * ```ts
 * const r = await rawConnect({ port, headers: [["Origin", "http://evil.test"]] });
 * console.log(r.status); // 403
 * r.destroy();
 * ```
 */
export function rawConnect(options: RawConnectOptions): Promise<RawSocket> {
  const host = options.host ?? "127.0.0.1";
  const path = options.path ?? "/ws";
  const timeoutMs = options.timeoutMs ?? 5_000;
  let request = options.rawRequest;
  if (request === undefined) {
    let headers = options.replaceHeaders ? [] : defaultHeaders(host, options.port);
    for (const [name, value] of options.headers ?? []) {
      const i = headers.findIndex(([n]) => n.toLowerCase() === name.toLowerCase());
      if (i >= 0 && !options.replaceHeaders) headers[i] = [name, value];
      else headers.push([name, value]);
    }
    headers = headers.filter(([, v]) => (v as unknown) !== false);
    request = `GET ${path} HTTP/1.1\r\n${headers.map(([n, v]) => `${n}: ${v}\r\n`).join("")}\r\n`;
  }

  return new Promise((resolve, reject) => {
    const socket = net.connect({
      port: options.port,
      host,
      ...(options.localAddress ? { localAddress: options.localAddress } : {}),
    });
    socket.setNoDelay(true);
    let buf = new Uint8Array(0);
    let head: { status: number; headers: Record<string, string>; bodyStart: number } | undefined;
    let settled = false;
    let ended = false;
    const frames: InFrame[] = [];
    const waiters = new Set<() => void>();
    let closeInfo: RawClose | undefined;
    let sentClose = false;
    let bodyText = "";

    const wake = () => {
      for (const w of [...waiters]) w();
    };
    const write = (bytes: Uint8Array) => {
      if (ended || socket.destroyed || !socket.writable) return;
      try {
        socket.write(bytes);
      } catch { /* the peer is gone; the close path reports it */ }
    };
    const timer = setTimeout(() => finishHead(), timeoutMs);

    const raw: RawSocket = {
      status: 0,
      headers: {},
      body: "",
      frames,
      get ended() {
        return ended;
      },
      sendFrame: (f) => write(encodeFrame(f)),
      sendRaw: write,
      next(ms = 5_000) {
        return waitFor(ms, () => {
          const i = frames.findIndex((f) => f.opcode === Opcode.Text || f.opcode === Opcode.Binary);
          return i >= 0 ? frames.splice(i, 1)[0] : undefined;
        }, "a data frame");
      },
      closed(ms = 5_000) {
        return waitFor(
          ms,
          () => (ended ? closeInfo ?? { code: 1006, reason: "", closeFrame: false } : undefined),
          "the connection to end",
        );
      },
      destroy() {
        clearTimeout(timer);
        socket.destroy();
      },
    };

    function waitFor<R>(ms: number, probe: () => R | undefined, what: string): Promise<R> {
      const now = probe();
      if (now !== undefined) return Promise.resolve(now);
      return new Promise((res, rej) => {
        const check = () => {
          const v = probe();
          if (v !== undefined) {
            done();
            res(v);
          } else if (ended) {
            done();
            rej(new Error(`expected ${what}, but the connection ended`));
          }
        };
        const t = setTimeout(() => {
          done();
          rej(new Error(`expected ${what} within ${ms} ms, saw none`));
        }, ms);
        const done = () => {
          clearTimeout(t);
          waiters.delete(check);
        };
        waiters.add(check);
      });
    }

    function finishHead() {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (head) {
        raw.status = head.status;
        raw.headers = head.headers;
      }
      raw.body = bodyText;
      resolve(raw);
    }

    function parseFrames() {
      while (true) {
        if (buf.length < 2) return;
        const b0 = buf[0];
        const b1 = buf[1];
        let len = b1 & 0x7f;
        let o = 2;
        if (len === 126) {
          if (buf.length < 4) return;
          len = (buf[2] << 8) | buf[3];
          o = 4;
        } else if (len === 127) {
          if (buf.length < 10) return;
          len = Number(new DataView(buf.buffer, buf.byteOffset).getBigUint64(2));
          o = 10;
        }
        const masked = (b1 & 0x80) !== 0;
        if (masked) o += 4;
        if (buf.length < o + len) return;
        const payload = buf.slice(o, o + len);
        if (masked) {
          const key = buf.slice(o - 4, o);
          for (let i = 0; i < len; i++) payload[i] ^= key[i & 3];
        }
        buf = buf.slice(o + len);
        const frame: InFrame = { opcode: b0 & 0x0f, fin: (b0 & 0x80) !== 0, payload };
        if (frame.opcode === Opcode.Ping) {
          write(encodeFrame({ opcode: Opcode.Pong, payload }));
        } else if (frame.opcode === Opcode.Close) {
          const code = payload.length >= 2 ? (payload[0] << 8) | payload[1] : 1005;
          closeInfo ??= { code, reason: decoder.decode(payload.subarray(2)), closeFrame: true };
          if (!sentClose) {
            sentClose = true;
            write(encodeFrame({ opcode: Opcode.Close, payload: payload.subarray(0, 2) }));
          }
          // The server closes TCP after the handshake; end our side too so nothing lingers.
          socket.end();
        } else {
          frames.push(frame);
        }
      }
    }

    socket.on("data", (chunk: Uint8Array) => {
      const next = new Uint8Array(buf.length + chunk.length);
      next.set(buf);
      next.set(chunk, buf.length);
      buf = next;
      if (!head) {
        const text = decoder.decode(buf.subarray(0, Math.min(buf.length, 65536)));
        const endOfHead = text.indexOf("\r\n\r\n");
        if (endOfHead < 0) return;
        const lines = text.slice(0, endOfHead).split("\r\n");
        const status = Number(lines[0].split(" ")[1] ?? 0);
        const headers: Record<string, string> = {};
        for (const line of lines.slice(1)) {
          const i = line.indexOf(":");
          if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
        }
        head = { status, headers, bodyStart: endOfHead + 4 };
        buf = buf.slice(encoder.encode(text.slice(0, endOfHead + 4)).length);
        if (status === 101) {
          finishHead();
        } else {
          bodyText = decoder.decode(buf);
          buf = new Uint8Array(0);
          const len = Number(headers["content-length"] ?? NaN);
          if (Number.isFinite(len) && encoder.encode(bodyText).length >= len) finishHead();
          return;
        }
      } else if (head.status !== 101) {
        bodyText += decoder.decode(buf);
        buf = new Uint8Array(0);
        const len = Number(head.headers["content-length"] ?? NaN);
        if (Number.isFinite(len) && encoder.encode(bodyText).length >= len) finishHead();
        return;
      }
      parseFrames();
      wake();
    });
    socket.on("error", (err: Error) => {
      if (!settled && !head) {
        settled = true;
        clearTimeout(timer);
        socket.destroy();
        // A refused TCP connect is a test setup problem; anything later is an answer (status 0).
        if ((err as { code?: string }).code === "ECONNREFUSED") return reject(err);
        resolve(raw);
      }
    });
    socket.on("close", () => {
      ended = true;
      clearTimeout(timer);
      finishHead();
      wake();
    });
    socket.on("connect", () => socket.write(request!));
  });
}
