import assert from "node:assert/strict";
import { test } from "../_harness.ts";
import { bootstrapInterval, median } from "../../bench/_stats.ts";

const medianOf = ([r]: number[][]) => median(r);

test("bootstrapInterval: holds the median, within the data, the same on every call", () => {
  const ratios = [0.82, 1.04, 0.95, 0.93, 1.18, 1.0, 1.16, 1.14, 1.12, 0.9, 0.96];
  const [lo, hi] = bootstrapInterval([ratios], medianOf);
  assert.ok(lo <= median(ratios) && median(ratios) <= hi, `${lo}–${hi} should hold ${median(ratios)}`);
  assert.ok(lo >= Math.min(...ratios) && hi <= Math.max(...ratios), `${lo}–${hi} outside the data`);
  assert.ok(hi > lo, "eleven different values give an interval, not a point");
  assert.deepEqual(bootstrapInterval([ratios], medianOf), [lo, hi]);
});

test("bootstrapInterval: narrows as the repetitions agree", () => {
  const wide = bootstrapInterval([[0.7, 1.3, 0.8, 1.2, 1.0, 0.9, 1.1]], medianOf);
  const narrow = bootstrapInterval([[0.97, 1.03, 0.98, 1.02, 1.0, 0.99, 1.01]], medianOf);
  assert.ok(narrow[1] - narrow[0] < wide[1] - wide[0], `${narrow} should be narrower than ${wide}`);
  assert.deepEqual(bootstrapInterval([[2, 2, 2, 2]], medianOf), [2, 2]);
});

test("bootstrapInterval: a ratio of medians resamples each series on its own", () => {
  const a = [10, 11, 12, 10.5, 11.5];
  const b = [5, 5.5, 6, 5.25, 5.75];
  const [lo, hi] = bootstrapInterval([a, b], ([x, y]) => median(x) / median(y));
  assert.ok(lo <= 2 && 2 <= hi, `${lo}–${hi} should hold 2`);
  assert.ok(lo >= 10 / 6 && hi <= 12 / 5, `${lo}–${hi} outside what the data allow`);
});

test("bootstrapInterval: too few values, or none finite, give no interval", () => {
  assert.deepEqual(bootstrapInterval([[1, 2]], medianOf), [NaN, NaN]);
  assert.deepEqual(bootstrapInterval([[1, 2, 3], [4]], ([x, y]) => median(x) / median(y)), [NaN, NaN]);
  assert.deepEqual(bootstrapInterval([[NaN, NaN, NaN, 1]], medianOf), [NaN, NaN]);
  assert.deepEqual(bootstrapInterval([], medianOf), [NaN, NaN]);
});
