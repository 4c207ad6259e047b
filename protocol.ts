/**
 * The wire protocol shared by the steadysocket server and client: JSON
 * envelopes, the reserved message types, the close-code table and the
 * reconnect policy derived from it.
 *
 * @example
 * ```ts
 * import { CloseCode, decode, encode, shouldReconnect } from "./protocol.ts";
 *
 * const frame = encode({ type: "chat", payload: { text: 'say "hi"' } });
 * const result = decode(frame);
 * if (result.ok) console.log(result.envelope.type); // "chat"
 * console.log(shouldReconnect(CloseCode.PolicyViolation)); // false
 * ```
 *
 * @module
 */

/** An application message: a JSON text frame `{"type": string, "payload"?: unknown}`. */
export interface Envelope<P = unknown> {
  /** What the message is; `ping`, `pong` and `error` are reserved. */
  type: string;
  /** Anything JSON can carry. */
  payload?: P;
}

/** The payload of an `error` envelope, sent when a message was rejected but the connection goes on. */
export interface ErrorPayload {
  /** A human-readable explanation. */
  message: string;
  /** A stable, machine-readable reason, e.g. `"invalid_json"`. */
  code?: string;
}

/** Reserved envelope types. */
export const MessageType = {
  /** Either side asks for a sign of life. */
  Ping: "ping",
  /** The answer to a ping. */
  Pong: "pong",
  /** A rejected message; the connection goes on. */
  Error: "error",
} as const;

/** The ping frame, encoded once. */
export const PING_FRAME: string = '{"type":"ping"}';
/** The pong frame, encoded once. */
export const PONG_FRAME: string = '{"type":"pong"}';

/** Close codes that steadysocket sends or interprets, by name. */
export const CloseCode = {
  /** 1000: the purpose of the connection was fulfilled. */
  Normal: 1000,
  /** 1001: the server is shutting down, or the page is navigating away. */
  GoingAway: 1001,
  /** 1002: the peer broke the WebSocket protocol. */
  ProtocolError: 1002,
  /** 1003: a frame of a kind the endpoint does not accept (binary, or text that is not JSON by option). */
  UnsupportedData: 1003,
  /** 1005: the close frame carried no code. Never sent, only reported. */
  NoStatus: 1005,
  /** 1006: the connection dropped without a close frame. Never sent, only reported. */
  Abnormal: 1006,
  /** 1007: a text frame that is not valid UTF-8. */
  InvalidPayload: 1007,
  /** 1008: a policy was violated (message flood, refused origin or credentials). */
  PolicyViolation: 1008,
  /** 1009: a message larger than the endpoint's limit. */
  MessageTooBig: 1009,
  /** 1011: the server met an unexpected condition. */
  InternalError: 1011,
  /** 1013: try again later (server full, or this peer read too slowly). */
  TryAgainLater: 1013,
  /** 4000: no frame arrived from the peer within the heartbeat window. */
  HeartbeatTimeout: 4000,
} as const;

/** One entry of the close-code table. */
export interface CloseCodeInfo {
  /** The constant's name in {@linkcode CloseCode}. */
  name: string;
  /** What the code means in steadysocket. */
  meaning: string;
  /** Whether a client reconnects after it by default. */
  reconnect: boolean;
}

/** Every close code with its name, meaning and default reconnect decision. */
export const CLOSE_CODES: Readonly<Record<number, CloseCodeInfo>> = Object.freeze({
  1000: { name: "Normal", meaning: "normal closure", reconnect: true },
  1001: { name: "GoingAway", meaning: "server shutting down or client leaving", reconnect: true },
  1002: { name: "ProtocolError", meaning: "WebSocket protocol error", reconnect: false },
  1003: { name: "UnsupportedData", meaning: "unsupported data (binary or non-JSON text)", reconnect: false },
  1005: { name: "NoStatus", meaning: "closed without a status code", reconnect: true },
  1006: { name: "Abnormal", meaning: "connection lost without a close frame", reconnect: true },
  1007: { name: "InvalidPayload", meaning: "invalid UTF-8 in a text frame", reconnect: false },
  1008: {
    name: "PolicyViolation",
    meaning: "policy violation (flood, origin, credentials)",
    reconnect: false,
  },
  1009: { name: "MessageTooBig", meaning: "message larger than the limit", reconnect: true },
  1011: { name: "InternalError", meaning: "internal server error", reconnect: true },
  1013: { name: "TryAgainLater", meaning: "try again later (server full or slow consumer)", reconnect: true },
  4000: {
    name: "HeartbeatTimeout",
    meaning: "no frame from the peer within the heartbeat window",
    reconnect: true,
  },
});

/**
 * Whether a client should reconnect after a close with this code.
 *
 * Policy and protocol closes (1002, 1003, 1007, 1008) are final: retrying would
 * be refused again. Application codes 4400–4499 are final too (reserved for
 * "the request was wrong", by analogy with HTTP 4xx). Everything else,
 * including codes we do not know, is retried.
 *
 * @example
 * ```ts
 * shouldReconnect(1001); // true: server restarting
 * shouldReconnect(1008); // false: refused by policy
 * ```
 */
export function shouldReconnect(code: number): boolean {
  const known = CLOSE_CODES[code];
  if (known) return known.reconnect;
  return !(code >= 4400 && code <= 4499);
}

/**
 * Encodes an envelope as a JSON text frame. Always `JSON.stringify`, so any
 * string in the payload (quotes, newlines, U+2028) yields a valid frame.
 *
 * @example
 * ```ts
 * encode({ type: "error", payload: { message: 'bad "input"\n' } });
 * ```
 */
export function encode<P>(envelope: Envelope<P>): string {
  return JSON.stringify(envelope);
}

/**
 * Builds an `error` envelope frame.
 *
 * @example
 * ```ts
 * errorFrame("expected a JSON object", "invalid_envelope");
 * ```
 */
export function errorFrame(message: string, code?: string): string {
  const payload: ErrorPayload = code === undefined ? { message } : { message, code };
  return JSON.stringify({ type: MessageType.Error, payload });
}

/** The outcome of {@linkcode decode}. */
export type DecodeResult =
  | { ok: true; envelope: Envelope }
  | { ok: false; code: "invalid_json" | "invalid_envelope"; message: string };

/**
 * Parses a text frame into an envelope without throwing.
 *
 * A valid envelope is a JSON object whose `type` is a non-empty string.
 * `JSON.parse` creates `__proto__` as an own property, never as a prototype,
 * so parsing cannot pollute `Object.prototype`.
 *
 * @example
 * ```ts
 * const r = decode('{"type":"chat","payload":{"text":"hi"}}');
 * if (!r.ok) console.log(r.code, r.message);
 * ```
 */
export function decode(text: string): DecodeResult {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, code: "invalid_json", message: "expected a JSON text frame" };
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    return {
      ok: false,
      code: "invalid_envelope",
      message: `expected a JSON object {"type": string}, got ${describe(value)}`,
    };
  }
  const type = (value as { type?: unknown }).type;
  if (typeof type !== "string" || type.length === 0) {
    return {
      ok: false,
      code: "invalid_envelope",
      message: `expected "type" to be a non-empty string, got ${describe(type)}`,
    };
  }
  return { ok: true, envelope: value as Envelope };
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "string") return value.length === 0 ? "an empty string" : "a string";
  return typeof value === "undefined" ? "nothing" : `a ${typeof value}`;
}
