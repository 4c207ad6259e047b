/**
 * Waiting on the client's events with a deadline (never sleeping for timing).
 */

import type { ClientState, SteadyClient } from "../../client/mod.ts";

/** Resolves with the first state (the current one included) that satisfies `accept`; rejects at the deadline. */
export function waitForState(
  client: SteadyClient,
  accept: (state: ClientState) => boolean,
  what: string,
  timeoutMs = 5_000,
): Promise<ClientState> {
  if (accept(client.state)) return Promise.resolve(client.state);
  return new Promise((resolve, reject) => {
    const onState = (event: CustomEvent<ClientState>) => {
      if (!accept(event.detail)) return;
      clearTimeout(timer);
      client.removeEventListener("state", onState);
      resolve(event.detail);
    };
    const timer = setTimeout(() => {
      client.removeEventListener("state", onState);
      reject(
        new Error(`expected ${what} within ${timeoutMs} ms, state is ${JSON.stringify(client.state)}`),
      );
    }, timeoutMs);
    client.addEventListener("state", onState);
  });
}

/** Resolves once the client is open. */
export function opened(client: SteadyClient, timeoutMs = 5_000): Promise<ClientState> {
  return waitForState(client, (s) => s.status === "open", "the client to open", timeoutMs);
}

/** Resolves with the first `type` event's detail; rejects at the deadline. */
export function nextEvent<T>(target: EventTarget, type: string, what: string, timeoutMs = 5_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const on = (event: Event) => {
      clearTimeout(timer);
      resolve((event as CustomEvent<T>).detail);
    };
    const timer = setTimeout(() => {
      target.removeEventListener(type, on);
      reject(new Error(`expected ${what} within ${timeoutMs} ms, no "${type}" event came`));
    }, timeoutMs);
    target.addEventListener(type, on, { once: true });
  });
}

/** Every state the client goes through from now on. */
export function recordStates(client: SteadyClient): ClientState[] {
  const states: ClientState[] = [];
  client.addEventListener("state", (e) => states.push(e.detail));
  return states;
}

/** Polls `condition` until it holds; rejects after `timeoutMs` saying what was awaited. */
export async function until(condition: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`expected ${what} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
