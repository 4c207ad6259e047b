import assert from "node:assert/strict";
import { test } from "../_harness.ts";
import { takeToken, textTooBig, utf8Length } from "../../server/limits.ts";
import { resolveSettings } from "../../server/settings.ts";

test("utf8Length matches TextEncoder, lone surrogates included", () => {
  const samples = [
    "",
    "ascii",
    "héllo",
    "€",
    "😀",
    "a😀b",
    "\ud800",
    "x\udc00y",
    "\ud83d",
    "日本語",
    "\u07ff\u0800",
  ];
  const encoder = new TextEncoder();
  for (const s of samples) assert.equal(utf8Length(s), encoder.encode(s).length, JSON.stringify(s));
});

test("textTooBig: exact at the boundary, cheap away from it", () => {
  assert.equal(textTooBig("a".repeat(10), 10), false);
  assert.equal(textTooBig("a".repeat(11), 10), true);
  assert.equal(textTooBig("é".repeat(5), 10), false);
  assert.equal(textTooBig("é".repeat(6), 10), true);
  assert.equal(textTooBig("€€€", 9), false);
  assert.equal(textTooBig("€€€", 8), true);
});

test("token bucket: burst, then refill from elapsed time only when dry, capped at burst", () => {
  let now = 0;
  let reads = 0;
  const clock = {
    now: () => {
      reads++;
      return now;
    },
  };
  const bucket = { tokens: 3, refilledAt: 0 };
  assert.ok(takeToken(bucket, 10, 3, clock));
  assert.ok(takeToken(bucket, 10, 3, clock));
  assert.ok(takeToken(bucket, 10, 3, clock));
  assert.equal(reads, 0, "the clock is not read while tokens remain");
  assert.equal(takeToken(bucket, 10, 3, clock), false);
  now = 250; // 2.5 tokens
  assert.ok(takeToken(bucket, 10, 3, clock));
  assert.ok(takeToken(bucket, 10, 3, clock));
  assert.equal(takeToken(bucket, 10, 3, clock), false);
  now = 100_000;
  for (let i = 0; i < 3; i++) assert.ok(takeToken(bucket, 10, 3, clock));
  assert.equal(takeToken(bucket, 10, 3, clock), false, "the refill is capped at the burst");
});

test("settings: defaults and validation errors that name the option", () => {
  const s = resolveSettings({});
  assert.deepEqual(s, {
    maxConnections: 10_000,
    maxConnectionsPerAddress: 256,
    maxMessageBytes: 1_048_576,
    maxBufferedBytes: 1_048_576,
    rateLimit: { perSecond: 200, burst: 400 },
    heartbeat: { pingAfterMs: 25_000, timeoutMs: 20_000, sweepMs: 5_000 },
    invalidJson: "error",
    onHandlerError: "continue",
  });
  assert.throws(() => resolveSettings({ maxMessageBytes: 0 }), /expected maxMessageBytes to be a positive/);
  assert.throws(
    () => resolveSettings({ invalidJson: "drop" as "close" }),
    /expected invalidJson to be one of error, close, got drop/,
  );
  assert.equal(resolveSettings({ rateLimit: false }).rateLimit, false);
});
