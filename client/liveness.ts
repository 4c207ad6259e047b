/**
 * The page and network signals the client reacts to: `online`, `offline`,
 * `pageshow` and `visibilitychange`, read from the browser's globals when they
 * exist, so the same code runs unchanged in Deno and Bun (where they never fire).
 *
 * @module
 */

import type { ClientEnvironment } from "./types.ts";

/**
 * What to do on each signal.
 *
 * @example
 * ```ts
 * import type { EnvironmentHooks } from "./liveness.ts";
 * const hooks: EnvironmentHooks = { online() {}, offline() {}, wake() {} };
 * ```
 */
export interface EnvironmentHooks {
  /** The network came back. */
  online(): void;
  /** The network went away. */
  offline(): void;
  /** The page became visible or was restored from the back/forward cache. */
  wake(): void;
}

/**
 * A subscription to the environment's signals.
 *
 * @example
 * ```ts
 * import { watchEnvironment } from "./liveness.ts";
 * const watch = watchEnvironment({}, { online() {}, offline() {}, wake() {} });
 * console.log(watch.isOnline()); // true: nothing says otherwise
 * watch.stop();
 * ```
 */
export interface EnvironmentWatch {
  /** False only while the environment says it is offline. */
  isOnline(): boolean;
  /** Removes every listener; idempotent. */
  stop(): void;
}

/**
 * Listens to the environment's signals until `stop()`.
 *
 * Without `env`, reads `globalThis` (for `online`/`offline`/`pageshow`),
 * `globalThis.document` and `globalThis.navigator`, each only if present.
 * With `env`, only what `env` holds is used.
 *
 * @example
 * ```ts
 * import { watchEnvironment } from "./liveness.ts";
 * const watch = watchEnvironment(undefined, {
 *   online: () => console.log("back online"),
 *   offline: () => console.log("offline"),
 *   wake: () => console.log("page visible again"),
 * });
 * watch.stop();
 * ```
 */
export function watchEnvironment(
  env: ClientEnvironment | undefined,
  hooks: EnvironmentHooks,
): EnvironmentWatch {
  // deno-lint-ignore no-explicit-any
  const g = globalThis as any;
  const win: EventTarget | undefined = env
    ? env.window
    : typeof g.addEventListener === "function"
    ? g
    : undefined;
  const doc = env ? env.document : g.document;
  const nav = env ? env.navigator : g.navigator;
  const online = () => hooks.online();
  const offline = () => hooks.offline();
  const wake = () => hooks.wake();
  const visibility = () => {
    if (doc?.visibilityState !== "hidden") hooks.wake();
  };
  win?.addEventListener("online", online);
  win?.addEventListener("offline", offline);
  win?.addEventListener("pageshow", wake);
  doc?.addEventListener("visibilitychange", visibility);
  return {
    isOnline: () => nav?.onLine !== false,
    stop() {
      win?.removeEventListener("online", online);
      win?.removeEventListener("offline", offline);
      win?.removeEventListener("pageshow", wake);
      doc?.removeEventListener("visibilitychange", visibility);
    },
  };
}
