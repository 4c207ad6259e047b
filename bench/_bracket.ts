// Bracketed repetitions: every target is measured between two windows of the
// server it is compared with, so that the machine's slow phases hit both sides
// of a comparison alike.
//
// The machine is shared: about three times a minute every server on it runs
// 20–30 % slower for 3–6 s (bench/README.md). When a repetition measures a
// dozen targets one after another, ours and the target it is compared with
// can be twenty seconds apart, and a slow phase often covers one of the two
// windows and not the other. Between two windows of ours a second apart, a
// target shares their conditions; the mean of the two also cancels a phase
// that starts or ends in between to first order.
import { rotate } from "./_stats.ts";
import { referenceOf } from "./_targets.ts";
import type { Sample } from "./_scenarios.ts";

/** Anything with a target id. */
interface HasTarget {
  target: { id: string };
}

/** The fields a reference's windows are kept for by default, next to each target's own (`rate` → `refRate`). */
export const BRACKETED_FIELDS: readonly string[] = ["rate", "cpuUsPerMsg"];

/** The latency fields, kept for the windows that measure latency (fan-out's paced windows, echo's). */
export const TAIL_FIELDS: readonly string[] = ["p50", "p99"];

/**
 * Whether a field is a latency percentile (`p50`, `p99`, `satP99`), whose
 * windows {@linkcode meanOf} combines by their geometric mean. A percentile
 * of one short window is skewed to the right: a collection inside a window
 * can double its p99, while no window reads far below the typical one. The
 * arithmetic mean of two windows then sits above the typical window, and
 * ours, combined from two or more windows against a target's one, would read
 * slower than it is.
 *
 * @example
 * ```ts
 * import { isLatencyField } from "./_bracket.ts";
 * console.log(isLatencyField("p99"), isLatencyField("rate")); // true false
 * ```
 */
export function isLatencyField(key: string): boolean {
  return /^(sat)?p\d+$/i.test(key);
}

/**
 * The mean of one field's values over windows: geometric for a latency
 * percentile ({@linkcode isLatencyField}), arithmetic otherwise.
 *
 * @example
 * ```ts
 * import { meanOf } from "./_bracket.ts";
 * console.log(meanOf("rate", [1, 4]), meanOf("p99", [1, 4])); // 2.5 2
 * ```
 */
export function meanOf(key: string, values: number[]): number {
  if (isLatencyField(key)) return Math.exp(values.reduce((sum, v) => sum + Math.log(v), 0) / values.length);
  return values.reduce((sum, v) => sum + v, 0) / values.length;
}

/** The field that holds a reference's value of `key` in a target's sample. */
export function refField(key: string): string {
  return `ref${key[0].toUpperCase()}${key.slice(1)}`;
}

/** `refField(key)` under a prefix: `prefixedRef("far", "rate")` is `farRefRate`. */
function prefixedRef(prefix: string, key: string): string {
  const ref = refField(key);
  return `${prefix}${ref[0].toUpperCase()}${ref.slice(1)}`;
}

/** The field that holds the value of `key` of the reference's farthest window in the repetition. */
export function farField(key: string): string {
  return prefixedRef("far", key);
}

/** The field that holds the value of `key` of the reference's window right before the target's. */
export function beforeField(key: string): string {
  return prefixedRef("before", key);
}

/** The field that holds the value of `key` of the reference's window right after the target's. */
export function afterField(key: string): string {
  return prefixedRef("after", key);
}

/**
 * The windows of repetition `rep`: for each reference present (see
 * {@linkcode referenceOf}), a window of it, then each of its targets followed
 * by another window of it; targets without their reference last. The targets
 * keep the rotated order of {@linkcode rotate}, so no target always runs
 * first or last in its group.
 *
 * @example
 * ```ts
 * import { bracketedOrder } from "./_bracket.ts";
 * const t = (id: string) => ({ target: { id } });
 * const order = bracketedOrder([t("deno-raw"), t("deno-steady"), t("deno-hono")], 0);
 * console.log(order.map((x) => x.target.id));
 * // ["deno-steady", "deno-raw", "deno-steady", "deno-hono", "deno-steady"]
 * ```
 */
