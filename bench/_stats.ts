// Medians and ratios for the report.

/** The median of the finite values, or NaN. */
export function median(values: number[]): number {
  const v = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

/** The order of the targets in repetition `rep`: rotated, so no target always runs first or last. */
export function rotate<T>(items: T[], rep: number): T[] {
  const k = rep % items.length;
  const r = [...items.slice(k), ...items.slice(0, k)];
  return rep % 2 ? r.reverse() : r;
}

/** a ÷ b, NaN when either is missing. */
export function ratio(a: number, b: number): number {
  return Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? a / b : NaN;
}

/** A number for a table: k/M suffixes for rates, fixed digits otherwise. */
export function fmt(n: number, digits = 2): string {
  if (!Number.isFinite(n)) return "—";
  const a = Math.abs(n);
  if (a >= 1e6) return (n / 1e6).toFixed(2) + " M";
  if (a >= 1e4) return (n / 1e3).toFixed(1) + " k";
  if (a >= 100) return n.toFixed(0);
  return n.toFixed(digits);
}

/** A ratio as `0.97×`. */
export function fx(n: number): string {
  return Number.isFinite(n) ? n.toFixed(2) + "×" : "—";
}

/**
 * A 90 % bootstrap interval of a statistic: `stat` is computed over
 * `resamples` draws, each series of `series` resampled with replacement on
 * its own, and the middle 90 % of the results is returned. The generator is
 * seeded, so a report rebuilt from the same run reads the same. `[NaN, NaN]`
 * when a series has fewer than 3 values.
 *
 * @example
 * ```ts
 * import { bootstrapInterval, median } from "./_stats.ts";
 * const [lo, hi] = bootstrapInterval([[0.9, 1.0, 1.1, 0.95, 1.05]], ([r]) => median(r));
 * console.log(`${lo}–${hi}`);
 * ```
 */
export function bootstrapInterval(
  series: number[][],
  stat: (draws: number[][]) => number,
  resamples = 2000,
): [number, number] {
  const clean = series.map((s) => s.filter(Number.isFinite));
  if (clean.length === 0 || clean.some((s) => s.length < 3)) return [NaN, NaN];
  let state = 0x2545f491;
  // A small 32-bit generator (xorshift): enough to pick indices, and reproducible.
  const next = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 4294967296;
  };
  const results: number[] = [];
  for (let i = 0; i < resamples; i++) {
    const draws = clean.map((s) => s.map(() => s[Math.floor(next() * s.length)]));
    const v = stat(draws);
    if (Number.isFinite(v)) results.push(v);
  }
  if (results.length === 0) return [NaN, NaN];
  results.sort((a, b) => a - b);
  const at = (q: number) => results[Math.min(results.length - 1, Math.floor(q * results.length))];
  return [at(0.05), at(0.95)];
}
