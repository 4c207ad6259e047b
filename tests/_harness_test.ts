import assert from "node:assert/strict";
import { runtime, test } from "./_harness.ts";

test("harness knows its runtime", () => {
  assert.ok(runtime === "deno" || runtime === "bun");
});
