import assert from "node:assert/strict";
import { test } from "../_harness.ts";
import { assembleBracketed, BRACKETED_FIELDS, bracketedOrder, TAIL_FIELDS } from "../../bench/_bracket.ts";

const t = (id: string) => ({ target: { id } });
const ids = (list: { target: { id: string } }[]) => list.map((x) => x.target.id);

test("bracketedOrder: every target sits between two windows of ours on its runtime", () => {
  const all = ["bun-loop", "bun-steady", "bun-hono", "deno-raw", "deno-steady", "node-sio"].map(t);
  for (let rep = 0; rep < 6; rep++) {
    const order = ids(bracketedOrder(all, rep));
    assert.equal(order.filter((id) => id === "bun-steady").length, 3, order.join(" "));
    assert.equal(order.filter((id) => id === "deno-steady").length, 3, order.join(" "));
    order.forEach((id, i) => {
      const ref = id.startsWith("bun-") ? "bun-steady" : "deno-steady";
      if (id === ref) return;
      assert.equal(order[i - 1], ref, `before ${id} in ${order.join(" ")}`);
      assert.equal(order[i + 1], ref, `after ${id} in ${order.join(" ")}`);
    });
    for (const id of ["bun-loop", "bun-hono", "deno-raw", "node-sio"]) {
      assert.equal(order.filter((x) => x === id).length, 1, `${id} once in ${order.join(" ")}`);
    }
  }
  // The rotation moves which target comes first.
  const firsts = new Set([0, 1, 2, 3].map((rep) => ids(bracketedOrder(all, rep))[1]));
  assert.ok(firsts.size > 1, `always ${[...firsts]} first`);
});

test("bracketedOrder: a target whose reference is not running is measured once, unbracketed", () => {
  const order = ids(bracketedOrder(["bun-loop", "bun-publish", "deno-steady", "deno-raw"].map(t), 0));
  assert.deepEqual(order.slice(0, 3), ["deno-steady", "deno-raw", "deno-steady"]);
  assert.deepEqual(order.slice(3).sort(), ["bun-loop", "bun-publish"]);
});

test("assembleBracketed: a target carries the mean of its reference's windows around it", () => {
  const w = (id: string, rate: number) => ({ id, sample: { rate, cpuUsPerMsg: 1e6 / rate, cpu: 0.99 } });
  const rep = assembleBracketed([
    w("deno-steady", 100),
    w("deno-raw", 90),
    w("deno-steady", 80),
    w("deno-hono", 84),
    w("deno-steady", 60),
    w("bun-loop", 7),
  ]);
  assert.equal(rep["deno-raw"].rate, 90);
  assert.equal(rep["deno-raw"].refRate, 90);
  assert.equal(rep["deno-hono"].refRate, 70);
  assert.equal(rep["deno-hono"].refCpuUsPerMsg, (1e6 / 80 + 1e6 / 60) / 2);
  // The farthest window of ours: the first one for deno-hono, the last for deno-raw.
  assert.equal(rep["deno-hono"].farRefRate, 100);
  assert.equal(rep["deno-raw"].farRefRate, 60);
  assert.equal(rep["deno-raw"].beforeRefRate, 100);
  assert.equal(rep["deno-hono"].beforeRefRate, 80);
  assert.equal(rep["deno-raw"].afterRefRate, 80);
  assert.equal(rep["deno-hono"].afterRefRate, 60);
  // Ours: the mean of its three windows, field by field.
  assert.equal(rep["deno-steady"].rate, 80);
  assert.ok(Math.abs(rep["deno-steady"].cpu - 0.99) < 1e-12);
  // No reference ran: the window alone.
  assert.deepEqual(Object.keys(rep["bun-loop"]).sort(), ["cpu", "cpuUsPerMsg", "rate"]);
});

test("assembleBracketed: latency fields are kept only where the windows measured them", () => {
  const paced = (id: string, p99?: number): { id: string; sample: Record<string, number> } => ({
    id,
    sample: p99 === undefined ? {} : { p50: p99 / 3, p99 },
  });
  const fields = [...BRACKETED_FIELDS, ...TAIL_FIELDS];
  const rep = assembleBracketed(
    [paced("bun-steady", 0.4), paced("bun-loop", 0.3), paced("bun-steady", 0.5)],
    fields,
  );
  // Latency percentiles: the geometric mean of the windows around, for the target's reference and for
  // ours's own row, not the arithmetic one (0.45), which a right-skewed tail pushes up.
  assert.ok(Math.abs(rep["bun-loop"].refP99 - Math.sqrt(0.4 * 0.5)) < 1e-12);
  assert.ok(Math.abs(rep["bun-loop"].refP50 - Math.sqrt(0.4 * 0.5) / 3) < 1e-12);
  assert.ok(Math.abs(rep["bun-steady"].p99 - Math.sqrt(0.4 * 0.5)) < 1e-12);
  // The window right before is kept on its own, to tell a window's place from the target.
  assert.equal(rep["bun-loop"].beforeRefP99, 0.4);
  assert.equal(rep["bun-loop"].afterRefP99, 0.5);
  // Neither window measured a rate: no refRate rather than a NaN that JSON would write as null.
  assert.equal("refRate" in rep["bun-loop"], false);
  // A repetition without the paced phase: empty windows, nothing invented.
  const none = assembleBracketed([paced("bun-steady"), paced("bun-loop"), paced("bun-steady")], fields);
  assert.deepEqual(none["bun-loop"], {});
  assert.deepEqual(none["bun-steady"], {});
});