export function bracketedOrder<T extends HasTarget>(items: T[], rep: number): T[] {
  const byId = new Map(items.map((x) => [x.target.id, x]));
  const rotated = rotate(items, rep);
  const refOf = (x: T) => {
    const ref = referenceOf(x.target.id);
    return ref && byId.has(ref) ? ref : undefined;
  };
  const refs = [...new Set(rotated.map(refOf).filter((r): r is string => r !== undefined))];
  const out: T[] = [];
  for (const ref of refs) {
    out.push(byId.get(ref)!);
    for (const x of rotated) if (refOf(x) === ref) out.push(x, byId.get(ref)!);
  }
  for (const x of rotated) {
    if (refOf(x) === undefined && !refs.includes(x.target.id)) out.push(x);
  }
  return out;
}

/**
 * Measures one bracketed repetition: every window of {@linkcode bracketedOrder}
 * in turn, then the samples of {@linkcode assembleBracketed}.
 *
 * @example
 * ```ts
 * import { measureBracketed } from "./_bracket.ts";
 * const t = (id: string) => ({ target: { id } });
 * const rep = await measureBracketed([t("deno-steady"), t("deno-raw")], 0, async () => ({ rate: 1, cpuUsPerMsg: 1 }));
 * console.log(rep["deno-raw"].refRate); // 1
 * ```
 */
export async function measureBracketed<T extends HasTarget>(
  items: T[],
  rep: number,
  measure: (x: T) => Promise<Sample>,
  fields: readonly string[] = BRACKETED_FIELDS,
): Promise<Record<string, Sample>> {
  const windows: { id: string; sample: Sample }[] = [];
  for (const x of bracketedOrder(items, rep)) windows.push({ id: x.target.id, sample: await measure(x) });
  return assembleBracketed(windows, fields);
}

/**
 * One repetition's samples from its windows in the order they ran: a
 * reference's sample is the mean of its windows, field by field
 * ({@linkcode meanOf}: geometric for a latency percentile); a target's
 * sample is its window plus, for each of `fields` (default
 * {@linkcode BRACKETED_FIELDS}) that the windows measured, that mean of the
 * reference's windows right before and right after it (as `refRate`,
 * `refCpuUsPerMsg`), the reference's window farthest from it
 * (`farRefRate`, `farRefCpuUsPerMsg`) and, where there are both, its windows
 * right before and right after (`beforeRefRate`, `afterRefRate`, ...).
 *
 * @example
 * ```ts
 * import { assembleBracketed } from "./_bracket.ts";
 * const w = (id: string, rate: number) => ({ id, sample: { rate, cpuUsPerMsg: 1e6 / rate } });
 * const rep = assembleBracketed([w("deno-steady", 100), w("deno-raw", 95), w("deno-steady", 110)]);
 * console.log(rep["deno-raw"].refRate); // 105
 * ```
 */
export function assembleBracketed(
  windows: { id: string; sample: Sample }[],
  fields: readonly string[] = BRACKETED_FIELDS,
): Record<string, Sample> {
  const out: Record<string, Sample> = {};
  const refs = new Set(windows.map((w) => referenceOf(w.id)).filter((r) => r !== undefined));
  for (const id of new Set(windows.map((w) => w.id))) {
    const own = windows.filter((w) => w.id === id).map((w) => w.sample);
    if (refs.has(id) || own.length > 1) {
      const keys = new Set(own.flatMap((s) => Object.keys(s)));
      out[id] = Object.fromEntries([...keys].map((k) => [k, meanOf(k, own.map((s) => s[k]))]));
    }
  }
  windows.forEach((w, i) => {
    if (out[w.id]) return;
    const sample: Sample = { ...w.sample };
    const ref = referenceOf(w.id);
    const before = windows.slice(0, i).findLast((x) => x.id === ref);
    const after = windows.slice(i + 1).find((x) => x.id === ref);
    const around = [before, after].filter((x) => x !== undefined);
    if (around.length) {
      // The reference's window farthest from this one in the repetition, kept to show what the brackets
      // gain over comparing windows seconds apart.
      const far = windows.map((x, j) => ({ x, d: Math.abs(j - i) })).filter(({ x }) => x.id === ref)
        .reduce((a, b) => (b.d > a.d ? b : a)).x;
      for (const key of fields) {
        // A field this repetition did not measure (a paced window outside the latency repetitions) stays unset.
        if (![w, ...around, far].every((x) => Number.isFinite(x.sample[key]))) continue;
        sample[refField(key)] = meanOf(key, around.map((x) => x.sample[key]));
        sample[farField(key)] = far.sample[key];
        // Each of the two windows on its own, to show whether a window's place in the repetition moves it.
        if (before !== undefined && after !== undefined) {
          sample[beforeField(key)] = before.sample[key];
          sample[afterField(key)] = after.sample[key];
        }
      }
    }
    out[w.id] = sample;
  });
  return out;
}
