// Latency histograms that add up across windows.
//
// A p99 of one 1.2 s paced window at 1 000 clients is set by the one or two
// broadcasts a collection or a scheduling hiccup delayed: 60 broadcasts make
// 60 000 samples, so a single slow broadcast is 1.7 % of them. Each window's
// p99 then counts its own hiccups, and a median of per-window ratios moves by
// tens of percent between two runs of the same code. The p99 of every
// delivery a target made in the scenario (all its paced windows, pooled) is
// the figure a user lives with, and it averages the hiccups over hundreds of
// broadcasts. The load generator (bench/load/worker.ts) returns each window's
// samples as one of these histograms; the report adds them up.

/** Bins per doubling: a bin is 2^(1/64) wide, about 1.1 %, finer than any difference the report reads. */
const BINS_PER_OCTAVE = 64;
/** Latencies below 1 µs (or negative, after a clock correction) count as 1 µs. */
const FLOOR_MS = 0.001;

/** Sample counts by bin (see {@linkcode binOf}); JSON-friendly. */
export type TailHistogram = Record<string, number>;

/**
 * The bin of a latency in ms.
 *
 * @example
 * ```ts
 * import { binOf, msOf } from "./_tail_histogram.ts";
 * console.log(msOf(binOf(2.5)).toFixed(2)); // "2.49"
 * ```
 */
export function binOf(ms: number): number {
  return Math.round(Math.log2(Math.max(ms, FLOOR_MS) / FLOOR_MS) * BINS_PER_OCTAVE);
}

/** The latency in ms a bin stands for (its centre). */
export function msOf(bin: number): number {
  return FLOOR_MS * 2 ** (bin / BINS_PER_OCTAVE);
}

/**
 * The histogram of a window's latency samples.
 *
 * @example
 * ```ts
 * import { histogramOf } from "./_tail_histogram.ts";
 * console.log(Object.values(histogramOf([1, 1, 2])).reduce((a, b) => a + b)); // 3
 * ```
 */
export function histogramOf(samples: ArrayLike<number>): TailHistogram {
  const out: TailHistogram = {};
  for (let i = 0; i < samples.length; i++) {
    const bin = binOf(samples[i]);
    out[bin] = (out[bin] ?? 0) + 1;
  }
  return out;
}

/**
 * The sum of several histograms: the samples of all their windows together.
 *
 * @example
 * ```ts
 * import { histogramOf, merged } from "./_tail_histogram.ts";
 * const all = merged([histogramOf([1]), histogramOf([1, 3])]);
 * console.log(Object.values(all).reduce((a, b) => a + b)); // 3
 * ```
 */
export function merged(histograms: TailHistogram[]): TailHistogram {
  const out: TailHistogram = {};
  for (const h of histograms) {
    for (const [bin, n] of Object.entries(h)) out[bin] = (out[bin] ?? 0) + n;
  }
  return out;
}

/**
 * The latency in ms below which a fraction `q` of the histogram's samples
 * lies, read as the load generator reads one window's sorted samples (the
 * sample at index ⌊q·n⌋); NaN for an empty histogram.
 *
 * @example
 * ```ts
 * import { histogramOf, quantileOf } from "./_tail_histogram.ts";
 * const h = histogramOf(Array.from({ length: 100 }, (_, i) => i + 1));
 * console.log(quantileOf(h, 0.99).toFixed(1)); // "100.0" (the bin of 100 ms)
 * ```
 */
export function quantileOf(histogram: TailHistogram, q: number): number {
  const bins = Object.entries(histogram).map(([bin, n]) => [Number(bin), n] as const).sort((a, b) =>
    a[0] - b[0]
  );
  const total = bins.reduce((sum, [, n]) => sum + n, 0);
  if (total === 0) return NaN;
  const index = Math.min(total - 1, Math.floor(q * total));
  let seen = 0;
  for (const [bin, n] of bins) {
    seen += n;
    if (seen > index) return msOf(bin);
  }
  return msOf(bins[bins.length - 1][0]);
}

/**
 * A histogram as the run's JSON keeps it: its first bin, then the count of every bin from there on
 * (`"1040:3,0,12"`), about a sixth of the size of the object written out.
 *
 * @example
 * ```ts
 * import { decodeHistogram, encodeHistogram } from "./_tail_histogram.ts";
 * const text = encodeHistogram({ 1040: 3, 1042: 12 });
 * console.log(text, decodeHistogram(text)); // "1040:3,0,12" { "1040": 3, "1042": 12 }
 * ```
 */
export function encodeHistogram(histogram: TailHistogram): string {
  const bins = Object.keys(histogram).map(Number);
  if (!bins.length) return "";
  const first = Math.min(...bins);
  const counts = Array.from({ length: Math.max(...bins) - first + 1 }, (_, i) => histogram[first + i] ?? 0);
  return `${first}:${counts.join(",")}`;
}

/** The histogram of {@linkcode encodeHistogram}'s text; an object (as the load generator sends it) as it is. */
export function decodeHistogram(value: string | TailHistogram): TailHistogram {
  if (typeof value !== "string") return value;
  const out: TailHistogram = {};
  const [first, counts] = value.split(":");
  if (counts === undefined) return out;
  counts.split(",").forEach((n, i) => {
    if (n !== "0") out[Number(first) + i] = Number(n);
  });
  return out;
}
