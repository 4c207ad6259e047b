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
