import assert from "node:assert/strict";
import { test } from "../_harness.ts";
import {
  binOf,
  decodeHistogram,
  encodeHistogram,
  histogramOf,
  merged,
  msOf,
  quantileOf,
} from "../../bench/_tail_histogram.ts";

/** The percentile the load generator reads from one window's sorted samples. */
function exact(samples: number[], q: number): number {
  const s = [...samples].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
}

test("tail histogram: a bin reads back within 1 % of its latency, from 1 µs to 10 s", () => {
  for (const ms of [0.001, 0.0173, 0.25, 1, 7.9, 33.3, 512, 10_000]) {
    const back = msOf(binOf(ms));
    assert.ok(Math.abs(back / ms - 1) < 0.006, `${ms} ms read back as ${back} ms`);
  }
  assert.equal(binOf(-0.2), binOf(0.001), "a negative latency (after a clock correction) is the floor");
});

test("tail histogram: p50 and p99 match the sorted samples' to the bin width", () => {
  let state = 7;
  const next = () => (state = (state * 48271) % 2147483647) / 2147483647;
  // Mostly a few ms, with a slow broadcast's worth of samples far out, as a paced window reads.
  const samples = Array.from(
    { length: 20_000 },
    (_, i) => (i % 97 === 0 ? 20 + 10 * next() : 1 + 4 * next()),
  );
  const h = histogramOf(samples);
  for (const q of [0.5, 0.99]) {
    const want = exact(samples, q);
    const got = quantileOf(h, q);
    assert.ok(Math.abs(got / want - 1) < 0.012, `q ${q}: ${got} from the histogram, ${want} exact`);
  }
});

test("tail histogram: merged windows read as their samples pooled, not as a mean of their p99s", () => {
  const calm = Array.from({ length: 1000 }, () => 1);
  // One window in which a twentieth of the samples waited 50 ms: its own p99 is 50 ms.
  const hiccup = Array.from({ length: 1000 }, (_, i) => (i < 50 ? 50 : 1));
  assert.ok(quantileOf(histogramOf(hiccup), 0.99) > 49);
  const pooled = merged([histogramOf(calm), histogramOf(calm), histogramOf(calm), histogramOf(hiccup)]);
  assert.equal(Object.values(pooled).reduce((a, b) => a + b), 4000);
  // 50 of 4 000 samples is 1.25 %: still the pooled p99, while ten calm windows more bring it down.
  assert.ok(quantileOf(pooled, 0.99) > 49);
  const more = merged([pooled, ...Array.from({ length: 10 }, () => histogramOf(calm))]);
  assert.ok(Math.abs(quantileOf(more, 0.99) - 1) < 0.01, `${quantileOf(more, 0.99)} should read 1 ms`);
  assert.ok(Number.isNaN(quantileOf({}, 0.99)), "an empty histogram has no percentile");
});

test("tail histogram: the run's JSON text reads back as the same histogram", () => {
  const h = histogramOf([0.2, 0.2, 0.21, 3, 3.1, 40]);
  const text = encodeHistogram(h);
  assert.match(text, /^\d+:\d+(,\d+)*$/);
  assert.deepEqual(decodeHistogram(text), h);
  assert.equal(decodeHistogram(h), h, "an object passes through");
  assert.deepEqual(decodeHistogram(encodeHistogram({})), {});
});
