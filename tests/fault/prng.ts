/**
 * A small seeded pseudo-random generator (mulberry32) so that every generated
 * fault schedule and bad input can be replayed from its printed seed.
 *
 * @example
 * ```ts
 * const rng = seededRandom(seedFromEnv());
 * rng.int(10); // 0..9, the same sequence for the same seed
 * ```
 *
 * @module
 */

import process from "node:process";

/** A deterministic random source. */
export interface Rng {
  readonly seed: number;
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [0, n). */
  int(n: number): number;
  /** One element of the list. */
  pick<T>(items: readonly T[]): T;
}

/** A generator for this seed. */
export function seededRandom(seed: number): Rng {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    seed,
    next,
    int: (n) => Math.floor(next() * n),
    pick: (items) => items[Math.floor(next() * items.length)],
  };
}

/** `$STEADY_SEED` if set, else a fresh seed. */
export function seedFromEnv(): number {
  const env = process.env.STEADY_SEED;
  if (env !== undefined && env !== "" && Number.isFinite(Number(env))) return Number(env) >>> 0;
  return (Math.random() * 2 ** 32) >>> 0;
}
