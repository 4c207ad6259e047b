/**
 * One test API for both runtimes: `Deno.test` with the op and resource
 * sanitizers switched on, or `bun:test`'s `test`. Test files import `test`
 * from here and assertions from `node:assert/strict`.
 */

/** Options of a test. */
export interface TestOptions {
  /** Only on this runtime; skipped on the other. */
  only?: "deno" | "bun";
  /** Per-test timeout in ms where the runner supports one (Bun). Default 20 000. */
  timeoutMs?: number;
  /** Turn the Deno sanitizers off for this test (say why at the call site). */
  sanitize?: boolean;
}

type Fn = () => void | Promise<void>;

// deno-lint-ignore no-explicit-any
const g = globalThis as any;

/** The runtime running the suite. */
export const runtime: "deno" | "bun" = g.Deno ? "deno" : "bun";

// A variable specifier keeps `deno check` from resolving Bun's module.
const bunTestModule = "bun:test";
// deno-lint-ignore no-explicit-any
const bunTest: any = runtime === "bun" ? await import(bunTestModule) : undefined;

/** Registers a test on the current runtime. */
export function test(name: string, fn: Fn, options: TestOptions = {}): void {
  const skip = options.only !== undefined && options.only !== runtime;
  if (runtime === "deno") {
    const sanitize = options.sanitize ?? true;
    g.Deno.test({
      name,
      fn,
      ignore: skip,
      sanitizeOps: sanitize,
      sanitizeResources: sanitize,
      sanitizeExit: true,
    });
  } else if (skip) {
    bunTest.test.skip(name, fn);
  } else {
    bunTest.test(name, fn, options.timeoutMs ?? 20_000);
  }
}
