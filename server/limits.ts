/**
 * Message sizes in UTF-8 bytes (the inbound limit, and the outbound bound
 * the slow-consumer check counts with), and a per-connection token bucket
 * for the message rate.
 *
 * @module
 */

/**
 * The exact UTF-8 length of a string, without encoding it. A lone surrogate
 * counts 3 bytes, as `TextEncoder` would encode it as U+FFFD.
 *
 * @example
 * ```ts
 * import { utf8Length } from "./limits.ts";
 * utf8Length("héllo"); // 6
 * utf8Length("😀"); // 4
 * ```
 */
export function utf8Length(text: string): number {
  let bytes = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < n) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 4;
        i++;
      } else bytes += 3;
    } else bytes += 3;
  }
  return bytes;
}

/**
 * An upper bound of a frame's payload in bytes, in one step: 3 bytes per
 * UTF-16 code unit of a string (the most one takes in UTF-8), the byte length
 * of binary data.
 *
 * @example
 * ```ts
 * import { payloadBound } from "./limits.ts";
 * payloadBound("héllo"); // 15 (the exact length is 6)
 * payloadBound(new Uint8Array(4)); // 4
 * ```
 */
export function payloadBound(data: string | Uint8Array | ArrayBuffer): number {
  return typeof data === "string" ? data.length * 3 : data.byteLength;
}

/**
 * Whether a text frame's UTF-8 encoding exceeds `limit` bytes. A UTF-16 code
 * unit takes 1 to 3 UTF-8 bytes, so the exact count is only computed when
 * `length ≤ limit < length × 3`; every other message costs one comparison.
 *
 * @example
 * ```ts
 * import { textTooBig } from "./limits.ts";
 * textTooBig("ééé", 5); // true: 6 bytes
 * textTooBig("abc", 5); // false
 * ```
 */
export function textTooBig(text: string, limit: number): boolean {
  const n = text.length;
  if (n > limit) return true;
  if (n * 3 <= limit) return false;
  return utf8Length(text) > limit;
}

/**
 * The fields a token bucket keeps on its owner (a connection), so no extra object is allocated.
 *
 * @example
 * ```ts
 * import type { Bucket } from "./limits.ts";
 * const full: Bucket = { tokens: 400, refilledAt: Date.now() };
 * ```
 */
export interface Bucket {
  /** Tokens left; may be fractional. */
  tokens: number;
  /** Clock time of the last refill, in ms. */
  refilledAt: number;
}

/**
 * Takes one token from a bucket; `false` when the rate is exceeded.
 *
 * The bucket is refilled only when it runs dry, from the time elapsed since
 * the last refill (capped at `burst`), so the clock is read once per dry
 * bucket rather than once per message. Because the cap is applied late, a
 * peer that was quiet can send up to twice `burst` in one go; a sustained rate
 * above `perSecond` still drains it.
 *
 * @example
 * ```ts
 * import { takeToken } from "./limits.ts";
 * const bucket = { tokens: 2, refilledAt: 0 };
 * const clock = { now: () => 0 };
 * takeToken(bucket, 1, 2, clock); // true
 * takeToken(bucket, 1, 2, clock); // true
 * takeToken(bucket, 1, 2, clock); // false: no time passed
 * ```
 */
export function takeToken(
  bucket: Bucket,
  perSecond: number,
  burst: number,
  clock: { now(): number },
): boolean {
  if (bucket.tokens >= 1) {
    bucket.tokens -= 1;
    return true;
  }
  const t = clock.now();
  const refill = bucket.tokens + ((t - bucket.refilledAt) * perSecond) / 1000;
  bucket.refilledAt = t;
  bucket.tokens = refill > burst ? burst : refill;
  if (bucket.tokens < 1) return false;
  bucket.tokens -= 1;
  return true;
}
