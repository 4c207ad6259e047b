/**
 * A seeded generator of hostile text frames that must not end the connection,
 * each paired with the answer the endpoint documents for it, and the list of
 * frames that must end it (with the expected close code).
 *
 * The echo handler the suites use answers every accepted envelope with
 * `{"type":"echo","payload":{"type": <type>, "keys": <own keys of the payload>}}`,
 * which keeps the answers small and shows whether `__proto__` stayed an own key.
 *
 * @example
 * ```ts
 * const rng = seededRandom(42);
 * for (const frame of survivableFrames(rng, 100, 1 << 20)) console.log(frame.kind, frame.expect);
 * ```
 *
 * @module
 */

import type { Rng } from "./prng.ts";

/** What the endpoint answers to a frame that does not end the connection. */
export type Expect =
  | { reply: "echo"; type: string; keys?: string[] }
  | { reply: "error"; code: "invalid_json" | "invalid_envelope" }
  | { reply: "echo-or-invalid-json"; type: string }
  | { reply: "pong" };

/** One generated frame. */
export interface BadFrame {
  kind: string;
  text: string;
  expect: Expect;
}

const WRONG_SHAPES = [
  "null",
  "1",
  "true",
  '"type"',
  "[]",
  '[{"type":"x"}]',
  "{}",
  '{"type":1}',
  '{"type":""}',
  '{"type":null}',
  '{"type":{}}',
  '{"type":["x"]}',
  '{"payload":1}',
  '{"Type":"x"}',
];

const INVALID_JSON = [
  "{",
  "}",
  "{type:'x'}",
  '{"type":"x",}',
  '{"type":"x"',
  "undefined",
  "NaN",
  "'x'",
  '{"type":"x"}}',
  '{"type":"x"} extra',
  "\u0000",
  "[1,2",
  '{"type":"\\u12"}',
  "0x10",
];

function randomString(rng: Rng, length: number): string {
  // Mostly ASCII, some quotes, backslashes, control and astral characters, always valid UTF-16.
  const alphabet = ['"', "\\", "\n", "\u2028", "é", "😀", "\t", "<", "'", "a", "b", "z", "0", " "];
  let s = "";
  for (let i = 0; i < length; i++) {
    s += rng.next() < 0.7 ? String.fromCharCode(97 + rng.int(26)) : rng.pick(alphabet);
  }
  return s;
}

function randomType(rng: Rng): string {
  return rng.pick([
    "chat",
    "move",
    "x",
    "a.b",
    "type with spaces",
    "ÿ",
    "😀",
    "constructor",
    "__proto__",
    "toString",
  ]);
}

/**
 * Frames the endpoint must answer and survive, in a reproducible order.
 * `maxBytes` is the endpoint's message limit; no frame reaches it.
 *
 * @example
 * ```ts
 * const frames = [...survivableFrames(seededRandom(1), 10_000, 1 << 20)];
 * ```
 */
export function* survivableFrames(rng: Rng, count: number, maxBytes: number): Generator<BadFrame> {
  for (let i = 0; i < count; i++) {
    const roll = rng.int(100);
    if (roll < 20) {
      yield {
        kind: "invalid-json",
        text: rng.pick(INVALID_JSON),
        expect: { reply: "error", code: "invalid_json" },
      };
    } else if (roll < 25) {
      // Truncate a valid envelope at a random point: almost always invalid JSON.
      const full = JSON.stringify({ type: "chat", payload: { text: randomString(rng, 20) } });
      const cut = 1 + rng.int(full.length - 1);
      yield {
        kind: "truncated-json",
        text: full.slice(0, cut),
        expect: { reply: "error", code: "invalid_json" },
      };
    } else if (roll < 27) {
      yield { kind: "empty-frame", text: "", expect: { reply: "error", code: "invalid_json" } };
    } else if (roll < 30) {
      yield { kind: "whitespace-frame", text: " \n\t", expect: { reply: "error", code: "invalid_json" } };
    } else if (roll < 47) {
      yield {
        kind: "wrong-shape",
        text: rng.pick(WRONG_SHAPES),
        expect: { reply: "error", code: "invalid_envelope" },
      };
    } else if (roll < 62) {
      const variants: Array<[string, string[]]> = [
        ['{"__proto__":{"polluted":true}}', ["__proto__"]],
        ['{"constructor":{"prototype":{"polluted":true}}}', ["constructor"]],
        ['{"prototype":{"polluted":true}}', ["prototype"]],
        ['{"a":{"__proto__":{"polluted":true}},"__proto__":{"isAdmin":true}}', ["a", "__proto__"]],
        ['{"__proto__":null}', ["__proto__"]],
      ];
      const [payload, keys] = rng.pick(variants);
      const type = rng.pick(["proto", "__proto__", "constructor", "prototype"]);
      yield {
        kind: "prototype-keys",
        text: `{"type":${JSON.stringify(type)},"payload":${payload},"__proto__":{"polluted":true}}`,
        expect: { reply: "echo", type, keys },
      };
    } else if (roll < 64) {
      const length = Math.min(maxBytes - 1024, 1024 * (16 + rng.int(240)));
      const type = "big";
      yield {
        kind: "huge-string",
        text: JSON.stringify({ type, payload: { s: "x".repeat(length) } }),
        expect: { reply: "echo", type, keys: ["s"] },
      };
    } else if (roll < 67) {
      const depth = 100 + rng.int(5_000);
      yield {
        kind: "nesting",
        text: `{"type":"deep","payload":${"[".repeat(depth)}${"]".repeat(depth)}}`,
        expect: { reply: "echo-or-invalid-json", type: "deep" },
      };
    } else if (roll < 70) {
      yield { kind: "ping", text: '{"type":"ping"}', expect: { reply: "pong" } };
    } else {
      const type = randomType(rng);
      const payload = rng.next() < 0.5
        ? randomString(rng, rng.int(200))
        : { text: randomString(rng, rng.int(100)), n: rng.int(1e9) };
      yield {
        kind: "valid-odd",
        text: JSON.stringify({ type, payload }),
        expect: { reply: "echo", type, keys: typeof payload === "object" ? ["text", "n"] : [] },
      };
    }
  }
}

/** Nesting of `depth` arrays inside an envelope, as a text frame. */
export function deepEnvelope(depth: number): string {
  return `{"type":"deep","payload":${"[".repeat(depth)}${"]".repeat(depth)}}`;
}

/** The largest nesting depth whose envelope stays within `maxBytes`. */
export function deepestUnder(maxBytes: number): number {
  const overhead = deepEnvelope(0).length;
  return Math.floor((maxBytes - overhead) / 2);
}

/** Byte sequences that are not valid UTF-8, for text frames (expected close 1007). */
export const INVALID_UTF8: readonly Uint8Array[] = [
  new Uint8Array([0xc3, 0x28]), // bad continuation
  new Uint8Array([0xa0, 0xa1]), // lone continuation bytes
  new Uint8Array([0xe2, 0x28, 0xa1]),
  new Uint8Array([0xf0, 0x28, 0x8c, 0xbc]),
  new Uint8Array([0xed, 0xa0, 0x80]), // UTF-16 surrogate encoded in UTF-8
  new Uint8Array([0xc0, 0xaf]), // overlong "/"
  new Uint8Array([0xf8, 0x88, 0x80, 0x80, 0x80]),
  new Uint8Array([0x7b, 0x22, 0x74, 0xff, 0x22, 0x7d]), // {"t\xff"}
];
