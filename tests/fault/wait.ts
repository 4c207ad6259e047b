/**
 * Waiting on a condition with a deadline, for tests that must not sleep for
 * timing: the condition is polled and the wait ends as soon as it holds.
 *
 * @example
 * ```ts
 * await waitUntil(() => socket.readyState === WebSocket.OPEN, "the socket to open", 5_000);
 * ```
 *
 * @module
 */

/** Polls `condition` every `everyMs` until it holds; rejects after `timeoutMs` saying what was awaited. */
export async function waitUntil(
  condition: () => boolean,
  what: string,
  timeoutMs = 10_000,
  everyMs = 5,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) {
      throw new Error(`expected ${what} within ${timeoutMs} ms, it did not happen`);
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Resolves with the value of `promise`, or rejects after `timeoutMs` (the timer is always cleared). */
export async function within<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`expected ${what} within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
