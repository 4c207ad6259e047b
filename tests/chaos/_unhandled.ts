/**
 * Counts unhandled rejections and uncaught errors while a scenario runs, on
 * both runtimes, and keeps them from ending the test process so the scenario
 * can report them.
 *
 * @module
 */

import process from "node:process";

/** An installed watcher. */
export interface UnhandledWatch {
  /** What was caught so far. */
  readonly seen: unknown[];
  /** Removes the listeners. */
  stop(): void;
}

/**
 * Installs the listeners; call `stop()` in `finally`.
 *
 * @example
 * ```ts
 * const watch = watchUnhandled();
 * try { await scenario(); } finally { watch.stop(); }
 * assert.equal(watch.seen.length, 0);
 * ```
 */
export function watchUnhandled(): UnhandledWatch {
  const seen: unknown[] = [];
  const onRejection = (event: Event) => {
    event.preventDefault();
    seen.push((event as PromiseRejectionEvent).reason);
  };
  const onError = (event: Event) => {
    event.preventDefault();
    seen.push((event as ErrorEvent).error);
  };
  const onProcessRejection = (reason: unknown) => seen.push(reason);
  const onProcessError = (error: unknown) => seen.push(error);
  const isDeno = "Deno" in globalThis;
  if (isDeno) {
    globalThis.addEventListener("unhandledrejection", onRejection);
    globalThis.addEventListener("error", onError);
  } else {
    process.on("unhandledRejection", onProcessRejection);
    process.on("uncaughtException", onProcessError);
  }
  return {
    seen,
    stop() {
      if (isDeno) {
        globalThis.removeEventListener("unhandledrejection", onRejection);
        globalThis.removeEventListener("error", onError);
      } else {
        process.off("unhandledRejection", onProcessRejection);
        process.off("uncaughtException", onProcessError);
      }
    },
  };
}
