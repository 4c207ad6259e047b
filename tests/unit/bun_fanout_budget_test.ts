/**
 * The per-turn publish budget of Bun's native fan-out counts a message's
 * exact UTF-8 bytes (plus the longest frame header), whichever way the
 * length is computed: Bun's native `Buffer.byteLength` under Bun, the
 * JavaScript loop under Deno.
 */

import assert from "node:assert/strict";
import { test } from "../_harness.ts";
import { bunFanout } from "../../server/adapters/_bun_fanout.ts";

const never = { publish: () => 0 };
const nextTurn = () => new Promise((resolve) => setTimeout(resolve, 0));

test("bun fan-out budget: exact UTF-8 bytes of each message, frame header included", async () => {
  // "é" is 2 bytes, "€" 3, "😀" (a surrogate pair) 4: 40 + 30 + 20 + 10 = 100 bytes, 110 with the header.
  const text = "é".repeat(20) + "€".repeat(10) + "😀".repeat(5) + "x".repeat(10);
  const fanout = bunFanout(never, 220);
  assert.equal(fanout.accepts(text), true, "110 of 220");
  assert.equal(fanout.accepts(text), true, "220 of 220: exactly the budget");
  assert.equal(fanout.accepts("x"), false, "11 more would pass it");
  await nextTurn(); // the budget is per event-loop turn
  assert.equal(fanout.accepts(text + "x"), true, "a new turn, a new budget");
  assert.equal(fanout.accepts(text), false, "111 + 110 > 220");
  await nextTurn();
});

test("bun fan-out budget: binary counts its byte length, a lone surrogate 3 bytes", async () => {
  const fanout = bunFanout(never, 10 + 8 + 10 + 3);
  assert.equal(fanout.accepts(new Uint8Array(8)), true);
  assert.equal(fanout.accepts("\ud800"), true, "a lone high surrogate is written as U+FFFD, 3 bytes");
  assert.equal(fanout.accepts(new ArrayBuffer(0)), false, "the header alone no longer fits");
  await nextTurn();
});
