/**
 * The per-turn publish budget of Bun's native fan-out counts a message's
 * UTF-8 bytes plus the longest frame header: exactly for a long text,
 * whichever way the length is computed (Bun's native `Buffer.byteLength`
 * under Bun, the JavaScript loop under Deno), and at its bound of 3 bytes per
 * code unit for a short one, exactly only when the bound would not fit. What
 * it admits it returns as the payload's bytes, which the hub then counts
 * against each target's budget.
 */

import assert from "node:assert/strict";
import { test } from "../_harness.ts";
import { bunFanout } from "../../server/adapters/_bun_fanout.ts";

const never = { publish: () => 0 };
const nextTurn = () => new Promise((resolve) => setTimeout(resolve, 0));

test("bun fan-out budget: exact UTF-8 bytes of a long text, frame header included", async () => {
  // "é" is 2 bytes, "€" 3, "😀" (a surrogate pair) 4: 40 + 30 + 20 + 10 = 100 bytes in 50 code units.
  const part = "é".repeat(20) + "€".repeat(10) + "😀".repeat(5) + "x".repeat(10);
  const text = part.repeat(6); // 300 code units (past the short ones), 600 bytes, 610 with the header
  const fanout = bunFanout(never, 1220);
  assert.equal(fanout.admit(text), 600, "610 of 1220: the payload's 600 bytes");
  assert.equal(fanout.admit(text), 600, "1220 of 1220: exactly the budget");
  assert.equal(fanout.admit("x"), -1, "11 more would pass it");
  await nextTurn(); // the budget is per event-loop turn
  assert.equal(fanout.admit(text + "x".repeat(300)), 900, "a new turn, a new budget");
  assert.equal(fanout.admit(text), -1, "910 + 610 > 1220");
  await nextTurn();
});

test("bun fan-out budget: a short text at its bound, exactly when the bound would not fit", async () => {
  // "abc" at its bound: 9 + 10 = 19; exactly: 3 + 10 = 13.
  const fanout = bunFanout(never, 3 * 19 + 13);
  for (let i = 0; i < 3; i++) assert.equal(fanout.admit("abc"), 9, `#${i + 1} at its bound`);
  assert.equal(fanout.admit("abc"), 3, "57 + 19 would not fit: counted exactly, 57 + 13 = 70 of 70");
  assert.equal(fanout.admit("x"), -1, "not even exactly: 70 + 11");
  await nextTurn();
  // "😀😀" is 4 code units and 8 bytes: its bound, 12 + 10, is always at least the exact count.
  const emoji = bunFanout(never, 18);
  assert.equal(emoji.admit("😀😀"), 8, "22 would not fit, 18 does");
  assert.equal(emoji.admit(""), -1, "the header alone no longer fits");
  await nextTurn();
});

test("bun fan-out budget: binary counts its byte length, a lone surrogate 3 bytes", async () => {
  const fanout = bunFanout(never, 10 + 8 + 10 + 3);
  assert.equal(fanout.admit(new Uint8Array(8)), 8);
  assert.equal(fanout.admit("\ud800"), 3, "a lone high surrogate is written as U+FFFD, 3 bytes");
  assert.equal(fanout.admit(new ArrayBuffer(0)), -1, "the header alone no longer fits");
  await nextTurn();
});
